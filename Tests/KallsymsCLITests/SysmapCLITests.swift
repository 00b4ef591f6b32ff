import ELFKit
import Foundation
import KallsymsCore
import KallsymsTestSupport
import Testing

/// `kallsyms syms --filter linux-7.3 ELF` against 7.3's `kallsyms --sysmap=OUT ELF`: our stdout is
/// their OUT, byte for byte, with the same stderr and the same success or failure.
@Suite struct SysmapCLITests {
    func both(_ file: String, _ dir: String) throws -> (ours: (status: Int32, stdout: [UInt8], stderr: [UInt8]), ref: (status: Int32, map: [UInt8], stdout: [UInt8], stderr: [UInt8])) {
        let out = "\(dir)/ref.map"
        try? FileManager.default.removeItem(atPath: out)
        let r = try runProcess(try ReferenceTool.path(version: "7.3"), ["--sysmap=\(out)", file])
        let map = (try? [UInt8](Data(contentsOf: URL(fileURLWithPath: out)))) ?? []
        let ours = try runProcess(CLITests.kallsyms, ["syms", "--filter", "linux-7.3", file])
        return (ours, (r.status, map, r.stdout, r.stderr))
    }

    @Test func vmlinuxLongNamesAndAnEmptyFileMatchTheReference() throws {
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // A program with names at, below and above KSYM_NAME_LEN: 7.3 lists them all and warns
        // about the long ones on stderr.
        var w = ELFImageWriter(is64: true, byteOrder: .little, machine: .x86_64)
        w.regions = [.init(name: ".text", address: 0xFFFF_FFFF_8100_0000, bytes: [0], executable: true)]
        for (k, n) in [511, 512, 513, 3, 600].enumerated() {
            w.symbols.append(.init(name: Array(repeating: UInt8(ascii: "a") + UInt8(k), count: n), value: 0xFFFF_FFFF_8100_0000 + UInt64(k), size: 0, binding: .global, type: .function, region: 0))
        }
        try Data(w.write()).write(to: URL(fileURLWithPath: "\(dir)/long"))
        FileManager.default.createFile(atPath: "\(dir)/empty", contents: Data())
        for file in [try DebianData.vmlinux("6.12", "amd64"), "\(dir)/long", "\(dir)/empty"] {
            let (ours, ref) = try both(file, dir)
            #expect(ref.status == 0 && ours.status == 0, "\(file)")
            #expect(ours.stdout == ref.map, "\(file)")
            #expect(ours.stderr == ref.stderr && ref.stdout.isEmpty, "\(file)")
        }
        let (ours, _) = try both("\(dir)/long", dir)
        #expect(String(decoding: ours.stderr, as: UTF8.self).components(separatedBy: "too long for kallsyms").count == 4)
        // -o writes the same bytes to a file.
        let o = try runProcess(CLITests.kallsyms, ["syms", "--filter", "linux-7.3", "-o", "\(dir)/o.map", "\(dir)/long"])
        #expect(o.status == 0 && o.stdout.isEmpty)
        #expect(try [UInt8](Data(contentsOf: URL(fileURLWithPath: "\(dir)/o.map"))) == ours.stdout)
    }

    /// Both refuse what is not a linked ELF with symbols. The reference exits 1 with its own
    /// message; we exit 2 (the project's status for bad input) with one naming the file and,
    /// for bytes we reject, the offset.
    @Test func badInputFailsLikeTheReference() throws {
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let cases: [(String, [UInt8]?, String)] = [
            ("missing", nil, "No such file or directory"),
            ("text", Array("hello\n".utf8), "byte offset 0 (0x0): not an ELF file"),
            ("short", Array("\u{7F}ELF".utf8), "byte offset 6 (0x6)"),
            ("stripped", nil, "no symbol table"),
            ("object", nil, "ELF type 1 is not an executable"),
        ]
        for (name, bytes, message) in cases {
            var path = "\(dir)/\(name)"
            if let bytes { try Data(bytes).write(to: URL(fileURLWithPath: path)) }
            if name == "stripped" { path = "/bin/true" }
            if name == "object" {
                // A relocatable object (ET_REL): 7.3 wants a linked vmlinux.
                var b = try [UInt8](Data(contentsOf: URL(fileURLWithPath: "/bin/true")))
                b[16] = 1
                b[17] = 0
                try Data(b).write(to: URL(fileURLWithPath: path))
            }
            let (ours, ref) = try both(path, dir)
            #expect(ref.status == 1 && !ref.stderr.isEmpty, "\(name)")
            #expect(ours.status == 2 && ours.stdout.isEmpty, "\(name)")
            let text = String(decoding: ours.stderr, as: UTF8.self)
            #expect(text.hasPrefix("kallsyms: \(path)") && text.contains(message), "\(name): \(text)")
        }
    }
}

