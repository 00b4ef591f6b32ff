import ELFKit
import KallsymsCore

#if canImport(Glibc)
    import Glibc
#endif

// The structural scan is the reader's machinery, not its API (`KernelImage.read` is): it is
// public only as the SPI `TableScan`, for the fuzz targets (another package) and the tests,
// which import it with `@_spi(TableScan) import KernelImage`.

/// What the caller knows about the bytes being searched (from an ELF header, a boot header or
/// the user); every field may be unknown.
@_spi(TableScan)
public struct ScanHints: Sendable {
    /// The table's byte order; nil: both are tried.
    public var byteOrder: ByteOrder?
    /// The kernel's pointer size (4 or 8); nil: both are tried.
    public var pointerSize: Int?
    /// Maps a file offset to the address it is loaded at, when an ELF or a boot header says.
    public var addressOfOffset: (@Sendable (Int) -> UInt64?)?
    /// The address of file offset 0 for raw images (arm64 `Image`: `_text`), used only when the
    /// table does not carry absolute addresses itself.
    public var imageBase: UInt64?
    /// The architecture, when known: only its relocation records are looked for.
    public var architecture: Architecture?

    /// Hints, each unknown unless given.
    /// - Parameters:
    ///   - byteOrder: The table's byte order.
    ///   - pointerSize: The kernel's pointer size (4 or 8).
    ///   - addressOfOffset: The load address of a file offset, or nil where none is known.
    ///   - imageBase: The load address of file offset 0.
    ///   - architecture: The kernel's architecture.
    public init(
        byteOrder: ByteOrder? = nil, pointerSize: Int? = nil, addressOfOffset: (@Sendable (Int) -> UInt64?)? = nil,
        imageBase: UInt64? = nil, architecture: Architecture? = nil
    ) {
        self.byteOrder = byteOrder
        self.pointerSize = pointerSize
        self.addressOfOffset = addressOfOffset
        self.imageBase = imageBase
        self.architecture = architecture
    }
}

/// A table found in an image: the arrays as stored, the decoded symbols, and the layout.
@_spi(TableScan)
public struct LocatedTable: Sendable {
    /// The arrays and the decoded symbols.
    public var table: KallsymsTable
    /// Where each array is and how it is encoded.
    public var layout: TableLayout
}

/// Finds the kallsyms arrays in raw bytes by their own structure: the token table (it contains
/// the digits as single-character tokens) must agree with the token index that follows it, the
/// markers must point at every 256th name, the names must chain exactly to the markers, the
/// count must match, and the addresses must come out sorted. No single signal is trusted.
@_spi(TableScan)
public enum TableLocator {
    /// Upper bounds that keep a hostile image from steering us into huge work.
    static let maxSymbols = 1 << 24
    static let maxTokenLength = 4096

    /// The image through the one bounds-checked reader (a read outside it is a FormatError with
    /// its offset), with the relocation scan that searches of the same image share.
    struct Reader {
        let bytes: ByteReader<UnsafeBufferPointer<UInt8>>
        /// The image's relocation table, scanned at most once per search (it is the whole image).
        var relocations = RelocationScan()
        init(_ b: UnsafeBufferPointer<UInt8>, order: ByteOrder, relocations: RelocationScan = RelocationScan()) {
            bytes = ByteReader(b, order: order)
            self.relocations = relocations
        }
        var b: UnsafeBufferPointer<UInt8> { bytes.bytes }
        var order: ByteOrder { bytes.order }
        @inline(__always) func ok(_ o: Int, _ n: Int) -> Bool { bytes.contains(o, n) }
        @inline(__always) func u16(_ o: Int) throws(FormatError) -> UInt16 { UInt16(try word(o, 2)) }
        @inline(__always) func u32(_ o: Int) throws(FormatError) -> UInt32 { UInt32(try word(o, 4)) }
        @inline(__always) func u64(_ o: Int) throws(FormatError) -> UInt64 { try word(o, 8) }
        /// The scan's hot path (millions of reads on an image without hints) reads the buffer
        /// directly: through the generic reader each read cost a generic-metadata lookup. Out of
        /// bounds it defers to the reader, which throws its FormatError with the offset.
        @inline(__always) func word(_ o: Int, _ size: Int) throws(FormatError) -> UInt64 {
            guard bytes.contains(o, size), let base = b.baseAddress else { return try bytes.word(o, size) }
            return order.load(base + o, size)
        }
        func zeros(_ from: Int, _ to: Int) -> Bool { bytes.zeros(from, to) }
    }

