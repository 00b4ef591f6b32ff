/// Writes an executable ELF (ET_EXEC) that carries memory regions and a symbol table — what a
/// recovered kernel needs so that `nm`, `objdump -d` and gdb can use its symbols.
public struct ELFImageWriter {
    /// Bytes loaded at an address: one `PT_LOAD` segment and one `SHT_PROGBITS` section.
    public struct Region {
        /// The section's name (`.text`, `.kernel`, …).
        public var name: String
        /// The load address of the first byte.
        public var address: UInt64
        /// The contents.
        public var bytes: [UInt8]
        /// Executable and read-only (code), or writable (data).
        public var executable: Bool
        /// A region with every field given.
        /// - Parameters:
        ///   - name: The section's name.
        ///   - address: The load address of the first byte.
        ///   - bytes: The contents.
        ///   - executable: True for code (`PF_R|PF_X`, `SHF_EXECINSTR`), false for data
        ///     (`PF_R|PF_W`, `SHF_WRITE`).
        public init(name: String, address: UInt64, bytes: [UInt8], executable: Bool) {
            self.name = name
            self.address = address
            self.bytes = bytes
            self.executable = executable
        }
    }

    /// An entry of the `.symtab` written.
    public struct Symbol {
        /// The name's bytes, written as they are (kernel symbol names need not be UTF-8).
        public var name: [UInt8]
        /// The symbol's address.
        public var value: UInt64
        /// The size of the object or function; 0 when unknown.
        public var size: UInt64
        /// Local or global (locals are written first, as ELF requires).
        public var binding: SymbolBinding
        /// Function, object, …
        public var type: SymbolType
        /// Index into `regions`, or nil for an absolute symbol.
        public var region: Int?
        /// A symbol with every field given.
        /// - Parameters:
        ///   - name: The name's bytes.
        ///   - value: The address.
        ///   - size: The size, 0 when unknown.
        ///   - binding: Local, global or weak.
        ///   - type: Function, object, …
        ///   - region: Index into ``ELFImageWriter/regions`` of the region defining it; nil for
        ///     an absolute symbol (`SHN_ABS`).
        public init(name: [UInt8], value: UInt64, size: UInt64, binding: SymbolBinding, type: SymbolType, region: Int?) {
            self.name = name
            self.value = value
            self.size = size
            self.binding = binding
            self.type = type
            self.region = region
        }
    }

    /// ELFCLASS64 (true) or ELFCLASS32.
    public var is64: Bool
    /// The byte order of every field.
    public var byteOrder: ByteOrder
    /// `e_machine`, so that disassemblers pick the right instruction set.
    public var machine: ELFMachine
    /// `e_flags` (the Arm EABI version, MIPS ABI bits, …); 0 by default.
    public var flags: UInt32 = 0
    /// `e_entry`; 0 by default.
    public var entry: UInt64 = 0
    /// The memory regions, in the order their segments and sections are written.
    public var regions: [Region] = []
    /// The symbols, in any order.
    public var symbols: [Symbol] = []

    /// A writer with no regions and no symbols yet.
    /// - Parameters:
    ///   - is64: True for an ELFCLASS64 file.
    ///   - byteOrder: The byte order of every field.
    ///   - machine: The `e_machine` to write.
    public init(is64: Bool, byteOrder: ByteOrder, machine: ELFMachine) {
        self.is64 = is64
        self.byteOrder = byteOrder
        self.machine = machine
    }

    /// Each region's file offset: page-congruent with its address, after the headers.
    func regionOffsets(from start: Int) -> (offsets: [Int], end: Int) {
        var offsets: [Int] = []
        var cursor = start
        for r in regions {
            let page = 0x1000
            let want = Int(r.address % UInt64(page))
            cursor += (want - cursor % page + page) % page
            offsets.append(cursor)
            cursor += r.bytes.count
        }
        return (offsets, cursor)
    }

