import ELFKit
import Foundation
import KallsymsCore
import KallsymsTestSupport
import Testing

/// `ELFSysmap` against the kernel's own `scripts/kallsyms --sysmap=OUT ELF` of 7.3, built from
/// ../shared/reference by scripts/fetch-reference.sh.
enum Sysmap73Oracle {
    enum Verdict: Equatable {
        /// Both succeeded with the same map (and the reference printed nothing).
        case identical
        /// Both refused the file.
        case bothFailed
        /// The reference read past the end of the file (zero fill, or a fault) and we stopped
        /// there with an error naming the offset.
        case pastEnd
        case mismatch
    }

    struct Outcome {
        var status: Int32
        var stdout: [UInt8]
        var stderr: [UInt8]
        var map: [UInt8]
    }

    static func reference(_ file: String) throws -> Outcome {
        let out = file + ".sysmap73"
        defer { try? FileManager.default.removeItem(atPath: out) }
        let r = try runProcess(try ReferenceTool.path(version: "7.3"), ["--sysmap=\(out)", file])
        let map = (try? [UInt8](Data(contentsOf: URL(fileURLWithPath: out)))) ?? []
        return Outcome(status: r.status, stdout: r.stdout, stderr: r.stderr, map: map)
    }

    /// Compares one file and records an issue for any difference.
    @discardableResult
    static func compare(_ file: String, _ label: String = "") throws -> Verdict {
        let ref = try reference(file)
        let refText = String(decoding: ref.stderr.prefix(300), as: UTF8.self)
        do {
            let sysmap = try ELFSysmap.read(path: file)
            let ours = sysmap.text()
            guard ref.status == 0, ref.stdout.isEmpty, ref.stderr == sysmap.warnings() else {
                Issue.record("\(label) \(file): reference exit \(ref.status), stderr '\(refText)'; ours succeeded")
                return .mismatch
            }
            guard ours == ref.map else {
                let a = ours.split(separator: 0x0A), b = ref.map.split(separator: 0x0A)
                let k = (0 ..< min(a.count, b.count)).first { a[$0] != b[$0] } ?? min(a.count, b.count)
                Issue.record(
                    "\(label) \(file): maps differ at line \(k + 1) (ours \(a.count) lines, reference \(b.count)): ours '\(k < a.count ? String(decoding: a[k], as: UTF8.self) : "<end>")' reference '\(k < b.count ? String(decoding: b[k], as: UTF8.self) : "<end>")'"
                )
                return .mismatch
            }
            return .identical
        } catch let e as KallsymsError {
            // The reference truncates OUT before it reads: a failure leaves it empty.
            if ref.status != 0 && ref.map.isEmpty && ref.stdout.isEmpty {
                return e.message.contains("past the end") ? .pastEnd : .bothFailed
            }
            if e.message.contains("past the end") {
                // The reference went on with whatever memory follows the file: the zeros the
                // kernel maps up to the page boundary, or past that, another mapping. Given those
                // zeros as bytes of the file, we must agree with it whenever we then can read it.
                let page = Int(sysconf(Int32(_SC_PAGESIZE)))
                var padded = try [UInt8](Data(contentsOf: URL(fileURLWithPath: file)))
                padded += [UInt8](repeating: 0, count: (page - padded.count % page) % page)
                let path = file + ".padded"
                try Data(padded).write(to: URL(fileURLWithPath: path))
                defer { try? FileManager.default.removeItem(atPath: path) }
                if (try? ELFSysmap.read(path: path)) != nil {
                    #expect(try compare(path, label + " (padded to a page)") == .identical)
                }
                return .pastEnd
            }
            Issue.record("\(label) \(file): ours failed (\(e)), reference exit \(ref.status) \(refText)")
            return .mismatch
        }
    }
}

/// Random ELF files for the differential test: symbol tables with every binding, type and
/// section index 7.3 distinguishes, names that hit (and nearly hit) each of its rules, and the
/// header forms elf_open_ro handles (counts in section 0, entry sizes, several symbol tables).
struct RandomELF {
    var rng: SplitMix
    init(seed: UInt64) { rng = SplitMix(seed: seed) }

