import ELFKit
import Foundation
import KallsymsTestSupport
import Testing

/// The reader against binutils' readelf on real files, and on broken ones.
@Suite(.tags(.offline)) struct ELFFileTests {
    func readelfSections(_ path: String) throws -> [String] {
        let r = try runProcess("/usr/bin/readelf", ["-SW", path])
        // "  [ 1] .interp  PROGBITS  0000000000000318 000318 00001c 00   A  0   0  1"
        return String(decoding: r.stdout, as: UTF8.self).split(separator: "\n").compactMap { line -> String? in
            guard let close = line.firstIndex(of: "]"), line.contains("[") else { return nil }
            let fields = line[line.index(after: close)...].split(separator: " ")
            guard fields.count >= 5, fields[0] != "Name", !line.contains("[ 0]") else { return nil }
            // name, file offset, size
            return "\(fields[0]) \(UInt64(fields[3], radix: 16) ?? 0) \(UInt64(fields[4], radix: 16) ?? 0)"
        }
    }

    @Test(arguments: ["/bin/ls", "/usr/bin/as"])
    func sectionsMatchReadelf(_ path: String) throws {
        let elf = try ELFFile([UInt8](Data(contentsOf: URL(fileURLWithPath: path))))
        let names = elf.sections.dropFirst().map { "\($0.name) \($0.offset) \($0.size)" }
        #expect(names == (try readelfSections(path)))
        #expect(elf.is64 && elf.byteOrder == .little && elf.machine == .x86_64)
        #expect(!elf.segments.isEmpty)
    }

    @Test(arguments: ["/bin/ls", "/usr/bin/as"])
    func notesAndBuildIDMatchReadelf(_ path: String) throws {
        let elf = try ELFFile([UInt8](Data(contentsOf: URL(fileURLWithPath: path))))
        let r = try runProcess("/usr/bin/readelf", ["-nW", path])
        let text = String(decoding: r.stdout, as: UTF8.self)
        let id = try elf.buildID()
        #expect(id != nil && text.contains("Build ID: \(id!)"))
        let owners = text.split(separator: "\n").filter { $0.contains("0x0") && !$0.contains("Owner") }.count
        #expect(try elf.notes().count == owners)
    }

    @Test func truncatedAndCorruptFilesThrowWithOffsets() throws {
        let ls = [UInt8](try Data(contentsOf: URL(fileURLWithPath: "/bin/ls")))
        for cut in [0, 3, 16, 40, 63, 64, 200, ls.count / 2, ls.count - 1] {
            do {
                let elf = try ELFFile(Array(ls[0 ..< cut]))
                // A file cut after its headers may parse; its contents must then fail cleanly.
                for s in elf.sections { _ = try? elf.contents(s) }
                _ = try? elf.symbols()
            } catch let e as ELFError {
                #expect(e.offset >= 0)
            }
        }
        // Each kind of truncation is named, with the offset where the file ran out.
        func error(_ cut: Int) -> ELFError? {
            do { _ = try ELFFile(Array(ls[0 ..< cut])) } catch let e as ELFError { return e } catch {}
            return nil
        }
        #expect(error(3) == ELFError("not an ELF file (no \\x7fELF magic)", offset: 0))
        #expect(error(7) == ELFError("truncated ELF identification: 7 bytes, expected 16", offset: 7))
        #expect(error(40)?.message.contains("the ELF header") == true)
        // A section header count that cannot fit in the file.
        var bad = ls
        bad[60] = 0xFF
        bad[61] = 0xFF
        #expect(throws: ELFError.self) { try ELFFile(bad) }
        // Random byte flips in the header area never trap.
        var rng = SystemRandomNumberGenerator()
        for _ in 0 ..< 2000 {
            var b = Array(ls[0 ..< 4096])
            for _ in 0 ..< 4 { b[Int.random(in: 16 ..< 64, using: &rng)] = UInt8.random(in: 0 ... 255, using: &rng) }
            if let elf = try? ELFFile(b) {
                for s in elf.sections { _ = try? elf.contents(s) }
                _ = try? elf.symbols()
            }
        }
    }

    @Test func bigEndianObjectsRead() throws {
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let asPath = try ObjectEquivalenceTests.assembler("powerpc64le-linux-gnu")
        try Data(".data\n.globl big\nbig: .quad 0x0102030405060708\n".utf8).write(to: URL(fileURLWithPath: dir + "/b.s"))
        let r = try runProcess(asPath, ["-mbig", "-o", dir + "/b.o", dir + "/b.s"])
        #expect(r.status == 0, "\(String(decoding: r.stderr, as: UTF8.self))")
        let elf = try ELFFile([UInt8](Data(contentsOf: URL(fileURLWithPath: dir + "/b.o"))))
        #expect(elf.byteOrder == .big)
        #expect(elf.machine == .ppc64)
        let data = try elf.contents(elf.section(named: ".data")!)
        #expect(Array(data) == [1, 2, 3, 4, 5, 6, 7, 8])
        #expect(try elf.symbols().contains { $0.nameString == "big" && $0.binding == .global })
    }
}
