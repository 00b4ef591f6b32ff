import Foundation

/// Every JSON document the project writes goes through here: Codable values, keys sorted, so the
/// same value always gives the same bytes.
///
/// Symbol names are bytes, not text. In JSON a name is a string whose code points are its bytes
/// (each byte 0x00–0xFF becomes U+0000–U+00FF, "Latin-1"), so any name round-trips exactly:
/// `SymbolNameJSON.decode` maps the code points back. ASCII names read as themselves.
package enum JSONOutput {
    /// `value` as pretty-printed JSON with sorted keys and a final newline.
    package static func data<T: Encodable>(_ value: T, pretty: Bool = true) -> Data {
        let e = JSONEncoder()
        e.outputFormatting = pretty ? [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        // Encoding our own value types cannot fail: they hold only strings, numbers and arrays.
        var d = try! e.encode(value)
        d.append(0x0A)
        return d
    }

    /// A JSON array with one compact element a line: long listings stay readable line by line.
    package static func lines<S: Sequence>(_ items: S) -> [UInt8] where S.Element: Encodable {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var out = Array("[\n".utf8)
        var first = true
        for item in items {
            if !first { out += Array(",\n".utf8) }
            first = false
            out += try! e.encode(item)
        }
        out += Array((first ? "]\n" : "\n]\n").utf8)
        return out
    }

    package static func string<T: Encodable>(_ value: T, pretty: Bool = true) -> String {
        String(decoding: data(value, pretty: pretty), as: UTF8.self)
    }
}

/// A symbol name in JSON: its bytes as the code points U+0000–U+00FF.
///
/// Symbol names are bytes, not text, and the JSON the command writes (`dump --format json`,
/// `diff --json`) must give them back exactly: each byte 0x00–0xFF becomes the code
/// point U+0000–U+00FF ("Latin-1"), so ASCII names read as themselves and any other name
/// round-trips.
public struct SymbolNameJSON: Codable, Hashable, Sendable {
    /// The name's bytes.
    public var bytes: [UInt8]

    /// Wraps a name for encoding.
    ///
    /// - Parameter bytes: The name's bytes (``SymbolList/name(_:)``).
    public init<C: Collection>(_ bytes: C) where C.Element == UInt8 { self.bytes = Array(bytes) }

    /// The JSON string of a name, one code point per byte.
    ///
    /// - Parameter bytes: The name's bytes.
    /// - Returns: A string whose code points are the bytes.
    public static func encode<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        var s = String.UnicodeScalarView()
        for b in bytes { s.append(Unicode.Scalar(b)) }
        return String(s)
    }

    /// The bytes of a name written by ``encode(_:)``.
    ///
    /// - Parameter s: A string from our JSON.
    /// - Returns: One byte per code point, or nil when a code point is above U+00FF.
    public static func decode(_ s: String) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(s.unicodeScalars.count)
        for u in s.unicodeScalars {
            guard u.value <= 0xFF else { return nil }
            out.append(UInt8(u.value))
        }
        return out
    }

    /// Reads a name from a JSON string.
    ///
    /// - Parameter decoder: The decoder positioned at the string.
    /// - Throws: `DecodingError.dataCorrupted` when a code point is above U+00FF (not a name we
    ///   wrote), or the decoder's error when the value is not a string.
    public init(from decoder: Decoder) throws {
        let s = try decoder.singleValueContainer().decode(String.self)
        guard let b = Self.decode(s) else {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: "a symbol name has a code point above U+00FF"))
        }
        bytes = b
    }

    /// Writes the name as a JSON string, one code point per byte.
    ///
    /// - Parameter encoder: The encoder.
    /// - Throws: The encoder's error.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(Self.encode(bytes))
    }
}