    struct TokenTableHit {
        var start: Int
        var end: Int
        var indexOffset: Int
        var order: ByteOrder
        var tokenIndex: [UInt16]
    }

    /// Every place where a token table and its index agree.
    static func findTokenTables(_ b: UnsafeBufferPointer<UInt8>, order wanted: ByteOrder?, searchFrom: Int = 0, searchTo: Int? = nil)
        -> [TokenTableHit]
    {
        var pattern = [UInt8]()
        for d in UInt8(ascii: "0") ... UInt8(ascii: "9") { pattern += [d, 0] }
        var hits: [TokenTableHit] = []
        guard let base = b.baseAddress, b.count > pattern.count else { return hits }
        var from = max(0, searchFrom)
        let to = min(searchTo ?? b.count, b.count)
        while from < to - pattern.count {
            guard
                let p = pattern.withUnsafeBytes({ pat in
                    glibcMemmem(base + from, to - from, pat.baseAddress, pat.count)
                })
            else { break }
            let digit0 = UnsafeRawPointer(p) - UnsafeRawPointer(base)
            from = digit0 + 1
            // Walk forward over the remaining tokens: the table's end is unambiguous.
            var e = digit0
            var good = true
            for _ in 0x30 ..< 256 {
                var n = 0
                while e < b.count && b[e] != 0 && n < maxTokenLength { e += 1; n += 1 }
                guard e < b.count, b[e] == 0 else { good = false; break }
                e += 1
            }
            guard good else { continue }
            for pad in 0 ..< 16 {
                let ti = e + pad
                guard ti + 512 <= b.count else { break }
                if pad > 0 && b[ti - 1] != 0 { break }
                for order in ByteOrder.allCases where wanted == nil || wanted == order {
                    let r = Reader(b, order: order)
                    guard (try? r.u16(ti)) == 0, let at30 = try? Int(r.u16(ti + 0x60)) else { continue }
                    let s = digit0 - at30
                    guard s >= 0 else { continue }
                    var index = [UInt16](repeating: 0, count: 256)
                    var q = s
                    var agree = true
                    for k in 0 ..< 256 {
                        guard let v = try? r.u16(ti + 2 * k), q - s == Int(v) else { agree = false; break }
                        index[k] = v
                        while q < e && b[q] != 0 { q += 1 }
                        q += 1
                    }
                    guard agree, q == e else { continue }
                    hits.append(TokenTableHit(start: s, end: e, indexOffset: ti, order: order, tokenIndex: index))
                }
            }
        }
        return hits
    }

    struct Markers {
        var start: Int
        var end: Int
        var values: [UInt32]
        var width: Int
    }

    /// A marker array ending at `end`: strictly increasing from 0, each step the size of 256
    /// names (at least 2 bytes each, at most a 2-byte length plus 512 tokens).
    static func markers(endingAt end: Int, width: Int, _ r: Reader) -> Markers? {
        var pos = end - width
        guard var v = try? r.word(pos, width), v < 1 << 32 else { return nil }
        // Cheap rejection before allocating: most positions fail the first step.
        if v != 0 {
            guard let prev = try? r.word(pos - width, width), prev < v, v - prev >= 512, v - prev <= 256 * 514 else { return nil }
        }
        var values = [UInt32(v)]
        while v != 0 {
            pos -= width
            guard values.count < maxSymbols / 256, let prev = try? r.word(pos, width), prev < v, v - prev >= 512, v - prev <= 256 * 514 else { return nil }
            values.append(UInt32(prev))
            v = prev
        }
        return Markers(start: pos, end: end, values: values.reversed(), width: width)
    }

