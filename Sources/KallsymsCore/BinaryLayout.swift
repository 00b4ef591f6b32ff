import ELFKit

/// The targets `gen --emit object` writes for, with what the assembler would put in the ELF.
public enum TargetArch: String, CaseIterable, Sendable {
    case x86_64, aarch64, ppc64le, riscv64, i386, arm

    public var pointerSize: Int { self == .i386 || self == .arm ? 4 : 8 }
    public var littleEndian: Bool { true }
    public var machine: UInt16 {
        switch self {
        case .x86_64: return 62  // EM_X86_64
        case .aarch64: return 183  // EM_AARCH64
        case .ppc64le: return 21  // EM_PPC64
        case .riscv64: return 243  // EM_RISCV
        case .i386: return 3  // EM_386
        case .arm: return 40  // EM_ARM
        }
    }
    /// e_flags as each target's GNU assembler (Debian 12 binutils, Linux triples) sets them for a
    /// data-only source such as the table's `.S`.
    public var elfFlags: UInt32 {
        switch self {
        case .riscv64: return 0x4  // double-float ABI
        case .arm: return 0x0500_0000  // EABI version 5
        default: return 0
        }
    }
    /// 64-bit targets use RELA (addend in the entry); i386 and arm use REL (addend in the data).
    public var usesRela: Bool { pointerSize == 8 }
    /// The relocation for a pointer-sized absolute address.
    public var pointerRelocation: UInt32 {
        switch self {
        case .x86_64: return 1  // R_X86_64_64
        case .aarch64: return 257  // R_AARCH64_ABS64
        case .ppc64le: return 38  // R_PPC64_ADDR64
        case .riscv64: return 2  // R_RISCV_64
        case .i386: return 1  // R_386_32
        case .arm: return 2  // R_ARM_ABS32
        }
    }
}

/// The `.rodata` contents the assembler makes of a table's `.S` for one target: the bytes, the
/// label offsets and the places that need `_text` added at link time.
public struct BinaryLayout: Sendable, Equatable {
    public struct Label: Sendable, Equatable {
        public var name: String
        public var offset: Int
        public var size: Int
    }

    public struct Relocation: Sendable, Equatable {
        public var offset: Int
        /// What is added to `_text` (for REL targets it is also stored in the bytes).
        public var addend: Int64
    }

    public var pointerSize: Int
    public var littleEndian: Bool
    public var bytes: [UInt8]
    public var labels: [Label]
    public var relocations: [Relocation]
    /// `.balign` of every label: the pointer size.
    public var alignment: Int { pointerSize }

    public func label(_ name: String) -> Label? { labels.first { $0.name == name } }

    public init(
        _ table: KallsymsTable, pointerSize: Int, littleEndian: Bool, addendInData: Bool,
        reservation: TableReservation? = nil
    ) {
        self.pointerSize = pointerSize
        self.littleEndian = littleEndian
        var w = ByteWriter(littleEndian: littleEndian)
        var labels: [Label] = []
        var relocations: [Relocation] = []
        var current: (String, Int)? = nil
        func label(_ name: String) {
            if let (n, o) = current {
                // A reserved array keeps its room whatever it holds now, so every later label
                // stays where it is.
                if let room = reservation?.room[n], w.count - o < room { w.zeros(room - (w.count - o)) }
                labels.append(Label(name: n, offset: o, size: w.count - o))
            }
            w.align(pointerSize)
            current = (name, w.count)
        }
        func finish() {
            if let (n, o) = current {
                if let room = reservation?.room[n], w.count - o < room { w.zeros(room - (w.count - o)) }
                labels.append(Label(name: n, offset: o, size: w.count - o))
            }
            current = nil
            // Slack: room after the data, so the section's size is the reserved one.
            if let total = reservation?.sectionSize, w.count < total { w.zeros(total - w.count) }
        }
        func pointerToText(_ address: UInt64) {
            // `PTR _text + d` / `PTR _text - d`.
            let addend = Int64(bitPattern: address &- table.textAddress)
            relocations.append(Relocation(offset: w.count, addend: addend))
            w.integer(addendInData ? UInt64(bitPattern: addend) : 0, pointerSize)
        }
        func numSyms() {
            label("kallsyms_num_syms")
            w.u32(UInt32(truncatingIfNeeded: table.numSyms))
        }
        func names() {
            label("kallsyms_names")
            w.bytes(table.names)
        }
        func markers() {
            label("kallsyms_markers")
            for m in table.markers { w.u32(m) }
        }
        func tokenTable() {
            label("kallsyms_token_table")
            w.bytes(table.tokenTable)
        }
        func tokenIndex() {
            label("kallsyms_token_index")
            for v in table.tokenIndex { w.u16(v) }
        }
        func offsets() {
            guard case .offsets(let words, let base, _) = table.addressEncoding else { return }
            label("kallsyms_offsets")
            for v in words { w.u32(v) }
            label("kallsyms_relative_base")
            pointerToText(base)
        }
        func addresses() {
            guard case .addresses(let a, let absolute) = table.addressEncoding else { return }
            label("kallsyms_addresses")
            for i in 0 ..< a.count {
                if absolute[i] { w.integer(a[i], pointerSize) } else { pointerToText(a[i]) }
            }
        }
        func seqs() {
            label("kallsyms_seqs_of_names")
            for s in table.seqsOfNames {
                w.u8(UInt8(truncatingIfNeeded: s >> 16))
                w.u8(UInt8(truncatingIfNeeded: s >> 8))
                w.u8(UInt8(truncatingIfNeeded: s))
            }
        }
        switch table.format {
        case .linux612:
            numSyms(); names(); markers(); tokenTable(); tokenIndex(); offsets(); seqs()
        case .linux61:
            if case .offsets = table.addressEncoding { offsets() } else { addresses() }
            numSyms(); names(); markers(); seqs(); tokenTable(); tokenIndex()
        }
        finish()
        self.bytes = w.bytes
        self.labels = labels
        self.relocations = relocations
    }

