import Foundation
import KallsymsCore
import KallsymsTestSupport
import KernelImage
import Testing

/// `info`, `dump`, `lookup` and `symbolize` on a raw memory image holding Debian's 6.12 amd64
/// kernel with its relative base relocated by a KASLR slide, and the commands' errors on dumps.
@Suite struct MemoryDumpCLITests {
    static func run(_ args: [String]) throws -> (status: Int32, out: String, err: String) {
        let r = try runProcess(CLITests.kallsyms, args)
        return (r.status, String(decoding: r.stdout, as: UTF8.self), String(decoding: r.stderr, as: UTF8.self))
    }

    static func temporary(_ name: String, _ bytes: [UInt8]) throws -> String {
        let path = NSTemporaryDirectory() + "kallsyms-dumpcli-\(getpid())-\(name)"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test func commandsReadRunTimeAddressesFromRawMemory() throws {
        let (imagePath, map) = try DebianData.kernel("6.12", "amd64", map: true)
        let kernel = try KernelImage.read(path: imagePath)
        let slide: UInt64 = 0x2A0_0000
        // The vmlinux's bytes at a page-aligned physical address (its file offsets keep their
        // addresses' alignment); boot adds the slide to the relative base.
        let physical = 0x400_0000
        var memory = [UInt8](repeating: 0, count: physical) + kernel.kernelBytes
        let word = physical + (try #require(kernel.layout.offsets[.relativeBase]))
        var base: UInt64 = 0
        for i in (0 ..< 8).reversed() { base = base << 8 | UInt64(memory[word + i]) }
        base &+= slide
        for i in 0 ..< 8 { memory[word + i] = UInt8(truncatingIfNeeded: base >> (8 * UInt64(i))) }
        let path = try Self.temporary("raw", memory)
        defer { try? FileManager.default.removeItem(atPath: path) }

        let info = try Self.run(["info", path])
        #expect(info.status == 0)
        #expect(info.out.contains("container:     raw memory"))
        #expect(info.out.contains("run-time _text: 0xffffffff83a00000"))
        #expect(info.out.contains("slide:         0x2a00000 (x86_64 link layout"))
        let json = try Self.run(["info", "--json", "--sysmap", map!, path])
        let parsed = try JSONSerialization.jsonObject(with: Data(json.out.utf8)) as? [String: Any]
        let m = parsed?["memory"] as? [String: Any]
        #expect(m?["slide"] as? String == "0x2a00000")
        #expect((m?["slideSource"] as? String)?.hasPrefix("run-time _text minus _text of ") == true)
        #expect(m?["container"] as? String == "raw memory")

        // start_kernel is at 0xffffffff83338a80 in System.map.
        let l = try Self.run(["lookup", path, "start_kernel", "0xffffffff85d38a90"])
        #expect(l.out == "ffffffff85d38a80 T start_kernel\nffffffff85d38a90 start_kernel+0x10/0x890\n")
        let s = try runProcess(CLITests.kallsyms, ["symbolize", path], stdin: Array("RIP: 0010:ffffffff85d38a90\n".utf8))
        #expect(String(decoding: s.stdout, as: UTF8.self) == "RIP: 0010:ffffffff85d38a90 start_kernel+0x10/0x890\n")
        #expect(String(decoding: s.stderr, as: UTF8.self).contains("slide 0x0 from the memory dump"))
        let e = try Self.run(["elf", path, "-o", path + ".elf"])
        #expect(e.status != 0 && e.err.contains("is a memory dump"))
    }

    @Test func errorsNameTheFileAndOffset() throws {
        let zeros = try Self.temporary("zeros", [UInt8](repeating: 0, count: 4096))
        defer { try? FileManager.default.removeItem(atPath: zeros) }
        let r = try Self.run(["dump", "--memory", zeros])
        #expect(r.status != 0)
        #expect(r.err.contains(zeros) && r.err.contains("no kallsyms table found in the raw memory image"), "\(r.err)")
        #expect(r.out.isEmpty)

        // An ELF64 ET_CORE header claiming program headers past the end of the file.
        var core = [UInt8](repeating: 0, count: 64)
        core.replaceSubrange(0 ..< 7, with: [0x7F, 0x45, 0x4C, 0x46, 2, 1, 1])
        core[16] = 4
        core[18] = 62
        core[0x20] = 64
        core[0x36] = 56
        core[0x38] = 3
        let bad = try Self.temporary("core", core)
        defer { try? FileManager.default.removeItem(atPath: bad) }
        let c = try Self.run(["info", bad])
        #expect(c.status != 0)
        #expect(c.err.contains("\(bad): byte offset 32 (0x20): 3 program headers"), "\(c.err)")

        let (image, map) = try DebianData.kernel("6.12", "amd64", map: true)
        let u = try Self.run(["info", "--sysmap", map!, image])
        #expect(u.status != 0 && u.err.contains("--sysmap applies to memory dumps"), "\(u.err)")
    }
}
