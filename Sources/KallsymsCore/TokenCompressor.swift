import Dispatch
#if canImport(Glibc)
    import Glibc
#endif

/// The kernel's greedy token compression (docs/table-format.md, "Compressing"), producing the same token table and
/// compressed names as `scripts/kallsyms` of every version since 2.6.10.
///
/// The reference rescans every symbol for each of ~192 tokens. Here all working strings live in
/// one flat arena, and each token's pair is found with a vector scan over that arena; only the
/// symbols that contain the pair are touched, and the arena is compacted in the same pass. Pair
/// counts are kept exact (subtract a symbol's pairs, rewrite it, add them back), so the choice of
/// each token, including the tie-break on the lowest pair index, is the reference's.
package enum TokenCompressor {
    package struct Result: Sendable, Equatable {
        /// `kallsyms_names`: length prefix + token bytes per symbol, in table order.
        package var names: [UInt8]
        /// `kallsyms_markers`.
        package var markers: [UInt32]
        /// `kallsyms_token_table`: 256 NUL-terminated expansions.
        package var tokenTable: [UInt8]
        /// `kallsyms_token_index`.
        package var tokenIndex: [UInt16]
    }

    /// Compresses the working strings `type || name` of `symbols` (in table order).
    /// `partitions` splits the work across threads (default: one per core for large tables);
    /// the result never depends on it.
    package static func compress(_ symbols: SymbolList, partitions requested: Int? = nil) throws -> Result {
        let n = symbols.count
        var total = 0
        for i in 0 ..< n { total += Int(symbols.ends[i] - symbols.starts[i]) }
        // The arena is the storage of the `kallsyms_names` array being built, so the compressed
        // strings become the table without a second copy. Symbol i lives in the slot
        // `slots[i] ..< slots[i + 1]`; its first `lens[i]` bytes are live, and two free bytes
        // before it leave room for its length prefix. Padding lets the vector loads run past the
        // last byte without a bounds test.
        let capacity = total + 2 * n + 2 + 64
        var tokens = Tokens()
        var markers: [UInt32] = []
        var failure: KallsymsError?
        let names = [UInt8](unsafeUninitializedCapacity: capacity) { buffer, count in
            let arena = Arena(buffer.baseAddress!, capacity: capacity, symbols: symbols)
            defer { arena.release() }
            arena.countPairs(into: &tokens)
            arena.assignTokens(&tokens, partitions: partitionCount(requested, symbols: n))
            do throws(KallsymsError) {
                (count, markers) = try arena.layOutNames()
            } catch {
                failure = error
                count = 0
            }
            releasePages(arena.bytes + count, capacity - count)
        }
        if let failure { throw failure }
        let (tokenTable, tokenIndex) = tokens.table()
        return Result(names: names, markers: markers, tokenTable: tokenTable, tokenIndex: tokenIndex)
    }

    /// One partition per core (at most 4) for large tables, one for small ones.
    /// KALLSYMS_THREADS caps the threads (for measurements, or a shared build machine).
    static func partitionCount(_ requested: Int?, symbols n: Int) -> Int {
        var cores = max(1, min(4, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))))
        if let env = getenv("KALLSYMS_THREADS"), let cap = Int(String(cString: env)), cap >= 1 { cores = min(cores, cap) }
        return max(1, min(requested ?? (n >= 20_000 ? cores : 1), max(n, 1)))
    }

    /// What each of the 256 byte values stands for: itself (used by some name), a pair of
    /// other values (assigned a token), or nothing.
    struct Tokens {
        var pair = [(UInt8, UInt8)?](repeating: nil, count: 256)
        var used = [Bool](repeating: false, count: 256)

        /// `kallsyms_token_table` and `kallsyms_token_index`: each value's full expansion and
        /// its offset.
        func table() -> (table: [UInt8], index: [UInt16]) {
            var expansion = [[UInt8]?](repeating: nil, count: 256)
            func expand(_ c: Int) -> [UInt8] {
                if let e = expansion[c] { return e }
                var e: [UInt8] = []
                if let (a, b) = pair[c] {
                    e = expand(Int(a)) + expand(Int(b))
                } else if used[c] {
                    e = [UInt8(c)]
                }
                expansion[c] = e
                return e
            }
            var tokenTable: [UInt8] = []
            var tokenIndex: [UInt16] = []
            tokenIndex.reserveCapacity(256)
            for c in 0 ..< 256 {
                // `.short %d` of the running offset: the kernel's value, truncated as the assembler would.
                tokenIndex.append(UInt16(truncatingIfNeeded: tokenTable.count))
                // The kernel prints each token with `%s` and advances by `strlen + 1`: a token that
                // holds a NUL byte (a symbol whose type byte is NUL) ends there.
                let e = expand(c)
                tokenTable += e.firstIndex(of: 0).map { e[..<$0] } ?? e[...]
                tokenTable.append(0)
            }
            return (tokenTable, tokenIndex)
        }
    }

    /// The working strings in one flat buffer, with the exact pair counts.
    struct Arena {
        let bytes: UnsafeMutablePointer<UInt8>
        let n: Int
        let slots: UnsafeMutablePointer<Int32>
        let lens: UnsafeMutablePointer<Int32>
        let counts: UnsafeMutablePointer<Int32>
        /// The end of the last slot.
        let end: Int

        /// Copies every symbol's `type || name` into its slot.
        init(_ bytes: UnsafeMutablePointer<UInt8>, capacity: Int, symbols: SymbolList) {
            self.bytes = bytes
            let n = symbols.count
            self.n = n
            bytes.initialize(repeating: 0, count: capacity)
            let slots = UnsafeMutablePointer<Int32>.allocate(capacity: n + 1)
            let lens = UnsafeMutablePointer<Int32>.allocate(capacity: max(n, 1))
            counts = .allocate(capacity: 65536)
            var o = 2
            symbols.bytes.withUnsafeBufferPointer { src in
                for i in 0 ..< n {
                    let r = symbols.range(i)
                    slots[i] = Int32(o)
                    lens[i] = Int32(r.count)
                    (bytes + o).update(from: src.baseAddress! + r.lowerBound, count: r.count)
                    o += r.count + 2
                }
            }
            slots[n] = Int32(o)
            self.slots = slots
            self.lens = lens
            end = o
        }

        func release() {
            slots.deallocate()
            lens.deallocate()
            counts.deallocate()
        }

        /// The initial pair counts, and which byte values the names use.
        func countPairs(into tokens: inout Tokens) {
            counts.initialize(repeating: 0, count: 65536)
            tokens.used.withUnsafeMutableBufferPointer { used in
                for s in 0 ..< n {
                    let from = Int(slots[s])
                    let len = Int(lens[s])
                    for k in 0 ..< len { used[Int(bytes[from + k])] = true }
                    learn(bytes, from, from + len, counts, 1)
                }
            }
        }

        /// Partitions of about equal bytes, as symbol index bounds.
        func bounds(_ partitions: Int) -> [Int] {
            var bounds = [0]
            for k in 1 ..< partitions {
                let target = end * k / partitions
                var lo = bounds.last!
                var hi = n
                while lo < hi {
                    let mid = (lo + hi) / 2
                    if Int(slots[mid]) < target { lo = mid + 1 } else { hi = mid }
                }
                bounds.append(lo)
            }
            bounds.append(n)
            return bounds
        }

        /// The greedy loop: each free byte value, from 255 down, takes the most frequent pair
        /// (lowest pair index on ties), and every string holding the pair is rewritten.
        func assignTokens(_ tokens: inout Tokens, partitions: Int) {
            let bounds = bounds(partitions)
            var parts = (0 ..< partitions).map { k in
                Work(
                    arena: bytes, slots: slots, lens: lens, first: bounds[k], limit: bounds[k + 1],
                    end: Int(slots[bounds[k + 1]]) - 2, sharedCounts: partitions == 1 ? counts : nil)
            }
            defer { parts.forEach { $0.release() } }
            parts.withUnsafeMutableBufferPointer { partsBuffer in
                let shared = SharedParts(partsBuffer)
                for slot in stride(from: 255, through: 0, by: -1) where !tokens.used[slot] {
                    let (best, bestCount) = firstMaximum(counts)
                    if bestCount <= 0 { break }
                    let a = UInt8(truncatingIfNeeded: best)
                    let b = UInt8(truncatingIfNeeded: best >> 8)
                    tokens.pair[slot] = (a, b)
                    let t = UInt8(slot)
                    if partitions == 1 {
                        shared.step(0, a, b, t)
                    } else {
                        DispatchQueue.concurrentPerform(iterations: partitions) { k in shared.step(k, a, b, t) }
                    }
                    // Each partition counted its own changes; fold them into the shared counts.
                    for k in 0 ..< partitions where partsBuffer[k].ownsDelta {
                        for p in partsBuffer[k].touched {
                            counts[Int(p)] &+= partsBuffer[k].delta[Int(p)]
                            partsBuffer[k].delta[Int(p)] = 0
                        }
                        partsBuffer[k].touched.removeAll(keepingCapacity: true)
                    }
                }
            }
        }

        /// Lays the strings out as `kallsyms_names` in place: each length prefix goes into the
        /// room before its string, which only ever moves down. Returns the size and the markers.
        func layOutNames() throws(KallsymsError) -> (count: Int, markers: [UInt32]) {
            var markers: [UInt32] = []
            markers.reserveCapacity((n + 255) / 256)
            var out = 0
            for s in 0 ..< n {
                if s & 0xFF == 0 { markers.append(UInt32(truncatingIfNeeded: out)) }
                let len = Int(lens[s])
                if len == 0 { throw KallsymsError(.malformed, "kallsyms failure: unexpected zero symbol length") }
                if len > NameLengthPrefix.uleb128.maxLength {
                    throw KallsymsError(.malformed, "kallsyms failure: unexpected huge symbol length")
                }
                let (first, second) = NameLengthPrefix.uleb128.encode(len)
                bytes[out] = first
                out += 1
                if let second {
                    bytes[out] = second
                    out += 1
                }
                let from = Int(slots[s])
                if from != out { memmove(bytes + out, bytes + from, len) }
                out += len
            }
            return (out, markers)
        }
    }

    /// Gives the whole pages inside `p ..< p + count` back to the system (they read as zero
    /// afterwards): the arena's tail is dead once the names are laid out.
    static func releasePages(_ p: UnsafeMutablePointer<UInt8>, _ count: Int) {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let from = (Int(bitPattern: p) + page - 1) & ~(page - 1)
        let to = (Int(bitPattern: p) + count) & ~(page - 1)
        if to > from { madvise(UnsafeMutableRawPointer(bitPattern: from), to - from, MADV_DONTNEED) }
    }

    /// The index of the first largest count (the reference scans upwards and replaces only on a
    /// strictly greater count), found a block of 16 at a time.
    static func firstMaximum(_ counts: UnsafeMutablePointer<Int32>) -> (Int, Int32) {
        var blockMax = SIMD16<Int32>(repeating: Int32.min)
        let raw = UnsafeRawPointer(counts)
        for b in 0 ..< 4096 {
            blockMax = pointwiseMax(blockMax, raw.loadUnaligned(fromByteOffset: b * 64, as: SIMD16<Int32>.self))
        }
        let m = blockMax.max()
        var i = 0
        while counts[i] != m { i += 1 }
        return (i, m)
    }

    @inline(__always)
    static func learn(
        _ arena: UnsafeMutablePointer<UInt8>, _ from: Int, _ to: Int, _ counts: UnsafeMutablePointer<Int32>,
        _ delta: Int32
    ) {
        var i = from
        while i + 1 < to {
            counts[Int(arena[i]) | (Int(arena[i + 1]) << 8)] &+= delta
            i += 1
        }
    }

    /// The compressor's working state: the arena of working strings, their slots and live
    /// lengths, and the pair counts.
    /// Gives each worker its own partition (they share no memory but the read-only bytes).
    struct SharedParts: @unchecked Sendable {
        let parts: UnsafeMutableBufferPointer<Work>
        init(_ parts: UnsafeMutableBufferPointer<Work>) { self.parts = parts }
        func step(_ k: Int, _ a: UInt8, _ b: UInt8, _ t: UInt8) {
            parts[k].replace(a, b, with: t)
            // Rewritten symbols leave dead bytes at the ends of their slots; squeeze them out once
            // they are an eighth of the region, so scans stay short without moving data each step.
            if parts[k].dead * 8 > parts[k].end - parts[k].base { parts[k].compact() }
        }
    }

    /// One partition of the compressor's working state: symbols `first ..< limit`, whose slots lie
    /// in their own region of the shared arena, and this partition's pending changes to the pair
    /// counts. Partitions touch disjoint memory, so they rewrite in parallel; the counts are
    /// merged after each token.
    struct Work {
        let arena: UnsafeMutablePointer<UInt8>
        let slots: UnsafeMutablePointer<Int32>
        let lens: UnsafeMutablePointer<Int32>
        let first: Int
        let limit: Int
        /// Where this partition's count changes go: the shared counts when it is the only
        /// partition, else its own deltas, merged after each token by walking `touched` (the
        /// pairs changed, possibly repeated).
        let delta: UnsafeMutablePointer<Int32>
        let ownsDelta: Bool
        var touched: [Int32] = []
        /// The first byte of the region (room for the first symbol's length prefix).
        let base: Int
        /// End of the live part of the region.
        var end = 0
        /// Bytes in slots past their symbols' live ends.
        var dead = 0

        init(arena: UnsafeMutablePointer<UInt8>, slots: UnsafeMutablePointer<Int32>, lens: UnsafeMutablePointer<Int32>,
             first: Int, limit: Int, end: Int, sharedCounts: UnsafeMutablePointer<Int32>?) {
            self.arena = arena
            self.slots = slots
            self.lens = lens
            self.first = first
            self.limit = limit
            self.base = first < limit ? Int(slots[first]) - 2 : end
            self.end = end
            if let sharedCounts {
                delta = sharedCounts
                ownsDelta = false
            } else {
                delta = .allocate(capacity: 65536)
                delta.initialize(repeating: 0, count: 65536)
                ownsDelta = true
                touched.reserveCapacity(4096)
            }
        }

        func release() { if ownsDelta { delta.deallocate() } }

        @inline(__always)
        mutating func bump(_ pair: Int, _ v: Int32) {
            if ownsDelta && delta[pair] == 0 { touched.append(Int32(pair)) }
            delta[pair] &+= v
        }

        /// Moves every symbol down so that slots are tight again (each keeping its two bytes of
        /// room in front).
        mutating func compact() {
            guard dead > 0 else { return }
            var o = base + 2
            for i in first ..< limit {
                let from = Int(slots[i])
                let len = Int(lens[i])
                if from != o { memmove(arena + o, arena + from, len) }
                slots[i] = Int32(o)
                o += len + 2
            }
            end = o - 2
            dead = 0
        }

        /// Replaces every occurrence of the pair `(a, b)` with `t` in the symbols that contain it,
        /// in place within each symbol's slot.
        ///
        /// Counts change only for pairs touching an occurrence: `t` is a byte no string held
        /// before, so every pair without `t` in a rewritten string was already a pair of the old
        /// one. Removing the old pairs around each occurrence and adding the new pairs with `t`
        /// gives the same counts as the reference's forget-and-relearn of the whole symbol.
        mutating func replace(_ a: UInt8, _ b: UInt8, with t: UInt8) {
            @inline(__always) func pair(_ x: UInt8, _ y: UInt8) -> Int { Int(x) | (Int(y) << 8) }
            let ab = pair(a, b)
            let n = self.limit
            var s = first  // no symbol before s holds a hit still to find
            guard n > first else { return }
            var p = Int(slots[first])  // skip the room before the first symbol
            let limit = end - 1
            while p < limit {
                let hit = findPair(arena, a, b, from: p, limit: limit)
                if hit >= limit { break }
                // The slot holding `hit`: the last j >= s with slots[j] <= hit. Hits are dense, so
                // gallop forward from s before bisecting.
                var lo = s
                var step = 1
                var hi = s + 1
                while hi < n && Int(slots[hi]) <= hit {
                    lo = hi
                    step <<= 1
                    hi = lo + step
                }
                if hi > n { hi = n }
                while hi - lo > 1 {
                    let mid = (lo + hi) >> 1
                    if Int(slots[mid]) <= hit { lo = mid } else { hi = mid }
                }
                let sym = lo
                let start = Int(slots[sym])
                let symEnd = start + Int(lens[sym])
                s = sym + 1
                p = sym + 1 < n ? Int(slots[sym + 1]) : end
                // A pair that reaches past the live bytes (into dead ones or the next slot).
                if hit + 1 >= symEnd { continue }
                var i = start  // next old byte to copy
                var o = start  // next write position
                var q = hit  // current occurrence
                var previousEnd = -1  // index of the second byte of the previous occurrence
                while true {
                    if o != i { copyDown(arena, from: i, to: o, count: q - i) }
                    o &+= q &- i
                    // Old pairs around the occurrence; the one before it was already removed when
                    // the previous occurrence ends right there.
                    if q > start && q - 1 != previousEnd {
                        bump(pair(arena[o - 1], a), -1)
                    }
                    bump(ab, -1)
                    let hasNext = q + 2 < symEnd
                    let nextByte = hasNext ? arena[q + 2] : 0
                    if hasNext { bump(pair(b, nextByte), -1) }
                    // New pair ending at t.
                    if o > start { bump(pair(arena[o - 1], t), 1) }
                    arena[o] = t
                    o += 1
                    previousEnd = q + 1
                    i = q + 2
                    var next = i
                    while next + 1 < symEnd && !(arena[next] == a && arena[next + 1] == b) { next += 1 }
                    let found = next + 1 < symEnd
                    // New pair starting at t, unless the next byte starts another occurrence (that
                    // one adds (t, t) as the pair ending at its t).
                    if hasNext && !(found && next == i) { bump(pair(t, nextByte), 1) }
                    if !found {
                        copyDown(arena, from: i, to: o, count: symEnd - i)
                        o &+= symEnd &- i
                        break
                    }
                    q = next
                }
                dead += symEnd - o
                lens[sym] = Int32(o - start)
            }
        }
    }

    /// Moves `count` bytes from `from` down to `to` (`to <= from`).
    @inline(__always)
    static func copyDown(_ arena: UnsafeMutablePointer<UInt8>, from: Int, to: Int, count: Int) {
        if count > 16 {
            memmove(arena + to, arena + from, count)
            return
        }
        var k = 0
        while k < count {
            arena[to &+ k] = arena[from &+ k]
            k &+= 1
        }
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
            // A lane of the mask is all ones where both bytes match; read it as four words so the
            // test and the lane search are plain integer operations.
            let m = unsafeBitCast((x .== va) .& (y .== vb), to: SIMD4<UInt64>.self)
            if (m[0] | m[1] | m[2] | m[3]) != 0 {
                for w in 0 ..< 4 where m[w] != 0 {
                    return p &+ w &* 8 &+ m[w].trailingZeroBitCount >> 3
                }
            }
            p &+= 32
        }
        while p < limit {
            if arena[p] == a && arena[p + 1] == b { return p }
            p += 1
        }
        return limit
    }
}