    mutating func below(_ n: Int) -> Int { Int(rng.next() % UInt64(max(n, 1))) }
    mutating func chance(_ percent: Int) -> Bool { below(100) < percent }
    mutating func pick<T>(_ a: [T]) -> T { a[below(a.count)] }

    static let sectionNames = [
        ".text", ".init.text", ".data", ".bss", ".rodata", ".sdata", ".sbss", ".debug_info", ".debug",
        ".zdebug_line", ".gnu.debuglto_.debug_info", ".gnu.linkonce.wi.x", ".line", ".stab", ".stabstr",
        ".comment", ".note.x", ".idata$2", ".debu", ".zdebu", ".gnu.debuglto_", "", ".data..percpu",
    ]

    /// Names for each of 7.3's rules, near misses, and the usual kernel shapes.
    mutating func name() -> [UInt8] {
        let stem = randomIdentifier()
        switch below(16) {
        case 0:
            return Array(pick([
                "$", ".L", "__efistub_", "__pi_$", "__pi_.L", "__kvm_nvhe_$", "__kvm_nvhe_.L", "__kcfi_typeid_",
                "__kvm_nvhe___kcfi_typeid_", "__pi___kcfi_typeid_", "__crc_", "__kstrtab_", "__kstrtabns_",
                "__mod_device_table__", "$x", "$d.1", "_crc_", "__kstrtab", "__mod_device_table_", "__pi_",
            ]).utf8) + (chance(70) ? stem : [])
        case 1: return stem + Array(pick(["_from_arm", "_from_thumb", "_veneer", "_veneerx", "from_arm"]).utf8)
        case 2:
            return Array(pick(["L0", "_SDA_BASE_", "_SDA2_BASE_", "L0x", "xL0", " L0", "a L0", "_SDA_BASE", "L"]).utf8)
        case 3:
            let parts = [stem, Array(pick([".long_branch.", ".plt_branch.", ".long_branch", "plt_branch."]).utf8), randomIdentifier()]
            return parts.joined().map { $0 }
        case 4:
            return Array(pick([
                "__ZZThunk_x", "__Thunk_", "__aThunk_", "__aThunkx_", "__Thunk", "_aThunk_", "__a.Thunk_", "__12345Thunk_y",
                "__hunk_", "__xThunk__",
            ]).utf8)
        case 5:
            return Array("__UNIQUE_ID_modinfo_".utf8)
                + Array(pick(["", "1", "123", "12a", "x", "0 ", "007"]).utf8)
        case 6: return (0 ..< 1 + below(40)).map { _ in UInt8(1 + below(255)) }  // any byte but NUL
        case 7:
            let n = pick([200, 300, 511, 512, 513, 700, 1000, 4000])
            return (0 ..< n).map { _ in pick(Array("abcdefghij_0123456789".utf8)) }
        case 8: return stem + [0x20] + randomIdentifier()  // a space inside
        case 9: return stem + [0xC3, 0xA9] + [UInt8(0x80 + below(128))]
        case 10: return []
        case 11: return Array(pick(["_text", "_stext", "_etext", "__start_x", "__stop_x", "_sinittext", "__gp"]).utf8)
        default: return stem
        }
    }

    mutating func randomIdentifier() -> [UInt8] {
        let letters = Array("abcdefghijklmnopqrstuvwxyz_0123456789ABCDEFXYZ".utf8)
        return (0 ..< 1 + below(24)).map { _ in pick(letters) }
    }

    struct Section {
        var name: UInt32 = 0
        var type: UInt32 = 0
        var flags: UInt64 = 0
        var offset: UInt64 = 0
        var size: UInt64 = 0
        var link: UInt32 = 0
        var entsize: UInt64 = 0
    }

