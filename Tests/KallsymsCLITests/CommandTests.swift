import ELFKit
import Foundation
import KallsymsCore
import KallsymsTestSupport
import Testing

/// The command's own definition: `--version`, the typed options and what is generated from them
/// (help, completion scripts).
@Suite(.tags(.offline)) struct CommandTests {
    static let kallsyms = CLITests.kallsyms
    /// The package root (this file is Tests/KallsymsCLITests/CommandTests.swift).
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    static func text(_ args: [String]) throws -> (status: Int32, out: String, err: String) {
        let r = try runProcess(kallsyms, args)
        return (r.status, String(decoding: r.stdout, as: UTF8.self), String(decoding: r.stderr, as: UTF8.self))
    }

    @Test func versionIsThePackageVersionAndTheCommitBuiltFrom() throws {
        let source = try String(contentsOfFile: Self.root + "/Sources/kallsyms/Version.swift", encoding: .utf8)
        let declared = try #require(source.firstMatch(of: /let kallsymsVersion = "([^"]+)"/)).1
        let r = try Self.text(["--version"])
        #expect(r.status == 0)
        let git = try runProcess("/usr/bin/env", ["git", "-C", Self.root, "rev-parse", "--short=12", "HEAD"])
        let commit = git.status == 0 ? String(decoding: git.stdout, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) : "unknown"
        let line = r.out.trimmingCharacters(in: .newlines)
        #expect(line == "\(declared) (commit \(commit))" || line == "\(declared) (commit \(commit)-dirty)", "got \(line)")
    }

    /// The values come from the library's enums, so a format added there shows up unasked.
    @Test func helpListsEveryValueOfTheTypedOptions() throws {
        let gen = try Self.text(["gen", "--help"])
        #expect(gen.status == 0)
        let flat = gen.out.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        #expect(flat.contains("(values: " + KallsymsFormat.allCases.map(\.rawValue).joined(separator: ", ") + ";"))
        #expect(flat.contains("(values: " + Architecture.tableObjectTargets.map(\.rawValue).joined(separator: ", ") + ")"))
        #expect(flat.contains("(values: asm, object, raw; default: asm)"))
        let syms = try Self.text(["syms", "--help"])
        let symsFlat = syms.out.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        #expect(symsFlat.contains("(values: " + (SymbolFilter.Base.allCases.map(\.rawValue) + ["linux-7.3"]).joined(separator: ", ") + ";"))
        let link = try Self.text(["link", "--help"])
        #expect(link.out.contains("--format <format>") && link.out.contains("--arch <arch>") && link.out.contains("--filter <filter>"))
    }

    @Test func anUnknownValueIsAUsageErrorNamingTheChoices() throws {
        try CLITests().withMap { _, map in
            let format = try Self.text(["gen", "--format", "linux-9.9", map])
            #expect(format.status == 2)
            #expect(format.err.contains("linux-9.9") && format.err.contains("linux-6.12"))
            let emit = try Self.text(["gen", "--emit", "elf", map])
            #expect(emit.status == 2 && emit.err.contains("'elf'") && emit.err.contains("object"))
            let filter = try Self.text(["syms", "--filter", "all", map])
            #expect(filter.status == 2 && filter.err.contains("'all'") && filter.err.contains("none"))
            let arch = try Self.text(["link", "--arch", "mips", "-o", "x", "--", "ld", "{kallsyms}", "{out}"])
            #expect(arch.status == 2 && arch.err.contains("'mips'") && arch.err.contains("riscv64"))
        }
    }

    /// Every shell's script offers the enum values and completes file names for paths.
    @Test func completionScriptsOfferTheValuesAndFiles() throws {
        for shell in ["bash", "zsh", "fish"] {
            let r = try Self.text(["--generate-completion-script", shell])
            #expect(r.status == 0, "\(shell)")
            for value in KallsymsFormat.allCases.map(\.rawValue) + Architecture.tableObjectTargets.map(\.rawValue) + ["object", "system-map"] {
                #expect(r.out.contains(value), "\(shell) script lacks \(value)")
            }
            for sub in ["gen", "syms", "link", "info", "dump", "lookup", "symbolize", "elf", "diff"] {
                #expect(r.out.contains(sub), "\(shell) script lacks \(sub)")
            }
        }
        // File names: bash completes them with compgen -f / _filedir, zsh with _files, fish with
        // __fish_complete_path or -F.
        #expect(try Self.text(["--generate-completion-script", "zsh"]).out.contains("_files"))
        let bash = try Self.text(["--generate-completion-script", "bash"]).out
        #expect(bash.contains("-f") || bash.contains("_filedir"))
    }
}