/// scripts/fetch-reference.sh for the versions built from kernel sources, run from a copy of the
/// repository's scripts with its own cache, so the shared cache is not touched.
@Suite struct FetchReferenceScriptTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    func run(_ root: String, _ args: [String], env: [String] = []) throws -> (status: Int32, stdout: String, stderr: String) {
        let r = try runProcess(
            "/usr/bin/env", ["-u", "KALLSYMS_REFERENCE_SRC", "KALLSYMS_CACHE=\(root)/cache"] + env + ["bash", "\(root)/repo/scripts/fetch-reference.sh"] + args)
        return (r.status, String(decoding: r.stdout, as: UTF8.self), String(decoding: r.stderr, as: UTF8.self))
    }

    @Test func buildsFromTheSourcesBesideTheCheckoutAndFailsLoudlyWithout() throws {
        let sources = "\(Self.repository)/../shared/reference"
        #expect(FileManager.default.fileExists(atPath: "\(sources)/linux-7.3/scripts/kallsyms.c"), "the reference sources must be beside the checkout")
        let root = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: "\(root)/repo/scripts", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: "\(Self.repository)/scripts/fetch-reference.sh", toPath: "\(root)/repo/scripts/fetch-reference.sh")

        // No ../shared/reference and no KALLSYMS_REFERENCE_SRC: a clear failure, nothing built.
        let none = try run(root, ["7.3"])
        #expect(none.status == 1 && none.stdout.isEmpty)
        #expect(none.stderr.contains("no sources for kallsyms-7.3") && none.stderr.contains("--from-tree"), "\(none.stderr)")
        let bad = try run(root, ["6.15"], env: ["KALLSYMS_REFERENCE_SRC=\(root)/nowhere"])
        #expect(bad.status == 1 && bad.stderr.contains("is not a directory"), "\(bad.stderr)")
        #expect(!FileManager.default.fileExists(atPath: "\(root)/cache/bin/kallsyms-7.3"))

        // ../shared/reference beside the repository is the default.
        try FileManager.default.createDirectory(atPath: "\(root)/shared", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: "\(root)/shared/reference", withDestinationPath: sources)
        for v in ["6.15", "7.0", "7.3"] {
            let built = try run(root, [v])
            #expect(built.status == 0 && built.stdout == "\(root)/cache/bin/kallsyms-\(v)\n", "\(v): \(built.stderr)")
            #expect(FileManager.default.isExecutableFile(atPath: "\(root)/cache/bin/kallsyms-\(v)"))
        }
        // Idempotent: a second run keeps the binary it has.
        let before = try FileManager.default.attributesOfItem(atPath: "\(root)/cache/bin/kallsyms-7.3")[.modificationDate] as? Date
        #expect(try run(root, ["7.3"]).status == 0)
        #expect(try FileManager.default.attributesOfItem(atPath: "\(root)/cache/bin/kallsyms-7.3")[.modificationDate] as? Date == before)
        // A kernel tree given explicitly is built; a tree of the wrong version is refused.
        let tree = try run(root, ["--from-tree", "\(sources)/linux-7.0", "7.0"])
        #expect(tree.status == 0 && tree.stdout == "\(root)/cache/bin/kallsyms-7.0\n", "\(tree.stderr)")
        let wrong = try run(root, ["--from-tree", "\(sources)/linux-7.0", "7.3"])
        #expect(wrong.status == 1 && wrong.stderr.contains("not a 7.3 tree"), "\(wrong.stderr)")
        // The built 7.3 works: it writes the System.map of its own (unstripped) executable.
        let map = "\(root)/out.map"
        let r = try runProcess("\(root)/cache/bin/kallsyms-7.3", ["--sysmap=\(map)", "/proc/self/exe"])
        #expect(r.status == 0 && ((try? Data(contentsOf: URL(fileURLWithPath: map)))?.count ?? 0) > 0)
        #expect(try ReferenceTool.path(version: "7.3").hasSuffix("/bin/kallsyms-7.3"))
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: "\(root)/cache/bin").filter { $0.contains(".tmp") }
        #expect(leftovers.isEmpty)
    }
}
