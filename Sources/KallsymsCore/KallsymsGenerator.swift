/// Builds a kallsyms table from a symbol map, as `scripts/kallsyms` of the chosen version does:
/// read → shrink → absolute per-cpu → sort → relative base → compress → offsets → name order.
public enum KallsymsGenerator {
    /// Generates the table for the map text `mapBytes` (`nm -n` / System.map format).
    /// `warnings` receives the non-fatal messages the reference prints to stderr (over-long
    /// names, 6.1's "Read error or end of file."), byte for byte.
    public static func generate(
        mapBytes: [UInt8], file: String = "<map>", options: GeneratorOptions,
        warnings: (([UInt8]) -> Void)? = nil
    ) throws -> KallsymsTable {
        let rules = KernelRules(options: options)
        let collected = try mapBytes.withUnsafeBufferPointer { try rules.collect(map: $0, file: file) }
        for w in collected.warnings { warnings?(w) }
        return try generate(collected: collected, options: options, file: file)
    }

    /// Generates the table from symbols already read (for example from an ELF symbol table):
    /// each entry is treated as one map line, in order.
    public static func generate(
        symbols: SymbolList, options: GeneratorOptions, warnings: (([UInt8]) -> Void)? = nil
    ) throws -> KallsymsTable {
        let rules = KernelRules(options: options)
        var collected = KernelRules.Collected()
        var w: [[UInt8]] = []
        symbols.bytes.withUnsafeBufferPointer { b in
            for i in 0 ..< symbols.count {
                let s = Int(symbols.starts[i])
                let e = Int(symbols.starts[i + 1])
                rules.accept(
                    address: symbols.addresses[i], type: b[s],
                    name: UnsafeBufferPointer(rebasing: b[(s + 1) ..< e]), into: &collected, warnings: &w)
            }
        }
        for m in w { warnings?(m) }
        return try generate(collected: collected, options: options, file: nil)
    }

    static func generate(
        collected: consuming KernelRules.Collected, options: GeneratorOptions, file: String?
    ) throws -> KallsymsTable {
        let rules = KernelRules(options: options)
        let sorted = try rules.arrange(collected, file: file)
        let symbols = sorted.symbols
        let encoding = try addressEncoding(sorted, options: options, file: file)
        let compressed = try TokenCompressor.compress(symbols)
        let seqs = nameOrder(symbols, ltoClang: options.format == .linux61 && options.ltoClang)
        return KallsymsTable(
            format: options.format, symbols: symbols, names: compressed.names, markers: compressed.markers,
            tokenTable: compressed.tokenTable, tokenIndex: compressed.tokenIndex, addressEncoding: encoding,
            seqsOfNames: seqs, textAddress: sorted.text)
    }

    /// `kallsyms_offsets` (with its range checks) or 6.1's `kallsyms_addresses`.
    static func addressEncoding(
        _ sorted: KernelRules.Sorted, options: GeneratorOptions, file: String?
    ) throws -> AddressEncoding {
        let symbols = sorted.symbols
        guard options.usesOffsets else {
            return .addresses(symbols.addresses, absolute: sorted.absolute)
        }
        let base = sorted.relativeBase
        var words = [UInt32]()
        words.reserveCapacity(symbols.count)
        for i in 0 ..< symbols.count {
            let addr = symbols.addresses[i]
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
            if overflow {
                throw KallsymsError(
                    .outOfRange,
                    "kallsyms failure: \(absolute ? "absolute" : "relative") symbol value 0x\(String(addr, radix: 16)) out of range in relative mode",
                    file: file)
            }
            words.append(UInt32(truncatingIfNeeded: offset))
        }
        return .offsets(words, relativeBase: base, absolutePercpu: options.absolutePercpu)
    }

    /// `kallsyms_seqs_of_names`: table indices ordered by name (unsigned bytes, as strcmp), then
    /// address, then table index. With 6.1's `--lto-clang` a name compares as cut at `.llvm.`.
    public static func nameOrder(_ symbols: SymbolList, ltoClang: Bool) -> [UInt32] {
        let n = symbols.count
        // Name ranges without the type byte.
        var nameStart = [Int](repeating: 0, count: n)
        var nameLen = [Int](repeating: 0, count: n)
        // The first 8 name bytes as a big-endian word, zero-padded: comparing words orders like
        // strcmp for names without NUL, so most comparisons never touch the bytes.
        var prefix = [UInt64](repeating: 0, count: n)
        let llvm: [UInt8] = Array(".llvm.".utf8)
        symbols.bytes.withUnsafeBufferPointer { b in
            for i in 0 ..< n {
                let s = Int(symbols.starts[i]) + 1
                var len = Int(symbols.starts[i + 1]) - s
                if ltoClang, len >= llvm.count,
                    let hit = llvm.withUnsafeBufferPointer({ findBytes(b.baseAddress! + s, len, $0) })
                {
                    len = hit
                }
                nameStart[i] = s
                nameLen[i] = len
                var w: UInt64 = 0
                for k in 0 ..< 8 { w = (w << 8) | (k < len ? UInt64(b[s + k]) : 0) }
                prefix[i] = w
            }
        }
        var order = (0 ..< n).map { UInt32($0) }
        symbols.bytes.withUnsafeBufferPointer { b in
            prefix.withUnsafeBufferPointer { pre in
                nameStart.withUnsafeBufferPointer { st in
                    nameLen.withUnsafeBufferPointer { ln in
                        symbols.addresses.withUnsafeBufferPointer { addr in
                            let base = b.baseAddress!
                            order.sort { x, y in
                                let i = Int(x)
                                let j = Int(y)
                                if pre[i] != pre[j] { return pre[i] < pre[j] }
                                let li = ln[i]
                                let lj = ln[j]
                                if li > 8 || lj > 8 {
                                    let m = min(li, lj) - 8
                                    if m > 0 {
                                        let c = memcmp(base + st[i] + 8, base + st[j] + 8, m)
                                        if c != 0 { return c < 0 }
                                    }
                                    if li != lj { return li < lj }
                                }
                                if addr[i] != addr[j] { return addr[i] < addr[j] }
                                return i < j
                            }
                        }
                    }
                }
            }
        }
        return order
    }
}

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif
