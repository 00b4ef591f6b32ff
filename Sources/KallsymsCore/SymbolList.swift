/// A list of symbols kept as flat arrays: one byte arena for all names, so no symbol costs an
/// allocation of its own and hot loops walk contiguous memory.
///
/// Each entry is `(address, type, name)`. The type byte and the name are stored together as the
/// kernel's working string `type || name`, because that is the string the token compression and
/// the table comments use. Entries refer to ranges of the arena, so reordering a list (the
/// address sort) moves 16 bytes per symbol and shares the arena instead of copying it.
public struct SymbolList: Sendable {
    /// The arena: every symbol's `type || name` lies somewhere in it.
    package private(set) var bytes: [UInt8] = []
    /// `starts[i] ..< ends[i]` is symbol i's `type || name` in `bytes`. `package`: the arena's
    /// layout is ours to change; users read names through `name(_:)` and `nameString(_:)`.
    package private(set) var starts: [UInt32] = []
    package private(set) var ends: [UInt32] = []
    public private(set) var addresses: [UInt64] = []

    public init() {}

    public var count: Int { addresses.count }

    /// The same symbols at other addresses (one per symbol).
    public func withAddresses(_ new: [UInt64]) -> SymbolList {
        precondition(new.count == count)
        var copy = self
        copy.addresses = new
        return copy
    }
    public var isEmpty: Bool { addresses.isEmpty }

    public mutating func reserveCapacity(symbols: Int, bytes byteCount: Int) {
        addresses.reserveCapacity(symbols)
        starts.reserveCapacity(symbols)
        ends.reserveCapacity(symbols)
        bytes.reserveCapacity(byteCount)
    }

    @inline(__always)
    mutating func appendEntry(_ address: UInt64, _ start: Int) {
        addresses.append(address)
        starts.append(UInt32(truncatingIfNeeded: start))
        ends.append(UInt32(truncatingIfNeeded: bytes.count))
    }

    public mutating func append(address: UInt64, type: UInt8, name: UnsafeBufferPointer<UInt8>) {
        let start = bytes.count
        bytes.append(type)
        bytes.append(contentsOf: name)
        appendEntry(address, start)
    }

    public mutating func append<C: Collection>(address: UInt64, type: UInt8, name: C)
    where C.Element == UInt8 {
        let start = bytes.count
        bytes.append(type)
        bytes.append(contentsOf: name)
        appendEntry(address, start)
    }

    /// Appends a symbol from its working string `type || name` (at least one byte).
    public mutating func append(address: UInt64, typeAndName: ArraySlice<UInt8>) {
        precondition(!typeAndName.isEmpty)
        let start = bytes.count
        bytes.append(contentsOf: typeAndName)
        appendEntry(address, start)
    }

    /// The arena range of symbol i's `type || name`.
    @inline(__always)
    package func range(_ i: Int) -> Range<Int> { Int(starts[i]) ..< Int(ends[i]) }

    public func type(_ i: Int) -> UInt8 { bytes[Int(starts[i])] }

    /// The name without its type byte.
    public func name(_ i: Int) -> ArraySlice<UInt8> { bytes[Int(starts[i]) + 1 ..< Int(ends[i])] }

    public func nameString(_ i: Int) -> String { String(decoding: name(i), as: UTF8.self) }

    /// `type || name`, the string the kernel compresses.
    public func typeAndName(_ i: Int) -> ArraySlice<UInt8> { bytes[range(i)] }

    public func nameLength(_ i: Int) -> Int { Int(ends[i] - starts[i]) - 1 }

    /// Overwrites symbol i's type byte (the kernel does this for absolute per-cpu symbols).
    public mutating func setType(_ i: Int, _ type: UInt8) { bytes[Int(starts[i])] = type }

    /// The symbols at `order`, in that order, sharing this list's arena.
    public func permuted<S: Sequence>(by order: S) -> SymbolList where S.Element: BinaryInteger {
        var out = SymbolList()
        out.bytes = bytes
        out.addresses.reserveCapacity(count)
        out.starts.reserveCapacity(count)
        out.ends.reserveCapacity(count)
        for j in order {
            let i = Int(j)
            out.addresses.append(addresses[i])
            out.starts.append(starts[i])
            out.ends.append(ends[i])
        }
        return out
    }

    /// Symbols `range`, sharing the arena.
    public func slice(_ range: Range<Int>) -> SymbolList { permuted(by: range) }
}

extension SymbolList: Equatable {
    /// Two lists are equal when they hold the same entries in the same order, however their
    /// arenas are laid out.
    public static func == (a: SymbolList, b: SymbolList) -> Bool {
        guard a.count == b.count, a.addresses == b.addresses else { return false }
        for i in 0 ..< a.count where a.typeAndName(i) != b.typeAndName(i) { return false }
        return true
    }
}
