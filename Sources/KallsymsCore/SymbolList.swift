/// A list of symbols kept as flat arrays: one byte arena for all names, so no symbol costs an
/// allocation of its own and hot loops walk contiguous memory.
///
/// Each entry is `(address, type, name)`. The type byte and the name are stored together as the
/// kernel's working string `type || name`, because that is the string the token compression and
/// the table comments use.
public struct SymbolList: Sendable, Equatable {
    /// `type || name` of every symbol, back to back.
    public private(set) var bytes: [UInt8] = []
    /// `starts[i] ..< starts[i + 1]` is symbol i's `type || name` in `bytes`; `count + 1` entries.
    public private(set) var starts: [UInt32] = [0]
    public private(set) var addresses: [UInt64] = []

    public init() {}

    public var count: Int { addresses.count }
    public var isEmpty: Bool { addresses.isEmpty }

    public mutating func reserveCapacity(symbols: Int, bytes byteCount: Int) {
        addresses.reserveCapacity(symbols)
        starts.reserveCapacity(symbols + 1)
        bytes.reserveCapacity(byteCount)
    }

    public mutating func append(address: UInt64, type: UInt8, name: UnsafeBufferPointer<UInt8>) {
        addresses.append(address)
        bytes.append(type)
        bytes.append(contentsOf: name)
        starts.append(UInt32(truncatingIfNeeded: bytes.count))
    }

    public mutating func append<C: Collection>(address: UInt64, type: UInt8, name: C)
    where C.Element == UInt8 {
        addresses.append(address)
        bytes.append(type)
        bytes.append(contentsOf: name)
        starts.append(UInt32(truncatingIfNeeded: bytes.count))
    }

    /// Appends a symbol from its working string `type || name` (at least one byte).
    public mutating func append(address: UInt64, typeAndName: ArraySlice<UInt8>) {
        precondition(!typeAndName.isEmpty)
        addresses.append(address)
        bytes.append(contentsOf: typeAndName)
        starts.append(UInt32(truncatingIfNeeded: bytes.count))
    }

    public func type(_ i: Int) -> UInt8 { bytes[Int(starts[i])] }

    /// The name without its type byte.
    public func name(_ i: Int) -> ArraySlice<UInt8> {
        bytes[Int(starts[i]) + 1 ..< Int(starts[i + 1])]
    }

    public func nameString(_ i: Int) -> String { String(decoding: name(i), as: UTF8.self) }

    /// `type || name`, the string the kernel compresses.
    public func typeAndName(_ i: Int) -> ArraySlice<UInt8> {
        bytes[Int(starts[i]) ..< Int(starts[i + 1])]
    }

    public func nameLength(_ i: Int) -> Int { Int(starts[i + 1] - starts[i]) - 1 }

    /// Overwrites symbol i's type byte (the kernel does this for absolute per-cpu symbols).
    public mutating func setType(_ i: Int, _ type: UInt8) { bytes[Int(starts[i])] = type }

    /// The symbols at `order`, in that order.
    public func permuted<S: Sequence>(by order: S) -> SymbolList where S.Element: BinaryInteger {
        var out = SymbolList()
        out.reserveCapacity(symbols: count, bytes: bytes.count)
        for j in order {
            let i = Int(j)
            out.addresses.append(addresses[i])
            out.bytes.append(contentsOf: bytes[Int(starts[i]) ..< Int(starts[i + 1])])
            out.starts.append(UInt32(truncatingIfNeeded: out.bytes.count))
        }
        return out
    }
}
