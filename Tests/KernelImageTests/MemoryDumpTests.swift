import ELFKit
import Foundation
import KallsymsCore
import KallsymsTestSupport
import KernelImage
import Testing

/// Memory dumps built from Debian's real kernels: the kernel placed at a physical address inside
/// an ELF core (qemu's shape and makedumpfile's) and inside a raw memory image, with
/// `kallsyms_relative_base` set as the kernel's boot code sets it for a chosen KASLR slide. Every
/// decoded (address, type, name) must equal the same build's System.map table plus the slide.
@Suite struct MemoryDumpTests {
    enum Container: String, CaseIterable, Sendable {
        /// `qemu dump-guest-memory`: p_vaddr 0, segments split where memory regions end.
        case qemuCore = "qemu core"
        /// makedumpfile / /proc/vmcore: p_vaddr in the direct map, a VMCOREINFO note.
        case makedumpfileCore = "makedumpfile core"
        /// `pmemsave 0 SIZE FILE`.
        case raw
    }

    struct Kernel: CustomStringConvertible, Sendable {
        var version: String
        var arch: String
        var machine: UInt16
        var options: GeneratorOptions
        /// KASLR slides to try: x86_64 moves the kernel by multiples of CONFIG_PHYSICAL_ALIGN
        /// (2 MiB); arm64 by 64 KiB.
        var slides: [Int64]
        /// Where the kernel's first byte lies in physical memory.
        var physical: Int
        /// How boot fills the relative base: x86_64 adds the slide to the linked value
        /// (handle_relocations); arm64 writes the R_AARCH64_RELATIVE addend plus the slide into a
        /// word the file holds as zero.
        var baseStoredInFile: Bool
        /// The slide comes from the architecture's link layout when the dump does not say.
        var layoutKnown: Bool
        var description: String { "\(version)-\(arch)" }
    }

    static let kernels: [Kernel] = [
        Kernel(
            version: "6.12", arch: "amd64", machine: 62,
            options: GeneratorOptions(format: .linux612, allSymbols: true, absolutePercpu: true),
            slides: [0, 0x1E0_0000, 0x3C60_0000], physical: 0x2600000, baseStoredInFile: true, layoutKnown: true),
        Kernel(
            version: "6.1", arch: "arm64", machine: 183, options: GeneratorOptions(format: .linux61, baseRelative: true),
            slides: [0, 0x123_0000, 0x2F4B_0000], physical: 0x1210000, baseStoredInFile: false, layoutKnown: false),
    ]

    /// The kernel as it lies in memory from `_text` on, where the relative base word is in it,
    /// the link-time `_text`, and the System.map table.
    struct Loaded {
        var bytes: [UInt8]
        var baseWord: Int
        var linkText: UInt64
        var truth: KallsymsTable
        var mapPath: String
    }

    static func loaded(_ k: Kernel) throws -> Loaded {
        let (path, mapPath) = try DebianData.kernel(k.version, k.arch, map: true)
        let image = try KernelImage.read(path: path)
        let truth = try KallsymsGenerator.generate(mapBytes: FileIO.read(mapPath!), file: mapPath!, options: k.options)
        // arm64 without CONFIG_KALLSYMS_ALL has no _text in its table: _text is the Image's
        // first byte, so take it from System.map itself.
        let linkText = try #require(try Self.address(of: "_text", inMap: mapPath!))
        let wordOffset = try #require(image.layout.offsets[.relativeBase])
        if image.segments.isEmpty {
            // arm64 Image: file offset 0 is _text.
            return Loaded(bytes: image.kernelBytes, baseWord: wordOffset, linkText: linkText, truth: truth, mapPath: mapPath!)
        }
        // An ELF vmlinux: its kernel-half segments laid out from _text as the loader places them.
        let kernelHalf = image.segments.filter { $0.address >= linkText }
        let end = kernelHalf.map { Int($0.address - linkText) + $0.size }.max() ?? 0
        var bytes = [UInt8](repeating: 0, count: end)
        var word: Int?
        for s in kernelHalf {
            let at = Int(s.address - linkText)
            bytes.replaceSubrange(at ..< at + s.size, with: image.kernelBytes[s.offset ..< s.offset + s.size])
            if wordOffset >= s.offset, wordOffset < s.offset + s.size { word = at + wordOffset - s.offset }
        }
        return Loaded(bytes: bytes, baseWord: try #require(word), linkText: linkText, truth: truth, mapPath: mapPath!)
    }

    static func address(of name: String, inMap path: String) throws -> UInt64? {
        for line in try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n") {
            let f = line.split(separator: " ")
            if f.count == 3, f[2] == name { return UInt64(f[0], radix: 16) }
        }
        return nil
    }

