#if canImport(Glibc)
    import Glibc
#endif

/// A symbol of a table: what iteration over a `KallsymsTable` yields.
public struct KallsymsSymbol: Sendable, Equatable {
    /// The symbol's position in the table (address order).
    public var index: Int
    /// The symbol's address as the table gives it (the link-time address; add the KASLR slide
    /// for a running kernel).
    public var address: UInt64
    /// The `nm` type letter as stored in the table.
    public var type: Character
    /// The name, decoded as UTF-8 (``SymbolList/name(_:)`` on ``KallsymsTable/symbols`` gives
    /// the bytes).
    public var name: String
}

/// The answer to "which symbol is at this address", as `kallsyms_lookup()` gives it.
public struct AddressMatch: Sendable, Equatable {
    /// Index (address order) of the first alias at the symbol's address — the one the kernel prints.
    public var index: Int
    /// The name's bytes (a view of the table's arena: no copy).
    public var nameBytes: ArraySlice<UInt8>
    /// The name, decoded as UTF-8.
    public var name: String { String(decoding: nameBytes, as: UTF8.self) }
    /// The symbol's address: the start of the symbol the address falls in.
    public var address: UInt64
    /// How far past the symbol's start the address lies.
    public var offset: UInt64
    /// Up to the next higher address, or to the end of the text/kernel for the last symbol.
    public var size: UInt64

    /// `name+0xoff/0xsize`, the kernel's `%pS` form.
    public var formatted: String {
        "\(name)+0x\(String(offset, radix: 16))/0x\(String(size, radix: 16))"
    }
}

/// A table is the collection of its symbols in address order: `for symbol in table` and
/// `table.filter { $0.type == "T" }` work as on an array.
extension KallsymsTable: RandomAccessCollection {
    /// Always 0.
    public var startIndex: Int { 0 }
    /// The number of symbols (``numSyms``).
    public var endIndex: Int { symbols.count }
    /// A symbol, with its name decoded into a string (iterating makes one string per symbol;
    /// ``symbols`` reads names as bytes without copies).
    ///
    /// - Parameter i: The symbol's index, in address order.
    /// - Returns: The symbol's index, address, type letter and name.
    public subscript(i: Int) -> KallsymsSymbol {
        KallsymsSymbol(
            index: i, address: symbols.addresses[i], type: Character(Unicode.Scalar(symbols.type(i))),
            name: symbols.nameString(i))
    }

    var lookupIndex: LookupIndex { lookupCache.index(for: self) }

    /// The first 8 bytes of a name, big-endian, zero-padded: integer order is name order.
    @inline(__always)
    static func prefixKey(_ name: UnsafeBufferPointer<UInt8>) -> UInt64 {
        var k: UInt64 = 0
        let n = Swift.min(8, name.count)
        for i in 0 ..< n { k |= UInt64(name[i]) << UInt64(56 - 8 * i) }
        return k
    }

    /// The section boundaries the kernel's lookups check (`is_ksym_addr`).
    public var landmarks: Landmarks { lookupIndex.landmarks }

    /// The index of the last symbol at or below `address`, backed up to the first alias at that
    /// address (the kernel's `get_symbol_pos`). Unlike ``lookup(address:)`` it does not check
    /// the text ranges.
    ///
    /// - Parameter address: An address.
    /// - Returns: A symbol index in address order; nil below the first symbol.
    public func position(of address: UInt64) -> Int? {
        let sampled = lookupIndex.sampledAddresses
        return position(of: address, sampled: sampled)
    }

    @inline(__always)
    func position(of address: UInt64, sampled: [UInt64]) -> Int? {
        symbols.addresses.withUnsafeBufferPointer { a -> Int? in
            guard let first = a.first, address >= first else { return nil }
            // Last sample <= address, then the last entry <= address within its stride.
            let blk = sampled.withUnsafeBufferPointer { s -> Int in
                var base = 0
                var n = s.count
                while n > 1 {
                    let half = n / 2
                    base = s[base + half] <= address ? base + half : base
                    n -= half
                }
                return base
            }
            var low = blk * LookupIndex.sampleStride
            var high = Swift.min(low + LookupIndex.sampleStride, a.count)
            while high - low > 1 {
                let mid = low + (high - low) / 2
                if a[mid] <= address { low = mid } else { high = mid }
            }
            while low > 0 && a[low - 1] == a[low] { low -= 1 }
            return low
        }
    }

