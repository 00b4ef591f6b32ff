import ELFKit

// The kallsyms table format as one typed model: which arrays a kernel links in, in which order,
// with which alignment, and how each array's elements are encoded. Every encoder, the decoder,
// the reader's locator, the link driver's reservations and the reports read it from here.
// docs/table-format.md describes the same model in prose, era by era.

/// One array of the table, named by the label the kernel gives it.
public enum KallsymsArray: String, CaseIterable, Sendable, Hashable, Codable, CodingKeyRepresentable,
    CustomStringConvertible
{
    /// The number of symbols (a 32-bit word).
    case numSyms = "kallsyms_num_syms"
    /// Each symbol's `type || name`, token-compressed, behind a length prefix.
    case names = "kallsyms_names"
    /// The offset in `kallsyms_names` of every 256th symbol, so a lookup skips to its name.
    case markers = "kallsyms_markers"
    /// 256 NUL-terminated token expansions.
    case tokenTable = "kallsyms_token_table"
    /// The offset of each token in `kallsyms_token_table` (16-bit).
    case tokenIndex = "kallsyms_token_index"
    /// Pointer-sized absolute addresses (before 6.11, without base-relative addressing).
    case addresses = "kallsyms_addresses"
    /// 32-bit address words: offsets from the relative base, or place-relative (7.0).
    case offsets = "kallsyms_offsets"
    /// The pointer the offsets are relative to (4.6 to 6.19).
    case relativeBase = "kallsyms_relative_base"
    /// Address-order indices in name order, 3 bytes each, for `kallsyms_lookup_name` (6.2 and later).
    case seqsOfNames = "kallsyms_seqs_of_names"

    /// The assembler label (and ELF symbol) of the array.
    public var label: String { rawValue }
    /// The label, as reports print it.
    public var description: String { rawValue }

    /// The array an ELF symbol or assembler label names, for readers that find tables by their
    /// symbols.
    ///
    /// - Parameter label: A symbol name such as `kallsyms_names`; nil for any other name.
    public init?(label: some StringProtocol) { self.init(rawValue: String(label)) }

    /// Labels as bytes, for matching symbol names without building strings.
    package static let labels: [[UInt8]] = allCases.map { Array($0.rawValue.utf8) }

    /// True when `name` is one of the labels.
    package static func isLabel<C: Collection>(_ name: C) -> Bool where C.Element == UInt8 {
        labels.contains { $0.elementsEqual(name) }
    }

    /// True for arrays whose size follows the number or the length of the symbols (what a
    /// reservation must leave room for); `num_syms`, `token_index` and `relative_base` have fixed
    /// sizes.
    public var growsWithSymbols: Bool {
        switch self {
        case .names, .markers, .tokenTable, .addresses, .offsets, .seqsOfNames: true
        case .numSyms, .tokenIndex, .relativeBase: false
        }
    }
}

/// The length in front of each compressed name in `kallsyms_names`.
public enum NameLengthPrefix: String, Sendable, Hashable, Codable {
    /// One byte (before 6.1): names of at most 255 token bytes.
    case oneByte = "1-byte"
    /// ULEB128 of one or two bytes (6.1, "big" names): 0x80 set in the first byte means a second
    /// byte holds bits 7–13, so lengths up to 0x3FFF.
    case uleb128 = "1- or 2-byte"

    /// The largest length the prefix can carry.
    public var maxLength: Int { self == .oneByte ? 0xFF : 0x3FFF }

    /// Reads one name's length prefix, as the kernel's `kallsyms_expand_symbol` does.
    ///
    /// - Parameters:
    ///   - names: The bytes of `kallsyms_names` (or any collection indexed from its start).
    ///   - offset: Where the name's prefix starts.
    /// - Returns: The name's length in token bytes and the prefix's own size (1 or 2); nil when
    ///   `offset` is outside `names` or the bytes end inside the prefix.
    @inlinable @inline(__always)
    public func decode<C: RandomAccessCollection>(_ names: C, at offset: Int) -> (length: Int, prefixSize: Int)?
    where C.Element == UInt8, C.Index == Int {
        guard offset >= names.startIndex, offset < names.endIndex else { return nil }
        let b0 = Int(names[offset])
        guard self == .uleb128, b0 & 0x80 != 0 else { return (b0, 1) }
        guard offset + 1 < names.endIndex else { return nil }
        return ((b0 & 0x7F) | Int(names[offset + 1]) << 7, 2)
    }

    /// The prefix the generator writes in front of a name.
    ///
    /// - Parameter length: The name's length in token bytes, at most ``maxLength``.
    /// - Returns: The first prefix byte, and the second when the length needs two.
    @inlinable
    public func encode(_ length: Int) -> (first: UInt8, second: UInt8?) {
        if self == .oneByte || length <= 0x7F { return (UInt8(truncatingIfNeeded: length), nil) }
        return (UInt8(truncatingIfNeeded: (length & 0x7F) | 0x80), UInt8(truncatingIfNeeded: (length >> 7) & 0x7F))
    }
}

