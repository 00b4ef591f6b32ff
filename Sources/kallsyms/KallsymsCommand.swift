import ArgumentParser
import KallsymsCore

#if canImport(Glibc)
    import Glibc
#endif

@main
struct KallsymsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kallsyms",
        abstract: "Kernel symbol tables: generate, link, diff and read them.",
        discussion: """
            Exit status: 0 success; 1 a difference or inconsistency was found (diff, link verify); \
            2 a usage error or bad input (the message names the file and line or byte offset).
            """,
        subcommands: [Gen.self])

    static func main() {
        let args = Gen.expandingKernelOptionPrefixes(Array(CommandLine.arguments.dropFirst()))
        do {
            var command = try parseAsRoot(args)
            try command.run()
        } catch let error as KallsymsError {
            fail(error.description)
        } catch {
            let code = exitCode(for: error)
            if code == .success {
                exit(withError: error)
            }
            let message = fullMessage(for: error)
            if !message.isEmpty { printError(message) }
            Glibc.exit(2)
        }
    }

    static func fail(_ message: String, code: Int32 = 2) -> Never {
        printError("kallsyms: " + message)
        Glibc.exit(code)
    }
}

func printError(_ message: String) {
    var m = message
    if !m.hasSuffix("\n") { m += "\n" }
    var bytes = Array(m.utf8)
    bytes.withUnsafeMutableBytes { _ = try? FileIO.writeAll(2, UnsafeRawBufferPointer($0), path: "<stderr>") }
}

func writeStderr(_ bytes: [UInt8]) {
    bytes.withUnsafeBytes { _ = try? FileIO.writeAll(2, $0, path: "<stderr>") }
}