    /// Physical memory with the kernel at `k.physical` and its relative base as boot leaves it.
    static func memory(_ k: Kernel, _ l: Loaded, slide: Int64) throws -> [UInt8] {
        guard case .offsets(_, let linkedBase, _) = l.truth.addressEncoding else {
            throw SupportError("\(k): System.map's table is not base-relative")
        }
        var m = [UInt8](repeating: 0, count: k.physical + l.bytes.count + 0x10000)
        m.replaceSubrange(k.physical ..< k.physical + l.bytes.count, with: l.bytes)
        let at = k.physical + l.baseWord
        let stored = m[at ..< at + 8].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        if k.baseStoredInFile {
            #expect(stored == linkedBase, "the file's relative base is the linked value")
        } else {
            #expect(stored == 0, "the file's relative base is filled in at boot")
        }
        let relocated = (k.baseStoredInFile ? stored : linkedBase) &+ UInt64(bitPattern: slide)
        for i in 0 ..< 8 { m[at + i] = UInt8(truncatingIfNeeded: relocated >> (8 * UInt64(i))) }
        return m
    }

    /// An ELF64 little-endian ET_CORE: one PT_NOTE (an NT_PRSTATUS per CPU, optionally
    /// VMCOREINFO), then PT_LOADs of `memory` in `pieces` (physical start, end), written straight
    /// after the notes as qemu does (file offsets not page-aligned).
    static func core(machine: UInt16, memory: [UInt8], pieces: [(Int, Int)], vmcoreinfo: String?, directMap: UInt64?) -> [UInt8] {
        var notes = ByteWriter(order: .little)
        func note(_ name: String, _ type: UInt32, _ desc: [UInt8]) {
            let n = Array(name.utf8) + [0]
            notes.u32(UInt32(n.count))
            notes.u32(UInt32(desc.count))
            notes.u32(type)
            notes.bytes(n + [UInt8](repeating: 0, count: (4 - n.count % 4) % 4))
            notes.bytes(desc + [UInt8](repeating: 0, count: (4 - desc.count % 4) % 4))
        }
        for _ in 0 ..< 2 { note("CORE", 1, [UInt8](repeating: 0, count: 336)) }
        if let vmcoreinfo { note("VMCOREINFO", 0, Array(vmcoreinfo.utf8)) }
        let phnum = 1 + pieces.count
        var w = ByteWriter(order: .little)
        w.bytes([0x7F, 0x45, 0x4C, 0x46, 2, 1, 1] + [UInt8](repeating: 0, count: 9))
        w.u16(4)
        w.u16(machine)
        w.u32(1)
        w.u64(0)
        w.u64(64)
        w.u64(0)
        w.u32(0)
        w.u16(64)
        w.u16(56)
        w.u16(UInt16(phnum))
        w.u16(0)
        w.u16(0)
        w.u16(0)
        var offset = 64 + 56 * phnum
        func phdr(_ type: UInt32, _ offset: Int, _ vaddr: UInt64, _ paddr: UInt64, _ size: Int) {
            w.u32(type)
            w.u32(type == 1 ? 7 : 0)
            w.u64(UInt64(offset))
            w.u64(vaddr)
            w.u64(paddr)
            w.u64(UInt64(size))
            w.u64(UInt64(size))
            w.u64(0)
        }
        phdr(4, offset, 0, 0, notes.count)
        offset += notes.count
        for (start, end) in pieces {
            phdr(1, offset, directMap.map { $0 + UInt64(start) } ?? 0, UInt64(start), end - start)
            offset += end - start
        }
        var out = w.bytes
        out += notes.bytes
        for (start, end) in pieces { out += memory[start ..< end] }
        return out
    }