/// The width of each `kallsyms_markers` entry.
public enum MarkerWidth: String, Sendable, Hashable, Codable {
    /// `unsigned long` before 4.20.
    case pointer
    /// `unsigned int` from 4.20.
    case fourBytes = "4-byte"

    /// The size of one marker on a target.
    ///
    /// - Parameter pointerSize: The target's pointer size in bytes (4 or 8).
    /// - Returns: The marker's size in bytes.
    public func size(pointerSize: Int) -> Int { self == .pointer ? pointerSize : 4 }
}

/// How a table stores its symbols' addresses.
public enum Addressing: String, CaseIterable, Sendable, Hashable, Codable {
    /// `kallsyms_addresses[]`: pointer-sized absolute values, relocated against `_text` (before
    /// 6.11, without CONFIG_KALLSYMS_BASE_RELATIVE).
    case absolute
    /// `kallsyms_offsets[]` (u32) added to `kallsyms_relative_base` (4.6 to 6.19).
    case baseRelative = "base-relative"
    /// Base-relative with CONFIG_KALLSYMS_ABSOLUTE_PERCPU (4.6 to 6.14): a non-negative word is an
    /// absolute value, a negative one is `relative_base - 1 - word`.
    case absolutePercpu = "absolute-percpu"
    /// 7.0 with `--pc-relative` (64-bit or relocatable kernels): each s32 is relative to its own
    /// place, `.long _text - . + (N)`; no `kallsyms_relative_base`.
    case placeRelative = "place-relative"
    /// 7.0 without `--pc-relative`: each entry is the low 32 bits of the absolute address.
    case absolute32 = "absolute 32-bit"

    /// The arrays that hold the addresses, in order.
    public var arrays: [KallsymsArray] {
        switch self {
        case .absolute: [.addresses]
        case .baseRelative, .absolutePercpu: [.offsets, .relativeBase]
        case .placeRelative, .absolute32: [.offsets]
        }
    }
}

/// The order of the arrays, which changed twice.
public enum ArrayOrder: String, Sendable, Hashable, Codable, CaseIterable {
    /// Before 6.2: addresses (or offsets and relative_base), num_syms, names, markers,
    /// token_table, token_index.
    case before6_2 = "before 6.2"
    /// 6.2–6.3 (and Debian's 6.1.y): as before, with seqs_of_names between markers and
    /// token_table.
    case v6_2 = "6.2-6.3"
    /// 6.4 and later: num_syms, names, markers, token_table, token_index, the address arrays,
    /// seqs_of_names.
    case v6_4 = "6.4+"

    /// True when the order includes `kallsyms_seqs_of_names` (6.2 and later).
    public var hasSeqsOfNames: Bool { self != .before6_2 }
}

/// The alignment of each label.
public enum LabelAlignment: String, Sendable, Hashable, Codable {
    /// `ALGN`: `.balign 8` on 64-bit, `.balign 4` on 32-bit (before 7.0).
    case pointer
    /// `.balign 4` everywhere (7.0 and later).
    case four

    /// The alignment on a target.
    ///
    /// - Parameter pointerSize: The target's pointer size in bytes (4 or 8).
    /// - Returns: The alignment of every label, in bytes.
    public func bytes(pointerSize: Int) -> Int { self == .pointer ? pointerSize : 4 }
}

/// One complete description of a table's binary format: what the generator writes and what the
/// reader must find. Everything else about a table (its symbols, tokens and offsets) is data.
///
/// ``KernelEra/format(_:)`` gives the format of a kernel release; the reader tries every one of
/// ``KernelEra/allFormats`` on an image.
public struct TableFormat: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The order of the arrays.
    public var order: ArrayOrder
    /// How the addresses are stored.
    public var addressing: Addressing
    /// The width of a `kallsyms_markers` entry.
    public var markerWidth: MarkerWidth
    /// The length prefix in front of each name in `kallsyms_names`.
    public var nameLengths: NameLengthPrefix
    /// The alignment of every array's label.
    public var labelAlignment: LabelAlignment

    /// A format from its parts; the defaults are those of every kernel since 6.1 before 7.0.
    ///
    /// - Parameters:
    ///   - order: The order of the arrays.
    ///   - addressing: How the addresses are stored.
    ///   - markerWidth: The width of a marker.
    ///   - nameLengths: The length prefix of a name.
    ///   - labelAlignment: The alignment of every label.
    public init(
        order: ArrayOrder, addressing: Addressing, markerWidth: MarkerWidth = .fourBytes,
        nameLengths: NameLengthPrefix = .uleb128, labelAlignment: LabelAlignment = .pointer
    ) {
        self.order = order
        self.addressing = addressing
        self.markerWidth = markerWidth
        self.nameLengths = nameLengths
        self.labelAlignment = labelAlignment
    }

    /// The arrays in the order the kernel links them: the schedule every encoder follows and the
    /// reader expects.
    public var arrays: [KallsymsArray] {
        let addresses = addressing.arrays
        switch order {
        case .before6_2: return addresses + [.numSyms, .names, .markers, .tokenTable, .tokenIndex]
        case .v6_2: return addresses + [.numSyms, .names, .markers, .seqsOfNames, .tokenTable, .tokenIndex]
        case .v6_4: return [.numSyms, .names, .markers, .tokenTable, .tokenIndex] + addresses + [.seqsOfNames]
        }
    }

    /// True when the table has `kallsyms_seqs_of_names` (6.2 and later).
    public var hasSeqsOfNames: Bool { order.hasSeqsOfNames }

    /// The size of one element of an array on a target: what a reader needs to step through it.
    ///
    /// - Parameters:
    ///   - array: The array.
    ///   - pointerSize: The target's pointer size in bytes (4 or 8).
    /// - Returns: The element's size in bytes, or nil for the byte streams (names, token table).
    public func elementSize(_ array: KallsymsArray, pointerSize: Int) -> Int? {
        switch array {
        case .numSyms, .offsets: 4
        case .markers: markerWidth.size(pointerSize: pointerSize)
        case .tokenIndex: 2
        case .addresses, .relativeBase: pointerSize
        case .seqsOfNames: 3
        case .names, .tokenTable: nil
        }
    }

    /// The format in words, for reports (`array order 6.4+, base-relative, 1- or 2-byte name lengths`).
    public var description: String {
        var parts = ["array order \(order.rawValue)", addressing.rawValue]
        if markerWidth == .pointer { parts.append("pointer-sized markers") }
        parts.append("\(nameLengths.rawValue) name lengths")
        if labelAlignment == .four { parts.append("4-byte label alignment") }
        return parts.joined(separator: ", ")
    }
}

