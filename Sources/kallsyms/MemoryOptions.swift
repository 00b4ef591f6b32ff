import ArgumentParser
import KernelImage

/// The options of the commands that read memory dumps (`info`, `dump`, `lookup`, `symbolize`).
struct MemoryOptions: ParsableArguments {
    @Flag(
        help: ArgumentHelp(
            "Read IMAGE as raw physical memory (QEMU pmemsave, /dev/mem captures) even when it is smaller than 64 MiB.",
            discussion: "ELF cores (ET_CORE: qemu dump-guest-memory, makedumpfile, /proc/vmcore) are recognised by their header, and files with no kernel header of 64 MiB or more are read as raw memory without this flag."))
    var memory = false

    @Option(
        help: ArgumentHelp(
            "The System.map or vmlinux of the dumped kernel: its _text is the link-time address the KASLR slide is measured from (memory dumps only).",
            valueName: "file"),
        completion: .file())
    var sysmap: String?

    /// The image or dump, read with these options.
    func read(_ image: String) throws -> KernelImage {
        try KernelImage.read(path: image, dump: MemoryDump.Options(rawMemory: memory, linkMap: sysmap))
    }
}
