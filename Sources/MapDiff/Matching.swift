import KallsymsCore

/// One input list in address order. Lists are compared in address order because that is the
/// order `nm -n`, System.map and the kallsyms table share; equal addresses keep the list's own
/// order (a stable sort), which is the order the kernel's lookups see.
struct Side {
    let list: SymbolList
    /// rank → index into `list`.
    let ord: [Int32]
    /// rank → address.
    let addr: [UInt64]
    var count: Int { addr.count }

    init(_ list: SymbolList) {
        self.list = list
        let n = list.count
        let addresses = list.addresses
        var sorted = true
        for i in 1 ..< max(n, 1) where addresses[i - 1] > addresses[i] {
            sorted = false
            break
        }
        var ord = [Int32](unsafeUninitializedCapacity: n) { buf, c in
            for i in 0 ..< n { buf[i] = Int32(truncatingIfNeeded: i) }
            c = n
        }
        if sorted {
            addr = addresses
        } else {
            // Stable: ties keep the list's order.
            ord.sort { addresses[Int($0)] != addresses[Int($1)] ? addresses[Int($0)] < addresses[Int($1)] : $0 < $1 }
            addr = ord.map { addresses[Int($0)] }
        }
        self.ord = ord
    }

    /// Calls `body` with the name (without the type byte) of the symbol at `rank`.
    @inline(__always)
    func withName<R>(_ rank: Int, _ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        let r = list.range(Int(ord[rank]))
        return try list.bytes.withUnsafeBufferPointer { try body(UnsafeBufferPointer(rebasing: $0[(r.lowerBound + 1) ..< r.upperBound])) }
    }

    /// The name as the report carries it: its bytes as the code points U+0000–U+00FF
    /// (`SymbolNameJSON`), so no byte is lost on the way to JSON.
    func name(_ rank: Int) -> String { SymbolNameJSON.encode(list.name(Int(ord[rank]))) }
    func type(_ rank: Int) -> UInt8 { list.type(Int(ord[rank])) }
    func typeString(_ rank: Int) -> String { String(decoding: [type(rank)], as: UTF8.self) }
}

/// Raw views of a side's names, valid inside `Side.withNames`: the hot loops index them
/// without bounds checks or array copies.
struct NameView {
    let arena: UnsafePointer<UInt8>
    let starts: UnsafePointer<UInt32>
    let ends: UnsafePointer<UInt32>
    let ord: UnsafePointer<Int32>

    /// The name (without the type byte) of the symbol at `rank`.
    @inline(__always)
    func name(_ rank: Int) -> (UnsafePointer<UInt8>, Int) {
        let i = Int(ord[rank])
        let s = Int(starts[i]) + 1
        return (arena + s, Int(ends[i]) - s)
    }

    @inline(__always)
    func sameName(_ rank: Int, _ other: NameView, _ otherRank: Int) -> Bool {
        let (p, n) = name(rank)
        let (q, m) = other.name(otherRank)
        return n == m && memoryEqual(p, q, n)
    }
}

extension Side {
    /// Calls `body` with raw views of the names; the side must not be empty.
    func withNames<R>(_ body: (NameView) throws -> R) rethrows -> R {
        try list.bytes.withUnsafeBufferPointer { arena in
            try list.starts.withUnsafeBufferPointer { starts in
                try list.ends.withUnsafeBufferPointer { ends in
                    try ord.withUnsafeBufferPointer { ord in
                        try body(
                            NameView(
                                arena: arena.baseAddress!, starts: starts.baseAddress!, ends: ends.baseAddress!,
                                ord: ord.baseAddress!))
                    }
                }
            }
        }
    }
}

/// Pairs the symbols of two lists by name: the k-th occurrence of a name in A's address order
/// with the k-th occurrence in B's. Names are compared as bytes in the lists' own arenas, never
/// as Strings.
///
/// Two lists from link passes of one kernel hold the same names in the same order, mostly or
/// entirely, so the work is arranged around that: first the common prefix is matched by walking
/// both lists side by side (sequential memory, no hashing; for two passes that differ only in
/// addresses this is all there is). Only if the names diverge is an open-addressing table of A's
/// distinct names built, and even then each B symbol first tries the A symbol after the last
/// match ("predicted"), falling back to a hash lookup when that is not its counterpart.
struct Matching {
    /// A rank → matched B rank, or -1.
    var bOfA: [Int32]
    /// B rank → matched A rank, or -1.
    var aOfB: [Int32]
    var matched = 0

