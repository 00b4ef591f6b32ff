import Dispatch
#if canImport(Glibc)
    import Glibc
#endif

/// Builds a kallsyms table from a symbol map, as `scripts/kallsyms` of the chosen version does:
/// read → shrink → absolute per-cpu → sort → relative base → compress → offsets → name order.
public enum KallsymsGenerator {
    /// Generates the table for a symbol map, as `scripts/kallsyms` of `options.format` does with
    /// the same map.
    ///
    /// - Parameters:
    ///   - mapBytes: The map's text (`nm -n` output filtered by mksysmap, or a System.map).
    ///   - file: The map's name in error messages.
    ///   - options: The kernel version and its flags.
    ///   - warnings: Receives the non-fatal messages the kernel's tool prints to stderr (over-long
    ///     names, 6.1's "Read error or end of file."), byte for byte, as they occur.
    /// - Returns: The table: its arrays and the symbols they hold, in address order.
    /// - Throws: ``KallsymsError`` naming `file`: `.lineFormat` with the line of a malformed
    ///   map line (6.2 and later; 6.1 skips such lines, as its `fscanf` does), `.outOfRange` when
    ///   an address does not fit the table's encoding, `.noValidSymbol` when 6.1 is left with no
    ///   symbol, `.malformed` when a compressed name is too long for its length prefix (the
    ///   kernel's "unexpected huge symbol length"). Nothing is returned in part.
    public static func generate(
        mapBytes: [UInt8], file: String = "<map>", options: GeneratorOptions,
        warnings: (([UInt8]) -> Void)? = nil
    ) throws -> KallsymsTable {
        let collected = try collect(mapBytes: mapBytes, file: file, options: options, warnings: warnings)
        return try generate(collected: collected, options: options, file: file)
    }

    /// The first half of `generate(mapBytes:)`: reads the map. Callers with large maps use the
    /// two halves so the map text can be freed before the tables are built.
    package static func collect(
        mapBytes: [UInt8], file: String = "<map>", options: GeneratorOptions,
        warnings: (([UInt8]) -> Void)? = nil
    ) throws -> KernelRules.Collected {
        let rules = KernelRules(options: options)
        var clock = PhaseClock()
        let collected = try mapBytes.withUnsafeBufferPointer {
            try rules.collect(map: $0, file: file, warning: { warnings?($0) })
        }
        clock.lap("parse")
        return collected
    }

    /// Generates the table from symbols already read (for example from an ELF symbol table):
    /// each entry is treated as one map line, in order. No map text is made or parsed, which is
    /// what the link driver does on every pass.
    ///
    /// - Parameters:
    ///   - symbols: The symbols in map order (``NMListing`` filtered by ``SymbolFilter``, or
    ///     ``ELFSysmap`` for 7.3).
    ///   - options: The kernel version and its flags.
    ///   - warnings: Receives the non-fatal messages the kernel's tool prints to stderr, byte for
    ///     byte.
    /// - Returns: The table: its arrays and the symbols they hold, in address order.
    /// - Throws: ``KallsymsError``: `.outOfRange` when an address does not fit the table's
    ///   encoding, `.noValidSymbol` when 6.1 is left with no symbol, `.malformed` when a
    ///   compressed name is too long for its length prefix.
    public static func generate(
        symbols: SymbolList, options: GeneratorOptions, warnings: (([UInt8]) -> Void)? = nil
    ) throws -> KallsymsTable {
        let rules = KernelRules(options: options)
        var collected = KernelRules.Collected()
        let warning: ([UInt8]) -> Void = { warnings?($0) }
        symbols.bytes.withUnsafeBufferPointer { b in
            for i in 0 ..< symbols.count {
                let s = Int(symbols.starts[i])
                let e = Int(symbols.ends[i])
                rules.accept(
                    address: symbols.addresses[i], type: b[s],
                    name: UnsafeBufferPointer(rebasing: b[(s + 1) ..< e]), into: &collected, warning: warning)
            }
        }
        return try generate(collected: collected, options: options, file: nil)
    }