    /// Walks `count` names from `start`; returns the end offset when every 256th name starts
    /// where its marker says, or nil. `twoByte`: the 6.1+ length prefix.
    static func chainNames(_ b: UnsafeBufferPointer<UInt8>, start: Int, count: Int, markers: [UInt32], limit: Int, twoByte: Bool)
        -> (end: Int, sawTwoByte: Bool)?
    {
        let lengths: NameLengthPrefix = twoByte ? .uleb128 : .oneByte
        var off = start
        var saw = false
        for i in 0 ..< count {
            if i & 0xFF == 0 {
                guard i >> 8 < markers.count, off - start == Int(markers[i >> 8]) else { return nil }
            }
            guard off < limit,
                let (len, prefix) = lengths.decode(UnsafeBufferPointer(rebasing: b[..<limit]), at: off)
            else { return nil }
            if prefix == 2 { saw = true }
            guard len > 0 else { return nil }
            off += prefix + len
            guard off <= limit else { return nil }
        }
        guard (count + 255) / 256 == markers.count else { return nil }
        return (off, saw)
    }

    struct NamesHit {
        var numSymsOffset: Int
        var numSymsWidth: Int
        var start: Int
        var end: Int
        var count: Int
        var twoByte: Bool
    }

    /// The names (and `kallsyms_num_syms` before them) that end at the markers.
    static func findNames(_ m: Markers, _ r: Reader) -> NamesHit? {
        let b = r.b
        let last = Int(m.values.last!)
        let groups = m.values.count
        // The last group holds 1...256 names of at most 2 + 512 bytes.
        let highest = m.start - last - 2
        let lowest = max(0, m.start - last - 256 * 514 - 32)
        guard highest > lowest else { return nil }
        for width in Set([4, m.width]).sorted() {
            var y = highest - width
            while y >= lowest {
                defer { y -= 1 }
                // A word read from anywhere: keep it as UInt64 until it is known to be a count.
                guard let raw = try? r.word(y, width), raw > 0, raw <= UInt64(maxSymbols) else { continue }
                let n = Int(raw)
                guard (n + 255) / 256 == groups else { continue }
                // Names follow num_syms after alignment padding.
                for x in y + width ..< y + width + 8 {
                    if x > y + width && b[x - 1] != 0 { break }
                    for twoByte in [true, false] {
                        guard let (end, saw) = chainNames(b, start: x, count: n, markers: m.values, limit: m.start, twoByte: twoByte)
                        else { continue }
                        guard m.start - end < 16, r.zeros(end, m.start) else { continue }
                        return NamesHit(numSymsOffset: y, numSymsWidth: width, start: x, end: end, count: n, twoByte: saw)
                    }
                }
            }
        }
        return nil
    }

    /// Reads 3-byte big-endian `kallsyms_seqs_of_names` and checks it is a permutation.
    static func seqs(at o: Int, count n: Int, _ b: UnsafeBufferPointer<UInt8>) -> [UInt32]? {
        guard o >= 0, o <= b.count - 3 * n else { return nil }
        var out = [UInt32](repeating: 0, count: n)
        var seen = [Bool](repeating: false, count: n)
        for i in 0 ..< n {
            let v = Int(b[o + 3 * i]) << 16 | Int(b[o + 3 * i + 1]) << 8 | Int(b[o + 3 * i + 2])
            guard v < n, !seen[v] else { return nil }
            seen[v] = true
            out[i] = UInt32(v)
        }
        return out
    }

    static func sorted(_ a: [UInt64]) -> Bool {
        for i in 1 ..< max(a.count, 1) where a[i - 1] > a[i] { return false }
        return true
    }

    struct AddressHit {
        var kind: TableLayout.AddressKind
        var offset: Int
        var encoding: AddressEncoding
        var addresses: [UInt64]
        var relativeBaseOffset: Int?
        var relativeBaseSource: String?
        var afterEnd: Int
    }

    /// Interprets `n` words at `o` as offsets from `base`: plain or absolute-percpu, whichever
    /// comes out sorted.
    /// The kernel sets `kallsyms_relative_base` to the address of the first symbol that is not
    /// absolute, so a right reading has a word that decodes to the base itself.
    static func offsetInterpretations(_ words: [UInt32], base: UInt64, pointerSize: Int) -> (TableLayout.AddressKind, [UInt64])? {
        let limit: UInt64 = pointerSize == 8 ? .max : 0xFFFF_FFFF
        let anyNegative = words.contains { Int32(bitPattern: $0) < 0 }
        if anyNegative, words.contains(0xFFFF_FFFF) {
            let percpu = TableDecoder.addresses(.offsets(words, relativeBase: base, absolutePercpu: true))
            if sorted(percpu), percpu.last! <= limit { return (.absolutePercpu, percpu) }
        }
        guard words.contains(0) else { return nil }
        let plain = TableDecoder.addresses(.offsets(words, relativeBase: base, absolutePercpu: false))
        if sorted(plain), plain.last! <= limit { return (.baseRelative, plain) }
        return nil
    }

