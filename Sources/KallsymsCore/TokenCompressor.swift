/// The kernel's greedy token compression (reference spec §6), producing the same token table and
/// compressed names as `scripts/kallsyms` of every version since 2.6.10.
///
/// The reference rescans every symbol for each of ~192 tokens. Here all working strings live in
/// one flat arena, and each token's pair is found with a vector scan over that arena; only the
/// symbols that contain the pair are touched, and the arena is compacted in the same pass. Pair
/// counts are kept exact (subtract a symbol's pairs, rewrite it, add them back), so the choice of
/// each token, including the tie-break on the lowest pair index, is the reference's.
public enum TokenCompressor {
    public struct Result: Sendable, Equatable {
        /// `kallsyms_names`: length prefix + token bytes per symbol, in table order.
        public var names: [UInt8]
        /// `kallsyms_markers`.
        public var markers: [UInt32]
        /// `kallsyms_token_table`: 256 NUL-terminated expansions.
        public var tokenTable: [UInt8]
        /// `kallsyms_token_index`.
        public var tokenIndex: [UInt16]
    }

    /// Compresses the working strings `type || name` of `symbols` (in table order).
    public static func compress(_ symbols: SymbolList) throws -> Result {
        let n = symbols.count
        let total = symbols.bytes.count
        // Padding lets the vector loads run past the last byte without a bounds test.
        let arena = UnsafeMutablePointer<UInt8>.allocate(capacity: total + 64)
        defer { arena.deallocate() }
        arena.initialize(repeating: 0, count: total + 64)
        symbols.bytes.withUnsafeBufferPointer { src in
            if total > 0 { arena.update(from: src.baseAddress!, count: total) }
        }
        let starts = UnsafeMutablePointer<Int>.allocate(capacity: n + 1)
        defer { starts.deallocate() }
        for i in 0 ... n { starts[i] = Int(symbols.starts[i]) }
        let counts = UnsafeMutablePointer<Int>.allocate(capacity: 65536)
        defer { counts.deallocate() }
        counts.initialize(repeating: 0, count: 65536)

        var used = [Bool](repeating: false, count: 256)
        for i in 0 ..< total { used[Int(arena[i])] = true }
        for s in 0 ..< n {
            learn(arena, starts[s], starts[s + 1], counts, 1)
        }

        // slotPair[slot]: the two bytes a token slot stands for; real characters stand for
        // themselves, and unfilled slots are empty.
        var slotPair = [(UInt8, UInt8)?](repeating: nil, count: 256)
        var end = total
        for slot in stride(from: 255, through: 0, by: -1) where !used[slot] {
            var best = 0
            var bestCount = counts[0]
            for p in 1 ..< 65536 where counts[p] > bestCount {
                best = p
                bestCount = counts[p]
            }
            if bestCount <= 0 { break }
            let a = UInt8(truncatingIfNeeded: best)
            let b = UInt8(truncatingIfNeeded: best >> 8)
            slotPair[slot] = (a, b)
            end = replace(a, b, with: UInt8(slot), arena: arena, end: end, starts: starts, n: n, counts: counts)
        }

        // Token table: each slot's full expansion, and its offset.
        var expansion = [[UInt8]](repeating: [], count: 256)
        var expanded = [Bool](repeating: false, count: 256)
        func expand(_ c: Int) -> [UInt8] {
            if expanded[c] { return expansion[c] }
            var e: [UInt8] = []
            if let (a, b) = slotPair[c] {
                e = expand(Int(a)) + expand(Int(b))
            } else if used[c] {
                e = [UInt8(c)]
            }
            expansion[c] = e
            expanded[c] = true
            return e
        }
        var tokenTable: [UInt8] = []
        var tokenIndex: [UInt16] = []
        tokenIndex.reserveCapacity(256)
        for c in 0 ..< 256 {
            // `.short %d` of the running offset: the kernel's value, truncated as the assembler would.
            tokenIndex.append(UInt16(truncatingIfNeeded: tokenTable.count))
            tokenTable += expand(c)
            tokenTable.append(0)
        }

        var names: [UInt8] = []
        names.reserveCapacity(end + n)
        var markers: [UInt32] = []
        markers.reserveCapacity((n + 255) / 256)
        for s in 0 ..< n {
            if s & 0xFF == 0 { markers.append(UInt32(truncatingIfNeeded: names.count)) }
            let len = starts[s + 1] - starts[s]
            if len == 0 {
                throw KallsymsError(.malformed, "kallsyms failure: unexpected zero symbol length")
            }
            if len > 0x3FFF {
                throw KallsymsError(.malformed, "kallsyms failure: unexpected huge symbol length")
            }
            if len <= 0x7F {
                names.append(UInt8(len))
            } else {
                names.append(UInt8(len & 0x7F) | 0x80)
                names.append(UInt8((len >> 7) & 0x7F))
            }
            names.append(contentsOf: UnsafeBufferPointer(start: arena + starts[s], count: len))
        }
        return Result(names: names, markers: markers, tokenTable: tokenTable, tokenIndex: tokenIndex)
    }