    static func write(_ bytes: [UInt8], _ name: String) throws -> String {
        let path = NSTemporaryDirectory() + "kallsyms-memorydump-\(getpid())-\(name)"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    static let cases: [(Kernel, Container)] = kernels.flatMap { k in Container.allCases.map { (k, $0) } }

    @Test(arguments: cases)
    func decodesRunTimeAddressesAndTheSlide(_ k: Kernel, _ container: Container) throws {
        let l = try Self.loaded(k)
        for slide in k.slides {
            let m = try Self.memory(k, l, slide: slide)
            let bytes: [UInt8]
            var linkMap: String?
            // The slide's source, told apart by the dump: VMCOREINFO in makedumpfile's cores
            // (and qemu's on arm64, whose link address has no fixed layout), the architecture's
            // layout on x86_64, the System.map for raw arm64 memory.
            let info = "OSRELEASE=test\nPAGESIZE=4096\nKERNELOFFSET=\(String(UInt64(bitPattern: slide), radix: 16))\n"
            switch container {
            case .qemuCore:
                // Regions as a pc machine has them: low RAM, a hole, then RAM split inside the
                // kernel (the table may cross such a border).
                let split = k.physical + l.bytes.count / 2
                bytes = Self.core(
                    machine: k.machine, memory: m, pieces: [(0, 0xA0000), (0x100000, split), (split, m.count)],
                    vmcoreinfo: k.layoutKnown ? nil : info, directMap: nil)
            case .makedumpfileCore:
                bytes = Self.core(
                    machine: k.machine, memory: m, pieces: [(0x100000, m.count)], vmcoreinfo: info,
                    directMap: 0xFFFF_8880_0000_0000)
            case .raw:
                bytes = m
                if !k.layoutKnown { linkMap = l.mapPath }
            }
            let path = try Self.write(bytes, "\(k)-\(container.rawValue.replacingOccurrences(of: " ", with: "-"))")
            defer { try? FileManager.default.removeItem(atPath: path) }
            // Headerless files under 64 MiB (the arm64 case) need --memory; larger ones are
            // recognised without it (the amd64 case).
            let small = container == .raw && bytes.count < MemoryDump.rawFrom
            let image = try KernelImage.read(path: path, dump: MemoryDump.Options(rawMemory: small, linkMap: linkMap))
            let memory = try #require(image.memory)
            #expect(memory.container == (container == .raw ? .rawMemory : .vmcore))
            #expect(memory.slide == slide, "slide \(slide): \(memory.slideSource)")
            let reference = try #require(try Self.address(of: memory.textSymbol, inMap: l.mapPath))
            #expect(memory.runtimeText == reference &+ UInt64(bitPattern: slide))
            #expect(memory.tablePhysical > UInt64(k.physical) && memory.tablePhysical < UInt64(k.physical + l.bytes.count))
            if container == .makedumpfileCore { #expect(memory.tableVirtual == 0xFFFF_8880_0000_0000 + memory.tablePhysical) }
            #expect(image.banner?.hasPrefix("Linux version \(k.version)") == true)

            // Kernel-half addresses move by the slide; absolute per-cpu ones do not.
            let a = image.symbols
            let b = l.truth.symbols
            #expect(a.count == b.count && a.count > 30000)
            var first: String?
            for i in 0 ..< min(a.count, b.count) {
                let want = b.addresses[i] >= 1 << 63 ? b.addresses[i] &+ UInt64(bitPattern: slide) : b.addresses[i]
                if a.addresses[i] != want || a.typeAndName(i) != b.typeAndName(i) {
                    first = "slide \(slide) entry \(i): decoded 0x\(String(a.addresses[i], radix: 16)) \(a.nameString(i)), "
                        + "System.map + slide 0x\(String(want, radix: 16)) \(b.nameString(i))"
                    break
                }
            }
            #expect(first == nil, "\(first ?? "")")
        }
    }

    /// Every addressing mode relocated as boot does (absolute words and the relative base move
    /// by the slide), in raw memory behind `--memory`, with the slide measured against a
    /// System.map given as `--sysmap`. (Absolute per-cpu entries, which do not move, are in the
    /// Debian 6.12 amd64 cases above.)
    static let modes: [LayoutTests.Case] = [
        .init(order: .v6_4, kind: .absolute, pointerSize: 8, byteOrder: .little),
        .init(order: .before6_2, kind: .absolute, pointerSize: 4, byteOrder: .little),
        .init(order: .v6_4, kind: .baseRelative, pointerSize: 8, byteOrder: .big),
        .init(order: .v6_4, kind: .absolute, pointerSize: 4, byteOrder: .big),
        .init(order: .before6_2, kind: .baseRelative, pointerSize: 4, byteOrder: .little),
    ]

    @Test(arguments: modes)
    func everyAddressingModeGivesRunTimeAddresses(_ c: LayoutTests.Case) throws {
        let linked = try LayoutTests.sourceTable(c)
        let text = try #require(linked.address(of: "_text"))
        let slide: UInt64 = 0x123_0000
        let s = linked.symbols
        var map = ""
        for i in 0 ..< s.count {
            let a = s.addresses[i] >= text ? s.addresses[i] + slide : s.addresses[i]
            map += String(a, radix: 16) + " " + String(Character(Unicode.Scalar(s.type(i)))) + " " + s.nameString(i) + "\n"
        }
        let relocated = try KallsymsGenerator.generate(
            mapBytes: Array(map.utf8),
            options: GeneratorOptions(format: .linux612, allSymbols: true, absolutePercpu: c.kind == .absolutePercpu))
        let memory = [UInt8](repeating: 0, count: 0x10_0000) + LayoutTests.encode(relocated, c).bytes
        let name = "mode-\(c.description.replacingOccurrences(of: " ", with: "-"))"
        let path = try Self.write(memory, name)
        let sysmap = try Self.write(Array("\(String(text, radix: 16)) T _text\n".utf8), name + ".map")
        defer {
            try? FileManager.default.removeItem(atPath: path)
            try? FileManager.default.removeItem(atPath: sysmap)
        }
        let image = try KernelImage.read(path: path, dump: MemoryDump.Options(rawMemory: true, linkMap: sysmap))
        #expect(image.layout.addressKind == c.kind)
        #expect(image.memory?.slide == Int64(slide), "\(image.memory?.slideSource ?? "")")
        #expect(image.memory?.tablePhysical ?? 0 > 0x10_0000)
        let a = image.symbols
        #expect(relocated.symbols.count == s.count)
        #expect(a.count == s.count, "\(image.steps) \(image.layout) \((0 ..< min(a.count, 4)).map { a.nameString($0) })")
        var first: Int?
        for i in 0 ..< min(a.count, s.count) {
            let want = s.addresses[i] >= text ? s.addresses[i] + slide : s.addresses[i]
            if a.addresses[i] != want || a.typeAndName(i) != s.typeAndName(i) {
                first = i
                break
            }
        }
        #expect(first == nil, "first difference at entry \(first ?? -1)")
    }

    /// The search for token tables goes through a dump 64 MiB at a time: a table whose digit
    /// tokens straddle the border between two chunks is still found.
    @Test func aTokenTableAcrossAChunkBorderIsFound() throws {
        let c = LayoutTests.Case(order: .v6_4, kind: .baseRelative, pointerSize: 8, byteOrder: .little)
        let table = try LayoutTests.sourceTable(c)
        let bytes = LayoutTests.encode(table, c).bytes
        var digits: [UInt8] = []
        for d in UInt8(ascii: "0") ... UInt8(ascii: "9") { digits += [d, 0] }
        let at = try #require((0 ... bytes.count - digits.count).first { bytes[$0 ..< $0 + digits.count].elementsEqual(digits) })
        // The pattern starts 10-17 bytes before 64 MiB; the table keeps its 8-byte alignment.
        let physical = ((64 << 20) - at - 10) & ~7
        let path = try Self.write([UInt8](repeating: 0, count: physical) + bytes, "chunk-border")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let image = try KernelImage.read(path: path)
        #expect(image.memory?.container == .rawMemory)
        let same = image.symbols == table.symbols
        #expect(same, "decoded symbols differ")
    }

    // MARK: bad input

    static func expectError(_ bytes: [UInt8], _ name: String, raw: Bool = false, message: String, offset: Int?) throws {
        let path = try write(bytes, name)
        defer { try? FileManager.default.removeItem(atPath: path) }
        do {
            _ = try KernelImage.read(path: path, dump: MemoryDump.Options(rawMemory: raw))
            Issue.record("\(name): read without an error")
        } catch let e as KallsymsError {
            #expect(e.file == path)
            #expect(e.offset == offset, "\(e)")
            #expect(e.message.contains(message), "\(e)")
        }
    }

    static let small = [UInt8](repeating: 0x5A, count: 0x3000)

    @Test func aTruncatedCoreIsNamedAtItsSegmentHeader() throws {
        let whole = Self.core(machine: 62, memory: Self.small, pieces: [(0x1000, 0x3000)], vmcoreinfo: nil, directMap: nil)
        // The PT_LOAD (second program header, at 64 + 56) ends past the cut.
        try Self.expectError(Array(whole.dropLast(100)), "truncated", message: "runs past the end of the file", offset: 64 + 56)
    }

    @Test func aLoadSegmentPastTheEndIsAnError() throws {
        var core = Self.core(machine: 62, memory: Self.small, pieces: [(0x1000, 0x3000)], vmcoreinfo: nil, directMap: nil)
        // p_filesz of the PT_LOAD: 2^62.
        let at = 64 + 56 + 32
        for i in 0 ..< 8 { core[at + i] = i == 7 ? 0x40 : 0 }
        try Self.expectError(core, "pastend", message: "PT_LOAD 1", offset: 64 + 56)
    }

    @Test func garbageNotesAreNamedAtTheNote() throws {
        var core = Self.core(machine: 62, memory: Self.small, pieces: [(0x1000, 0x3000)], vmcoreinfo: "KERNELOFFSET=0\n", directMap: nil)
        // The second NT_PRSTATUS (after the first: 12 + 8 + 336 bytes) claims a 4 GiB descriptor.
        let second = 64 + 56 * 2 + 12 + 8 + 336
        for i in 0 ..< 4 { core[second + 4 + i] = 0xFF }
        try Self.expectError(core, "garbagenote", message: "runs past the end of its PT_NOTE segment", offset: second)
    }

    @Test func impossibleProgramHeadersAreAnError() throws {
        var core = Self.core(machine: 62, memory: Self.small, pieces: [(0x1000, 0x3000)], vmcoreinfo: nil, directMap: nil)
        core[0x38] = 0xFE  // e_phnum 254: far more headers than the file holds
        try Self.expectError(core, "phnum", message: "program headers", offset: 0x20)
    }

    /// Random damage to a core's headers and notes: every read either decodes or throws a
    /// KallsymsError; none traps.
    @Test func damagedHeadersAndNotesNeverTrap() throws {
        let c = LayoutTests.Case(order: .v6_4, kind: .baseRelative, pointerSize: 8, byteOrder: .little)
        let memory = [UInt8](repeating: 0, count: 0x1000) + LayoutTests.encode(try LayoutTests.sourceTable(c), c).bytes
        let good = Self.core(
            machine: 62, memory: memory, pieces: [(0, 0x1000), (0x1000, memory.count)], vmcoreinfo: "KERNELOFFSET=200000\n",
            directMap: nil)
        let headers = 64 + 56 * 3 + 2 * (12 + 8 + 336) + 12 + 12 + 20
        var rng = SplitMix(seed: 2026)
        var decoded = 0
        var rejected = 0
        for round in 0 ..< 300 {
            var bad = good
            for _ in 0 ..< 1 + round % 4 {
                let at = Int(rng.next() % UInt64(headers))
                bad[at] = round % 3 == 0 ? 0xFF : UInt8(truncatingIfNeeded: rng.next())
            }
            let path = try Self.write(bad, "damaged")
            defer { try? FileManager.default.removeItem(atPath: path) }
            do {
                _ = try KernelImage.read(path: path)
                decoded += 1
            } catch let e as KallsymsError {
                #expect(e.file == path)
                rejected += 1
            }
        }
        #expect(decoded + rejected == 300 && rejected > 0 && decoded > 0, "decoded \(decoded), rejected \(rejected)")
    }

    @Test func aCoreOrRawImageWithoutATableSaysWhatWasSearched() throws {
        let core = Self.core(machine: 62, memory: Self.small, pieces: [(0x1000, 0x3000)], vmcoreinfo: nil, directMap: nil)
        try Self.expectError(core, "notable", message: "no kallsyms table found in any PT_LOAD of the vmcore", offset: nil)
        try Self.expectError(Self.small, "rawnotable", raw: true, message: "no kallsyms table found in the raw memory image", offset: nil)
    }
}