    /// The second half: builds the table from what `collect` read.
    package static func generate(
        collected: consuming KernelRules.Collected, options: GeneratorOptions, file: String?
    ) throws -> KallsymsTable {
        let rules = KernelRules(options: options)
        var clock = PhaseClock()
        let sorted = try rules.arrange(collected, file: file)
        clock.lap("arrange")
        let symbols = sorted.symbols
        // Range errors must come before any work (the reference fails while printing offsets;
        // we fail before printing anything).
        let encoding = try addressEncoding(sorted, options: options, file: file)
        // The name order depends only on the sorted symbols: compute it on another core while
        // this one compresses.
        let lto = options.format == .linux61 && options.ltoClang
        let seqsBox = ResultBox<[UInt32]>()
        let group = DispatchGroup()
        DispatchQueue.global().async(group: group) { [symbols] in
            seqsBox.value = nameOrder(symbols, ltoClang: lto)
        }
        let compressed: TokenCompressor.Result
        do {
            defer { group.wait() }
            compressed = try TokenCompressor.compress(symbols)
        }
        var seqs = seqsBox.value!
        if options.format != .linux61, (0 ..< symbols.count).contains(where: { symbols.type($0) == 0 }) {
            seqs = nulTypeNameOrder(symbols, names: compressed.names)
        }
        clock.lap("compress + name order")
        return KallsymsTable(
            format: options.format, tableFormat: options.tableFormat, symbols: symbols, names: compressed.names, markers: compressed.markers,
            tokenTable: compressed.tokenTable, tokenIndex: compressed.tokenIndex, addressEncoding: encoding,
            seqsOfNames: seqs, textAddress: sorted.text)
    }

    static func outOfRange(_ address: UInt64, absolute: Bool, options: GeneratorOptions, file: String?) -> KallsymsError {
        // `%#llx`: no 0x for zero.
        let hex = address == 0 ? "0" : "0x" + String(address, radix: 16)
        let what = absolute ? "absolute" : "relative"
        // 6.15 dropped " in relative mode" from the message.
        let mode = options.format.era < .v6_15 ? " in relative mode" : ""
        return KallsymsError(.outOfRange, "kallsyms failure: \(what) symbol value \(hex) out of range\(mode)", file: file)
    }

    /// One `kallsyms_offsets` word of a base-relative table, with the kernel's range check.
    @inline(__always)
    static func offsetWord(_ sorted: KernelRules.Sorted, _ i: Int, options: GeneratorOptions, file: String?) throws
        -> UInt32
    {
        let addr = sorted.symbols.addresses[i]
        let base = sorted.relativeBase
        let absolute = sorted.absolute[i]
        let offset: Int64
        let overflow: Bool
        if !options.absolutePercpu {
            offset = Int64(bitPattern: addr &- base)
            overflow = offset < 0 || offset > Int64(UInt32.max)
        } else if absolute {
            offset = Int64(bitPattern: addr)
            overflow = offset < 0 || offset > Int64(Int32.max)
        } else {
            offset = Int64(bitPattern: base &- addr &- 1)
            overflow = offset < Int64(Int32.min) || offset >= 0
        }
        if overflow { throw outOfRange(addr, absolute: absolute, options: options, file: file) }
        return UInt32(truncatingIfNeeded: offset)
    }