    /// Every label of the table is aligned to the pointer size (7.0: 4) at its load address;
    /// file offsets of raw images and ELF sections keep that alignment.
    static func aligned(_ o: Int, _ alignment: Int, _ hints: ScanHints) -> Bool {
        let a = hints.addressOfOffset?(o) ?? UInt64(o)
        return a % UInt64(alignment) == 0
    }

    static func words(_ o: Int, _ n: Int, _ r: Reader) -> [UInt32]? {
        guard r.ok(o, 4 * n) else { return nil }
        return try? (0 ..< n).map { i throws(FormatError) in try r.u32(o + 4 * i) }
    }

    /// The value of a relative base stored as zero: relocatable kernels (arm64, s390x, ...) are
    /// linked so that the word is filled in at boot from the relocation record that targets it
    /// (ImageRelocations). With a load address the record is found exactly. Without one, every
    /// record that implies a 64 KiB-aligned image base containing all targets is a candidate,
    /// and the right one is the base under which the most decoded symbol addresses are
    /// themselves relocation values (pointers in the image point at symbol starts).
    static func relocatedBase(at o: Int, words: [UInt32], _ r: Reader, hints: ScanHints) -> (UInt64, String)? {
        guard let relocations = r.relocations.table(order: r.order, { ImageRelocations.scan(r, architecture: hints.architecture) }) else {
            return nil
        }
        let entries = relocations.entries
        func source(_ e: ImageRelocations.Entry, _ base: UInt64) -> String {
            "from the image's \(relocations.name(e)) record for the word at 0x\(String(e.target, radix: 16))"
        }
        if let at = hints.addressOfOffset?(o) {
            guard let e = entries.first(where: { $0.target == at }), let v = e.value else { return nil }
            return (v, source(e, v))
        }
        var lowest = UInt64.max
        var highest = UInt64.min
        for e in entries {
            lowest = min(lowest, e.target)
            highest = max(highest, e.target)
        }
        var candidates: [UInt64: ImageRelocations.Entry] = [:]
        for e in entries where e.target >= UInt64(o) {
            let base = e.target - UInt64(o)
            guard base & 0xFFFF == 0, base <= lowest, highest - base < UInt64(r.b.count), let v = e.value, v >= base else {
                continue
            }
            candidates[v] = e
        }
        guard !candidates.isEmpty else { return nil }
        if candidates.count == 1, let (v, e) = candidates.first { return (v, source(e, v)) }
        let values = Set(entries.compactMap(\.value))
        var scored = candidates.keys.map { base -> (UInt64, Int) in
            var hits = 0
            for w in words where values.contains(base &+ UInt64(w)) { hits += 1 }
            return (base, hits)
        }
        scored.sort { $0.1 != $1.1 ? $0.1 > $1.1 : $0.0 < $1.0 }
        guard scored[0].1 >= max(16, words.count / 100), scored[0].1 >= 2 * scored[1].1 else { return nil }
        return (scored[0].0, source(candidates[scored[0].0]!, scored[0].0))
    }

