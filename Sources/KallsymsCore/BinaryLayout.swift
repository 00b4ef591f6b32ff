import ELFKit

extension Architecture {
    /// The targets ``ObjectEmitter`` and ``BinaryLayout`` write tables for (`gen --emit
    /// object|raw`, the link driver): those whose assembler output the object-equivalence tests
    /// pin.
    public static let tableObjectTargets: [Architecture] = [.x86_64, .aarch64, .ppc64le, .riscv64, .i386, .arm]

    /// e_flags as each target's GNU assembler (Debian 12 binutils, Linux triples) sets them for a
    /// data-only source such as the table's `.S`.
    package var assemblerELFFlags: UInt32 {
        switch self {
        case .riscv64: 0x4  // double-float ABI
        case .arm: 0x0500_0000  // EABI version 5
        default: 0
        }
    }

    /// 64-bit targets use RELA (addend in the entry); 32-bit ones REL (addend in the data).
    package var usesRela: Bool { pointerSize == 8 }

    /// The relocation for a pointer-sized absolute address (`PTR _text + d`).
    package var pointerRelocation: RelocationType? {
        switch self {
        case .x86_64: RelocationType.X86_64.r64
        case .aarch64: RelocationType.AArch64.abs64
        case .ppc64le, .ppc64: RelocationType.PPC64.addr64
        case .riscv64: RelocationType.RISCV.r64
        case .i386: RelocationType.I386.r32
        case .arm: RelocationType.ARM.abs32
        default: nil
        }
    }

    /// How the assembler relocates a 32-bit place-relative value (`.long _text - . + (N)`): one
    /// PC-relative relocation, or (RISC-V, where GNU as has no single one for data) `_text + N`
    /// added and a local label at the place subtracted.
    package var placeRelocation: PlaceRelocation? {
        switch self {
        case .x86_64: .single(RelocationType.X86_64.pc32)
        case .aarch64: .single(RelocationType.AArch64.prel32)
        case .ppc64le, .ppc64: .single(RelocationType.PPC64.rel32)
        case .riscv64: .pair(add: RelocationType.RISCV.add32, subtract: RelocationType.RISCV.sub32)
        case .i386: .single(RelocationType.I386.pc32)
        case .arm: .single(RelocationType.ARM.rel32)
        default: nil
        }
    }

    package enum PlaceRelocation: Sendable, Equatable {
        case single(RelocationType)
        case pair(add: RelocationType, subtract: RelocationType)
    }
}

/// The `.rodata` contents the assembler makes of a table's `.S` for one target: the bytes, the
/// label offsets and the places that need `_text` at link time. The arrays come in the order and
/// with the alignment of the table's `TableFormat`.
///
/// The link driver links these bytes (as an object from ``ObjectEmitter``) instead of assembling
/// the `.S`; ``RawEmitter`` describes them for loaders that place a table themselves.
public struct BinaryLayout: Sendable, Equatable {
    /// Where one array lies in ``BinaryLayout/bytes``.
    public struct Label: Sendable, Equatable {
        /// The array.
        public var array: KallsymsArray
        /// The offset of the array's label from the start of the section.
        public var offset: Int
        /// To the end of the array's room (its data plus any reserved padding).
        public var size: Int
        /// The data alone: what `.size LABEL, . - LABEL` states in 7.3's `.S`.
        public var dataSize: Int
        /// The label's name (`kallsyms_names`).
        public var name: String { array.label }
    }

    /// A place in ``BinaryLayout/bytes`` that holds an address relative to `_text`, to be
    /// resolved when the table is linked.
    public struct Relocation: Sendable, Equatable {
        /// How the place is resolved.
        public enum Kind: Sendable, Equatable {
            /// A pointer-sized `_text + addend`.
            case pointer
            /// A 32-bit `_text + addend - place`.
            case placeRelative32
        }
        /// The place's offset from the start of the section.
        public var offset: Int
        /// What is added to `_text` (for REL targets it is also stored in the bytes).
        public var addend: Int64
        /// How the place is resolved.
        public var kind: Kind
    }

    /// The target's pointer size in bytes.
    public var pointerSize: Int
    /// The target's byte order.
    public var byteOrder: ByteOrder
    /// The table's binary format: the order and alignment the bytes follow.
    public var format: TableFormat
    /// The generator version the table was made for (its `.S` dialect).
    public var generator: KallsymsFormat
    /// The section's contents, with reserved room as zeros and each relocated place holding
    /// its addend (REL targets) or zero (RELA targets).
    public var bytes: [UInt8]
    /// The arrays, in section order.
    public var labels: [Label]
    /// The places that refer to `_text`, in section order.
    public var relocations: [Relocation]
    /// `.balign` of every label.
    public var alignment: Int { format.labelAlignment.bytes(pointerSize: pointerSize) }