    init(_ a: Side, _ b: Side) {
        let nA = a.count
        let nB = b.count
        var bOfA = [Int32](repeating: -1, count: nA)
        var aOfB = [Int32](repeating: -1, count: nB)
        var matched = 0
        if nA > 0 && nB > 0 {
            a.withNames { na in
                b.withNames { nb in
                    bOfA.withUnsafeMutableBufferPointer { bOfA in
                        aOfB.withUnsafeMutableBufferPointer { aOfB in
                            matched = Self.match(na, nA, nb, nB, bOfA.baseAddress!, aOfB.baseAddress!)
                        }
                    }
                }
            }
        }
        self.bOfA = bOfA
        self.aOfB = aOfB
        self.matched = matched
    }

    /// Fills `bOfA`/`aOfB` (preset to -1) and returns the number of pairs.
    static func match(
        _ na: NameView, _ nA: Int, _ nb: NameView, _ nB: Int, _ bOfA: UnsafeMutablePointer<Int32>,
        _ aOfB: UnsafeMutablePointer<Int32>
    ) -> Int {
        let j = commonPrefix(na, nA, nb, nB, bOfA, aOfB)
        // One side is exhausted: all of it is matched, and the rest of the other side has nothing left to match.
        if j == nA || j == nB { return j }
        let index = NameIndex(na, nA)
        return j + index.matchRest(of: nb, from: j, count: nB, prefix: j, bOfA, aOfB)
    }

    /// The common prefix: within it every name's occurrences pair up in order, which is exactly
    /// the k-th-with-k-th rule. Returns its length.
    static func commonPrefix(
        _ na: NameView, _ nA: Int, _ nb: NameView, _ nB: Int, _ bOfA: UnsafeMutablePointer<Int32>,
        _ aOfB: UnsafeMutablePointer<Int32>
    ) -> Int {
        var j = 0
        let common = min(nA, nB)
        while j < common && na.sameName(j, nb, j) {
            bOfA[j] = Int32(j)
            aOfB[j] = Int32(j)
            j += 1
        }
        return j
    }
}

/// A's distinct names in an open-addressing hash table: for each name (an id) its hash, a rank
/// holding it, its number of occurrences and, in address order, the ranks that hold it.
final class NameIndex {
    let na: NameView
    let nA: Int
    let mask: Int
    let slots: UnsafeMutablePointer<Int32>
    let idHash: UnsafeMutablePointer<UInt64>
    let idRank: UnsafeMutablePointer<Int32>
    let idCount: UnsafeMutablePointer<Int32>
    let idOfRank: UnsafeMutablePointer<Int32>
    /// Which occurrence of its name each rank is (0 for the first).
    let occurrence: UnsafeMutablePointer<Int32>
    /// Name id's ranks are `ranksOfName[first[id] ..< first[id] + idCount[id]]`.
    var first: UnsafeMutablePointer<Int32>
    let ranksOfName: UnsafeMutablePointer<Int32>
    var distinct = 0

    init(_ na: NameView, _ nA: Int) {
        self.na = na
        self.nA = nA
        var capacity = 16
        while capacity < 2 * nA { capacity <<= 1 }
        mask = capacity - 1
        slots = .allocate(capacity: capacity)
        slots.initialize(repeating: -1, count: capacity)
        idHash = .allocate(capacity: nA)
        idRank = .allocate(capacity: nA)
        idCount = .allocate(capacity: nA)
        idOfRank = .allocate(capacity: nA)
        occurrence = .allocate(capacity: nA)
        ranksOfName = .allocate(capacity: nA)
        first = .allocate(capacity: 1)
        for r in 0 ..< nA {
            let (p, length) = na.name(r)
            let id = insert(p, length, rank: r)
            idOfRank[r] = Int32(id)
            occurrence[r] = idCount[id]
            idCount[id] += 1
        }
        first.deallocate()
        first = .allocate(capacity: max(distinct, 1))
        var total: Int32 = 0
        for id in 0 ..< distinct {
            first[id] = total
            total += idCount[id]
        }
        for r in 0 ..< nA { ranksOfName[Int(first[Int(idOfRank[r])] + occurrence[r])] = Int32(r) }
    }

    deinit {
        slots.deallocate()
        idHash.deallocate()
        idRank.deallocate()
        idCount.deallocate()
        idOfRank.deallocate()
        occurrence.deallocate()
        first.deallocate()
        ranksOfName.deallocate()
    }

