/// ELF constants used by the writer and the reader, named as in the ELF specification.
public enum ELF {
    public static let classNone: UInt8 = 0, class32: UInt8 = 1, class64: UInt8 = 2
    public static let dataLSB: UInt8 = 1, dataMSB: UInt8 = 2
    public static let etREL: UInt16 = 1, etEXEC: UInt16 = 2, etDYN: UInt16 = 3
    public static let shtNULL: UInt32 = 0, shtPROGBITS: UInt32 = 1, shtSYMTAB: UInt32 = 2, shtSTRTAB: UInt32 = 3
    public static let shtRELA: UInt32 = 4, shtNOBITS: UInt32 = 8, shtREL: UInt32 = 9, shtDYNSYM: UInt32 = 11
    public static let shfWRITE: UInt64 = 0x1, shfALLOC: UInt64 = 0x2, shfEXECINSTR: UInt64 = 0x4
    public static let shfINFOLINK: UInt64 = 0x40
    public static let stbLOCAL: UInt8 = 0, stbGLOBAL: UInt8 = 1, stbWEAK: UInt8 = 2
    public static let sttNOTYPE: UInt8 = 0, sttOBJECT: UInt8 = 1, sttFUNC: UInt8 = 2, sttSECTION: UInt8 = 3
    public static let shnUNDEF: UInt16 = 0, shnABS: UInt16 = 0xFFF1
}

/// Writes a relocatable object (ET_REL) with data sections, symbols and relocations: what an
/// assembler makes of a data-only source. Kept apart from reading, as in Rust's `object`.
public struct ELFObjectWriter {
    public struct Section {
        public var name: String
        public var type: UInt32
        public var flags: UInt64
        public var alignment: UInt64
        public var data: [UInt8]
        public init(name: String, type: UInt32 = ELF.shtPROGBITS, flags: UInt64, alignment: UInt64, data: [UInt8]) {
            self.name = name
            self.type = type
            self.flags = flags
            self.alignment = alignment
            self.data = data
        }
    }

    public struct Symbol {
        public var name: String
        /// Index into `sections`, or nil for an undefined symbol.
        public var section: Int?
        public var value: UInt64
        public var size: UInt64
        public var binding: UInt8
        public var type: UInt8
        public init(name: String, section: Int?, value: UInt64, size: UInt64 = 0, binding: UInt8 = ELF.stbGLOBAL,
                    type: UInt8 = ELF.sttNOTYPE) {
            self.name = name
            self.section = section
            self.value = value
            self.size = size
            self.binding = binding
            self.type = type
        }
    }

    public struct Relocation {
        /// Index into `sections` of the section patched.
        public var section: Int
        public var offset: UInt64
        /// Index into `symbols`.
        public var symbol: Int
        public var type: UInt32
        public var addend: Int64
        public init(section: Int, offset: UInt64, symbol: Int, type: UInt32, addend: Int64) {
            self.section = section
            self.offset = offset
            self.symbol = symbol
            self.type = type
            self.addend = addend
        }
    }

    public var is64: Bool
    public var littleEndian: Bool
    public var machine: UInt16
    public var flags: UInt32
    /// RELA (addend in the entry) or REL (addend already in the section bytes).
    public var usesRela: Bool
    public var sections: [Section] = []
    public var symbols: [Symbol] = []
    public var relocations: [Relocation] = []

    public init(is64: Bool, littleEndian: Bool, machine: UInt16, flags: UInt32, usesRela: Bool) {
        self.is64 = is64
        self.littleEndian = littleEndian
        self.machine = machine
        self.flags = flags
        self.usesRela = usesRela
    }