/// The kernel releases where the table's format changed, each with what it can look like.
public enum KernelEra: String, CaseIterable, Sendable, Hashable, Codable {
    /// Compressed names with a token table; absolute addresses; pointer-sized markers.
    case v2_6_10 = "2.6.10"
    /// CONFIG_KALLSYMS_BASE_RELATIVE: offsets from `kallsyms_relative_base`, optionally with
    /// absolute per-cpu symbols.
    case v4_6 = "4.6"
    /// Markers become `unsigned int`.
    case v4_20 = "4.20"
    /// "Big" names: a 2-byte ULEB128 length prefix.
    case v6_1 = "6.1"
    /// `kallsyms_seqs_of_names`, between markers and token_table.
    case v6_2 = "6.2"
    /// The arrays reordered: num_syms first, addresses and seqs last.
    case v6_4 = "6.4"
    /// `kallsyms_addresses` gone: always base-relative.
    case v6_11 = "6.11"
    /// CONFIG_KALLSYMS_ABSOLUTE_PERCPU gone.
    case v6_15 = "6.15"
    /// `kallsyms_relative_base` gone: place-relative offsets (or absolute 32-bit values); every
    /// label `.balign 4`.
    case v7_0 = "7.0"
    /// Same table; the generator reads the vmlinux ELF and writes its byte arrays to a `.bin`.
    case v7_3 = "7.3"

    /// The address encodings a kernel of this era can use.
    public var addressings: [Addressing] {
        switch self {
        case .v2_6_10: [.absolute]
        case .v4_6, .v4_20, .v6_1, .v6_2, .v6_4: [.absolute, .baseRelative, .absolutePercpu]
        case .v6_11: [.baseRelative, .absolutePercpu]
        case .v6_15: [.baseRelative]
        case .v7_0, .v7_3: [.placeRelative, .absolute32]
        }
    }

    /// The format a kernel of this era writes with an addressing.
    ///
    /// - Parameter addressing: One of the era's ``addressings``.
    /// - Returns: The format, or nil when the era has no such encoding.
    public func format(_ addressing: Addressing) -> TableFormat? {
        guard addressings.contains(addressing) else { return nil }
        let order: ArrayOrder =
            switch self {
            case .v2_6_10, .v4_6, .v4_20, .v6_1: .before6_2
            case .v6_2: .v6_2
            case .v6_4, .v6_11, .v6_15, .v7_0, .v7_3: .v6_4
            }
        let early = self == .v2_6_10 || self == .v4_6
        let shortNames = early || self == .v4_20
        return TableFormat(
            order: order, addressing: addressing, markerWidth: early ? .pointer : .fourBytes,
            nameLengths: shortNames ? .oneByte : .uleb128, labelAlignment: self >= .v7_0 ? .four : .pointer)
    }

    /// Every format any era can have: the reader's candidates.
    public static var allFormats: [TableFormat] {
        var seen = Set<TableFormat>()
        var out: [TableFormat] = []
        for era in allCases {
            for a in era.addressings {
                if let f = era.format(a), seen.insert(f).inserted { out.append(f) }
            }
        }
        return out
    }
}

extension KernelEra: Comparable {
    /// Eras compare by release: the order of `allCases`.
    ///
    /// - Parameters:
    ///   - a: An era.
    ///   - b: Another era.
    /// - Returns: True when `a` came before `b`.
    public static func < (a: KernelEra, b: KernelEra) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}
