/// The order of a multi-byte integer's bytes in a file. Carried with the data (as Rust's `object`
/// does), so no reader or writer ever guesses it.
public enum ByteOrder: String, Sendable, Hashable, Codable, CaseIterable, CustomStringConvertible {
    /// Least significant byte first (`ELFDATA2LSB`).
    case little
    /// Most significant byte first (`ELFDATA2MSB`).
    case big

    /// "little-endian" or "big-endian", as `info` prints it.
    public var description: String { rawValue + "-endian" }

    /// Decodes `size` bytes (1...8) starting at `p`.
    @inlinable @inline(__always)
    package func load(_ p: UnsafePointer<UInt8>, _ size: Int) -> UInt64 {
        var v: UInt64 = 0
        if self == .little {
            for i in stride(from: size - 1, through: 0, by: -1) { v = (v << 8) | UInt64(p[i]) }
        } else {
            for i in 0 ..< size { v = (v << 8) | UInt64(p[i]) }
        }
        return v
    }

    /// The `k`-th byte (0 first in the file) of `value` stored in `size` bytes.
    @inlinable @inline(__always)
    package func byte(_ value: UInt64, _ k: Int, of size: Int) -> UInt8 {
        UInt8(truncatingIfNeeded: value >> UInt64((self == .little ? k : size - 1 - k) * 8))
    }
}

/// A file that stopped making sense at a byte offset: what was expected there. The one error of
/// every byte-level reader (ELF, kallsyms arrays, containers); callers that know the file's name
/// turn it into a `KallsymsError` naming the file, in one place.
public struct FormatError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The byte offset in the file where the bytes stopped making sense.
    public var offset: Int
    /// What was expected there, or what was found instead.
    public var message: String
    /// An error at `offset`.
    /// - Parameters:
    ///   - message: What was expected at `offset`.
    ///   - offset: The offset in the file (not in a slice of it).
    public init(_ message: String, offset: Int) {
        self.message = message
        self.offset = offset
    }
    /// The offset in decimal and hex, then the message.
    public var description: String { "byte offset \(offset) (0x\(String(offset, radix: 16))): \(message)" }
}

/// The name ELF code has always used for `FormatError`.
package typealias ELFError = FormatError

/// The one bounds-checked reader of fixed-size integers: any contiguous bytes (an array, a slice,
/// a buffer pointer, a mapped file) in one `ByteOrder`. Offsets are the collection's own indices,
/// so an error names the offset in the file. Every read that would leave the bytes throws;
/// nothing traps on hostile input.
package struct ByteReader<Bytes: RandomAccessCollection>: @unchecked Sendable
where Bytes.Element == UInt8, Bytes.Index == Int {
    package let bytes: Bytes
    package let order: ByteOrder

    @inlinable
    package init(_ bytes: Bytes, order: ByteOrder) {
        self.bytes = bytes
        self.order = order
    }

    @inlinable package var count: Int { bytes.count }
    @inlinable package var startIndex: Int { bytes.startIndex }
    @inlinable package var endIndex: Int { bytes.endIndex }

    /// True when `size` bytes at `offset` lie inside the bytes.
    @inlinable @inline(__always)
    package func contains(_ offset: Int, _ size: Int) -> Bool {
        offset >= bytes.startIndex && size >= 0 && offset <= bytes.endIndex && size <= bytes.endIndex - offset
    }

    @inlinable @inline(__always)
    package func check(_ offset: Int, _ size: Int, _ what: @autoclosure () -> String) throws(FormatError) {
        guard contains(offset, size) else {
            throw FormatError("\(what()) (\(size) bytes) lies outside the file (\(bytes.count) bytes)", offset: offset)
        }
    }

    /// An unsigned integer of `size` (1...8) bytes.
    @inlinable @inline(__always)
    package func integer(_ offset: Int, _ size: Int) throws(FormatError) -> UInt64 {
        try check(offset, size, "a \(size)-byte field")
        if let v = bytes.withContiguousStorageIfAvailable({ order.load($0.baseAddress! + (offset - bytes.startIndex), size) }) {
            return v
        }
        var v: UInt64 = 0
        for i in 0 ..< size {
            v = (v << 8) | UInt64(bytes[offset + (order == .little ? size - 1 - i : i)])
        }
        return v
    }

    @inlinable package func u8(_ o: Int) throws(FormatError) -> UInt8 { UInt8(try integer(o, 1)) }
    @inlinable package func u16(_ o: Int) throws(FormatError) -> UInt16 { UInt16(try integer(o, 2)) }
    @inlinable package func u32(_ o: Int) throws(FormatError) -> UInt32 { UInt32(try integer(o, 4)) }
    @inlinable package func u64(_ o: Int) throws(FormatError) -> UInt64 { try integer(o, 8) }
    @inlinable package func i32(_ o: Int) throws(FormatError) -> Int32 { Int32(bitPattern: try u32(o)) }
    /// A pointer-sized (4 or 8 bytes) word.
    @inlinable package func word(_ o: Int, _ size: Int) throws(FormatError) -> UInt64 { try integer(o, size) }

    package func slice(_ offset: Int, _ size: Int, _ what: @autoclosure () -> String) throws(FormatError)
        -> Bytes.SubSequence
    {
        try check(offset, size, what())
        return bytes[offset ..< offset + size]
    }

    /// A NUL-terminated string starting at `offset`, which must end before `limit`.
    package func cString(_ offset: Int, limit: Int) throws(FormatError) -> Bytes.SubSequence {
        guard offset >= bytes.startIndex, offset < limit, limit <= bytes.endIndex else {
            throw FormatError("string offset outside its table", offset: offset)
        }
        var end = offset
        while end < limit && bytes[end] != 0 { end += 1 }
        guard end < limit else { throw FormatError("string is not NUL-terminated", offset: offset) }
        return bytes[offset ..< end]
    }

    /// True when every byte in `from ..< to` is zero (false when the range leaves the bytes).
    package func zeros(_ from: Int, _ to: Int) -> Bool {
        guard from <= to, contains(from, to - from) else { return false }
        for i in from ..< to where bytes[i] != 0 { return false }
        return true
    }
}

/// The reader ELF files use: the whole file in memory.
package typealias ByteCursor = ByteReader<[UInt8]>

/// Appends integers in one byte order: the writing half of `ByteReader`.
package struct ByteWriter {
    package private(set) var bytes: [UInt8] = []
    package let order: ByteOrder
    package init(order: ByteOrder) { self.order = order }
    package var count: Int { bytes.count }

    package mutating func u8(_ v: UInt8) { bytes.append(v) }
    package mutating func u16(_ v: UInt16) { integer(UInt64(v), 2) }
    package mutating func u32(_ v: UInt32) { integer(UInt64(v), 4) }
    package mutating func u64(_ v: UInt64) { integer(v, 8) }
    package mutating func integer(_ v: UInt64, _ size: Int) {
        for k in 0 ..< size { bytes.append(order.byte(v, k, of: size)) }
    }
    package mutating func bytes<C: Collection>(_ b: C) where C.Element == UInt8 { bytes.append(contentsOf: b) }
    package mutating func zeros(_ n: Int) { bytes.append(contentsOf: repeatElement(0, count: n)) }
    package mutating func align(_ a: Int) {
        let pad = (a - bytes.count % a) % a
        zeros(pad)
    }
    /// Overwrites `size` bytes at `offset` (already written) with `v`.
    package mutating func patch(_ v: UInt64, at offset: Int, _ size: Int) {
        for k in 0 ..< size { bytes[offset + k] = order.byte(v, k, of: size) }
    }
}