    /// The object file's bytes.
    public func write() -> [UInt8] {
        var out = ByteWriter(littleEndian: littleEndian)
        let ehsize = is64 ? 64 : 52
        let shentsize = is64 ? 64 : 40
        let symentsize = is64 ? 24 : 16
        let relentsize = usesRela ? (is64 ? 24 : 12) : (is64 ? 16 : 8)

        // Symbol table order: null, one section symbol per data section (local, as assemblers
        // emit them), then the given symbols, locals before globals as ELF requires.
        let locals = symbols.indices.filter { symbols[$0].binding == ELF.stbLOCAL }
        let globals = symbols.indices.filter { symbols[$0].binding != ELF.stbLOCAL }
        var symbolIndex = [Int](repeating: 0, count: symbols.count)
        var next = 1 + sections.count
        for i in locals + globals {
            symbolIndex[i] = next
            next += 1
        }
        let firstGlobal = 1 + sections.count + locals.count

        // Section header indices: null, data sections, their relocation sections, .symtab,
        // .strtab, .shstrtab.
        let relocated = sections.indices.filter { s in relocations.contains { $0.section == s } }
        let relIndexBase = 1 + sections.count
        let symtabIndex = relIndexBase + relocated.count
        let strtabIndex = symtabIndex + 1
        let shstrtabIndex = strtabIndex + 1

        var strtab = StringTable()
        var shstrtab = StringTable()

        // .symtab
        var symtab = ByteWriter(littleEndian: littleEndian)
        func symbol(_ name: UInt32, _ value: UInt64, _ size: UInt64, _ info: UInt8, _ shndx: UInt16) {
            if is64 {
                symtab.u32(name)
                symtab.u8(info)
                symtab.u8(0)
                symtab.u16(shndx)
                symtab.u64(value)
                symtab.u64(size)
            } else {
                symtab.u32(name)
                symtab.u32(UInt32(truncatingIfNeeded: value))
                symtab.u32(UInt32(truncatingIfNeeded: size))
                symtab.u8(info)
                symtab.u8(0)
                symtab.u16(shndx)
            }
        }
        symbol(0, 0, 0, 0, 0)
        for s in sections.indices {
            symbol(0, 0, 0, ELF.sttSECTION, UInt16(1 + s))
        }
        for i in locals + globals {
            let s = symbols[i]
            let shndx = s.section.map { UInt16(1 + $0) } ?? ELF.shnUNDEF
            symbol(strtab.add(s.name), s.value, s.size, (s.binding << 4) | (s.type & 0xF), shndx)
        }

        // Relocation sections, one per relocated data section.
        var relSections: [(index: Int, bytes: [UInt8])] = []
        for s in relocated {
            var w = ByteWriter(littleEndian: littleEndian)
            for r in relocations where r.section == s {
                let sym = UInt64(symbolIndex[r.symbol])
                if is64 {
                    w.u64(r.offset)
                    w.u64((sym << 32) | UInt64(r.type))
                    if usesRela { w.u64(UInt64(bitPattern: r.addend)) }
                } else {
                    w.u32(UInt32(truncatingIfNeeded: r.offset))
                    w.u32(UInt32(truncatingIfNeeded: (sym << 8) | UInt64(r.type & 0xFF)))
                    if usesRela { w.u32(UInt32(truncatingIfNeeded: r.addend)) }
                }
            }
            relSections.append((s, w.bytes))
        }

        // Names.
        let sectionNames = sections.map { shstrtab.add($0.name) }
        let relNames = relocated.map { shstrtab.add((usesRela ? ".rela" : ".rel") + sections[$0].name) }
        let symtabName = shstrtab.add(".symtab")
        let strtabName = shstrtab.add(".strtab")
        let shstrtabName = shstrtab.add(".shstrtab")

        // File layout: header, section contents (each aligned), section header table.
        out.zeros(ehsize)
        var headers: [(name: UInt32, type: UInt32, flags: UInt64, offset: Int, size: Int, link: UInt32, info: UInt32,
                       align: UInt64, entsize: UInt64)] = []
        headers.append((0, ELF.shtNULL, 0, 0, 0, 0, 0, 0, 0))
        for (i, s) in sections.enumerated() {
            out.align(Int(max(s.alignment, 1)))
            let off = out.count
            if s.type != ELF.shtNOBITS { out.bytes(s.data) }
            headers.append((sectionNames[i], s.type, s.flags, off, s.data.count, 0, 0, s.alignment, 0))
        }
        for (k, r) in relSections.enumerated() {
            out.align(is64 ? 8 : 4)
            let off = out.count
            out.bytes(r.bytes)
            headers.append((relNames[k], usesRela ? ELF.shtRELA : ELF.shtREL, ELF.shfINFOLINK, off, r.bytes.count,
                            UInt32(symtabIndex), UInt32(1 + r.index), is64 ? 8 : 4, UInt64(relentsize)))
        }
        out.align(is64 ? 8 : 4)
        let symtabOffset = out.count
        out.bytes(symtab.bytes)
        headers.append((symtabName, ELF.shtSYMTAB, 0, symtabOffset, symtab.count, UInt32(strtabIndex),
                        UInt32(firstGlobal), is64 ? 8 : 4, UInt64(symentsize)))
        let strtabOffset = out.count
        out.bytes(strtab.bytes)
        headers.append((strtabName, ELF.shtSTRTAB, 0, strtabOffset, strtab.bytes.count, 0, 0, 1, 0))
        let shstrtabOffset = out.count
        out.bytes(shstrtab.bytes)
        headers.append((shstrtabName, ELF.shtSTRTAB, 0, shstrtabOffset, shstrtab.bytes.count, 0, 0, 1, 0))
        precondition(headers.count == shstrtabIndex + 1)
        out.align(is64 ? 8 : 4)
        let shoff = out.count
        for h in headers {
            out.u32(h.name)
            out.u32(h.type)
            if is64 {
                out.u64(h.flags)
                out.u64(0)  // sh_addr
                out.u64(UInt64(h.offset))
                out.u64(UInt64(h.size))
                out.u32(h.link)
                out.u32(h.info)
                out.u64(h.align)
                out.u64(h.entsize)
            } else {
                out.u32(UInt32(h.flags))
                out.u32(0)
                out.u32(UInt32(h.offset))
                out.u32(UInt32(h.size))
                out.u32(h.link)
                out.u32(h.info)
                out.u32(UInt32(h.align))
                out.u32(UInt32(h.entsize))
            }
        }

        // The ELF header, now that the offsets are known.
        var eh = ByteWriter(littleEndian: littleEndian)
        eh.bytes([0x7F, 0x45, 0x4C, 0x46, is64 ? ELF.class64 : ELF.class32, littleEndian ? ELF.dataLSB : ELF.dataMSB, 1, 0])
        eh.zeros(8)
        eh.u16(ELF.etREL)
        eh.u16(machine)
        eh.u32(1)  // EV_CURRENT
        if is64 {
            eh.u64(0)  // e_entry
            eh.u64(0)  // e_phoff
            eh.u64(UInt64(shoff))
        } else {
            eh.u32(0)
            eh.u32(0)
            eh.u32(UInt32(shoff))
        }
        eh.u32(flags)
        eh.u16(UInt16(ehsize))
        eh.u16(0)  // e_phentsize
        eh.u16(0)  // e_phnum
        eh.u16(UInt16(shentsize))
        eh.u16(UInt16(headers.count))
        eh.u16(UInt16(shstrtabIndex))
        var bytes = out.bytes
        bytes.replaceSubrange(0 ..< ehsize, with: eh.bytes)
        return bytes
    }
}

