/// Writes an executable ELF (ET_EXEC) that carries memory regions and a symbol table — what a
/// recovered kernel needs so that `nm`, `objdump -d` and gdb can use its symbols.
public struct ELFImageWriter {
    public struct Region {
        public var name: String
        public var address: UInt64
        public var bytes: [UInt8]
        public var executable: Bool
        public init(name: String, address: UInt64, bytes: [UInt8], executable: Bool) {
            self.name = name
            self.address = address
            self.bytes = bytes
            self.executable = executable
        }
    }

    public struct Symbol {
        public var name: [UInt8]
        public var value: UInt64
        public var size: UInt64
        public var binding: UInt8
        public var type: UInt8
        /// Index into `regions`, or nil for an absolute symbol.
        public var region: Int?
        public init(name: [UInt8], value: UInt64, size: UInt64, binding: UInt8, type: UInt8, region: Int?) {
            self.name = name
            self.value = value
            self.size = size
            self.binding = binding
            self.type = type
            self.region = region
        }
    }

    public var is64: Bool
    public var littleEndian: Bool
    public var machine: UInt16
    public var flags: UInt32 = 0
    public var entry: UInt64 = 0
    public var regions: [Region] = []
    public var symbols: [Symbol] = []

    public init(is64: Bool, littleEndian: Bool, machine: UInt16) {
        self.is64 = is64
        self.littleEndian = littleEndian
        self.machine = machine
    }

    public func write() -> [UInt8] {
        var w = ByteWriter(littleEndian: littleEndian)
        let word = is64 ? 8 : 4
        let ehsize = is64 ? 64 : 52
        let phentsize = is64 ? 56 : 32
        let shentsize = is64 ? 64 : 40
        func addr(_ v: UInt64) { w.integer(v, word) }

        // Layout: header, program headers, region bytes (page-congruent with their addresses),
        // then .symtab, .strtab, .shstrtab and the section headers.
        var offsets: [Int] = []
        var cursor = ehsize + phentsize * regions.count
        for r in regions {
            let page = 0x1000
            let want = Int(r.address % UInt64(page))
            cursor += (want - cursor % page + page) % page
            offsets.append(cursor)
            cursor += r.bytes.count
        }
        // Locals first, as ELF requires; sh_info is the first global.
        let ordered = symbols.enumerated().sorted { a, b in
            let la = a.element.binding == ELF.stbLOCAL
            let lb = b.element.binding == ELF.stbLOCAL
            return la != lb ? la : a.offset < b.offset
        }.map(\.element)
        // Symbol names are bytes, not necessarily UTF-8, and almost all distinct: appended as they are.
        var strtab: [UInt8] = [0]
        var symtab = ByteWriter(littleEndian: littleEndian)
        symtab.zeros(is64 ? 24 : 16)
        var firstGlobal = 1
        for (k, s) in ordered.enumerated() {
            if s.binding == ELF.stbLOCAL { firstGlobal = k + 2 }
            let nameOffset = UInt32(strtab.count)
            strtab += s.name
            strtab.append(0)
            let info = s.binding << 4 | s.type
            let shndx: UInt16 = s.region.map { UInt16($0 + 1) } ?? ELF.shnABS
            if is64 {
                symtab.u32(nameOffset)
                symtab.u8(info)
                symtab.u8(0)
                symtab.u16(shndx)
                symtab.u64(s.value)
                symtab.u64(s.size)
            } else {
                symtab.u32(nameOffset)
                symtab.u32(UInt32(truncatingIfNeeded: s.value))
                symtab.u32(UInt32(truncatingIfNeeded: s.size))
                symtab.u8(info)
                symtab.u8(0)
                symtab.u16(shndx)
            }
        }
        var names = StringTable()
        let regionNames = regions.map { names.add($0.name) }
        let symtabName = names.add(".symtab")
        let strtabName = names.add(".strtab")
        let shstrtabName = names.add(".shstrtab")
        let shstrtab = names.bytes
        let symtabOffset = (cursor + 7) & ~7
        let strtabOffset = symtabOffset + symtab.count
        let shstrtabOffset = strtabOffset + strtab.count
        let shoff = (shstrtabOffset + shstrtab.count + 7) & ~7
        let shnum = regions.count + 4

        // ELF header.
        w.bytes([0x7F, 0x45, 0x4C, 0x46, is64 ? ELF.class64 : ELF.class32, littleEndian ? ELF.dataLSB : ELF.dataMSB, 1, 0])
        w.zeros(8)
        w.u16(ELF.etEXEC)
        w.u16(machine)
        w.u32(1)
        addr(entry)
        addr(UInt64(ehsize))
        addr(UInt64(shoff))
        w.u32(flags)
        w.u16(UInt16(ehsize))
        w.u16(UInt16(phentsize))
        w.u16(UInt16(regions.count))
        w.u16(UInt16(shentsize))
        w.u16(UInt16(shnum))
        w.u16(UInt16(shnum - 1))
        // Program headers: one PT_LOAD per region.
        for (i, r) in regions.enumerated() {
            let pflags: UInt32 = r.executable ? 5 : 6
            if is64 {
                w.u32(1)
                w.u32(pflags)
                w.u64(UInt64(offsets[i]))
                w.u64(r.address)
                w.u64(r.address)
                w.u64(UInt64(r.bytes.count))
                w.u64(UInt64(r.bytes.count))
                w.u64(0x1000)
            } else {
                w.u32(1)
                w.u32(UInt32(offsets[i]))
                w.u32(UInt32(truncatingIfNeeded: r.address))
                w.u32(UInt32(truncatingIfNeeded: r.address))
                w.u32(UInt32(r.bytes.count))
                w.u32(UInt32(r.bytes.count))
                w.u32(pflags)
                w.u32(0x1000)
            }
        }
        for (i, r) in regions.enumerated() {
            w.zeros(offsets[i] - w.count)
            w.bytes(r.bytes)
        }
        w.zeros(symtabOffset - w.count)
        w.bytes(symtab.bytes)
        w.bytes(strtab)
        w.bytes(shstrtab)
        w.zeros(shoff - w.count)
        func section(_ name: UInt32, _ type: UInt32, _ flags: UInt64, _ address: UInt64, _ offset: Int, _ size: Int,
            _ link: UInt32, _ info: UInt32, _ align: UInt64, _ entsize: UInt64)
        {
            w.u32(name)
            w.u32(type)
            addr(flags)
            addr(address)
            addr(UInt64(offset))
            addr(UInt64(size))
            w.u32(link)
            w.u32(info)
            addr(align)
            addr(entsize)
        }
        section(0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        for (i, r) in regions.enumerated() {
            let f = ELF.shfALLOC | (r.executable ? ELF.shfEXECINSTR : ELF.shfWRITE)
            section(regionNames[i], ELF.shtPROGBITS, f, r.address, offsets[i], r.bytes.count, 0, 0, 16, 0)
        }
        let strtabIndex = UInt32(regions.count + 2)
        section(
            symtabName, ELF.shtSYMTAB, 0, 0, symtabOffset, symtab.count, strtabIndex, UInt32(firstGlobal), UInt64(word),
            UInt64(is64 ? 24 : 16))
        section(strtabName, ELF.shtSTRTAB, 0, 0, strtabOffset, strtab.count, 0, 0, 1, 0)
        section(shstrtabName, ELF.shtSTRTAB, 0, 0, shstrtabOffset, shstrtab.count, 0, 0, 1, 0)
        return w.bytes
    }
}
