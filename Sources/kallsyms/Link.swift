import ELFKit
import ArgumentParser
import Foundation
import KallsymsCore
import LinkDriver

struct Link: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Link an image with its own kallsyms table, iterating to a true fixed point.",
        discussion: """
            Runs LINKER ARGS repeatedly; in them {kallsyms} stands for the pass's table object and \
            {out} for the pass's output. Pass 0 links an empty table; each pass regenerates the \
            table from the previous image and stops when the table generated equals the table \
            linked in. The final image's table is decoded and checked against its own symbols \
            before OUT is written. Exit 0 on success, 1 when the data does not converge or verify \
            ("Inconsistent kallsyms data"), 2 on a failed link or bad arguments.
            Example: kallsyms link --all-symbols -o fw -- ld -T fw.lds -o {out} main.o {kallsyms}
            """)

    @OptionGroup var flags: GeneratorFlags

    @OptionGroup var rules: SymbolRuleOptions

    @Option(name: .customLong("max-passes"), help: "Give up after this many links.")
    var maxPasses: Int = 10
    @Option(name: .customLong("plain-passes"), help: "Plain relinks tried after the first full table before room is reserved automatically.")
    var plainPasses: Int = 0
    @Option(help: "Room after the table (bytes, or with K/M): the section keeps its size while the table fits.")
    var slack: String?
    @Flag(help: "Write a table with the layout of the one linked in straight into the image instead of relinking.")
    var patch = false
    @Option(help: "Reserve room in every array: SIZE bytes beyond the first table, or auto (estimated from the input objects: one link). Implies --patch.")
    var reserve: String?
    @Option(help: "Target of the table object (default: the first ELF input's).")
    var arch: TableTarget?
    @Option(help: "Write the System.map the final table was generated from.", completion: .file())
    var map: String?
    @Flag(name: .customLong("keep-temps"), help: "Keep every pass's object and image.")
    var keepTemps = false
    @Flag(help: "Print the summary as JSON (on standard output) instead of a line per pass.")
    var json = false
    @Option(name: .shortAndLong, help: ArgumentHelp("The linked, verified image.", valueName: "out"), completion: .file())
    var output: String

    @Argument(parsing: .postTerminator, help: "The link command, after --.", completion: .file())
    var command: [String] = []

    func validate() throws {
        guard !command.isEmpty else { throw ValidationError("give the link command after --") }
        guard command.contains(where: { $0.contains("{kallsyms}") }) else {
            throw ValidationError("the link command must name {kallsyms} (the table object)")
        }
        guard command.contains(where: { $0.contains("{out}") }) else {
            throw ValidationError("the link command must name {out} (the pass's output)")
        }
        guard maxPasses >= 1 else { throw ValidationError("--max-passes must be at least 1") }
    }

    static func size(_ text: String, what: String) throws -> Int {
        var t = text.lowercased()
        var scale = 1
        if t.hasSuffix("k") { scale = 1024; t.removeLast() } else if t.hasSuffix("m") { scale = 1 << 20; t.removeLast() }
        let v = try parseSigned(t, what: what)
        guard v >= 0, v <= Int64(1 << 40) / Int64(scale) else { throw KallsymsError(.usage, "\(what): '\(text)' is out of range") }
        return Int(v) * scale
    }

    func run() throws {
        let generator = flags.options
        var reserveMode: LinkOptions.Reserve?
        if let reserve { reserveMode = reserve == "auto" ? .auto : .bytes(try Self.size(reserve, what: "--reserve")) }
        let options = LinkOptions(
            command: command, output: output, generator: generator, arch: arch?.architecture,
            filter: try rules.symbolFilter(), maxLinks: maxPasses, slack: try slack.map { try Self.size($0, what: "--slack") },
            patch: patch, reserve: reserveMode, plainPasses: plainPasses, keepTemps: keepTemps, mapOutput: map)
        let driver = LinkDriver(options: options)
        let json = self.json
        if !json { driver.onPass = { writeStdout(LinkReport.line($0)) } }
        do {
            let summary = try driver.run()
            writeStdout(json ? LinkReport.json(summary) : LinkReport.summary(summary))
        } catch let failure as LinkFailure {
            printError("kallsyms: " + failure.description)
            throw ExitCode(failure.exitCode)
        }
    }
}
