import ELFKit
import KallsymsCore

/// What the reader found out about a table's layout — decided from the data, never from the
/// version banner.
public struct TableLayout: Sendable, Equatable, CustomStringConvertible {
    /// The order of the arrays (the model's `ArrayOrder`, docs/table-format.md).
    public typealias ArrayOrder = KallsymsCore.ArrayOrder
    /// How addresses are stored (the model's `Addressing`).
    public typealias AddressKind = Addressing

    /// The order the arrays are linked in, which dates the generator (before 6.2, 6.2-6.3, 6.4+).
    public var order: ArrayOrder
    /// How addresses are stored: absolute, base-relative, absolute-percpu, place-relative or
    /// absolute 32-bit.
    public var addressKind: AddressKind
    /// The byte order of the table's words.
    public var byteOrder: ByteOrder
    /// 4 or 8: the width of pointers and of absolute addresses.
    public var pointerSize: Int
    /// 4, or the pointer size before 4.20.
    public var markerSize: Int
    /// True when some name uses the 2-byte length prefix (6.1+ "big" names).
    public var twoByteLengthsSeen: Bool
    /// True when the table has `kallsyms_seqs_of_names` (6.2+): the name order for lookups by
    /// name. Without it the reader computes the order the kernel would.
    public var hasSeqsOfNames: Bool
    /// Where `kallsyms_relative_base` came from when the file holds zero there (relocatable
    /// kernels fill it in at boot): the relocation record that targets it. Nil: stored.
    public var relativeBaseSource: String?
    /// True when `kallsyms_relative_base` was zero in the file and its value came from the
    /// image's relocation records (`relativeBaseSource`).
    public var relativeBaseRecovered: Bool { relativeBaseSource != nil }

    /// File offset (within the decoded image bytes) of each array the table has.
    public var offsets: [KallsymsArray: Int]
    /// The size of `kallsyms_names` in bytes.
    public var namesSize: Int
    /// The size of `kallsyms_token_table` in bytes.
    public var tokenTableSize: Int

    /// The layout in the model's terms. Name lengths say 1-byte unless a 2-byte one was seen.
    public var format: TableFormat {
        TableFormat(
            order: order, addressing: addressKind, markerWidth: markerSize == 4 ? .fourBytes : .pointer,
            nameLengths: twoByteLengthsSeen ? .uleb128 : .oneByte,
            labelAlignment: addressKind == .placeRelative || addressKind == .absolute32 ? .four : .pointer)
    }

    /// The array that holds the addresses: `kallsyms_addresses` or `kallsyms_offsets`.
    public var addressArray: KallsymsArray { addressKind == .absolute ? .addresses : .offsets }

    /// The layout in one line, as `info` prints it ("array order 6.4+, base-relative,
    /// little-endian, 64-bit, …").
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
