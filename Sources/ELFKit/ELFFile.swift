/// An ELF file: header, sections, segments, symbols, relocations. 32/64-bit, either byte order.
/// Counts and sizes read from the file are checked against the file before anything is
/// allocated for them.
public struct ELFFile {
    /// A section header (`Elf32_Shdr` / `Elf64_Shdr`), with its name resolved.
    public struct Section: Sendable, Equatable {
        /// The name from the section name table (`e_shstrndx`); empty when the file has none.
        public var name: String
        /// `sh_type`: what the section holds.
        public var type: SectionType
        /// `sh_flags`: whether it is loaded, writable, executable.
        public var flags: SectionFlags
        /// `sh_addr`: where it is loaded, or 0 when it is not.
        public var address: UInt64
        /// `sh_offset`: where its bytes start in the file.
        public var offset: UInt64
        /// `sh_size`: its size in bytes (in memory only, for `SHT_NOBITS`).
        public var size: UInt64
        /// `sh_link`: a related section's index (a symbol table's string table, …).
        public var link: UInt32
        /// `sh_info`: extra information whose meaning depends on the type (a relocation
        /// section's target, a symbol table's first global).
        public var info: UInt32
        /// `sh_addralign`: the alignment of its address (0 or 1: none).
        public var alignment: UInt64
        /// `sh_entsize`: the size of each entry, for sections that are tables.
        public var entrySize: UInt64
    }

    /// A program header (`Elf32_Phdr` / `Elf64_Phdr`): how a range of the file is loaded.
    public struct Segment: Sendable, Equatable {
        /// `p_type`: what the entry describes.
        public var type: SegmentType
        /// `p_flags`: read, write, execute.
        public var flags: SegmentFlags
        /// `p_offset`: where its bytes start in the file.
        public var offset: UInt64
        /// `p_vaddr`: the virtual address it is loaded at.
        public var virtualAddress: UInt64
        /// `p_paddr`: the physical address, where that matters (kernels and firmware).
        public var physicalAddress: UInt64
        /// `p_filesz`: the bytes the file holds for it.
        public var fileSize: UInt64
        /// `p_memsz`: its size in memory; the part past `fileSize` is zero-filled.
        public var memorySize: UInt64
        /// `p_align`: the alignment of its address and offset.
        public var alignment: UInt64
    }

    /// A symbol table entry (`Elf32_Sym` / `Elf64_Sym`), with its name resolved.
    public struct Symbol: Sendable, Equatable {
        /// The name's bytes from the linked string table: not necessarily UTF-8.
        public var name: [UInt8]
        /// `st_value`: the address (or, in relocatable objects, the offset in its section).
        public var value: UInt64
        /// `st_size`: the size of the object or function, 0 when unknown.
        public var size: UInt64
        /// The binding half of `st_info`.
        public var binding: SymbolBinding
        /// The type half of `st_info`.
        public var type: SymbolType
        /// `st_other` as stored: the visibility, plus processor-specific bits.
        public var other: UInt8
        /// `st_shndx`: the section the symbol is defined in, or a reserved value.
        public var sectionIndex: SectionIndex
        /// The visibility bits of `other`.
        public var visibility: SymbolVisibility { SymbolVisibility(rawValue: other) }
        /// The name as a string (invalid UTF-8 is replaced), for messages and lookups by name.
        public var nameString: String { String(decoding: name, as: UTF8.self) }
    }

    /// A relocation entry (`Elf_Rel` / `Elf_Rela`), its `r_info` split.
    public struct Relocation: Sendable, Equatable {
        /// `r_offset`: the place patched (an offset in the section, or an address).
        public var offset: UInt64
        /// The type bits of `r_info`; their meaning depends on the machine.
        public var type: RelocationType
        /// The symbol bits of `r_info`: an index into the symbol table the section links to.
        public var symbolIndex: Int
        /// From the entry (RELA), or nil for REL (the addend is in the patched bytes).
        public var addend: Int64?
    }

