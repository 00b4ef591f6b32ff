/// The pieces both ELF writers share: the file header, a section header and a symbol table
/// entry, each written once for 32- and 64-bit files in either byte order.
struct ELFEncoder {
    let is64: Bool
    let order: ByteOrder

    var headerSize: Int { is64 ? 64 : 52 }
    var programHeaderSize: Int { is64 ? 56 : 32 }
    var sectionHeaderSize: Int { is64 ? 64 : 40 }
    var symbolSize: Int { is64 ? 24 : 16 }
    var wordSize: Int { is64 ? 8 : 4 }

    func writer() -> ByteWriter { ByteWriter(order: order) }

    struct Header {
        var type: ELFType
        var machine: ELFMachine
        var flags: UInt32
        var entry: UInt64 = 0
        var programHeaderOffset = 0
        var programHeaderCount = 0
        var sectionHeaderOffset: Int
        var sectionHeaderCount: Int
        var sectionNameIndex: Int
    }

    func header(_ h: Header, into w: inout ByteWriter) {
        w.bytes([0x7F, 0x45, 0x4C, 0x46, (is64 ? ELFClass.elf64 : .elf32).rawValue, ELFData(order).rawValue, 1, 0])
        w.zeros(8)
        w.u16(h.type.rawValue)
        w.u16(h.machine.rawValue)
        w.u32(1)  // EV_CURRENT
        w.integer(h.entry, wordSize)
        w.integer(UInt64(h.programHeaderOffset), wordSize)
        w.integer(UInt64(h.sectionHeaderOffset), wordSize)
        w.u32(h.flags)
        w.u16(UInt16(headerSize))
        w.u16(h.programHeaderOffset != 0 ? UInt16(programHeaderSize) : 0)
        w.u16(UInt16(h.programHeaderCount))
        w.u16(UInt16(sectionHeaderSize))
        w.u16(UInt16(h.sectionHeaderCount))
        w.u16(UInt16(h.sectionNameIndex))
    }

    struct SectionHeader {
        var name: UInt32
        var type: SectionType
        var flags: SectionFlags = []
        var address: UInt64 = 0
        var offset: Int
        var size: Int
        var link: UInt32 = 0
        var info: UInt32 = 0
        var alignment: UInt64
        var entrySize: UInt64 = 0

        static let null = SectionHeader(name: 0, type: .null, offset: 0, size: 0, alignment: 0)
    }

    func sectionHeader(_ h: SectionHeader, into w: inout ByteWriter) {
        w.u32(h.name)
        w.u32(h.type.rawValue)
        w.integer(h.flags.rawValue, wordSize)
        w.integer(h.address, wordSize)
        w.integer(UInt64(h.offset), wordSize)
        w.integer(UInt64(h.size), wordSize)
        w.u32(h.link)
        w.u32(h.info)
        w.integer(h.alignment, wordSize)
        w.integer(h.entrySize, wordSize)
    }

    /// One `Elf32_Sym` / `Elf64_Sym` (their fields come in different orders).
    func symbol(
        name: UInt32, value: UInt64, size: UInt64, binding: SymbolBinding, type: SymbolType,
        section: SectionIndex, into w: inout ByteWriter
    ) {
        let info = binding.rawValue << 4 | (type.rawValue & 0xF)
        w.u32(name)
        if is64 {
            w.u8(info)
            w.u8(0)
            w.u16(section.rawValue)
            w.u64(value)
            w.u64(size)
        } else {
            w.u32(UInt32(truncatingIfNeeded: value))
            w.u32(UInt32(truncatingIfNeeded: size))
            w.u8(info)
            w.u8(0)
            w.u16(section.rawValue)
        }
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