    /// The address array of the table the options ask for, with each format's range checks.
    static func addressEncoding(
        _ sorted: KernelRules.Sorted, options: GeneratorOptions, file: String?
    ) throws -> AddressEncoding {
        let symbols = sorted.symbols
        let n = symbols.count
        switch options.tableFormat.addressing {
        case .absolute:
            return .addresses(symbols.addresses, absolute: sorted.absolute)
        case .baseRelative, .absolutePercpu:
            var words = [UInt32]()
            words.reserveCapacity(n)
            for i in 0 ..< n { words.append(try offsetWord(sorted, i, options: options, file: file)) }
            return .offsets(words, relativeBase: sorted.relativeBase, absolutePercpu: options.absolutePercpu)
        case .placeRelative:
            var deltas = [Int32]()
            deltas.reserveCapacity(n)
            for i in 0 ..< n {
                let addr = symbols.addresses[i]
                let d = Int64(bitPattern: addr &- sorted.text)
                guard d >= Int64(Int32.min) && d <= Int64(Int32.max) else {
                    throw outOfRange(addr, absolute: false, options: options, file: file)
                }
                deltas.append(Int32(d))
            }
            return .placeRelative(deltas)
        case .absolute32:
            // No check: the reference prints `(unsigned int)addr`.
            return .absolute32(symbols.addresses.map { UInt32(truncatingIfNeeded: $0) })
        }
    }

    /// 6.12 sorts by name after restoring each name in place with `strcpy` from its expansion.
    /// A symbol whose type byte is NUL expands to a string that ends at once, so only that NUL
    /// is copied and the name it is sorted by is what is left in its buffer: its compressed
    /// bytes after the first (the compressor shifts the terminator along, so they end in NUL).
    /// Such input is garbage, but the reference is deterministic about it, and so are we.
    static func nulTypeNameOrder(_ symbols: SymbolList, names: [UInt8]) -> [UInt32] {
        var keys: [ArraySlice<UInt8>] = []
        keys.reserveCapacity(symbols.count)
        var o = 0
        for i in 0 ..< symbols.count {
            let (len, prefix) = NameLengthPrefix.uleb128.decode(names, at: o)!
            let compressed = names[(o + prefix) ..< (o + prefix + len)]
            keys.append(symbols.type(i) == 0 ? compressed.dropFirst() : symbols.name(i))
            o += prefix + len
        }
        return (0 ..< UInt32(symbols.count)).sorted { x, y in
            let a = keys[Int(x)], b = keys[Int(y)]
            if !a.elementsEqual(b) { return a.lexicographicallyPrecedes(b) }
            let ax = symbols.addresses[Int(x)], ay = symbols.addresses[Int(y)]
            return ax != ay ? ax < ay : x < y
        }
    }

