/// An ELF file: header, sections, segments, symbols, relocations. 32/64-bit, either byte order.
/// Counts and sizes read from the file are checked against the file before anything is
/// allocated for them.
public struct ELFFile {
    public struct Section: Sendable, Equatable {
        public var name: String
        public var type: SectionType
        public var flags: SectionFlags
        public var address: UInt64
        public var offset: UInt64
        public var size: UInt64
        public var link: UInt32
        public var info: UInt32
        public var alignment: UInt64
        public var entrySize: UInt64
    }

    public struct Segment: Sendable, Equatable {
        public var type: SegmentType
        public var flags: SegmentFlags
        public var offset: UInt64
        public var virtualAddress: UInt64
        public var physicalAddress: UInt64
        public var fileSize: UInt64
        public var memorySize: UInt64
        public var alignment: UInt64
    }

    public struct Symbol: Sendable, Equatable {
        public var name: [UInt8]
        public var value: UInt64
        public var size: UInt64
        public var binding: SymbolBinding
        public var type: SymbolType
        public var other: UInt8
        public var sectionIndex: SectionIndex
        public var visibility: SymbolVisibility { SymbolVisibility(rawValue: other) }
        public var nameString: String { String(decoding: name, as: UTF8.self) }
    }

    public struct Relocation: Sendable, Equatable {
        public var offset: UInt64
        public var type: RelocationType
        public var symbolIndex: Int
        /// From the entry (RELA), or nil for REL (the addend is in the patched bytes).
        public var addend: Int64?
    }

    public let cursor: ByteCursor
    public let is64: Bool
    public var byteOrder: ByteOrder { cursor.order }
    public let type: ELFType
    public let machine: ELFMachine
    public let flags: UInt32
    public let entry: UInt64
    public private(set) var sections: [Section] = []
    public private(set) var segments: [Segment] = []

