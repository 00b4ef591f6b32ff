import ELFKit
import Foundation
import KallsymsCore
import KallsymsTestSupport
import KernelImage
import Testing

/// The objects `gen --emit object` writes, linked by each target's GNU ld at a chosen address,
/// read back by the reader: every format, every target, the pass-0 (empty) table too. What
/// `dump` lists must be what went in, and `info` must name the format.
@Suite(.serialized) struct GeneratedObjectTests {
    static let targets: [(Architecture, String)] = [
        (.x86_64, "/usr/bin/ld"), (.aarch64, "/usr/bin/aarch64-linux-gnu-ld"),
        (.ppc64le, "/usr/bin/powerpc64le-linux-gnu-ld"), (.riscv64, "/usr/bin/riscv64-linux-gnu-ld"),
        (.i386, "/usr/bin/i686-linux-gnu-ld"), (.arm, "/usr/bin/arm-linux-gnueabihf-ld"),
    ]

    static let formats: [GeneratorOptions] = [
        GeneratorOptions(format: .linux612, allSymbols: true),
        GeneratorOptions(format: .linux615, allSymbols: true),
        GeneratorOptions(format: .linux70, allSymbols: true, pcRelative: true),
        GeneratorOptions(format: .linux73, allSymbols: true, pcRelative: true),
    ]

    /// A map in the target's address range: text, init text and data, 700 symbols (three
    /// marker groups), names long enough for 2-byte lengths.
    static func map(is64: Bool) -> [UInt8] {
        let base: UInt64 = is64 ? 0xFFFF_FFFF_8100_0000 : 0xC100_0000
        func hex(_ a: UInt64) -> String {
            let h = String(a, radix: 16)
            return String(repeating: "0", count: (is64 ? 16 : 8) - h.count) + h
        }
        var text = "\(hex(base)) T _text\n\(hex(base)) T _stext\n"
        var a = base
        for i in 0 ..< 700 {
            a += UInt64(16 + (i * 37) % 200)
            let name = i % 97 == 0 ? "long_" + String(repeating: "x", count: 140) + "\(i)" : "function_\(i % 13)_\(i)"
            text += "\(hex(a)) \(i % 4 == 0 ? "t" : "T") \(name)\n"
        }
        text += "\(hex(a + 32)) T _etext\n\(hex(a + 0x10000)) D some_data\n"
        return Array(text.utf8)
    }

    @Test(arguments: 0 ..< targets.count)
    func linkedObjectsReadBackAsTheirInput(_ t: Int) throws {
        let (arch, ld) = Self.targets[t]
        guard FileManager.default.isExecutableFile(atPath: ld) else {
            throw SupportError("\(ld) is missing (scripts/setup.sh installs the cross binutils)")
        }
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let is64 = arch.pointerSize == 8
        let rodata: UInt64 = is64 ? 0xFFFF_FFFF_8200_0000 : 0xC200_0000
        for options in Self.formats {
            for empty in [false, true] {
                let table = try KallsymsGenerator.generate(mapBytes: empty ? [] : Self.map(is64: is64), options: options)
                let object = "\(dir)/t.o", image = "\(dir)/t"
                try Data(ObjectEmitter.object(table, arch: arch)).write(to: URL(fileURLWithPath: object))
                let r = try runProcess(
                    ld, ["-e", "0", "--defsym=_text=0x\(String(table.textAddress, radix: 16))",
                         "--section-start=.rodata=0x\(String(rodata, radix: 16))", "-o", image, object])
                #expect(r.status == 0, "\(arch) \(options.format): \(String(decoding: r.stderr, as: UTF8.self))")
                let k = try KernelImage.read(path: image)
                let label = "\(arch) \(options.format)\(empty ? " (pass 0)" : "")"
                #expect(k.table.numSyms == table.numSyms, "\(label)")
                #expect(Bool(k.table.symbols == table.symbols), "\(label): the decoded symbols differ from the input")
                #expect(k.table.tableFormat.addressing == options.tableFormat.addressing, "\(label)")
                #expect(k.layout.description.contains(options.tableFormat.addressing.rawValue), "\(label): \(k.layout)")
            }
        }
    }
}