    /// Addresses for the 6.4+ order: right after the token index. Tried in turn: offsets +
    /// relative base + seqs (6.4 ... 6.x), absolute addresses + seqs, place-relative offsets +
    /// seqs (7.0). Each must come out sorted and be followed by a valid seqs_of_names.
    static func addressesAfterIndex(
        _ after: Int, n: Int, ptr: Int, _ r: Reader, hints: ScanHints
    ) -> (AddressHit, seqsOffset: Int, seqs: [UInt32])? {
        let b = r.b
        func seqsAfter(_ end: Int) -> (Int, [UInt32])? {
            for pad in 0 ..< 8 {
                let so = end + pad
                guard r.zeros(end, so) else { return nil }
                if let s = seqs(at: so, count: n, b) { return (so, s) }
            }
            return nil
        }
        for pad in 0 ..< 8 {
            let o = after + pad
            guard r.ok(o, 4 * n) else { break }
            if pad > 0 && b[o - 1] != 0 { break }
            guard aligned(o, 4, hints), let w = words(o, n, r) else { continue }
            let endOffsets = o + 4 * n
            if aligned(o, ptr, hints) {
                for rbPad in 0 ..< 8 {
                    let rb = endOffsets + rbPad
                    guard r.ok(rb, ptr), r.zeros(endOffsets, rb) else { break }
                    guard aligned(rb, ptr, hints) else { continue }
                    guard var base = try? r.word(rb, ptr) else { break }
                    var recovered: String?
                    if base == 0, let (fixed, source) = relocatedBase(at: rb, words: w, r, hints: hints) {
                        base = fixed
                        recovered = source
                    }
                    guard let (kind, addrs) = offsetInterpretations(w, base: base, pointerSize: ptr),
                        let (so, s) = seqsAfter(rb + ptr)
                    else { continue }
                    let hit = AddressHit(
                        kind: kind, offset: o,
                        encoding: .offsets(w, relativeBase: base, absolutePercpu: kind == .absolutePercpu),
                        addresses: addrs, relativeBaseOffset: rb, relativeBaseSource: recovered, afterEnd: rb + ptr)
                    return (hit, so, s)
                }
                if r.ok(o, ptr * n), let a = try? (0 ..< n).map({ i throws(FormatError) in try r.word(o + ptr * i, ptr) }) {
                    if sorted(a), a.last != 0, let (so, s) = seqsAfter(o + ptr * n) {
                        let hit = AddressHit(
                            kind: .absolute, offset: o, encoding: .addresses(a, absolute: []), addresses: a,
                            relativeBaseOffset: nil, relativeBaseSource: nil, afterEnd: o + ptr * n)
                        return (hit, so, s)
                    }
                }
            }
            // 7.0: place-relative offsets, seqs straight after.
            if let at = hints.addressOfOffset?(o) ?? hints.imageBase.map({ $0 &+ UInt64(o) }) {
                let mask: UInt64 = ptr == 8 ? .max : 0xFFFF_FFFF
                let addrs = (0 ..< n).map { i in
                    (at &+ UInt64(4 * i) &+ UInt64(bitPattern: Int64(Int32(bitPattern: w[i])))) & mask
                }
                if sorted(addrs), let (so, s) = seqsAfter(endOffsets) {
                    let hit = AddressHit(
                        kind: .placeRelative, offset: o, encoding: .addresses(addrs, absolute: []), addresses: addrs,
                        relativeBaseOffset: nil, relativeBaseSource: nil, afterEnd: endOffsets)
                    return (hit, so, s)
                }
            }
        }
        return nil
    }

    /// Addresses for the orders before 6.4: they end just before `kallsyms_num_syms`.
    static func addressesBeforeCount(_ numSyms: Int, n: Int, ptr: Int, _ r: Reader, hints: ScanHints) -> AddressHit? {
        for pad in 0 ..< 8 {
            let end = numSyms - pad
            if pad > 0 && !r.zeros(end, numSyms) { break }
            // relative_base right before num_syms, offsets before it.
            let rb = end - ptr
            if aligned(rb, ptr, hints), let stored = try? r.word(rb, ptr) {
                for oPad in 0 ..< 8 {
                    let oe = rb - oPad
                    if oPad > 0 && !r.zeros(oe, rb) { break }
                    let o = oe - 4 * n
                    guard o >= 0, aligned(o, ptr, hints), let w = words(o, n, r) else { continue }
                    var base = stored
                    var recovered: String?
                    if base == 0, let (fixed, source) = relocatedBase(at: rb, words: w, r, hints: hints) {
                        base = fixed
                        recovered = source
                    }
                    if let (kind, addrs) = offsetInterpretations(w, base: base, pointerSize: ptr) {
                        return AddressHit(
                            kind: kind, offset: o,
                            encoding: .offsets(w, relativeBase: base, absolutePercpu: kind == .absolutePercpu),
                            addresses: addrs, relativeBaseOffset: rb, relativeBaseSource: recovered, afterEnd: oe)
                    }
                }
            }
            // Absolute addresses.
            let o = end - ptr * n
            if r.ok(o, ptr * n), let a = try? (0 ..< n).map({ i throws(FormatError) in try r.word(o + ptr * i, ptr) }) {
                if sorted(a), a.last != 0 {
                    return AddressHit(
                        kind: .absolute, offset: o, encoding: .addresses(a, absolute: []), addresses: a,
                        relativeBaseOffset: nil, relativeBaseSource: nil, afterEnd: end)
                }
            }
        }
        return nil
    }

