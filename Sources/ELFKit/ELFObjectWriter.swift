/// Writes a relocatable object (ET_REL) with data sections, symbols and relocations: what an
/// assembler makes of a data-only source. Kept apart from reading, as in Rust's `object`.
public struct ELFObjectWriter {
    /// A section of the object: its header and contents.
    public struct Section {
        /// The section's name (`.rodata`, …).
        public var name: String
        /// `SHT_PROGBITS` for data; `SHT_NOBITS` writes no bytes.
        public var type: SectionType
        /// `sh_flags`.
        public var flags: SectionFlags
        /// `sh_addralign`: the section starts at a multiple of it in the file too.
        public var alignment: UInt64
        /// The contents (for `SHT_NOBITS`, only its count matters).
        public var data: [UInt8]
        /// A section with every field given.
        /// - Parameters:
        ///   - name: The section's name.
        ///   - type: The section type; `SHT_PROGBITS` unless given.
        ///   - flags: `sh_flags`.
        ///   - alignment: `sh_addralign`.
        ///   - data: The contents.
        public init(name: String, type: SectionType = .progbits, flags: SectionFlags, alignment: UInt64, data: [UInt8]) {
            self.name = name
            self.type = type
            self.flags = flags
            self.alignment = alignment
            self.data = data
        }
    }

    /// A symbol the object defines or references.
    public struct Symbol {
        /// The symbol's name.
        public var name: String
        /// Index into `sections`, or nil for an undefined symbol.
        public var section: Int?
        /// The offset in its section.
        public var value: UInt64
        /// `st_size`.
        public var size: UInt64
        /// Local, global or weak (locals are written first, as ELF requires).
        public var binding: SymbolBinding
        /// `STT_OBJECT`, `STT_NOTYPE`, …
        public var type: SymbolType
        /// A symbol; by default a global without type or size.
        /// - Parameters:
        ///   - name: The symbol's name.
        ///   - section: Index into ``ELFObjectWriter/sections`` of its section; nil: undefined.
        ///   - value: The offset in its section.
        ///   - size: `st_size`; 0 unless given.
        ///   - binding: `STB_GLOBAL` unless given.
        ///   - type: `STT_NOTYPE` unless given.
        public init(
            name: String, section: Int?, value: UInt64, size: UInt64 = 0, binding: SymbolBinding = .global,
            type: SymbolType = .notype
        ) {
            self.name = name
            self.section = section
            self.value = value
            self.size = size
            self.binding = binding
            self.type = type
        }
    }

    /// A place in a section that the linker fills in with a symbol's value.
    public struct Relocation {
        /// Index into `sections` of the section patched.
        public var section: Int
        /// The offset of the patched word in that section.
        public var offset: UInt64
        /// Index into `symbols`.
        public var symbol: Int
        /// The machine's relocation type.
        public var type: RelocationType
        /// Added to the symbol's value; written in the entry when ``ELFObjectWriter/usesRela``,
        /// else the caller has already stored it in the section bytes.
        public var addend: Int64
        /// A relocation with every field given.
        /// - Parameters:
        ///   - section: Index into ``ELFObjectWriter/sections`` of the section patched.
        ///   - offset: The offset of the patched word in that section.
        ///   - symbol: Index into ``ELFObjectWriter/symbols``.
        ///   - type: The machine's relocation type.
        ///   - addend: Added to the symbol's value.
        public init(section: Int, offset: UInt64, symbol: Int, type: RelocationType, addend: Int64) {
            self.section = section
            self.offset = offset
            self.symbol = symbol
            self.type = type
            self.addend = addend
        }
    }

    /// ELFCLASS64 (true) or ELFCLASS32.
    public var is64: Bool
    /// The byte order of every field.
    public var byteOrder: ByteOrder
    /// `e_machine`.
    public var machine: ELFMachine
    /// `e_flags`: what the target's assembler writes (a linker refuses to mix some ABIs).
    public var flags: UInt32
    /// RELA (addend in the entry) or REL (addend already in the section bytes).
    public var usesRela: Bool
    /// The sections, numbered from 1 in the file (0 is the null section).
    public var sections: [Section] = []
    /// The symbols, in any order.
    public var symbols: [Symbol] = []
    /// The relocations; each section's go to its own `.rela`/`.rel` section.
    public var relocations: [Relocation] = []

    /// A writer with no sections, symbols or relocations yet.
    /// - Parameters:
    ///   - is64: True for an ELFCLASS64 object.
    ///   - byteOrder: The byte order of every field.
    ///   - machine: The `e_machine` to write.
    ///   - flags: The `e_flags` to write.
    ///   - usesRela: True for `SHT_RELA` relocation sections, false for `SHT_REL`: each
    ///     architecture's assembler uses one.
    public init(is64: Bool, byteOrder: ByteOrder, machine: ELFMachine, flags: UInt32, usesRela: Bool) {
        self.is64 = is64
        self.byteOrder = byteOrder
        self.machine = machine
        self.flags = flags
        self.usesRela = usesRela
    }

    var encoder: ELFEncoder { ELFEncoder(is64: is64, order: byteOrder) }