    /// The id of the name at `p`, a new one if A has not had it yet.
    private func insert(_ p: UnsafePointer<UInt8>, _ length: Int, rank: Int) -> Int {
        let h = hashBytes(p, length)
        var slot = Int(truncatingIfNeeded: h) & mask
        while true {
            let s = Int(slots[slot])
            if s < 0 {
                let id = distinct
                distinct += 1
                slots[slot] = Int32(id)
                idHash[id] = h
                idRank[id] = Int32(rank)
                idCount[id] = 0
                return id
            }
            if idHash[s] == h {
                let (q, m) = na.name(Int(idRank[s]))
                if m == length && memoryEqual(p, q, length) { return s }
            }
            slot = (slot + 1) & mask
        }
    }

    /// The id of the name at `p`, or nil when A does not have it.
    func find(_ p: UnsafePointer<UInt8>, _ length: Int) -> Int? {
        let h = hashBytes(p, length)
        var slot = Int(truncatingIfNeeded: h) & mask
        while true {
            let id = Int(slots[slot])
            if id < 0 { return nil }
            if idHash[id] == h {
                let (q, m) = na.name(Int(idRank[id]))
                if m == length && memoryEqual(p, q, length) { return id }
            }
            slot = (slot + 1) & mask
        }
    }

    /// Matches B's ranks from `start` on. Each B symbol first tries the A symbol after the last
    /// match ("predicted"), then the next unmatched occurrence of its name. The first `prefix`
    /// ranks of both lists are already matched to each other. Returns the pairs it made.
    func matchRest(
        of nb: NameView, from start: Int, count nB: Int, prefix: Int, _ bOfA: UnsafeMutablePointer<Int32>,
        _ aOfB: UnsafeMutablePointer<Int32>
    ) -> Int {
        // used[id] = how many of the name's occurrences in B are matched so far.
        let used = UnsafeMutablePointer<Int32>.allocate(capacity: max(distinct, 1))
        defer { used.deallocate() }
        used.initialize(repeating: 0, count: max(distinct, 1))
        for r in 0 ..< prefix { used[Int(idOfRank[r])] += 1 }
        var matched = 0
        var last = prefix - 1
        for rb in start ..< nB {
            let (p, length) = nb.name(rb)
            let predicted = last + 1
            if predicted < nA {
                let (q, m) = na.name(predicted)
                if m == length && memoryEqual(p, q, length) {
                    let id = Int(idOfRank[predicted])
                    if used[id] == occurrence[predicted] {
                        used[id] += 1
                        bOfA[predicted] = Int32(rb)
                        aOfB[rb] = Int32(predicted)
                        last = predicted
                        matched += 1
                        continue
                    }
                }
            }
            guard let id = find(p, length) else { continue }
            let k = used[id]
            if k < idCount[id] {
                used[id] = k + 1
                let ra = Int(ranksOfName[Int(first[id] + k)])
                bOfA[ra] = Int32(rb)
                aOfB[rb] = Int32(ra)
                last = ra
                matched += 1
            }
        }
        return matched
    }
}

@inline(__always)
func memoryEqual(_ p: UnsafePointer<UInt8>, _ q: UnsafePointer<UInt8>, _ n: Int) -> Bool {
    var i = 0
    while i + 8 <= n {
        if UnsafeRawPointer(p + i).loadUnaligned(as: UInt64.self) != UnsafeRawPointer(q + i).loadUnaligned(as: UInt64.self) {
            return false
        }
        i += 8
    }
    while i < n {
        if p[i] != q[i] { return false }
        i += 1
    }
    return true
}

/// A 64-bit hash of a name, eight bytes at a time (multiply–xorshift mixing). Names are short
/// (~25 bytes) and many share long prefixes, so every byte must reach every output bit.
@inline(__always)
func hashBytes(_ p: UnsafePointer<UInt8>, _ n: Int) -> UInt64 {
    var h: UInt64 = 0x9E37_79B9_7F4A_7C15 ^ UInt64(truncatingIfNeeded: n)
    var i = 0
    while i + 8 <= n {
        let w = UnsafeRawPointer(p + i).loadUnaligned(as: UInt64.self)
        h = (h ^ w) &* 0xBF58_476D_1CE4_E5B9
        h ^= h >> 31
        i += 8
    }
    if i < n {
        var w: UInt64 = 0
        var shift: UInt64 = 0
        while i < n {
            w |= UInt64(p[i]) << shift
            shift += 8
            i += 1
        }
        h = (h ^ w) &* 0x94D0_49BB_1331_11EB
        h ^= h >> 29
    }
    h = (h ^ (h >> 32)) &* 0xD6E8_FEB8_6659_FD93
    return h ^ (h >> 32)
}