    mutating func make() -> [UInt8] {
        let is64 = chance(60)
        let le = chance(70)
        // Section names.
        var shstrtab: [UInt8] = [0]
        func addName(_ s: [UInt8]) -> UInt32 {
            let o = UInt32(shstrtab.count)
            shstrtab += s + [0]
            return o
        }
        var sections = [Section()]
        for _ in 0 ..< 1 + below(8) {
            var s = Section()
            s.name = addName(Array(pick(Self.sectionNames).utf8))
            s.type = pick([1, 1, 1, 8, 8, 7, 3, UInt32(below(20)), 0x6fff_fff0])
            // Now and then an empty symbol table comes first: the first one is the one read.
            if s.type == 2 && !chance(10) { s.type = 1 }
            if s.type == 2 { s.entsize = 24 }
            s.flags = UInt64(below(8)) | (chance(10) ? UInt64(0x10) << UInt64(below(20)) : 0)
            sections.append(s)
        }
        // String table: names back to back, shared, and offsets into the middle of others.
        var strtab: [UInt8] = [0]
        let symbolCount = pick([0, 1, 2, 5, 20, 60, 150, 400, 1000])
        var symbols: [(name: UInt32, info: UInt8, shndx: UInt16, value: UInt64)] = []
        let pool: [UInt64] = (0 ..< 6).map { _ in rng.next() >> UInt64(below(3) * 16) }
        let secondSymtab = chance(10)
        let symtabIndex = sections.count + (chance(15) ? 1 : 0)
        let totalSections = symtabIndex + 3 + (secondSymtab ? 1 : 0)
        for _ in 0 ..< symbolCount {
            var nameOffset: UInt32
            if chance(10) {
                nameOffset = UInt32(below(strtab.count))
            } else if chance(2) {
                // Past the string table: the name is whatever the file holds there.
                nameOffset = UInt32(strtab.count + below(3000))
            } else {
                nameOffset = UInt32(strtab.count)
                strtab += name() + [0]
            }
            let bind: UInt8 = pick([0, 1, 1, 2, 10, UInt8(below(16))])
            let type: UInt8 = pick([0, 1, 2, 2, 3, 4, 5, 6, 10, UInt8(below(16))])
            let shndx: UInt16 = pick([
                0, UInt16(1 + below(totalSections - 1)), UInt16(1 + below(totalSections - 1)), 0xFFF1, 0xFFF2, 0xFF02,
                0xFFFF, UInt16(totalSections + below(4)), UInt16(truncatingIfNeeded: rng.next()),
            ])
            var value = chance(50) ? pick(pool) : rng.next() >> UInt64(below(4) * 16)
            if !is64 { value &= 0xFFFF_FFFF }
            symbols.append((nameOffset, bind << 4 | type, shndx, value))
        }

        // Layout: header, string tables, some filler, the symbol table, section headers.
        let ehsize = is64 ? 64 : 52
        let shentsize = is64 ? 64 : 40
        let standardEntsize = is64 ? 24 : 16
        let entsize = chance(90) ? standardEntsize : standardEntsize + 8 * (1 + below(2))
        var body = ByteWriter(order: le ? .little : .big)
        body.zeros(ehsize)
        let shstrtabOffset = body.count
        body.bytes(shstrtab)
        let strtabOffset = body.count
        body.bytes(strtab)
        body.bytes((0 ..< below(64)).map { _ in UInt8(below(256)) })
        body.align(8)
        let symtabOffset = body.count
        body.zeros(entsize)  // entry 0
        for s in symbols {
            var e = ByteWriter(order: le ? .little : .big)
            if is64 {
                e.u32(s.name)
                e.u8(s.info)
                e.u8(0)
                e.u16(s.shndx)
                e.u64(s.value)
                e.u64(UInt64(below(64)))
            } else {
                e.u32(s.name)
                e.u32(UInt32(s.value))
                e.u32(UInt32(below(64)))
                e.u8(s.info)
                e.u8(0)
                e.u16(s.shndx)
            }
            e.zeros(entsize - standardEntsize)
            body.bytes(e.bytes)
        }
        let symtabSize = body.count - symtabOffset
        body.align(8)

        // Sections: the random ones, perhaps a dynamic symbol table first, then .symtab,
        // .strtab, .shstrtab, perhaps a second symbol table that must be ignored.
        if symtabIndex > sections.count {
            sections.append(Section(name: addName(Array(".dynsym".utf8)), type: 11, flags: 2, offset: UInt64(symtabOffset), size: 0, link: 0, entsize: UInt64(entsize)))
        }
        let strtabIndex = UInt32(symtabIndex + 1)
        sections.append(Section(name: 0, type: 2, offset: UInt64(symtabOffset), size: UInt64(symtabSize), link: strtabIndex, entsize: UInt64(entsize)))
        sections.append(Section(name: 0, type: 3, offset: UInt64(strtabOffset), size: UInt64(strtab.count)))
        sections.append(Section(name: 0, type: 3, offset: UInt64(shstrtabOffset), size: UInt64(shstrtab.count)))
        if secondSymtab { sections.append(Section(name: 0, type: 2, offset: 0, size: 0, link: 0, entsize: 1)) }
        let shstrndx = sections.count - (secondSymtab ? 2 : 1)
        // Counts too large for the header live in section 0; exercise that path now and then.
        let countInSection0 = chance(10)
        let indexInSection0 = chance(10)
        if countInSection0 { sections[0].size = UInt64(sections.count) }
        if indexInSection0 { sections[0].link = UInt32(shstrndx) }
        let shoff = body.count
        for s in sections {
            body.u32(s.name)
            body.u32(s.type)
            if is64 {
                body.u64(s.flags); body.u64(0); body.u64(s.offset); body.u64(s.size)
                body.u32(s.link); body.u32(0); body.u64(1); body.u64(s.entsize)
            } else {
                body.u32(UInt32(truncatingIfNeeded: s.flags)); body.u32(0); body.u32(UInt32(s.offset)); body.u32(UInt32(s.size))
                body.u32(s.link); body.u32(0); body.u32(1); body.u32(UInt32(s.entsize))
            }
        }
        var bytes = body.bytes
        // The header, written over the first bytes.
        var h = ByteWriter(order: le ? .little : .big)
        h.bytes([0x7F, 0x45, 0x4C, 0x46, is64 ? 2 : 1, le ? 1 : 2, 1, 0])
        h.zeros(8)
        // e_type: 34 and 35 pass as EXEC and DYN (the C tool's shift is modulo 32); REL and CORE fail.
        h.u16(chance(5) ? pick([1, 4]) : pick([2, 2, 2, 3, 34, 35]))
        h.u16(pick([62, 183, 21, 243, 3, 40]))
        h.u32(1)
        if is64 { h.u64(0); h.u64(0); h.u64(UInt64(shoff)) } else { h.u32(0); h.u32(0); h.u32(UInt32(shoff)) }
        h.u32(0)
        h.u16(UInt16(ehsize))
        h.u16(0)
        h.u16(0)
        h.u16(UInt16(shentsize))
        h.u16(countInSection0 ? 0 : UInt16(sections.count))
        h.u16(indexInSection0 ? 0xFFFF : UInt16(shstrndx))
        bytes.replaceSubrange(0 ..< ehsize, with: h.bytes)
        return bytes
    }

