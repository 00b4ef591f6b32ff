/// A growable byte buffer that hands full chunks to a sink, so output of any size streams through
/// a fixed amount of memory. Formatting writes digits directly; there is no `String` on this path.
///
/// A kernel's table assembly is hundreds of megabytes; ``AssemblyWriter/write(_:to:bin:binName:)``
/// streams it through one of these rather than building it in memory. Bytes reach the sink only
/// on ``flush()`` or when the buffer is full, so flush before reading what the sink received.
public final class ByteOutput {
    @usableFromInline var buffer: UnsafeMutablePointer<UInt8>
    @usableFromInline var used = 0
    @usableFromInline let capacity: Int
    let sink: (UnsafeRawBufferPointer) throws -> Void
    /// Bytes handed to the sink so far.
    public private(set) var flushedCount = 0
    /// Bytes written so far, flushed or not (what `ftell` says of a stream).
    public var position: Int { flushedCount + used }

    /// Makes an empty buffer in front of a sink.
    ///
    /// - Parameters:
    ///   - chunkSize: The most bytes held before they go to the sink (at least 4096).
    ///   - sink: Receives the bytes in order, in chunks of up to `chunkSize` bytes; the chunk is
    ///     valid only during the call. An error it throws comes out of the write or flush that
    ///     handed it the chunk.
    public init(chunkSize: Int = 1 << 20, sink: @escaping (UnsafeRawBufferPointer) throws -> Void) {
        capacity = max(chunkSize, 4096)
        buffer = .allocate(capacity: capacity)
        self.sink = sink
    }

    deinit { buffer.deallocate() }

    /// Collects everything written into one array: for output small enough to hold in memory.
    ///
    /// - Parameter body: Writes into the buffer it is given.
    /// - Returns: Every byte `body` wrote, in order.
    /// - Throws: Rethrows what `body` throws.
    public static func collecting(_ body: (ByteOutput) throws -> Void) rethrows -> [UInt8] {
        var result: [UInt8] = []
        let out = ByteOutput { result.append(contentsOf: $0) }
        try body(out)
        try! out.flush()
        return result
    }

    /// Hands the bytes held so far to the sink: call it when the output is complete.
    ///
    /// - Throws: What the sink throws.
    public func flush() throws {
        if used > 0 {
            let chunk = UnsafeRawBufferPointer(start: buffer, count: used)
            used = 0
            flushedCount += chunk.count
            try sink(chunk)
        }
    }

    /// Makes room for `n` more bytes (n must not exceed the chunk size).
    @inlinable @inline(__always)
    package func reserve(_ n: Int) throws {
        if used + n > capacity { try flush() }
    }

    @inlinable @inline(__always)
    package func byte(_ b: UInt8) {
        buffer[used] = b
        used += 1
    }

    /// Appends bytes of any length, flushing as the buffer fills.
    ///
    /// - Parameter bytes: The bytes to append.
    /// - Throws: What the sink throws when a full chunk is handed to it.
    public func write(_ bytes: UnsafeBufferPointer<UInt8>) throws {
        var p = 0
        while p < bytes.count {
            if used == capacity { try flush() }
            let n = min(capacity - used, bytes.count - p)
            (buffer + used).update(from: bytes.baseAddress! + p, count: n)
            used += n
            p += n
        }
    }

    /// Appends the bytes of an array, flushing as the buffer fills.
    ///
    /// - Parameter bytes: The bytes to append.
    /// - Throws: What the sink throws when a full chunk is handed to it.
    public func write(_ bytes: [UInt8]) throws { try bytes.withUnsafeBufferPointer { try write($0) } }