    public init(_ table: KallsymsTable, arch: TargetArch, reservation: TableReservation? = nil) {
        self.init(
            table, pointerSize: arch.pointerSize, littleEndian: arch.littleEndian, addendInData: !arch.usesRela,
            reservation: reservation)
    }

    /// Labels and section size: what decides where everything after the table lands.
    public var shape: [Int] { labels.flatMap { [$0.offset, $0.size] } + [bytes.count] }

    /// True when every array fits the reservation and the section its size.
    public static func fits(_ table: KallsymsTable, arch: TargetArch, _ reservation: TableReservation) -> Bool {
        let bare = BinaryLayout(table, arch: arch)
        for l in bare.labels {
            if let room = reservation.room[l.name], l.size > room { return false }
        }
        if let total = reservation.sectionSize {
            let padded = BinaryLayout(table, arch: arch, reservation: TableReservation(room: reservation.room))
            if padded.bytes.count > total { return false }
        }
        return true
    }

    /// The bytes as they stand in a linked image: every `_text` relocation resolved.
    public func resolvedBytes(textAddress: UInt64) -> [UInt8] {
        var out = bytes
        for r in relocations {
            let v = textAddress &+ UInt64(bitPattern: r.addend)
            for k in 0 ..< pointerSize {
                let shift = UInt64(littleEndian ? k : pointerSize - 1 - k) * 8
                out[r.offset + k] = UInt8(truncatingIfNeeded: v >> shift)
            }
        }
        return out
    }
}

/// Room kept for a table so that its labels, and everything linked after it, keep their
/// addresses while its contents change: a minimum size per array (by label name) and, for
/// slack, a minimum size of the whole section. The padding is zeros; the kernel reads only what
/// `kallsyms_num_syms` and the markers say, so it never sees it.
public struct TableReservation: Sendable, Equatable, Codable {
    /// Minimum bytes from a label to the next (`kallsyms_names`, `kallsyms_markers`, …).
    public var room: [String: Int]
    /// Minimum size of the whole table section.
    public var sectionSize: Int?

    public init(room: [String: Int] = [:], sectionSize: Int? = nil) {
        self.room = room
        self.sectionSize = sectionSize
    }

    /// The arrays whose size follows the symbols; the others have fixed sizes.
    public static let variableArrays = [
        "kallsyms_names", "kallsyms_markers", "kallsyms_token_table", "kallsyms_offsets", "kallsyms_addresses",
        "kallsyms_seqs_of_names",
    ]
}

/// `gen --emit object`: the table as an ELF relocatable object, equivalent to assembling the `.S`.
public enum ObjectEmitter {
    public static func object(_ table: KallsymsTable, arch: TargetArch) -> [UInt8] {
        object(BinaryLayout(table, arch: arch), arch: arch)
    }

    /// The object of a layout made for `arch` (possibly with a reservation).
    public static func object(_ layout: BinaryLayout, arch: TargetArch) -> [UInt8] {
        var w = ELFObjectWriter(
            is64: arch.pointerSize == 8, littleEndian: arch.littleEndian, machine: arch.machine, flags: arch.elfFlags,
            usesRela: arch.usesRela)
        w.sections = [
            .init(name: ".rodata", flags: ELF.shfALLOC, alignment: UInt64(layout.alignment), data: layout.bytes),
            // Marks the object as not needing an executable stack, as kernel builds assemble with.
            .init(name: ".note.GNU-stack", flags: 0, alignment: 1, data: []),
        ]
        for l in layout.labels {
            w.symbols.append(.init(name: l.name, section: 0, value: UInt64(l.offset)))
        }
        let text = w.symbols.count
        w.symbols.append(.init(name: "_text", section: nil, value: 0))
        for r in layout.relocations {
            w.relocations.append(
                .init(section: 0, offset: UInt64(r.offset), symbol: text, type: arch.pointerRelocation, addend: r.addend))
        }
        return w.write()
    }
}

/// `gen --emit raw`: the bare `.rodata` blob, and a description of where everything is in it.
public enum RawEmitter {
    /// A small JSON document: target parameters, every label's offset and size, and the
    /// relocation sites (where `_text` + addend must be stored, pointer-sized).
    public static func layoutDescription(_ layout: BinaryLayout, arch: TargetArch?) -> String {
        var s = "{\n"
        if let arch { s += "  \"arch\": \"\(arch.rawValue)\",\n" }
        s += "  \"pointer_size\": \(layout.pointerSize),\n"
        s += "  \"endianness\": \"\(layout.littleEndian ? "little" : "big")\",\n"
        s += "  \"alignment\": \(layout.alignment),\n"
        s += "  \"size\": \(layout.bytes.count),\n"
        s += "  \"addend_in_data\": \(arch.map { !$0.usesRela } ?? false),\n"
        s += "  \"labels\": [\n"
        s += layout.labels.map { "    {\"name\": \"\($0.name)\", \"offset\": \($0.offset), \"size\": \($0.size)}" }
            .joined(separator: ",\n")
        s += "\n  ],\n  \"relocations\": [\n"
        s += layout.relocations.map { "    {\"offset\": \($0.offset), \"symbol\": \"_text\", \"addend\": \($0.addend)}" }
            .joined(separator: ",\n")
        s += "\n  ]\n}\n"
        return s
    }
}
