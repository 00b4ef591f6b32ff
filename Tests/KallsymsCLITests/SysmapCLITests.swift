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
        var w = ELFImageWriter(is64: true, littleEndian: true, machine: 62)
        w.regions = [.init(name: ".text", address: 0xFFFF_FFFF_8100_0000, bytes: [0], executable: true)]
        for (k, n) in [511, 512, 513, 3, 600].enumerated() {
            w.symbols.append(.init(name: Array(repeating: UInt8(ascii: "a") + UInt8(k), count: n), value: 0xFFFF_FFFF_8100_0000 + UInt64(k), size: 0, binding: 1, type: 2, region: 0))
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