/// A string table under construction: offset 0 is the empty string.
struct StringTable {
    var bytes: [UInt8] = [0]
    var offsets: [String: UInt32] = ["": 0]
    mutating func add(_ s: String) -> UInt32 {
        if let o = offsets[s] { return o }
        let o = UInt32(bytes.count)
        bytes += Array(s.utf8)
        bytes.append(0)
        offsets[s] = o
        return o
    }
}

/// Appends integers in one byte order.
public struct ByteWriter {
    public private(set) var bytes: [UInt8] = []
    public let littleEndian: Bool
    public init(littleEndian: Bool) { self.littleEndian = littleEndian }
    public var count: Int { bytes.count }

    public mutating func u8(_ v: UInt8) { bytes.append(v) }
    public mutating func u16(_ v: UInt16) { integer(UInt64(v), 2) }
    public mutating func u32(_ v: UInt32) { integer(UInt64(v), 4) }
    public mutating func u64(_ v: UInt64) { integer(v, 8) }
    public mutating func integer(_ v: UInt64, _ size: Int) {
        for i in 0 ..< size {
            let shift = littleEndian ? i * 8 : (size - 1 - i) * 8
            bytes.append(UInt8(truncatingIfNeeded: v >> UInt64(shift)))
        }
    }
    public mutating func bytes<C: Collection>(_ b: C) where C.Element == UInt8 { bytes.append(contentsOf: b) }
    public mutating func zeros(_ n: Int) { bytes.append(contentsOf: repeatElement(0, count: n)) }
    public mutating func align(_ a: Int) {
        let pad = (a - bytes.count % a) % a
        zeros(pad)
    }
}
