import Foundation
import KallsymsCore
import KallsymsTestSupport
import Testing

/// `syms` and `link` as a user runs them: outputs, exit codes, errors naming the file.
@Suite struct LinkCLITests {
    static var kallsyms: String { CLITests.kallsyms }
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    /// The example firmware's link, as `examples/firmware/build.sh` runs it, over the objects it
    /// left in `dir`.
    static func firmwareLink(_ dir: String) -> [String] {
        [
            "ld", "-static", "-nostdlib", "--no-warn-rwx-segments", "-z", "noexecstack", "-T",
            "\(root)/examples/firmware/firmware.lds", "-o", "{out}", "\(dir)/start.o", "\(dir)/main.o",
            "\(dir)/kallsyms.o", "{kallsyms}",
        ]
    }

    @Test func symsEqualsNMThroughMksysmapAndFailsClearlyOnNonELF() throws {
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // The test binary itself is a large real program.
        let exe = Self.kallsyms
        let ours = try runProcess(Self.kallsyms, ["syms", exe])
        #expect(ours.status == 0)
        let nm = try runProcess("/usr/bin/env", ["LC_ALL=C", "nm", "-n", exe])
        let sed = try runProcess(
            "/usr/bin/env", ["LC_ALL=C", "sed", "-f", try ReferenceTool.mksysmap(.linux612)], stdin: nm.stdout)
        #expect(ours.stdout == sed.stdout && !ours.stdout.isEmpty)
        let none = try runProcess(Self.kallsyms, ["syms", "--filter", "none", "-o", "\(dir)/all", exe])
        #expect(none.status == 0)
        #expect(try [UInt8](Data(contentsOf: URL(fileURLWithPath: "\(dir)/all"))) == nm.stdout)

        try Data("not an elf\n".utf8).write(to: URL(fileURLWithPath: "\(dir)/bad"))
        let bad = try runProcess(Self.kallsyms, ["syms", "\(dir)/bad"])
        #expect(bad.status == 2)
        #expect(String(decoding: bad.stderr, as: UTF8.self).contains("\(dir)/bad: byte offset 0"))
        let regex = try runProcess(Self.kallsyms, ["syms", "--exclude", "(", exe])
        #expect(regex.status == 2 && String(decoding: regex.stderr, as: UTF8.self).contains("bad regular expression"))
    }

    @Test(.tags(.offline)) func linkRunsTheExampleAndReportsEveryPass() throws {
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try runProcess(
            "/usr/bin/env", ["FIRMWARE_OUT=\(dir)", "bash", "\(Self.root)/examples/firmware/build.sh", Self.kallsyms])
        let text = String(decoding: r.stdout, as: UTF8.self)
        #expect(r.status == 0, "\(text)\(String(decoding: r.stderr, as: UTF8.self))")
        #expect(text.contains("pass 0: link"))
        #expect(text.contains("converged after"))
        #expect(text.contains("verified:"))
        #expect(text.contains("Call Trace:"))
        #expect(text.contains("] handle_irq+0x"))
        #expect(FileManager.default.fileExists(atPath: "\(dir)/System.map"))

        // --json: the summary as data.
        let j = try runProcess(
            Self.kallsyms, ["link", "--json", "--reserve", "auto", "-o", "\(dir)/fw-json", "--"] + Self.firmwareLink(dir))
        #expect(j.status == 0)
        let summary = try JSONSerialization.jsonObject(with: Data(j.stdout)) as? [String: Any]
        #expect(summary?["links"] as? Int == 1)
        #expect(summary?["verified"] as? Bool == true)
        #expect((summary?["passes"] as? [Any])?.count == 2)

        // Usage errors: exit 2, nothing written.
        let noTable = try runProcess(Self.kallsyms, ["link", "-o", "\(dir)/x", "--", "ld", "-o", "{out}"])
        #expect(noTable.status == 2 && String(decoding: noTable.stderr, as: UTF8.self).contains("{kallsyms}"))
        let failing = try runProcess(
            Self.kallsyms, ["link", "--arch", "x86_64", "-o", "\(dir)/x", "--", "ld", "-o", "{out}", "{kallsyms}", "\(dir)/missing.o"])
        #expect(failing.status == 2 && String(decoding: failing.stderr, as: UTF8.self).contains("link command failed in pass 0"))
        #expect(!FileManager.default.fileExists(atPath: "\(dir)/x"))
        // A one-character output name in the working directory (Foundation's path methods trapped
        // on it); an error before the first link leaves no work directory behind.
        let bare = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: bare) }
        let short = try runProcess("/usr/bin/env", ["-C", bare, Self.kallsyms, "link", "-o", "x", "--", "false", "{kallsyms}", "{out}"])
        #expect(short.status == 2 && String(decoding: short.stderr, as: UTF8.self).contains("give --arch"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: bare).isEmpty)
    }
}