    /// Where an array lies.
    ///
    /// - Parameter array: The array.
    /// - Returns: Its label, or nil when the format has no such array.
    public func label(_ array: KallsymsArray) -> Label? { labels.first { $0.array == array } }

    package init(
        _ table: KallsymsTable, pointerSize: Int, byteOrder: ByteOrder, addendInData: Bool,
        reservation: TableReservation? = nil
    ) {
        let format = table.tableFormat
        self.pointerSize = pointerSize
        self.byteOrder = byteOrder
        self.format = format
        self.generator = table.format
        let align = format.labelAlignment.bytes(pointerSize: pointerSize)
        var w = ByteWriter(order: byteOrder)
        var labels: [Label] = []
        var relocations = RelocationSink(textAddress: table.textAddress, addendInData: addendInData)
        for array in format.arrays {
            w.align(align)
            let start = w.count
            Self.encode(array, of: table, pointerSize: pointerSize, into: &w, relocations: &relocations)
            let dataSize = w.count - start
            // A reserved array keeps its room whatever it holds now, so every later label stays
            // where it is.
            if let room = reservation?.room[array], w.count - start < room { w.zeros(room - (w.count - start)) }
            labels.append(Label(array: array, offset: start, size: w.count - start, dataSize: dataSize))
        }
        // Slack: room after the data, so the section's size is the reserved one.
        if let total = reservation?.sectionSize, w.count < total { w.zeros(total - w.count) }
        self.bytes = w.bytes
        self.labels = labels
        self.relocations = relocations.entries
    }

    /// Collects the `_text` relocations while the arrays are written.
    struct RelocationSink {
        let textAddress: UInt64
        let addendInData: Bool
        var entries: [Relocation] = []

        /// Writes the placeholder for `address` (of `size` bytes) and records the relocation.
        mutating func add(_ address: UInt64, _ kind: Relocation.Kind, size: Int, into w: inout ByteWriter) {
            let addend = Int64(bitPattern: address &- textAddress)
            entries.append(Relocation(offset: w.count, addend: addend, kind: kind))
            w.integer(addendInData ? UInt64(bitPattern: addend) : 0, size)
        }
    }

    /// One array's elements, as the format encodes them.
    static func encode(
        _ array: KallsymsArray, of table: KallsymsTable, pointerSize: Int, into w: inout ByteWriter,
        relocations: inout RelocationSink
    ) {
        switch array {
        case .numSyms: w.u32(UInt32(truncatingIfNeeded: table.numSyms))
        case .names: w.bytes(table.names)
        case .markers:
            let size = table.tableFormat.markerWidth.size(pointerSize: pointerSize)
            for m in table.markers { w.integer(UInt64(m), size) }
        case .tokenTable: w.bytes(table.tokenTable)
        case .tokenIndex: for v in table.tokenIndex { w.u16(v) }
        case .offsets:
            switch table.addressEncoding {
            case .offsets(let words, _, _), .absolute32(let words): for v in words { w.u32(v) }
            case .placeRelative(let deltas):
                for d in deltas {
                    relocations.add(table.textAddress &+ UInt64(bitPattern: Int64(d)), .placeRelative32, size: 4, into: &w)
                }
            case .addresses: break
            }
        case .relativeBase:
            if case .offsets(_, let base, _) = table.addressEncoding {
                relocations.add(base, .pointer, size: pointerSize, into: &w)
            }
        case .addresses:
            guard case .addresses(let a, let absolute) = table.addressEncoding else { return }
            for i in 0 ..< a.count {
                if absolute[i] {
                    w.integer(a[i], pointerSize)
                } else {
                    relocations.add(a[i], .pointer, size: pointerSize, into: &w)
                }
            }
        case .seqsOfNames:
            for s in table.seqsOfNames {
                w.u8(UInt8(truncatingIfNeeded: s >> 16))
                w.u8(UInt8(truncatingIfNeeded: s >> 8))
                w.u8(UInt8(truncatingIfNeeded: s))
            }
        }
    }

    /// Lays a table out as the target's GNU assembler would assemble its `.S`.
    ///
    /// - Parameters:
    ///   - table: The table.
    ///   - arch: The target; one of ``ELFKit/Architecture/tableObjectTargets``.
    ///   - reservation: Room to keep for each array and the section, so that later tables fit
    ///     the same layout; nil: the table's own size.
    public init(_ table: KallsymsTable, arch: Architecture, reservation: TableReservation? = nil) {
        self.init(
            table, pointerSize: arch.pointerSize, byteOrder: arch.byteOrder, addendInData: !arch.usesRela,
            reservation: reservation)
    }