    public init(_ bytes: [UInt8]) throws {
        guard bytes.count >= 4, bytes[0] == 0x7F, bytes[1] == 0x45, bytes[2] == 0x4C, bytes[3] == 0x46 else {
            throw ELFError("not an ELF file (no \\x7fELF magic)", offset: 0)
        }
        guard bytes.count >= 16 else {
            throw ELFError("truncated ELF identification: \(bytes.count) bytes, expected 16", offset: bytes.count)
        }
        let elfClass = ELFClass(rawValue: bytes[4])
        guard elfClass == .elf32 || elfClass == .elf64 else {
            throw ELFError("unknown ELF class \(bytes[4])", offset: 4)
        }
        guard let order = ELFData(rawValue: bytes[5]).byteOrder else {
            throw ELFError("unknown ELF data encoding \(bytes[5])", offset: 5)
        }
        is64 = elfClass == .elf64
        let c = ByteCursor(bytes, order: order)
        cursor = c
        try c.check(0, is64 ? 64 : 52, "the ELF header")
        type = ELFType(rawValue: try c.u16(16))
        machine = ELFMachine(rawValue: try c.u16(18))
        let word = is64 ? 8 : 4
        entry = try c.integer(24, word)
        let phoff = Int(clamping: try c.integer(24 + word, word))
        let shoff = Int(clamping: try c.integer(24 + 2 * word, word))
        let base = 24 + 3 * word
        flags = try c.u32(base)
        let phentsize = Int(try c.u16(base + 6))
        let phnum = Int(try c.u16(base + 8))
        let shentsize = Int(try c.u16(base + 10))
        var shnum = Int(try c.u16(base + 12))
        var shstrndx = Int(try c.u16(base + 14))

        if shoff != 0 {
            guard shentsize >= (is64 ? 64 : 40) else {
                throw ELFError("section header size \(shentsize) is too small", offset: base + 10)
            }
            // Extended numbering: the real counts live in section header 0.
            if shnum == 0 {
                try c.check(shoff, shentsize, "section header 0")
                shnum = Int(clamping: try c.integer(shoff + (is64 ? 32 : 20), word))
            }
            if shstrndx == Int(SectionIndex.xindex.rawValue) {
                try c.check(shoff, shentsize, "section header 0")
                shstrndx = Int(try c.u32(shoff + (is64 ? 44 : 28)))
            }
            guard shnum <= c.count / shentsize else {
                throw ELFError("\(shnum) section headers cannot fit in the file", offset: base + 12)
            }
            try c.check(shoff, shnum * shentsize, "the section header table")
            var raw: [Section] = []
            raw.reserveCapacity(shnum)
            var nameOffsets: [Int] = []
            for i in 0 ..< shnum {
                let o = shoff + i * shentsize
                nameOffsets.append(Int(try c.u32(o)))
                if is64 {
                    raw.append(
                        Section(
                            name: "", type: SectionType(rawValue: try c.u32(o + 4)),
                            flags: SectionFlags(rawValue: try c.u64(o + 8)), address: try c.u64(o + 16),
                            offset: try c.u64(o + 24), size: try c.u64(o + 32), link: try c.u32(o + 40),
                            info: try c.u32(o + 44), alignment: try c.u64(o + 48), entrySize: try c.u64(o + 56)))
                } else {
                    raw.append(
                        Section(
                            name: "", type: SectionType(rawValue: try c.u32(o + 4)),
                            flags: SectionFlags(rawValue: UInt64(try c.u32(o + 8))),
                            address: UInt64(try c.u32(o + 12)), offset: UInt64(try c.u32(o + 16)),
                            size: UInt64(try c.u32(o + 20)), link: try c.u32(o + 24), info: try c.u32(o + 28),
                            alignment: UInt64(try c.u32(o + 32)), entrySize: UInt64(try c.u32(o + 36))))
                }
            }
            if shstrndx != 0 {
                guard shstrndx < raw.count else {
                    throw ELFError("section name table index \(shstrndx) is out of range", offset: base + 14)
                }
                let strtab = raw[shstrndx]
                let start = Int(clamping: strtab.offset)
                let size = Int(clamping: strtab.size)
                try c.check(start, size, "the section name table")
                for i in raw.indices {
                    raw[i].name = String(decoding: try c.cString(start + nameOffsets[i], limit: start + size), as: UTF8.self)
                }
            }
            sections = raw
        }
        if phoff != 0 && phnum > 0 {
            guard phentsize >= (is64 ? 56 : 32) else {
                throw ELFError("program header size \(phentsize) is too small", offset: base + 6)
            }
            try c.check(phoff, phnum * phentsize, "the program header table")
            for i in 0 ..< phnum {
                let o = phoff + i * phentsize
                if is64 {
                    segments.append(
                        Segment(
                            type: SegmentType(rawValue: try c.u32(o)), flags: SegmentFlags(rawValue: try c.u32(o + 4)),
                            offset: try c.u64(o + 8),
                            virtualAddress: try c.u64(o + 16), physicalAddress: try c.u64(o + 24),
                            fileSize: try c.u64(o + 32), memorySize: try c.u64(o + 40), alignment: try c.u64(o + 48)))
                } else {
                    segments.append(
                        Segment(
                            type: SegmentType(rawValue: try c.u32(o)), flags: SegmentFlags(rawValue: try c.u32(o + 24)),
                            offset: UInt64(try c.u32(o + 4)),
                            virtualAddress: UInt64(try c.u32(o + 8)), physicalAddress: UInt64(try c.u32(o + 12)),
                            fileSize: UInt64(try c.u32(o + 16)), memorySize: UInt64(try c.u32(o + 20)),
                            alignment: UInt64(try c.u32(o + 28))))
                }
            }
        }
    }

    public func section(named name: String) -> Section? { sections.first { $0.name == name } }

    /// A section's bytes (empty for NOBITS).
    public func contents(_ s: Section) throws -> ArraySlice<UInt8> {
        if s.type == .nobits { return [] }
        return try cursor.slice(Int(clamping: s.offset), Int(clamping: s.size), "section \(s.name)")
    }