    /// The kernel's `kallsyms_lookup()`: the symbol containing `address`, its offset and size.
    /// The last symbol's size runs to `_einittext` (for init text), `_end` or `_etext`, as the
    /// kernel decides; addresses past that end are not found.
    ///
    /// - Parameter address: A link-time address (subtract the KASLR slide from a running
    ///   kernel's).
    /// - Returns: The symbol, offset and size the kernel's `%pS` prints; nil for an address
    ///   outside the ``landmarks`` or below the first symbol.
    public func lookup(address: UInt64) -> AddressMatch? {
        let index = lookupIndex
        guard index.landmarks.contains(address), let i = position(of: address, sampled: index.sampledAddresses) else {
            return nil
        }
        let start = symbols.addresses[i]
        var end: UInt64?
        var j = i + 1
        let a = symbols.addresses
        while j < a.count {
            if a[j] > start { end = a[j]; break }
            j += 1
        }
        if end == nil {
            end = sectionEnd(after: start, index.landmarks)
        }
        guard let stop = end, address < stop else { return nil }
        return AddressMatch(index: i, nameBytes: symbols.name(i), address: start, offset: address - start, size: stop - start)
    }

    /// The end the kernel uses for the last symbol: the nearest of `_einittext`, `_end`, `_etext`
    /// above it.
    func sectionEnd(after start: UInt64, _ landmarks: Landmarks) -> UInt64? {
        var best: UInt64?
        for a in [landmarks.einittext, landmarks.end, landmarks.etext] {
            if let a, a > start, best == nil || a < best! { best = a }
        }
        return best
    }

    /// The kernel's `kallsyms_lookup_name()`: the lowest address of a symbol called `name`.
    ///
    /// - Parameter name: The exact name (no type letter).
    /// - Returns: The address, or nil when no symbol has that name.
    public func address(of name: String) -> UInt64? {
        firstIndex(named: Array(name.utf8)).map { symbols.addresses[$0] }
    }

    /// The address-order index of the first (lowest-address) symbol called `name`, by binary
    /// search over `seqsOfNames` (name order); a table without them is searched in full.
    ///
    /// - Parameter name: The name's bytes (no type letter).
    /// - Returns: The index, or nil when no symbol has that name.
    public func firstIndex(named name: [UInt8]) -> Int? {
        firstIndex(named: name, prefixes: lookupIndex.namePrefixes)
    }

    func firstIndex(named name: [UInt8], prefixes: [UInt64]) -> Int? {
        guard seqsOfNames.count == symbols.count, prefixes.count == symbols.count, !name.isEmpty else {
            return linearIndex(of: name)
        }
        return name.withUnsafeBufferPointer { want -> Int? in
            let key = Self.prefixKey(want)
            return symbols.bytes.withUnsafeBufferPointer { arena -> Int? in
                symbols.starts.withUnsafeBufferPointer { starts in
                    symbols.ends.withUnsafeBufferPointer { ends in
                        seqsOfNames.withUnsafeBufferPointer { seqs -> Int? in
                            prefixes.withUnsafeBufferPointer { keys -> Int? in
                                // compare(k) < 0: entry k's name sorts before `name`.
                                func compare(_ k: Int) -> Int {
                                    let pk = keys[k]
                                    if pk != key { return pk < key ? -1 : 1 }
                                    let s = Int(seqs[k])
                                    let from = Int(starts[s]) + 1
                                    let len = Int(ends[s]) - from
                                    let c = memcmp(arena.baseAddress! + from, want.baseAddress!, Swift.min(len, want.count))
                                    if c != 0 { return Int(c) }
                                    return len - want.count
                                }
                                var low = 0
                                var high = seqs.count
                                while low < high {
                                    let mid = low + (high - low) / 2
                                    if compare(mid) < 0 { low = mid + 1 } else { high = mid }
                                }
                                guard low < seqs.count, compare(low) == 0 else { return nil }
                                return Int(seqs[low])
                            }
                        }
                    }
                }
            }
        }
    }

    func linearIndex(of name: [UInt8]) -> Int? {
        for i in 0 ..< symbols.count where symbols.name(i).elementsEqual(name) { return i }
        return nil
    }

    /// All symbols called `name`, lowest address first: static functions of the same name in
    /// different files are separate symbols.
    ///
    /// - Parameter name: The exact name (no type letter).
    /// - Returns: Their indices in address order; empty when there is none.
    public func allIndices(named name: String) -> [Int] {
        let want = Array(name.utf8)
        guard let first = firstIndex(named: want) else { return [] }
        var out = [first]
        for i in first + 1 ..< symbols.count where symbols.name(i).elementsEqual(want) { out.append(i) }
        return out
    }
}