    /// A damaged copy: truncated, or with a few bytes overwritten (in its headers or anywhere).
    mutating func damage(_ elf: [UInt8]) -> [UInt8] {
        var b = elf
        switch below(4) {
        case 0: return Array(b.prefix(below(b.count)))
        case 3:
            // Anywhere: symbol entries, names, section headers.
            for _ in 0 ..< 1 + below(8) { b[below(b.count)] = UInt8(below(256)) }
            return b
        case 1:
            for _ in 0 ..< 1 + below(4) { b[below(min(b.count, 64))] = UInt8(below(256)) }
            return b
        default:
            // The section headers are at the end.
            for _ in 0 ..< 1 + below(4) { b[b.count - 1 - below(min(b.count, 400))] = UInt8(below(256)) }
            return b
        }
    }
}

@Suite struct ELFSysmapTests {
    func write(_ bytes: [UInt8], _ path: String) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    @Test func randomELFFilesMatchTheReference() throws {
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var gen = RandomELF(seed: 0x7_3000)
        var verdicts: [Sysmap73Oracle.Verdict: Int] = [:]
        var listed = 0
        var letters = Set<UInt8>()
        for i in 0 ..< 1200 {
            let path = "\(dir)/r\(i)"
            let elf = gen.make()
            try write(elf, path)
            let v = try Sysmap73Oracle.compare(path, "seed 0x73000 case \(i)")
            verdicts[v, default: 0] += 1
            if v == .identical, let m = try? ELFSysmap.read(elf) {
                listed += m.symbols.count
                for k in 0 ..< m.symbols.count { letters.insert(m.symbols.type(k)) }
            }
            if v == .mismatch { break }
        }
        #expect(verdicts[.mismatch] == nil)
        // The family is only evidence if most files are valid and list symbols of every kind.
        #expect(verdicts[.identical, default: 0] >= 1000, "\(verdicts)")
        #expect(listed > 60_000, "\(verdicts)")
        #expect(letters.isSuperset(of: Set("tTdDrRbBnC?iuvVWA".utf8)), "\(String(decoding: letters.sorted(), as: UTF8.self))")
    }

