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
    /// Each symbol's address, in list order.
    public private(set) var addresses: [UInt64] = []

    /// Makes an empty list, to be filled with the `append` methods.
    public init() {}

    /// The number of symbols.
    public var count: Int { addresses.count }

    /// The same symbols at other addresses: how a decoded table is compared with one whose
    /// addresses were stored in a narrower form, or a map is shifted by a KASLR slide.
    ///
    /// - Parameter new: One address per symbol, in list order.
    /// - Returns: A list sharing this one's names and types, with `new` as its addresses.
    public func withAddresses(_ new: [UInt64]) -> SymbolList {
        precondition(new.count == count)
        var copy = self
        copy.addresses = new
        return copy
    }
    /// True when the list holds no symbol.
    public var isEmpty: Bool { addresses.isEmpty }

    /// Reserves room ahead of a known number of appends, so a kernel-sized list grows its arrays
    /// once rather than repeatedly.
    ///
    /// - Parameters:
    ///   - symbols: How many symbols will be appended.
    ///   - byteCount: How many bytes their types and names take together (one type byte plus the
    ///     name per symbol).
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

    /// Appends a symbol whose name is in a buffer (a line of a map, an ELF string table).
    ///
    /// - Parameters:
    ///   - address: The symbol's address.
    ///   - type: Its `nm` type letter, as a byte.
    ///   - name: Its name's bytes, without a terminating NUL; copied into the list.
    public mutating func append(address: UInt64, type: UInt8, name: UnsafeBufferPointer<UInt8>) {
        let start = bytes.count
        bytes.append(type)
        bytes.append(contentsOf: name)
        appendEntry(address, start)
    }

    /// Appends a symbol whose name is any collection of bytes (`Array("start_kernel".utf8)`).
    ///
    /// - Parameters:
    ///   - address: The symbol's address.
    ///   - type: Its `nm` type letter, as a byte (`UInt8(ascii: "T")`).
    ///   - name: Its name's bytes; copied into the list.
    public mutating func append<C: Collection>(address: UInt64, type: UInt8, name: C)
    where C.Element == UInt8 {
        let start = bytes.count
        bytes.append(type)
        bytes.append(contentsOf: name)
        appendEntry(address, start)
    }

    /// Appends a symbol from its working string `type || name`, the form
    /// ``typeAndName(_:)`` gives and the kernel's tables store.
    ///
    /// - Parameters:
    ///   - address: The symbol's address.
    ///   - typeAndName: The type byte followed by the name (at least one byte).
    public mutating func append(address: UInt64, typeAndName: ArraySlice<UInt8>) {
        precondition(!typeAndName.isEmpty)
        let start = bytes.count
        bytes.append(contentsOf: typeAndName)
        appendEntry(address, start)
    }

    /// The arena range of symbol i's `type || name`.
    @inline(__always)
    package func range(_ i: Int) -> Range<Int> { Int(starts[i]) ..< Int(ends[i]) }

    /// A symbol's `nm` type letter.
    ///
    /// - Parameter i: The symbol's index in the list.
    /// - Returns: The type byte (`T`, `t`, `D`, …; `A` for a per-cpu symbol the kernel made absolute).
    public func type(_ i: Int) -> UInt8 { bytes[Int(starts[i])] }

    /// A symbol's name as bytes: names are bytes to the kernel, not necessarily UTF-8.
    ///
    /// - Parameter i: The symbol's index in the list.
    /// - Returns: The name without its type byte, as a view of the list's storage (no copy).
    public func name(_ i: Int) -> ArraySlice<UInt8> { bytes[Int(starts[i]) + 1 ..< Int(ends[i])] }

    /// A symbol's name as a string, for display.
    ///
    /// - Parameter i: The symbol's index in the list.
    /// - Returns: The name decoded as UTF-8 (invalid bytes become U+FFFD; use ``name(_:)`` to
    ///   compare names exactly).
    public func nameString(_ i: Int) -> String { String(decoding: name(i), as: UTF8.self) }

    /// A symbol's working string: the string the kernel compresses into `kallsyms_names`, type
    /// letter first.
    ///
    /// - Parameter i: The symbol's index in the list.
    /// - Returns: `type || name`, as a view of the list's storage.
    public func typeAndName(_ i: Int) -> ArraySlice<UInt8> { bytes[range(i)] }

    /// The length of a symbol's name without reading it: what the kernel's `KSYM_NAME_LEN`
    /// check looks at.
    ///
    /// - Parameter i: The symbol's index in the list.
    /// - Returns: The name's length in bytes, without the type byte.
    public func nameLength(_ i: Int) -> Int { Int(ends[i] - starts[i]) - 1 }

    /// Overwrites a symbol's type letter, as the kernel does for absolute per-cpu symbols (`A`).
    ///
    /// - Parameters:
    ///   - i: The symbol's index in the list.
    ///   - type: The new type byte.
    public mutating func setType(_ i: Int, _ type: UInt8) { bytes[Int(starts[i])] = type }

    /// Reorders or selects symbols without copying their names: the address sort and the
    /// filters use it on lists of a whole kernel.
    ///
    /// - Parameter order: Indices into this list; an index may be left out or repeated.
    /// - Returns: The symbols at `order`, in that order, sharing this list's storage.
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

    /// A run of consecutive symbols, sharing this list's storage.
    ///
    /// - Parameter range: Indices into this list.
    /// - Returns: The symbols in `range`, in order.
    public func slice(_ range: Range<Int>) -> SymbolList { permuted(by: range) }
}

extension SymbolList: Equatable {
    /// Two lists are equal when they hold the same entries in the same order, however their
    /// storage is laid out (a permuted list still holds the names it dropped).
    ///
    /// - Parameters:
    ///   - a: A list.
    ///   - b: Another list.
    /// - Returns: True when both have the same addresses, types and names, in the same order.
    public static func == (a: SymbolList, b: SymbolList) -> Bool {
        guard a.count == b.count, a.addresses == b.addresses else { return false }
        for i in 0 ..< a.count where a.typeAndName(i) != b.typeAndName(i) { return false }
        return true
    }
}
