import ELFKit
import KallsymsCore

/// What the reader found out about a table's layout — decided from the data, never from the
/// version banner.
public struct TableLayout: Sendable, Equatable, CustomStringConvertible {
    /// The order of the arrays, which changed twice.
    public enum ArrayOrder: String, Sendable {
        /// before 6.2: addresses/offsets, relative_base, num_syms, names, markers, token_table,
        /// token_index.
        case before62 = "before 6.2"
        /// 6.2–6.3: as before, with `kallsyms_seqs_of_names` between markers and token_table.
        case v62 = "6.2-6.3"
        /// 6.4 and later: num_syms, names, markers, token_table, token_index, offsets/addresses,
        /// relative_base, seqs_of_names.
        case v64 = "6.4+"
    }

    /// How addresses are stored.
    public enum AddressKind: String, Sendable {
        /// `kallsyms_addresses[]`, pointer-sized absolute values (before 6.11, without
        /// CONFIG_KALLSYMS_BASE_RELATIVE).
        case absolute
        /// `kallsyms_offsets[]` + `kallsyms_relative_base`: base + u32 (4.6 ... 6.x).
        case baseRelative = "base-relative"
        /// Base-relative with CONFIG_KALLSYMS_ABSOLUTE_PERCPU (non-negative words are absolute).
        case absolutePercpu = "absolute-percpu"
        /// 7.0 and later: each s32 is relative to its own position.
        case placeRelative = "place-relative"
        /// 7.0 and later without `--pc-relative` (32-bit, not relocatable): each u32 is the
        /// address.
        case absolute32 = "absolute 32-bit"
    }

    public var order: ArrayOrder
    public var addressKind: AddressKind
    public var byteOrder: ByteOrder
    /// 4 or 8: the width of pointers and of absolute addresses.
    public var pointerSize: Int
    /// 4, or the pointer size before 4.20.
    public var markerSize: Int
    /// True when some name uses the 2-byte length prefix (6.1+ "big" names).
    public var twoByteLengthsSeen: Bool
    public var hasSeqsOfNames: Bool
    /// Where `kallsyms_relative_base` came from when the file holds zero there (relocatable
    /// kernels fill it in at boot): the relocation record that targets it. Nil: stored.
    public var relativeBaseSource: String?
    public var relativeBaseRecovered: Bool { relativeBaseSource != nil }

    /// File offset (within the decoded image bytes) of each array the table has.
    public var offsets: [KallsymsArray: Int]
    public var namesSize: Int
    public var tokenTableSize: Int

    /// The array that holds the addresses: `kallsyms_addresses` or `kallsyms_offsets`.
    public var addressArray: KallsymsArray { addressKind == .absolute ? .addresses : .offsets }

    public var description: String {
        var parts = [
            "array order \(order.rawValue)", addressKind.rawValue,
            "\(byteOrder)", "\(pointerSize * 8)-bit",
        ]
        if markerSize != 4 { parts.append("\(markerSize)-byte markers") }
        parts.append(twoByteLengthsSeen ? "2-byte name lengths" : "1-byte name lengths")
        parts.append(hasSeqsOfNames ? "seqs_of_names" : "no seqs_of_names")
        if relativeBaseRecovered { parts.append("relative_base recovered from relocations") }
        return parts.joined(separator: ", ")
    }
}
