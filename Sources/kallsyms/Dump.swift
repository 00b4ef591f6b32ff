import ArgumentParser
import KallsymsCore
import KernelImage

struct Dump: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the symbols of an image's kallsyms table, in table order.")

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case systemMap = "system-map", proc, json
    }

    @Argument(help: ArgumentHelp(imageHelp), completion: .file())
    var image: String

    @OptionGroup var memoryOptions: MemoryOptions

    @Option(help: "system-map (`%016x %c %s`, 8 digits for 32-bit), proc (as /proc/kallsyms prints built-in symbols) or json.")
    var format: Format = .systemMap

    @Option(help: "Add this KASLR slide (hex or decimal, may be negative) to every address.")
    var slide: String?

    func run() throws {
        let k = try memoryOptions.read(image)
        let s = try slide.map { try parseSigned($0, what: "--slide") } ?? 0
        switch format {
        case .systemMap, .proc:
            writeStdout(ImageReport.systemMap(k.table, pointerSize: k.layout.pointerSize, slide: s))
        case .json:
            writeStdout(ImageReport.jsonSymbols(k.table, pointerSize: k.layout.pointerSize, slide: s))
        }
    }
}
