import ArgumentParser
import KallsymsCore
import KernelImage

struct Symbolize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Symbolize a kernel log (oops, backtrace; x86 and arm64 formats) with an image's table.",
        discussion: """
            Raw addresses gain name+0xoff/0xsize; name+0xoff/0xsize forms gain the link-time \
            address they stand for, and a note when the log's size disagrees with the image. The \
            KASLR slide comes from --slide, else from the log ("Kernel Offset:" or address/symbol \
            pairs), else 0; the choice is reported on stderr.
            """)

    @Argument(help: "A vmlinux, bzImage, Image(.gz), zboot, zImage, compressed kernel or memory dump (`-`: standard input, when the log is a file).", completion: .file())
    var image: String

    @Argument(help: "The log file (default or `-`: standard input).", completion: .file())
    var log: String?

    @OptionGroup var memoryOptions: MemoryOptions

    @Option(help: "The KASLR slide (run-time minus link-time address).")
    var slide: String?

    func validate() throws {
        if image == "-" && (log ?? "-") == "-" {
            throw ValidationError("the image and the log cannot both come from standard input: name one of them")
        }
    }

    func run() throws {
        let k = try memoryOptions.read(image)
        let text = try FileIO.read(log ?? "-")
        // A table read from memory holds run-time addresses already: its slide is 0.
        let given = try slide.map { try parseSigned($0, what: "--slide") } ?? (k.memory != nil ? 0 : nil)
        var s = LogSymbolizer(table: k.table, pointerSize: k.layout.pointerSize, slide: given)
        let out = s.symbolize(log: text, deriveSlide: given == nil)
        let source = slide == nil && k.memory != nil ? "the memory dump (its table has run-time addresses)" : s.slideSource
        printError("kallsyms: slide 0x\(String(UInt64(bitPattern: s.slide), radix: 16)) from \(source)")
        writeStdout(out)
    }
}