    /// The symbol table: null, one section symbol per data section (local, as assemblers emit
    /// them), then the given symbols, locals before globals as ELF requires. Returns the table,
    /// its string table, each given symbol's index and the first global's index.
    func symbolTable() -> (table: [UInt8], strings: [UInt8], index: [Int], firstGlobal: Int) {
        let e = encoder
        let locals = symbols.indices.filter { symbols[$0].binding == .local }
        let globals = symbols.indices.filter { symbols[$0].binding != .local }
        var index = [Int](repeating: 0, count: symbols.count)
        var strings = StringTable()
        var w = e.writer()
        e.symbol(name: 0, value: 0, size: 0, binding: .local, type: .notype, section: .undef, into: &w)
        for s in sections.indices {
            e.symbol(
                name: 0, value: 0, size: 0, binding: .local, type: .section, section: SectionIndex(rawValue: UInt16(1 + s)),
                into: &w)
        }
        var next = 1 + sections.count
        for i in locals + globals {
            let s = symbols[i]
            let shndx = s.section.map { SectionIndex(rawValue: UInt16(1 + $0)) } ?? .undef
            e.symbol(
                name: strings.add(s.name), value: s.value, size: s.size, binding: s.binding, type: s.type, section: shndx,
                into: &w)
            index[i] = next
            next += 1
        }
        return (w.bytes, strings.bytes, index, 1 + sections.count + locals.count)
    }

    /// The entries of one relocation section: those that patch `section`.
    func relocationEntries(for section: Int, symbolIndex: [Int]) -> [UInt8] {
        var w = encoder.writer()
        for r in relocations where r.section == section {
            let sym = UInt64(symbolIndex[r.symbol])
            if is64 {
                w.u64(r.offset)
                w.u64((sym << 32) | UInt64(r.type.rawValue))
                if usesRela { w.u64(UInt64(bitPattern: r.addend)) }
            } else {
                w.u32(UInt32(truncatingIfNeeded: r.offset))
                w.u32(UInt32(truncatingIfNeeded: (sym << 8) | UInt64(r.type.rawValue & 0xFF)))
                if usesRela { w.u32(UInt32(truncatingIfNeeded: r.addend)) }
            }
        }
        return w.bytes
    }

    /// The object file's bytes. Layout: header, section contents (each aligned), relocation
    /// sections, .symtab, .strtab, .shstrtab, section header table.
    /// - Returns: The whole object file.
    public func write() -> [UInt8] {
        let e = encoder
        let relocated = sections.indices.filter { s in relocations.contains { $0.section == s } }
        let symtabIndex = 1 + sections.count + relocated.count
        let (symtab, strtab, symbolIndex, firstGlobal) = symbolTable()
        let relEntrySize = usesRela ? (is64 ? 24 : 12) : (is64 ? 16 : 8)
        var names = StringTable()
        let sectionNames = sections.map { names.add($0.name) }
        let relNames = relocated.map { names.add((usesRela ? ".rela" : ".rel") + sections[$0].name) }
        let symtabName = names.add(".symtab")
        let strtabName = names.add(".strtab")
        let shstrtabName = names.add(".shstrtab")

        var out = e.writer()
        out.zeros(e.headerSize)
        var headers: [ELFEncoder.SectionHeader] = [.null]
        for (i, s) in sections.enumerated() {
            out.align(Int(max(s.alignment, 1)))
            let offset = out.count
            if s.type != .nobits { out.bytes(s.data) }
            headers.append(
                .init(name: sectionNames[i], type: s.type, flags: s.flags, offset: offset, size: s.data.count, alignment: s.alignment))
        }
        for (k, s) in relocated.enumerated() {
            let entries = relocationEntries(for: s, symbolIndex: symbolIndex)
            out.align(e.wordSize)
            headers.append(
                .init(
                    name: relNames[k], type: usesRela ? .rela : .rel, flags: .infoLink, offset: out.count, size: entries.count,
                    link: UInt32(symtabIndex), info: UInt32(1 + s), alignment: UInt64(e.wordSize),
                    entrySize: UInt64(relEntrySize)))
            out.bytes(entries)
        }
        out.align(e.wordSize)
        headers.append(
            .init(
                name: symtabName, type: .symtab, offset: out.count, size: symtab.count, link: UInt32(symtabIndex + 1),
                info: UInt32(firstGlobal), alignment: UInt64(e.wordSize), entrySize: UInt64(e.symbolSize)))
        out.bytes(symtab)
        headers.append(.init(name: strtabName, type: .strtab, offset: out.count, size: strtab.count, alignment: 1))
        out.bytes(strtab)
        headers.append(.init(name: shstrtabName, type: .strtab, offset: out.count, size: names.bytes.count, alignment: 1))
        out.bytes(names.bytes)
        out.align(e.wordSize)
        let shoff = out.count
        for h in headers { e.sectionHeader(h, into: &out) }

        // The ELF header, now that the offsets are known.
        var header = e.writer()
        e.header(
            .init(
                type: .rel, machine: machine, flags: flags, sectionHeaderOffset: shoff, sectionHeaderCount: headers.count,
                sectionNameIndex: headers.count - 1), into: &header)
        var bytes = out.bytes
        bytes.replaceSubrange(0 ..< e.headerSize, with: header.bytes)
        return bytes
    }
}