    /// Labels and section size: what decides where everything after the table lands.
    package var shape: [Int] { labels.flatMap { [$0.offset, $0.size] } + [bytes.count] }

    /// True when every array fits the reservation and the section its size.
    package static func fits(_ table: KallsymsTable, arch: Architecture, _ reservation: TableReservation) -> Bool {
        let bare = BinaryLayout(table, arch: arch)
        for l in bare.labels {
            if let room = reservation.room[l.array], l.size > room { return false }
        }
        if let total = reservation.sectionSize {
            let padded = BinaryLayout(table, arch: arch, reservation: TableReservation(room: reservation.room))
            if padded.bytes.count > total { return false }
        }
        return true
    }

    /// The bytes as they stand in a linked image at `address`: every `_text` relocation
    /// resolved (place-relative ones against their own address).
    package func resolvedBytes(textAddress: UInt64, at address: UInt64 = 0) -> [UInt8] {
        var out = bytes
        for r in relocations {
            let target = textAddress &+ UInt64(bitPattern: r.addend)
            switch r.kind {
            case .pointer:
                for k in 0 ..< pointerSize { out[r.offset + k] = byteOrder.byte(target, k, of: pointerSize) }
            case .placeRelative32:
                let v = target &- (address &+ UInt64(r.offset))
                for k in 0 ..< 4 { out[r.offset + k] = byteOrder.byte(v, k, of: 4) }
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
    /// Minimum bytes from an array's label to the next.
    public var room: [KallsymsArray: Int]
    /// Minimum size of the whole table section.
    public var sectionSize: Int?

    /// A reservation; with no arguments it reserves nothing.
    ///
    /// - Parameters:
    ///   - room: Minimum bytes from each array's label to the next.
    ///   - sectionSize: Minimum size of the whole table section.
    public init(room: [KallsymsArray: Int] = [:], sectionSize: Int? = nil) {
        self.room = room
        self.sectionSize = sectionSize
    }

    /// The arrays whose size follows the symbols; the others have fixed sizes.
    package static let variableArrays = KallsymsArray.allCases.filter(\.growsWithSymbols)
}

/// `gen --emit object`: the table as an ELF relocatable object, equivalent to assembling the `.S`,
/// so a table can be linked where no assembler for the target is installed.
public enum ObjectEmitter {
    /// The object the target's assembler makes of the table's `.S`: its `.rodata`, the
    /// `kallsyms_*` symbols and the relocations against `_text`.
    ///
    /// - Parameters:
    ///   - table: The table.
    ///   - arch: The target; one of ``ELFKit/Architecture/tableObjectTargets``.
    /// - Returns: The bytes of the ELF object file.
    public static func object(_ table: KallsymsTable, arch: Architecture) -> [UInt8] {
        object(BinaryLayout(table, arch: arch), arch: arch)
    }

    /// The object of a layout made for `arch` (possibly with a reservation).
    ///
    /// - Parameters:
    ///   - layout: The table's layout, made for `arch`.
    ///   - arch: The target the layout was made for.
    /// - Returns: The bytes of the ELF object file.
    public static func object(_ layout: BinaryLayout, arch: Architecture) -> [UInt8] {
        var w = ELFObjectWriter(
            is64: arch.pointerSize == 8, byteOrder: arch.byteOrder, machine: arch.machine, flags: arch.assemblerELFFlags,
            usesRela: arch.usesRela)
        w.sections = [
            .init(name: ".rodata", flags: .alloc, alignment: UInt64(layout.alignment), data: layout.bytes),
            // Marks the object as not needing an executable stack, as kernel builds assemble with.
            .init(name: ".note.GNU-stack", flags: [], alignment: 1, data: []),
        ]
        let sized = AssemblyWriter.sizedArrays(layout.generator)
        for l in layout.labels {
            let size = sized.contains(l.array) ? UInt64(l.dataSize) : 0
            w.symbols.append(.init(name: l.name, section: 0, value: UInt64(l.offset), size: size))
        }
        // `_text` exists only where something refers to it (7.0's absolute form has nothing).
        guard !layout.relocations.isEmpty else { return w.write() }
        let text = w.symbols.count
        w.symbols.append(.init(name: "_text", section: nil, value: 0))
        for r in layout.relocations {
            let offset = UInt64(r.offset)
            switch (r.kind, arch.placeRelocation) {
            case (.pointer, _):
                w.relocations.append(.init(section: 0, offset: offset, symbol: text, type: arch.pointerRelocation!, addend: r.addend))
            case (.placeRelative32, .single(let type)?):
                w.relocations.append(.init(section: 0, offset: offset, symbol: text, type: type, addend: r.addend))
            case (.placeRelative32, .pair(let add, let subtract)?):
                // GNU as names the label it makes for `.` ".L0 ".
                let place = w.symbols.count
                w.symbols.append(.init(name: ".L0 ", section: 0, value: offset, binding: .local))
                w.relocations.append(.init(section: 0, offset: offset, symbol: text, type: add, addend: r.addend))
                w.relocations.append(.init(section: 0, offset: offset, symbol: place, type: subtract, addend: 0))
            case (.placeRelative32, nil):
                preconditionFailure("\(arch) has no place-relative relocation")
            }
        }
        return w.write()
    }
}

/// `gen --emit raw`: the bare `.rodata` blob, and a description of where everything is in it.
public enum RawEmitter {
    /// What `FILE.layout.json` holds: target parameters, every label's offset and size, and the
    /// relocation sites (where `_text` + addend must be stored: pointer-sized, or 32-bit minus the
    /// site's own address for place-relative entries).
    public struct Description: Codable, Equatable, Sendable {
        /// Where one array lies in the blob.
        public struct Label: Codable, Equatable, Sendable {
            /// The array's label (`kallsyms_names`).
            public var name: String
            /// Its offset from the start of the blob.
            public var offset: Int
            /// Bytes to the next label (data plus any reserved room).
            public var size: Int
        }
        /// A place the loader must fill with an address.
        public struct Relocation: Codable, Equatable, Sendable {
            /// The place's offset from the start of the blob.
            public var offset: Int
            /// The symbol whose address is stored (always `_text`).
            public var symbol: String
            /// What is added to the symbol's address.
            public var addend: Int64
            /// Bytes stored: the pointer size, or 4 for a place-relative entry.
            public var size: Int
            /// True when the place's own address is subtracted (7.0's `--pc-relative`).
            public var pcRelative: Bool

            enum CodingKeys: String, CodingKey {
                case offset, symbol, addend, size
                case pcRelative = "pc_relative"
            }
        }
        /// The target's name (`x86_64`), when the blob was made for a named target.
        public var arch: String?
        /// The target's pointer size in bytes.
        public var pointerSize: Int
        /// `little` or `big`.
        public var endianness: String
        /// The alignment every label has, and the blob needs.
        public var alignment: Int
        /// The blob's size in bytes.
        public var size: Int
        /// True when each relocated place already holds its addend (REL targets); a loader
        /// adds to it rather than overwriting it.
        public var addendInData: Bool
        /// The table format in words (``TableFormat/description``).
        public var format: String
        /// The arrays, in blob order.
        public var labels: [Label]
        /// The places to fill, in blob order.
        public var relocations: [Relocation]

        enum CodingKeys: String, CodingKey {
            case arch
            case pointerSize = "pointer_size"
            case endianness, alignment, size
            case addendInData = "addend_in_data"
            case format, labels, relocations
        }
    }

    /// Describes a layout for `FILE.layout.json`.
    ///
    /// - Parameters:
    ///   - layout: The table's layout.
    ///   - arch: The target it was made for, or nil when it was made from a bare pointer size
    ///     and byte order.
    /// - Returns: Its labels, relocations and target parameters.
    public static func description(_ layout: BinaryLayout, arch: Architecture?) -> Description {
        Description(
            arch: arch?.rawValue, pointerSize: layout.pointerSize, endianness: layout.byteOrder.rawValue,
            alignment: layout.alignment, size: layout.bytes.count, addendInData: arch.map { !$0.usesRela } ?? false,
            format: layout.format.description,
            labels: layout.labels.map { .init(name: $0.name, offset: $0.offset, size: $0.size) },
            relocations: layout.relocations.map {
                .init(
                    offset: $0.offset, symbol: "_text", addend: $0.addend, size: $0.kind == .pointer ? layout.pointerSize : 4,
                    pcRelative: $0.kind == .placeRelative32)
            })
    }

    /// The description as JSON (keys sorted, so the bytes are deterministic).
    ///
    /// - Parameters:
    ///   - layout: The table's layout.
    ///   - arch: The target it was made for, or nil.
    /// - Returns: The text of `FILE.layout.json`.
    public static func layoutDescription(_ layout: BinaryLayout, arch: Architecture?) -> String {
        JSONOutput.string(description(layout, arch: arch))
    }
}