    /// `.symtab` and `.strtab`, locals first as ELF requires; also the first global's index.
    func symbolTable() -> (table: [UInt8], strings: [UInt8], firstGlobal: Int) {
        let e = ELFEncoder(is64: is64, order: byteOrder)
        let ordered = symbols.enumerated().sorted { a, b in
            let la = a.element.binding == .local
            let lb = b.element.binding == .local
            return la != lb ? la : a.offset < b.offset
        }.map(\.element)
        // Symbol names are bytes, not necessarily UTF-8, and almost all distinct: appended as they are.
        var strings: [UInt8] = [0]
        var w = e.writer()
        w.zeros(e.symbolSize)
        var firstGlobal = 1
        for (k, s) in ordered.enumerated() {
            if s.binding == .local { firstGlobal = k + 2 }
            let nameOffset = UInt32(strings.count)
            strings += s.name
            strings.append(0)
            e.symbol(
                name: nameOffset, value: s.value, size: s.size, binding: s.binding, type: s.type,
                section: s.region.map { SectionIndex(rawValue: UInt16($0 + 1)) } ?? .abs, into: &w)
        }
        return (w.bytes, strings, firstGlobal)
    }

    /// The file's bytes. Layout: header, program headers, region bytes (each at a file offset
    /// congruent with its address modulo 4 KiB, so the file can be mapped), then .symtab, .strtab,
    /// .shstrtab and the section headers.
    /// - Returns: The whole ELF file.
    public func write() -> [UInt8] {
        let e = ELFEncoder(is64: is64, order: byteOrder)
        let (offsets, regionsEnd) = regionOffsets(from: e.headerSize + e.programHeaderSize * regions.count)
        let (symtab, strtab, firstGlobal) = symbolTable()
        var names = StringTable()
        let regionNames = regions.map { names.add($0.name) }
        let symtabName = names.add(".symtab")
        let strtabName = names.add(".strtab")
        let shstrtabName = names.add(".shstrtab")
        let shstrtab = names.bytes
        let symtabOffset = (regionsEnd + 7) & ~7
        let strtabOffset = symtabOffset + symtab.count
        let shstrtabOffset = strtabOffset + strtab.count
        let shoff = (shstrtabOffset + shstrtab.count + 7) & ~7
        let shnum = regions.count + 4

        var w = e.writer()
        e.header(
            .init(
                type: .exec, machine: machine, flags: flags, entry: entry, programHeaderOffset: e.headerSize,
                programHeaderCount: regions.count, sectionHeaderOffset: shoff, sectionHeaderCount: shnum,
                sectionNameIndex: shnum - 1), into: &w)
        // One PT_LOAD per region.
        for (i, r) in regions.enumerated() {
            let pflags: SegmentFlags = r.executable ? [.read, .execute] : [.read, .write]
            let size = UInt64(r.bytes.count)
            w.u32(SegmentType.load.rawValue)
            if is64 { w.u32(pflags.rawValue) }
            w.integer(UInt64(offsets[i]), e.wordSize)
            w.integer(r.address, e.wordSize)
            w.integer(r.address, e.wordSize)
            w.integer(size, e.wordSize)
            w.integer(size, e.wordSize)
            if !is64 { w.u32(pflags.rawValue) }
            w.integer(0x1000, e.wordSize)
        }
        for (i, r) in regions.enumerated() {
            w.zeros(offsets[i] - w.count)
            w.bytes(r.bytes)
        }
        w.zeros(symtabOffset - w.count)
        w.bytes(symtab)
        w.bytes(strtab)
        w.bytes(shstrtab)
        w.zeros(shoff - w.count)
        e.sectionHeader(.null, into: &w)
        for (i, r) in regions.enumerated() {
            e.sectionHeader(
                .init(
                    name: regionNames[i], type: .progbits, flags: [.alloc, r.executable ? .execinstr : .write],
                    address: r.address, offset: offsets[i], size: r.bytes.count, alignment: 16), into: &w)
        }
        e.sectionHeader(
            .init(
                name: symtabName, type: .symtab, offset: symtabOffset, size: symtab.count, link: UInt32(regions.count + 2),
                info: UInt32(firstGlobal), alignment: UInt64(e.wordSize), entrySize: UInt64(e.symbolSize)), into: &w)
        e.sectionHeader(.init(name: strtabName, type: .strtab, offset: strtabOffset, size: strtab.count, alignment: 1), into: &w)
        e.sectionHeader(
            .init(name: shstrtabName, type: .strtab, offset: shstrtabOffset, size: shstrtab.count, alignment: 1), into: &w)
        return w.bytes
    }
}
