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
        version: "\(kallsymsVersion) (commit \(kallsymsCommit))",
        subcommands: [Gen.self, Syms.self, Link.self, Kbuild.self, Info.self, Dump.self, Lookup.self, Symbolize.self, Elf.self, Diff.self])

    static func main() {
        // Large buffers come and go phase by phase; a fixed mmap threshold returns each one to the
        // system when freed, instead of glibc raising the threshold and keeping them in the heap.
        _ = glibcMallopt(-3 /* M_MMAP_THRESHOLD */, 256 * 1024)
        let args = Gen.expandingKernelOptionPrefixes(Array(CommandLine.arguments.dropFirst()))
        do {
            var command = try parseAsRoot(args)
            try command.run()
        } catch let error as KallsymsError {
            fail(error.description)
        } catch let code as ExitCode {
            Glibc.exit(code.rawValue)
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

/// glibc's `mallopt` (malloc.h is not part of the Glibc module).
@_silgen_name("mallopt")
func glibcMallopt(_ parameter: Int32, _ value: Int32) -> Int32

func printError(_ message: String) {
    var m = message
    if !m.hasSuffix("\n") { m += "\n" }
    var bytes = Array(m.utf8)
    bytes.withUnsafeMutableBytes { _ = try? FileIO.writeAll(2, UnsafeRawBufferPointer($0), path: "<stderr>") }
}

func writeStderr(_ bytes: [UInt8]) {
    bytes.withUnsafeBytes { _ = try? FileIO.writeAll(2, $0, path: "<stderr>") }
}

func writeStdout(_ bytes: [UInt8]) {
    bytes.withUnsafeBytes { _ = try? FileIO.writeAll(1, $0, path: "<stdout>") }
}

func writeStdout(_ s: String) { writeStdout(Array(s.utf8)) }

/// A hex (`0x…`) or decimal number, optionally negative.
func parseSigned(_ text: String, what: String) throws -> Int64 {
    var s = Substring(text)
    var negative = false
    if s.hasPrefix("-") { negative = true; s = s.dropFirst() } else if s.hasPrefix("+") { s = s.dropFirst() }
    let value: UInt64?
    if s.hasPrefix("0x") || s.hasPrefix("0X") { value = UInt64(s.dropFirst(2), radix: 16) } else { value = UInt64(s) }
    guard let v = value else { throw KallsymsError(.usage, "\(what): '\(text)' is not a number") }
    let signed = Int64(bitPattern: v)
    return negative ? -signed : signed
}