    /// `kallsyms_seqs_of_names`: table indices ordered by name (unsigned bytes, as strcmp), then
    /// address, then table index. With 6.1's `--lto-clang` a name compares as cut at `.llvm.`.
    package static func nameOrder(_ symbols: SymbolList, ltoClang: Bool) -> [UInt32] {
        let n = symbols.count
        let llvm: [UInt8] = Array(".llvm.".utf8)
        @inline(__always) func nameLength(_ b: UnsafeBufferPointer<UInt8>, _ i: Int) -> Int {
            let s = Int(symbols.starts[i]) + 1
            let len = Int(symbols.ends[i]) - s
            if ltoClang, len >= llvm.count,
                let hit = llvm.withUnsafeBufferPointer({ findBytes(b.baseAddress! + s, len, $0) })
            {
                return hit
            }
            return len
        }
        return symbols.bytes.withUnsafeBufferPointer { b -> [UInt32] in
            let base = b.baseAddress!
            @inline(__always) func byteAt(_ i: Int, _ k: Int, _ len: Int) -> UInt64 {
                k < len ? UInt64(base[Int(symbols.starts[i]) + 1 + k]) : 0
            }
            // Bucket by the first two name bytes (a counting sort keeps memory at 4 bytes per
            // symbol), then sort each bucket by the next 12 bytes packed into two words with the
            // index, and finish ties with the full comparison. Zero padding orders like strcmp,
            // because names hold no NUL.
            var bucketStart = [Int](repeating: 0, count: 65537)
            for i in 0 ..< n {
                let len = nameLength(b, i)
                bucketStart[Int(byteAt(i, 0, len) << 8 | byteAt(i, 1, len)) + 1] += 1
            }
            for k in 0 ..< 65536 { bucketStart[k + 1] += bucketStart[k] }
            var order = [UInt32](repeating: 0, count: n)
            var fill = bucketStart
            for i in 0 ..< n {
                let len = nameLength(b, i)
                let k = Int(byteAt(i, 0, len) << 8 | byteAt(i, 1, len))
                order[fill[k]] = UInt32(i)
                fill[k] += 1
            }
            var keys = [NameKey]()
            for k in 0 ..< 65536 where bucketStart[k + 1] - bucketStart[k] > 1 {
                let lo = bucketStart[k]
                let hi = bucketStart[k + 1]
                keys.removeAll(keepingCapacity: true)
                for j in lo ..< hi {
                    let i = Int(order[j])
                    let len = nameLength(b, i)
                    var w0: UInt64 = 0
                    var w1: UInt64 = 0
                    for q in 2 ..< 10 { w0 = (w0 << 8) | byteAt(i, q, len) }
                    for q in 10 ..< 14 { w1 = (w1 << 8) | byteAt(i, q, len) }
                    keys.append(NameKey(w0: w0, w1: (w1 << 32) | UInt64(i)))
                }
                keys.sort()
                for j in lo ..< hi { order[j] = UInt32(truncatingIfNeeded: keys[j - lo].w1) }
                // Runs that share all 14 leading bytes.
                var r = 0
                while r < keys.count {
                    var e = r + 1
                    while e < keys.count && keys[e].w0 == keys[r].w0 && keys[e].w1 >> 32 == keys[r].w1 >> 32 {
                        e += 1
                    }
                    if e - r > 1 {
                        order[(lo + r) ..< (lo + e)].sort { x, y in
                            let a = Int(x)
                            let c = Int(y)
                            let la = nameLength(b, a)
                            let lc = nameLength(b, c)
                            let m = min(la, lc) - 14
                            if m > 0 {
                                let d = memcmp(
                                    base + Int(symbols.starts[a]) + 15, base + Int(symbols.starts[c]) + 15, m)
                                if d != 0 { return d < 0 }
                            }
                            if la != lc { return la < lc }
                            let aa = symbols.addresses[a]
                            let ac = symbols.addresses[c]
                            if aa != ac { return aa < ac }
                            return a < c
                        }
                    }
                    r = e
                }
            }
            return order
        }
    }

    struct NameKey: Comparable {
        var w0: UInt64
        /// Name bytes 10..<14 in the high half, the table index in the low half.
        var w1: UInt64
        @inline(__always)
        static func < (a: NameKey, b: NameKey) -> Bool {
            a.w0 != b.w0 ? a.w0 < b.w0 : a.w1 < b.w1
        }
    }
}

/// A result handed from a worker to the thread that waits for it (the wait orders the accesses).
final class ResultBox<T>: @unchecked Sendable {
    var value: T?
}

/// Phase timings on stderr when KALLSYMS_TIMING is set (for profiling; never in normal output).
/// `package`: the command uses it; a user of the library has no need for it.
package struct PhaseClock {
    package init() {}
    package static let enabled = getenv("KALLSYMS_TIMING") != nil
    var last = PhaseClock.now()
    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
    package mutating func lap(_ name: String) {
        guard PhaseClock.enabled else { return }
        let t = PhaseClock.now()
        // Peak and current resident memory so far, from /proc (Linux).
        var rss = ""
        if let status = try? FileIO.read("/proc/self/status") {
            let text = String(decoding: status, as: UTF8.self)
            for l in text.split(separator: "\n") where l.hasPrefix("VmHWM") || l.hasPrefix("VmRSS") {
                rss += " " + l.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first.map(String.init)!
            }
        }
        let line = Array("timing: \(name) \(Int((t - last) * 1000)) ms; peak/current KiB\(rss)\n".utf8)
        line.withUnsafeBytes { _ = try? FileIO.writeAll(2, $0, path: "<stderr>") }
        last = t
    }
}
