import ELFKit
import Foundation
import KallsymsCore
import KallsymsTestSupport
import Testing

/// `gen --emit object` against the real assembler of each target: the `.rodata` bytes, the global
/// symbols and the relocations must be the same as what `as` makes of the `.S`.
@Suite(.serialized) struct ObjectEquivalenceTests {
    /// arch, GNU triple (binutils-<triple>), pointer bits.
    static let targets: [(Architecture, String, Int)] = [
        (.x86_64, "x86_64-linux-gnu", 64), (.aarch64, "aarch64-linux-gnu", 64),
        (.ppc64le, "powerpc64le-linux-gnu", 64), (.riscv64, "riscv64-linux-gnu", 64),
        (.i386, "i686-linux-gnu", 32), (.arm, "arm-linux-gnueabihf", 32),
    ]

    /// The target's assembler, installed from Debian if missing.
    static func assembler(_ triple: String) throws -> String {
        let path = triple == "x86_64-linux-gnu" ? "/usr/bin/as" : "/usr/bin/\(triple)-as"
        if FileManager.default.isExecutableFile(atPath: path) { return path }
        let r = try runProcess("/usr/bin/apt-get", ["install", "-y", "-qq", "binutils-\(triple)"])
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw SupportError("\(path) is missing and apt-get install binutils-\(triple) failed: \(String(decoding: r.stderr, as: UTF8.self))")
        }
        return path
    }

    /// Assembles `source` for `triple` the way Kbuild does (cpp with BITS_PER_LONG, then as).
    static func assemble(_ source: [UInt8], triple: String, bits: Int, in dir: String) throws -> [UInt8] {
        try FileManager.default.createDirectory(atPath: dir + "/inc/asm", withIntermediateDirectories: true)
        try Data("#define BITS_PER_LONG \(bits)\n".utf8).write(to: URL(fileURLWithPath: dir + "/inc/asm/bitsperlong.h"))
        try Data(source).write(to: URL(fileURLWithPath: dir + "/t.S"))
        let cpp = try runProcess("/usr/bin/gcc", ["-E", "-P", "-x", "assembler-with-cpp", "-I", dir + "/inc", dir + "/t.S", "-o", dir + "/t.s"])
        guard cpp.status == 0 else { throw SupportError("cpp failed: \(String(decoding: cpp.stderr, as: UTF8.self))") }
        let r = try runProcess(try assembler(triple), ["-o", dir + "/ref.o", dir + "/t.s"])
        guard r.status == 0 else { throw SupportError("as failed: \(String(decoding: r.stderr, as: UTF8.self).prefix(500))") }
        return try [UInt8](Data(contentsOf: URL(fileURLWithPath: dir + "/ref.o")))
    }

    struct Summary: Equatable {
        var rodata: [UInt8]
        var rodataAlignment: UInt64
        var globals: [String]
        var relocations: [String]
        var machine: ELFMachine
        var flags: UInt32
        var is64: Bool
    }

    /// What must agree between two objects, independent of section numbering and of local
    /// symbols such as mapping symbols (`$d`).
    static func summary(_ bytes: [UInt8]) throws -> Summary {
        let elf = try ELFFile(bytes)
        guard let rodata = elf.section(named: ".rodata") else { throw SupportError("no .rodata") }
        let data = Array(try elf.contents(rodata))
        let symbols = try elf.symbols()
        func sectionName(_ index: SectionIndex) -> String {
            let i = Int(index.rawValue)
            return index == .undef ? "UND" : i < elf.sections.count ? elf.sections[i].name : "#\(i)"
        }
        let globals = symbols.filter { $0.binding != .local }.map {
            "\($0.nameString) \(sectionName($0.sectionIndex)) \($0.value) size=\($0.size) bind=\($0.binding.rawValue) type=\($0.type.rawValue)"
        }.sorted()
        var relocations: [String] = []
        for s in elf.sections where (s.type == .rel || s.type == .rela) && elf.sections[Int(s.info)].name == ".rodata" {
            for r in try elf.relocations(in: s) {
                let addend: Int64
                if let a = r.addend {
                    addend = a
                } else {
                    // REL: the addend is what the patched word holds.
                    let w = elf.is64 ? 8 : 4
                    let cursor = ByteCursor(data, order: elf.byteOrder)
                    let raw = try cursor.integer(Int(r.offset), w)
                    addend = elf.is64 ? Int64(bitPattern: raw) : Int64(Int32(truncatingIfNeeded: raw))
                }
                relocations.append("\(r.offset) type=\(r.type.rawValue) \(symbols[r.symbolIndex].nameString) \(addend)")
            }
        }
        return Summary(
            rodata: data, rodataAlignment: rodata.alignment, globals: globals, relocations: relocations.sorted(),
            machine: elf.machine, flags: elf.flags, is64: elf.is64)
    }

    static func check(_ table: KallsymsTable, arch: Architecture, triple: String, bits: Int) throws {
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // 7.3 pulls its byte arrays in from a .bin with .incbin.
        var bin: [UInt8] = []
        let source = AssemblyWriter.write(table, binName: dir + "/kallsyms.bin", bin: &bin)
        if table.format == .linux73 { try Data(bin).write(to: URL(fileURLWithPath: dir + "/kallsyms.bin")) }
        let reference = try summary(assemble(source, triple: triple, bits: bits, in: dir))
        let ours = try summary(ObjectEmitter.object(table, arch: arch))
        #expect(ours.rodata.count == reference.rodata.count, "\(arch)")
        if let i = zip(ours.rodata, reference.rodata).enumerated().first(where: { $0.element.0 != $0.element.1 })?.offset {
            Issue.record("\(arch): .rodata differs first at byte \(i)")
        }
        #expect(ours.rodataAlignment == reference.rodataAlignment, "\(arch)")
        #expect(ours.globals == reference.globals, "\(arch)")
        #expect(ours.relocations == reference.relocations, "\(arch)")
        #expect(ours.machine == reference.machine, "\(arch)")
        #expect(ours.flags == reference.flags, "\(arch)")
        #expect(ours.is64 == reference.is64, "\(arch)")
    }

    static func exampleMap() throws -> [UInt8] {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        return try [UInt8](Data(contentsOf: root.appendingPathComponent("examples/example.map")))
    }

    static let formats: [GeneratorOptions] = [
        GeneratorOptions(format: .linux612, allSymbols: true, absolutePercpu: true),
        GeneratorOptions(format: .linux61, allSymbols: true, absolutePercpu: true, baseRelative: true),
        // Addresses layout: one relocation per non-absolute symbol, some with negative addends.
        GeneratorOptions(format: .linux61, allSymbols: true, absolutePercpu: true),
        GeneratorOptions(format: .linux615, allSymbols: true),
        // Place-relative: one PC-relative relocation per symbol; and the absolute 32-bit form.
        GeneratorOptions(format: .linux70, allSymbols: true, pcRelative: true),
        GeneratorOptions(format: .linux70, allSymbols: true),
        GeneratorOptions(format: .linux73, allSymbols: true, pcRelative: true),
        GeneratorOptions(format: .linux73),
    ]

    @Test(.tags(.offline), arguments: 0 ..< targets.count)
    func exampleTablesMatchTheAssembler(_ t: Int) throws {
        let (arch, triple, bits) = Self.targets[t]
        var map = try Self.exampleMap()
        // A symbol below _text gives `PTR _text - d` in the addresses layout.
        map = Array("ffffffff80ff0000 T before_text\n".utf8) + map
        // 6.15 and later have no absolute per-cpu encoding: their maps lie in the kernel's range.
        let kernelRange = map.split(separator: 0x0A).filter { $0.first != UInt8(ascii: "0") }.flatMap { $0 + [0x0A] }
        for options in Self.formats {
            let table = try KallsymsGenerator.generate(
                mapBytes: options.format.era >= .v6_15 ? kernelRange : map, options: options)
            try Self.check(table, arch: arch, triple: triple, bits: bits)
        }
    }

    /// The real Debian table (3.4 MB of .rodata) for the 64-bit targets.
    @Test(arguments: [0, 1])
    func debianTableMatchesTheAssembler(_ t: Int) throws {
        let (arch, triple, bits) = Self.targets[t]
        let map = try FileIO.read(DebianData.systemMap612())
        let table = try KallsymsGenerator.generate(mapBytes: map, options: Self.formats[0])
        try Self.check(table, arch: arch, triple: triple, bits: bits)
        let layout = BinaryLayout(table, arch: arch)
        // Spec §7: label offsets of the assembled Debian object.
        if table.numSyms == 162_959 {
            #expect(layout.label(.names)?.offset == 0x8)
            #expect(layout.label(.markers)?.offset == 0x221860)
            #expect(layout.label(.tokenTable)?.offset == 0x222258)
            #expect(layout.label(.seqsOfNames)?.offset == 0x2c1a78)
            #expect(layout.bytes.count == 3_379_237)
        }
    }
}