    package let cursor: ByteCursor
    /// True for `ELFCLASS64`.
    public let is64: Bool
    /// The byte order of the file's fields (`EI_DATA`).
    public var byteOrder: ByteOrder { cursor.order }
    /// `e_type`: relocatable object, executable, shared object, core.
    public let type: ELFType
    /// `e_machine`: the processor the file is for.
    public let machine: ELFMachine
    /// `e_flags`: processor-specific flags (the Arm EABI version, MIPS ABI bits, …).
    public let flags: UInt32
    /// `e_entry`: the entry point's address, 0 when there is none.
    public let entry: UInt64
    /// The section headers in file order, index 0 included (the null section).
    public private(set) var sections: [Section] = []
    /// The program headers in file order; empty for relocatable objects.
    public private(set) var segments: [Segment] = []

    /// Parses the headers of an ELF file held in memory. Section and program header tables are
    /// checked against the file's size before anything is allocated for them; extended numbering
    /// (65,280 sections or more) is followed.
    /// - Parameter bytes: The whole file.
    /// - Throws: ``FormatError`` naming the byte offset of the first field that makes no sense:
    ///   no `\x7fELF` magic, an unknown class or data encoding, a header or table that lies
    ///   outside the file, a section name that is not NUL-terminated.
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

    /// The first section with a name.
    /// - Parameter name: The full name, such as `.symtab`.
    /// - Returns: The section, or nil when no section has that name.
    public func section(named name: String) -> Section? { sections.first { $0.name == name } }

    /// A section's bytes (empty for NOBITS).
    /// - Parameter s: One of ``sections``.
    /// - Returns: A slice of the file, indexed by file offset.
    /// - Throws: ``FormatError`` when the section's bytes lie outside the file.
    public func contents(_ s: Section) throws -> ArraySlice<UInt8> {
        if s.type == .nobits { return [] }
        return try cursor.slice(Int(clamping: s.offset), Int(clamping: s.size), "section \(s.name)")
    }

    /// The symbols of `.symtab` (or the given symbol table section), index 0 (the null symbol)
    /// included, so that relocations' symbol indexes apply.
    /// - Parameter tableIndex: The index of a symbol table section (`SHT_SYMTAB` or
    ///   `SHT_DYNSYM`); nil: the first `SHT_SYMTAB`.
    /// - Returns: The entries in table order; empty when the file has no symbol table.
    /// - Throws: ``FormatError`` when `tableIndex` names no section, or the table, its string
    ///   table or a name lies outside the file, or a name is not NUL-terminated.
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
    /// - Parameter s: A section of type `SHT_REL` or `SHT_RELA` (the type decides the entry size
    ///   and whether addends are read).
    /// - Returns: The entries in section order.
    /// - Throws: ``FormatError`` when the section lies outside the file.
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
        /// The owner (`"GNU"`, `"Linux"`, `"CORE"`, `"VMCOREINFO"`), without its NUL.
        public var name: String
        /// `n_type`, meaningful together with `name`.
        public var type: NoteType
        /// The note's payload (`desc`), without padding.
        public var descriptor: [UInt8]
    }

    /// The notes of every SHT_NOTE section (or, without sections, every PT_NOTE segment).
    /// Sizes are checked against the containing section before anything is read.
    /// - Returns: The notes in file order.
    /// - Throws: ``FormatError`` when a note runs past its section or segment, or the section
    ///   lies outside the file.
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

    /// The GNU build ID (NT_GNU_BUILD_ID) as hex, if present: what debuginfod and
    /// `/usr/lib/debug/.build-id` index debug files by.
    /// - Returns: Lower-case hex digits, or nil when the file has no build ID note.
    /// - Throws: ``FormatError`` when the notes are malformed (see ``notes()``).
    public func buildID() throws -> String? {
        guard let n = try notes().first(where: { $0.name == "GNU" && $0.type == .gnuBuildID }) else { return nil }
        return n.descriptor.map { String($0 >> 4, radix: 16) + String($0 & 0xF, radix: 16) }.joined()
    }
}
