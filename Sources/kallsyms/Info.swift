import ArgumentParser
import KallsymsCore
import KernelImage

struct Info: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Say what an image holds: container, architecture, banner, table layout and offsets.")

    @Argument(help: ArgumentHelp(imageHelp), completion: .file())
    var image: String

    @OptionGroup var memoryOptions: MemoryOptions

    @Flag(help: "Print the same as JSON.")
    var json = false

    func run() throws {
        let k = try memoryOptions.read(image)
        writeStdout(json ? ImageReport.json(k) : ImageReport.text(k))
    }
}