    /// Searches `bytes` for a complete, self-consistent table.
    /// `tokenTableAt`: the token table's offset when a symbol says; only that table is accepted.
    /// - Parameters:
    ///   - b: The kernel's bytes (decompressed).
    ///   - hints: What is known about them; by default nothing.
    ///   - tokenTableAt: The offset of `kallsyms_token_table`, when a symbol says.
    /// - Returns: The first candidate whose arrays all agree.
    /// - Throws: `KallsymsError` (malformed) saying why each candidate token table was rejected,
    ///   or that there is none.
    public static func locate(in b: UnsafeBufferPointer<UInt8>, hints: ScanHints = ScanHints(), tokenTableAt: Int? = nil)
        throws -> LocatedTable
    {
        var hits: [TokenTableHit]
        if let at = tokenTableAt {
            hits = findTokenTables(b, order: hints.byteOrder, searchFrom: at, searchTo: at + 65536 + 512)
                .filter { $0.start == at }
        } else {
            hits = findTokenTables(b, order: hints.byteOrder)
        }
        guard !hits.isEmpty else {
            throw KallsymsError(.malformed, "no kallsyms token table (the digits 0-9 as tokens, followed by a matching token index)")
        }
        var reasons: [String] = []
        let relocations = RelocationScan()
        for hit in hits {
            let r = Reader(b, order: hit.order, relocations: relocations)
            let pointerSizes = hints.pointerSize.map { [$0] } ?? [8, 4]
            var placeRelative64: LocatedTable?
            for ptr in pointerSizes {
                do {
                    if let found = try attempt(hit, ptr: ptr, r, hints: hints) {
                        // 7.0 place-relative tables look the same to 64- and 32-bit readings;
                        // addresses that all fit 32 bits (with a 32-bit base) mean a 32-bit kernel.
                        if found.layout.addressKind == .placeRelative, hints.pointerSize == nil, ptr == 8,
                            (found.table.symbols.addresses.last ?? 0) <= 0xFFFF_FFFF
                        {
                            placeRelative64 = found
                            continue
                        }
                        return found
                    }
                } catch let e as KallsymsError {
                    reasons.append(e.message)
                }
            }
            if let found = placeRelative64 { return found }
            reasons.append("token table at 0x\(String(hit.start, radix: 16)): no markers/names/addresses agree with it")
        }
        throw KallsymsError(.malformed, "no consistent kallsyms table: " + reasons.joined(separator: "; "))
    }

    static func attempt(_ hit: TokenTableHit, ptr: Int, _ r: Reader, hints: ScanHints) throws -> LocatedTable? {
        let b = r.b
        // Markers right before the token table (all orders but 6.2-6.3).
        var candidates: [(Markers, order: TableLayout.ArrayOrder?)] = []
        for width in Set([4, ptr]).sorted() {
            for pad in 0 ..< 16 {
                let end = hit.start - pad
                guard end > 0 else { break }
                if pad > 0 && b[end] != 0 { break }
                if let m = markers(endingAt: end, width: width, r) { candidates.append((m, nil)) }
            }
        }
        for (m, _) in candidates.sorted(by: { $0.0.values.count > $1.0.values.count }) {
            if let t = try complete(hit, m, seqsBetween: nil, ptr: ptr, r, hints: hints) { return t }
        }
        // 6.2-6.3: seqs (3 bytes per symbol) sit between the markers and the token table.
        var q = hit.start - 3
        let lowest = max(0, hit.start - 3 * (1 << 22) - 16)
        while q >= lowest + 4 {
            defer { q -= 1 }
            guard let m = markers(endingAt: q, width: 4, r), m.values.count > 1 else { continue }
            let groups = m.values.count
            let gap = hit.start - q
            guard gap >= 3 * ((groups - 1) * 256 + 1), gap <= 3 * groups * 256 + 16 else { continue }
            if let t = try complete(hit, m, seqsBetween: (q, hit.start), ptr: ptr, r, hints: hints) { return t }
        }
        return nil
    }

