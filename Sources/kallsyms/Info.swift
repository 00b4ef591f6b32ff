import ArgumentParser
import KallsymsCore
import KernelImage

struct Info: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Say what an image holds: container, architecture, banner, table layout and offsets.")

    @Argument(help: ArgumentHelp(imageHelp), completion: .file())
    var image: String

    @Flag(help: "Print the same as JSON.")
    var json = false

    func run() throws {
        let k = try KernelImage.read(path: image)
        writeStdout(json ? ImageReport.json(k) : ImageReport.text(k))
    }
}