    @Test func damagedAndEmptyFilesFailAsTheReferenceDoes() throws {
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var gen = RandomELF(seed: 0xBAD_7300)
        var verdicts: [Sysmap73Oracle.Verdict: Int] = [:]
        var files: [[UInt8]] = [[], [0x7F], Array("\u{7F}ELF".utf8), Array("not an ELF file at all\n".utf8)]
        for _ in 0 ..< 400 { files.append(gen.damage(gen.make())) }
        for (i, f) in files.enumerated() {
            let path = "\(dir)/d\(i)"
            try write(f, path)
            verdicts[try Sysmap73Oracle.compare(path, "damaged case \(i)"), default: 0] += 1
        }
        #expect(verdicts[.mismatch] == nil)
        #expect(verdicts[.bothFailed, default: 0] >= 50, "\(verdicts)")
        #expect(verdicts[.pastEnd, default: 0] >= 50, "\(verdicts)")
        // An empty file is 7.3's first link: an empty map, no error.
        #expect(try ELFSysmap.read([]).symbols.isEmpty)
        #expect(try Sysmap73Oracle.compare("\(dir)/d0") == .identical)
    }

    /// ELF files our own writer makes from Debian's System.maps (x86-64 6.12, arm64 and i386 6.1):
    /// real kernel names by the hundred thousand, in both word sizes and byte orders.
    @Test func filesWrittenFromDebianMapsMatchTheReference() throws {
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let maps = [
            (try DebianData.systemMap612(), [(true, true), (false, false)]),
            (try DebianData.kernel("6.1", "arm64", map: true).map!, [(true, false)]),
            (try DebianData.kernel("6.1", "i386", map: true).map!, [(false, true)]),
        ]
        for (mapPath, forms) in maps {
            let map = try MapELF.symbols(of: mapPath)
            for (is64, le) in forms {
                let w = MapELF.writer(map, is64: is64, byteOrder: le ? .little : .big)
                let path = "\(dir)/from-map-\(is64 ? 64 : 32)-\(le ? "le" : "be")"
                try write(w.write(), path)
                #expect(try Sysmap73Oracle.compare(path) == .identical, "\(mapPath) \(path)")
                #expect(try ELFSysmap.read(path: path).symbols.count > 80_000)
            }
        }
    }

    /// Debian's 6.1 kernels, unstripped (-dbg): each architecture's own symbols (arm64's mapping
    /// symbols and __pi_/__kvm_nvhe_ names, 32-bit ARM's $a/$t and veneers, ppc64's stubs), both
    /// word sizes and both byte orders (s390x).
    @Test(arguments: ["amd64", "arm64", "i386", "armhf", "ppc64el", "s390x"])
    func debianKernelsMatchTheReference(_ arch: String) throws {
        let vmlinux = try DebianData.vmlinux("6.1", arch)
        #expect(try Sysmap73Oracle.compare(vmlinux, arch) == .identical)
        #expect(try ELFSysmap.read(path: vmlinux).symbols.count > 50_000)
    }