    static func complete(
        _ hit: TokenTableHit, _ m: Markers, seqsBetween: (Int, Int)?, ptr: Int, _ r: Reader, hints: ScanHints
    ) throws -> LocatedTable? {
        let b = r.b
        guard let names = findNames(m, r) else { return nil }
        let n = names.count
        var order: TableLayout.ArrayOrder
        var address: AddressHit
        var seqsOffset: Int?
        var seqValues: [UInt32]?
        if let (from, to) = seqsBetween {
            var found: Int?
            for pad in 0 ..< 8 where to - from - pad >= 3 * n {
                let so = from + pad
                if let s = seqs(at: so, count: n, b), r.zeros(so + 3 * n, to) {
                    found = so
                    seqValues = s
                    break
                }
            }
            guard let so = found else { return nil }
            seqsOffset = so
            guard let a = addressesBeforeCount(names.numSymsOffset, n: n, ptr: ptr, r, hints: hints) else { return nil }
            order = .v6_2
            address = a
        } else if let (a, so, s) = addressesAfterIndex(hit.indexOffset + 512, n: n, ptr: ptr, r, hints: hints) {
            order = .v6_4
            address = a
            seqsOffset = so
            seqValues = s
        } else if let a = addressesBeforeCount(names.numSymsOffset, n: n, ptr: ptr, r, hints: hints) {
            order = .before6_2
            address = a
        } else {
            return nil
        }

        let tokenTable = Array(b[hit.start ..< hit.end])
        let namesBytes = Array(b[names.start ..< names.end])
        let symbols = try namesBytes.withUnsafeBufferPointer { nb in
            try tokenTable.withUnsafeBufferPointer { tt in
                try TableDecoder.decodeNames(
                    numSyms: n, names: nb, tokenTable: tt, tokenIndex: hit.tokenIndex, addresses: address.addresses)
            }
        }
        // Every name must start with an nm type letter.
        for i in 0 ..< n {
            let t = symbols.type(i)
            guard (t >= 0x41 && t <= 0x5A) || (t >= 0x61 && t <= 0x7A) || t == 0x3F else { return nil }
        }
        // Images before 6.2 have no name order: compute the one the kernel would, so name lookups
        // work the same everywhere.
        let seqsOfNames = seqValues ?? KallsymsGenerator.nameOrder(symbols, ltoClang: false)
        var offsets: [KallsymsArray: Int] = [
            .numSyms: names.numSymsOffset, .names: names.start, .markers: m.start, .tokenTable: hit.start,
            .tokenIndex: hit.indexOffset, address.kind == .absolute ? .addresses : .offsets: address.offset,
        ]
        offsets[.relativeBase] = address.relativeBaseOffset
        offsets[.seqsOfNames] = seqsOffset
        let layout = TableLayout(
            order: order, addressKind: address.kind, byteOrder: r.order, pointerSize: ptr, markerSize: m.width,
            twoByteLengthsSeen: names.twoByte, hasSeqsOfNames: seqValues != nil,
            relativeBaseSource: address.relativeBaseSource, offsets: offsets, namesSize: names.end - names.start,
            tokenTableSize: hit.end - hit.start)
        var table = KallsymsTable(
            format: address.kind.generator ?? (order == .before6_2 ? .linux61 : .linux612), symbols: symbols,
            names: namesBytes, markers: m.values, tokenTable: tokenTable, tokenIndex: hit.tokenIndex,
            addressEncoding: address.encoding, seqsOfNames: seqsOfNames, textAddress: 0)
        table.textAddress = table.address(of: "_text") ?? address.addresses.first ?? 0
        if address.kind == .placeRelative { table.expressPlaceRelative() }
        return LocatedTable(table: table, layout: layout)
    }
}

/// The result of scanning an image for its relocation records, kept for the whole search: the
/// scan reads every byte of the image, and many candidate layouts may ask. Used on one thread.
final class RelocationScan {
    /// Keyed by the byte order the records were read in.
    private var scanned: [ByteOrder: ImageRelocations?] = [:]
    func table(order: ByteOrder, _ scan: () -> ImageRelocations?) -> ImageRelocations? {
        if let s = scanned[order] { return s }
        let s = scan()
        scanned[order] = .some(s)
        return s
    }
}

/// glibc's `memmem` (a GNU extension the Glibc module does not export).
@_silgen_name("memmem")
func glibcMemmem(_ haystack: UnsafeRawPointer?, _ haystackLength: Int, _ needle: UnsafeRawPointer?, _ needleLength: Int)
    -> UnsafeMutableRawPointer?