    /// The symbols of `.symtab` (or the given symbol table section).
    public func symbols(in tableIndex: Int? = nil) throws -> [Symbol] {
        guard let index = tableIndex ?? sections.firstIndex(where: { $0.type == .symtab }) else { return [] }
        guard index < sections.count else { throw ELFError("no section \(index)", offset: 0) }
        let table = sections[index]
        let entsize = is64 ? 24 : 16
        let start = Int(clamping: table.offset)
        let size = Int(clamping: table.size)
        try cursor.check(start, size, "symbol table \(table.name)")
        guard Int(table.link) < sections.count else {
            throw ELFError("symbol table links to missing string table \(table.link)", offset: start)
        }
        let strtab = sections[Int(table.link)]
        let strStart = Int(clamping: strtab.offset)
        let strSize = Int(clamping: strtab.size)
        try cursor.check(strStart, strSize, "string table \(strtab.name)")
        var out: [Symbol] = []
        out.reserveCapacity(size / entsize)
        for k in 0 ..< size / entsize {
            let o = start + k * entsize
            let nameOffset = Int(try cursor.u32(o))
            let name = nameOffset == 0 ? [] : Array(try cursor.cString(strStart + nameOffset, limit: strStart + strSize))
            if is64 {
                let info = try cursor.u8(o + 4)
                out.append(
                    Symbol(
                        name: name, value: try cursor.u64(o + 8), size: try cursor.u64(o + 16),
                        binding: SymbolBinding(rawValue: info >> 4), type: SymbolType(rawValue: info & 0xF),
                        other: try cursor.u8(o + 5), sectionIndex: SectionIndex(rawValue: try cursor.u16(o + 6))))
            } else {
                let info = try cursor.u8(o + 12)
                out.append(
                    Symbol(
                        name: name, value: UInt64(try cursor.u32(o + 4)), size: UInt64(try cursor.u32(o + 8)),
                        binding: SymbolBinding(rawValue: info >> 4), type: SymbolType(rawValue: info & 0xF),
                        other: try cursor.u8(o + 13), sectionIndex: SectionIndex(rawValue: try cursor.u16(o + 14))))
            }
        }
        return out
    }

    /// The entries of a REL or RELA section.
    public func relocations(in s: Section) throws -> [Relocation] {
        let rela = s.type == .rela
        let entsize = rela ? (is64 ? 24 : 12) : (is64 ? 16 : 8)
        let start = Int(clamping: s.offset)
        let size = Int(clamping: s.size)
        try cursor.check(start, size, "relocation section \(s.name)")
        var out: [Relocation] = []
        out.reserveCapacity(size / entsize)
        for k in 0 ..< size / entsize {
            let o = start + k * entsize
            if is64 {
                let info = try cursor.u64(o + 8)
                out.append(
                    Relocation(
                        offset: try cursor.u64(o), type: RelocationType(rawValue: UInt32(truncatingIfNeeded: info)),
                        symbolIndex: Int(info >> 32),
                        addend: rela ? Int64(bitPattern: try cursor.u64(o + 16)) : nil))
            } else {
                let info = try cursor.u32(o + 4)
                out.append(
                    Relocation(
                        offset: UInt64(try cursor.u32(o)), type: RelocationType(rawValue: info & 0xFF), symbolIndex: Int(info >> 8),
                        addend: rela ? Int64(Int32(bitPattern: try cursor.u32(o + 8))) : nil))
            }
        }
        return out
    }
}

extension ELFFile {
    /// One entry of an ELF note section or segment.
    public struct Note: Sendable, Equatable {
        public var name: String
        public var type: NoteType
        public var descriptor: [UInt8]
    }

    /// The notes of every SHT_NOTE section (or, without sections, every PT_NOTE segment).
    /// Sizes are checked against the containing section before anything is read.
    public func notes() throws -> [Note] {
        var ranges: [(Int, Int)] = sections.filter { $0.type == .note }.map { (Int(clamping: $0.offset), Int(clamping: $0.size)) }
        if ranges.isEmpty {
            ranges = segments.filter { $0.type == .note }.map { (Int(clamping: $0.offset), Int(clamping: $0.fileSize)) }
        }
        var out: [Note] = []
        for (start, size) in ranges {
            try cursor.check(start, size, "a note section")
            var o = start
            let end = start + size
            while o + 12 <= end {
                let namesz = Int(try cursor.u32(o))
                let descsz = Int(try cursor.u32(o + 4))
                let type = try cursor.u32(o + 8)
                let nameStart = o + 12
                let descStart = nameStart + ((namesz + 3) & ~3)
                let next = descStart + ((descsz + 3) & ~3)
                guard namesz <= size, descsz <= size, next <= end else {
                    throw ELFError("note of \(namesz)+\(descsz) bytes runs past its section", offset: o)
                }
                let name = String(decoding: cursor.bytes[nameStart ..< nameStart + namesz].prefix { $0 != 0 }, as: UTF8.self)
                out.append(Note(name: name, type: NoteType(rawValue: type), descriptor: Array(cursor.bytes[descStart ..< descStart + descsz])))
                o = next
            }
        }
        return out
    }

    /// The GNU build ID (NT_GNU_BUILD_ID) as hex, if present.
    public func buildID() throws -> String? {
        guard let n = try notes().first(where: { $0.name == "GNU" && $0.type == .gnuBuildID }) else { return nil }
        return n.descriptor.map { String($0 >> 4, radix: 16) + String($0 & 0xF, radix: 16) }.joined()
    }
}