    @inline(__always)
    static func learn(
        _ arena: UnsafeMutablePointer<UInt8>, _ from: Int, _ to: Int, _ counts: UnsafeMutablePointer<Int>,
        _ delta: Int
    ) {
        var i = from
        while i + 1 < to {
            counts[Int(arena[i]) | (Int(arena[i + 1]) << 8)] &+= delta
            i += 1
        }
    }

    /// Replaces every occurrence of the pair `(a, b)` with `t` in the symbols that contain it,
    /// compacting the arena as it goes. Returns the new end of the arena.
    static func replace(
        _ a: UInt8, _ b: UInt8, with t: UInt8, arena: UnsafeMutablePointer<UInt8>, end: Int,
        starts: UnsafeMutablePointer<Int>, n: Int, counts: UnsafeMutablePointer<Int>
    ) -> Int {
        // Invariant: starts[j] is already in compacted coordinates for j < s, in the old ones for
        // j >= s; everything in [copyFrom, ...) still has to move left by `shift`.
        var s = 0
        var shift = 0
        var copyFrom = 0
        var p = 0
        let limit = end - 1
        while p < limit {
            let hit = findPair(arena, a, b, from: p, limit: limit)
            if hit >= limit { break }
            // The symbol holding `hit`: the last j >= s with starts[j] <= hit.
            var lo = s
            var hi = n  // starts[n] == end > hit
            while hi - lo > 1 {
                let mid = (lo + hi) >> 1
                if starts[mid] <= hit { lo = mid } else { hi = mid }
            }
            let sym = lo
            let symEnd = starts[sym + 1]
            if hit + 1 >= symEnd {
                // The pair spans two symbols.
                p = hit + 1
                continue
            }
            if shift != 0 {
                for j in s ..< sym { starts[j] -= shift }
                let symStart = starts[sym]
                memmove(arena + copyFrom - shift, arena + copyFrom, symStart - copyFrom)
            }
            s = sym
            let readStart = starts[sym]
            let writeStart = readStart - shift
            learn(arena, readStart, symEnd, counts, -1)
            var i = readStart
            var o = writeStart
            while i < symEnd {
                if arena[i] == a && i + 1 < symEnd && arena[i + 1] == b {
                    arena[o] = t
                    i += 2
                } else {
                    arena[o] = arena[i]
                    i += 1
                }
                o += 1
            }
            learn(arena, writeStart, o, counts, 1)
            starts[sym] = writeStart
            shift = symEnd - o
            copyFrom = symEnd
            s = sym + 1
            p = symEnd
        }
        if shift != 0 {
            for j in s ... n { starts[j] -= shift }
            memmove(arena + copyFrom - shift, arena + copyFrom, end - copyFrom)
        }
        return end - shift
    }

    /// The first `p` in `from ..< limit` with `arena[p] == a && arena[p + 1] == b`, or `limit`.
    @inline(__always)
    static func findPair(
        _ arena: UnsafeMutablePointer<UInt8>, _ a: UInt8, _ b: UInt8, from: Int, limit: Int
    ) -> Int {
        var p = from
        let raw = UnsafeRawPointer(arena)
        let va = SIMD32<UInt8>(repeating: a)
        let vb = SIMD32<UInt8>(repeating: b)
        while p + 32 <= limit {
            let x = raw.loadUnaligned(fromByteOffset: p, as: SIMD32<UInt8>.self)
            let y = raw.loadUnaligned(fromByteOffset: p + 1, as: SIMD32<UInt8>.self)
            let m = (x .== va) .& (y .== vb)
            if any(m) {
                for k in 0 ..< 32 where m[k] { return p + k }
            }
            p += 32
        }
        while p < limit {
            if arena[p] == a && arena[p + 1] == b { return p }
            p += 1
        }
        return limit
    }
}

#if canImport(Glibc)
    import Glibc
#endif
