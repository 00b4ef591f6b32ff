import ELFKit
import Foundation
import KallsymsCore
import KallsymsTestSupport
import KernelImage
import Testing

/// A vmlinux's DWARF is never read: the file is mapped and its non-loaded PROGBITS sections come
/// back as zeros, everything else byte for byte.
@Suite struct KernelFileTests {
    @Test func debugSectionsAreZeroedAndNothingElse() throws {
        let (blob, symbols) = try ContainerTests.blob()
        var w = ELFImageWriter(is64: true, byteOrder: .little, machine: .x86_64)
        w.regions.append(.init(name: ".rodata", address: 0xFFFF_FFFF_8100_0000, bytes: blob, executable: false))
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileIO.writeAtomically(dir + "/plain", bytes: w.write())
        var rng = SplitMix(seed: 17)
        let junk = (0 ..< 300_000).map { _ in UInt8(truncatingIfNeeded: rng.next() | 1) }
        try FileIO.writeAtomically(dir + "/junk", bytes: junk)
        let r = try runProcess(
            "/usr/bin/objcopy", ["--add-section", ".debug_info=\(dir)/junk", dir + "/plain", dir + "/vmlinux"])
        #expect(r.status == 0, "\(String(decoding: r.stderr, as: UTF8.self))")
        let file = try FileIO.read(dir + "/vmlinux")
        let elf = try ELFFile(file)
        let debug = try #require(elf.section(named: ".debug_info"))
        let start = Int(debug.offset)
        var expected = file
        for i in start ..< start + junk.count { expected[i] = 0 }
        let got = try KernelFile.read(dir + "/vmlinux", sparseFrom: 0)
        #expect(got.count == file.count)
        #expect(got == expected)
        // Below the threshold the file is read whole; either way the table reads the same.
        #expect(try KernelFile.read(dir + "/vmlinux") == file)
        let image = try KernelImage.read(bytes: got)
        #expect(image.symbols == symbols)
    }
}