    /// Appends the UTF-8 of a literal without making a `String` of it.
    ///
    /// - Parameter s: The text to append.
    /// - Throws: What the sink throws when a full chunk is handed to it.
    public func write(_ s: StaticString) throws {
        try write(UnsafeBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
    }

    /// Appends the UTF-8 of a string.
    ///
    /// - Parameter s: The text to append.
    /// - Throws: What the sink throws when a full chunk is handed to it.
    public func write(_ s: String) throws {
        var s = s
        try s.withUTF8 { try write($0) }
    }

    /// Bytes already reserved for; no capacity check.
    @inlinable @inline(__always)
    package func append(_ p: UnsafePointer<UInt8>, _ n: Int) {
        (buffer + used).update(from: p, count: n)
        used += n
    }

    @inlinable @inline(__always)
    package func append(_ s: StaticString) {
        append(s.utf8Start, s.utf8CodeUnitCount)
    }

    /// `%d` of a signed value. Needs 21 reserved bytes.
    @inlinable @inline(__always)
    package func signedDecimal(_ v: Int64) {
        if v < 0 {
            byte(0x2D)
            decimal(v.magnitude)
        } else {
            decimal(UInt64(v))
        }
    }

    /// `%u` (also `%d` of a non-negative value). Needs 20 reserved bytes.
    @inlinable @inline(__always)
    package func decimal(_ v: UInt64) {
        var tmp: (UInt64, UInt64, UInt64) = (0, 0, 0)
        withUnsafeMutableBytes(of: &tmp) { t in
            var v = v
            var i = 24
            repeat {
                i -= 1
                t[i] = UInt8(truncatingIfNeeded: v % 10) &+ 0x30
                v /= 10
            } while v != 0
            append(t.baseAddress!.assumingMemoryBound(to: UInt8.self) + i, 24 - i)
        }
    }

    /// `%#llx` / `%#x`: `0` for zero, else `0x` and lowercase digits. Needs 18 reserved bytes.
    @inlinable @inline(__always)
    package func alternateHex(_ v: UInt64) {
        if v == 0 {
            byte(0x30)
            return
        }
        byte(0x30)
        byte(0x78)
        let digits = (64 - v.leadingZeroBitCount + 3) / 4
        var k = digits
        while k > 0 {
            k -= 1
            buffer[used + k] = hexDigit(UInt8(truncatingIfNeeded: v >> (UInt64(digits - 1 - k) * 4)) & 0xF)
        }
        used += digits
    }

    /// `0x%02x`. Needs 4 reserved bytes.
    @inlinable @inline(__always)
    package func hexByte(_ v: UInt8) {
        buffer[used] = 0x30
        buffer[used + 1] = 0x78
        buffer[used + 2] = hexDigit(v >> 4)
        buffer[used + 3] = hexDigit(v & 0xF)
        used += 4
    }

    @inlinable @inline(__always)
    func hexDigit(_ d: UInt8) -> UInt8 { d < 10 ? d &+ 0x30 : d &+ 0x57 }

    /// `, 0x%02x` for each byte, the bulk of a 6.12 table. Needs `6 * count + 2` reserved
    /// bytes: each item is stored as one 8-byte word and the next one overwrites its tail.
    package func commaHexBytes(_ p: UnsafePointer<UInt8>, _ count: Int) {
        let table = ByteOutput.commaHexTable
        var o = buffer + used
        for k in 0 ..< count {
            UnsafeMutableRawPointer(o).storeBytes(of: table[Int(p[k])], as: UInt64.self)
            o += 6
        }
        used += 6 * count
    }

    /// ", 0xNN" for every byte value, little-endian in a word (two spare bytes).
    static let commaHexTable: [UInt64] = (0 ..< 256).map { v -> UInt64 in
        func digit(_ d: Int) -> UInt64 { UInt64(d < 10 ? 0x30 + d : 0x57 + d) }
        let bytes: [UInt64] = [0x2C, 0x20, 0x30, 0x78, digit(v >> 4), digit(v & 0xF), 0, 0]
        var w: UInt64 = 0
        for (i, b) in bytes.enumerated() { w |= b << (8 * UInt64(i)) }
        // Byte i at bit 8i is the memory order on little-endian hosts; swap on big-endian ones.
        return UInt64(littleEndian: w)
    }
}