    /// 10,000 symbols that all name the same 5,000 bytes: the C tool prints 50 MB from a 270 KB
    /// file; we refuse rather than copy the name 10,000 times.
    @Test func namesSharedBeyondReasonAreRefused() throws {
        var w = ELFImageWriter(is64: true, byteOrder: .little, machine: .x86_64)
        w.regions = [.init(name: ".text", address: 0x1000, bytes: [0], executable: true)]
        w.symbols = [.init(name: Array(repeating: 0x61, count: 5000), value: 0x1000, size: 0, binding: .global, type: .function, region: 0)]
        for k in 0 ..< 9_999 {
            w.symbols.append(.init(name: [0x62], value: 0x1000 + UInt64(k), size: 0, binding: .global, type: .function, region: 0))
        }
        var bytes = w.write()
        let symtab = try ELFFile(bytes).sections.first { $0.type == .symtab }!
        for i in 1 ..< Int(symtab.size / 24) { bytes.replaceSubrange(Int(symtab.offset) + i * 24 ..< Int(symtab.offset) + i * 24 + 4, with: [1, 0, 0, 0]) }
        let error = #expect(throws: KallsymsError.self) { try ELFSysmap.read(bytes) }
        #expect(error?.message.contains("names add up to 50010000 bytes") == true, "\(String(describing: error))")
        // Unpatched, the same table reads.
        #expect(try ELFSysmap.read(w.write()).symbols.count == 10_000)
    }

    @Test func excludeAndKeepApplyToNames() throws {
        let vmlinux = try DebianData.vmlinux("6.12", "amd64")
        let all = try ELFSysmap.read(path: vmlinux)
        let keep = try ELFSysmap.read(path: vmlinux, keep: [try POSIXRegex("^__kstrtab_")])
        let exclude = try ELFSysmap.read(path: vmlinux, exclude: [try POSIXRegex("^__kstrtab_|^start_kernel$")])
        let kstrtab = (0 ..< keep.symbols.count).filter { keep.symbols.name($0).starts(with: Array("__kstrtab_".utf8)) }
        #expect(kstrtab.count > 1000)
        #expect(keep.symbols.count == all.symbols.count + kstrtab.count)
        #expect(exclude.symbols.count == all.symbols.count - 1)
    }
}

/// ELF files our own writer makes from a System.map: real kernel names by the hundred thousand,
/// symbols in a text and a data region by their letters (weak, local, global, absolute).
enum MapELF {
    static func symbols(of mapPath: String) throws -> SymbolList {
        var map = SymbolList()
        let text = try FileIO.read(mapPath)
        try text.withUnsafeBufferPointer { bytes in
            try MapParser.parse(bytes, format: .linux612, file: mapPath, diagnostic: { _ in }) { address, type, name, _ in
                map.append(address: address, type: type, name: name)
            }
        }
        return map
    }

    static func writer(_ map: SymbolList, is64: Bool, byteOrder: ByteOrder) -> ELFImageWriter {
        var w = ELFImageWriter(is64: is64, byteOrder: byteOrder, machine: is64 ? .x86_64 : .i386)
        w.regions = [
            .init(name: ".text", address: 0xFFFF_FFFF_8100_0000, bytes: [0], executable: true),
            .init(name: ".data", address: 0xFFFF_FFFF_8200_0000, bytes: [0], executable: false),
        ]
        for i in 0 ..< map.count {
            let t = map.type(i)
            let lower = t | 0x20
            let binding: SymbolBinding = t == UInt8(ascii: "W") || t == UInt8(ascii: "V") ? .weak : (t == lower ? .local : .global)
            let region: Int? = lower == UInt8(ascii: "a") ? nil : (lower == UInt8(ascii: "t") || lower == UInt8(ascii: "w") ? 0 : 1)
            let value = is64 ? map.addresses[i] : map.addresses[i] & 0xFFFF_FFFF
            w.symbols.append(
                .init(name: Array(map.name(i)), value: value, size: 0, binding: binding,
                      type: region == 0 ? .function : .object, region: region))
        }
        return w
    }
}
