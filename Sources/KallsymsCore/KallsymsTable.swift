/// The kernel versions whose `scripts/kallsyms` output we reproduce byte for byte.
public enum KallsymsFormat: String, CaseIterable, Sendable, CustomStringConvertible {
    case linux612 = "linux-6.12"
    case linux61 = "linux-6.1"

    public var description: String { rawValue }
}

/// The generator's flags, named after the kernel's.
public struct GeneratorOptions: Sendable, Equatable {
    public var format: KallsymsFormat
    /// `--all-symbols` (CONFIG_KALLSYMS_ALL): keep symbols outside the text ranges.
    public var allSymbols: Bool
    /// `--absolute-percpu` (CONFIG_KALLSYMS_ABSOLUTE_PERCPU): per-cpu symbols keep absolute values.
    public var absolutePercpu: Bool
    /// `--base-relative` (6.1 only; 6.12 always uses offsets + relative base).
    public var baseRelative: Bool
    /// `--lto-clang` (6.1 only): sort names as if cut at `.llvm.`.
    public var ltoClang: Bool

    public init(
        format: KallsymsFormat = .linux612, allSymbols: Bool = false, absolutePercpu: Bool = false,
        baseRelative: Bool = false, ltoClang: Bool = false
    ) {
        self.format = format
        self.allSymbols = allSymbols
        self.absolutePercpu = absolutePercpu
        self.baseRelative = baseRelative
        self.ltoClang = ltoClang
    }

    /// True when the table stores 32-bit offsets from `kallsyms_relative_base`.
    public var usesOffsets: Bool { format == .linux612 || baseRelative }
}

/// How a table stores symbol addresses.
public enum AddressEncoding: Sendable, Equatable {
    /// `kallsyms_offsets[]` (the raw 32-bit words) plus `kallsyms_relative_base`.
    /// With `absolutePercpu`, a non-negative word is an absolute value and a negative one is
    /// `relativeBase - 1 - word`; without it every word is an unsigned offset from the base.
    case offsets([UInt32], relativeBase: UInt64, absolutePercpu: Bool)
    /// `kallsyms_addresses[]` (6.1 without `--base-relative`): pointer-sized absolute addresses.
    /// `absolute[i]` marks values emitted as plain numbers; the others are emitted relative to
    /// `_text` and become relocations.
    case addresses([UInt64], absolute: [Bool])
}

/// One kallsyms table: the arrays the kernel links into its image, plus the decoded symbols they
/// describe. The generator builds it; the encoders write it as assembly, an object or a raw blob;
/// the reader returns the same model, so a round trip compares like with like.
public struct KallsymsTable: Sendable, Equatable {
    public var format: KallsymsFormat
    /// The symbols in table (address) order, with the type byte as stored (`A` for absolute
    /// per-cpu symbols). `symbols.count` is `kallsyms_num_syms`.
    public var symbols: SymbolList { didSet { prepared = nil } }
    /// `kallsyms_names`: per symbol, a ULEB128-style length (1 or 2 bytes) and its token bytes.
    public var names: [UInt8]
    /// `kallsyms_markers`: the offset in `names` of every 256th symbol.
    public var markers: [UInt32]
    /// `kallsyms_token_table`: 256 NUL-terminated token expansions, back to back.
    public var tokenTable: [UInt8]
    /// `kallsyms_token_index`: the offset of each token in `tokenTable`.
    public var tokenIndex: [UInt16]
    public var addressEncoding: AddressEncoding
    /// `kallsyms_seqs_of_names`: address-order indices in name order (stored as 3 bytes each).
    public var seqsOfNames: [UInt32] { didSet { prepared = nil } }
    /// The address of `_text`, which `kallsyms_relative_base` and relative addresses are
    /// expressed against (the one relocation of the table object).
    public var textAddress: UInt64

    public init(
        format: KallsymsFormat, symbols: SymbolList, names: [UInt8], markers: [UInt32],
        tokenTable: [UInt8], tokenIndex: [UInt16], addressEncoding: AddressEncoding,
        seqsOfNames: [UInt32], textAddress: UInt64
    ) {
        self.format = format
        self.symbols = symbols
        self.names = names
        self.markers = markers
        self.tokenTable = tokenTable
        self.tokenIndex = tokenIndex
        self.addressEncoding = addressEncoding
        self.seqsOfNames = seqsOfNames
        self.textAddress = textAddress
    }

    /// Search helpers for lookups (`prepareLookups()`); nil until prepared or after a change.
    var prepared: LookupIndex?

    /// Builds the helpers that make `lookup(address:)` and `address(of:)` fast (a few
    /// milliseconds for a kernel). Without it lookups are correct but build them each time.
    public mutating func prepareLookups() {
        if prepared == nil { prepared = LookupIndex(self) }
    }

    public var numSyms: Int { symbols.count }

    /// The expansion of token `slot` (without its NUL).
    public func token(_ slot: Int) -> ArraySlice<UInt8> {
        let start = Int(tokenIndex[slot])
        var end = start
        while end < tokenTable.count && tokenTable[end] != 0 { end += 1 }
        return tokenTable[start ..< end]
    }

    /// The 32-bit value of `kallsyms_relative_base` relative to `_text`, as the assembler's
    /// `PTR _text ± delta` line states it (two's complement on 64 bits).
    public var relativeBaseAddend: Int64 {
        if case .offsets(_, let base, _) = addressEncoding {
            return Int64(bitPattern: base &- textAddress)
        }
        return 0
    }
}

/// `_stext`, `_etext`, `_sinittext`, `_einittext`, `_end` of a table, where present.
public struct Landmarks: Sendable, Equatable {
    public var stext: UInt64?
    public var etext: UInt64?
    public var sinittext: UInt64?
    public var einittext: UInt64?
    public var end: UInt64?

    /// Found with the name index being built (`prefixes`), not through the cache itself.
    init(_ t: KallsymsTable, prefixes: [UInt64]) {
        func at(_ n: String) -> UInt64? { t.firstIndex(named: Array(n.utf8), prefixes: prefixes).map { t.symbols.addresses[$0] } }
        stext = at("_stext")
        etext = at("_etext")
        sinittext = at("_sinittext")
        einittext = at("_einittext")
        end = at("_end")
    }

    /// The kernel's `is_ksym_addr`: inside [_stext, _end] when the table has `_end`
    /// (CONFIG_KALLSYMS_ALL), else inside the text or init text. Boundaries a table lacks do
    /// not restrict.
    public func contains(_ a: UInt64) -> Bool {
        if let s = stext, a < s {
            guard let si = sinittext, let ei = einittext, a >= si, a < ei else { return false }
        }
        if let e = end { return a <= e }
        if let e = etext, a >= e {
            if let si = sinittext, let ei = einittext, a >= si, a < ei { return true }
            return false
        }
        return true
    }
}


/// What makes lookups fast, derived from a table once: every 64th address (a small array that
/// stays in cache for the first search steps) and, in name order, each name's first 8 bytes as a
/// big-endian integer (most comparisons never touch the names).
final class LookupIndex: Sendable, Equatable {
    let landmarks: Landmarks
    let sampledAddresses: [UInt64]
    let namePrefixes: [UInt64]
    static let sampleStride = 64

    static func == (a: LookupIndex, b: LookupIndex) -> Bool { true }  // derived data: not part of equality

    init(_ t: KallsymsTable) {
        var sampled: [UInt64] = []
        sampled.reserveCapacity(t.symbols.count / Self.sampleStride + 1)
        for i in stride(from: 0, to: t.symbols.count, by: Self.sampleStride) { sampled.append(t.symbols.addresses[i]) }
        var prefixes: [UInt64] = []
        if t.seqsOfNames.count == t.symbols.count {
            prefixes.reserveCapacity(t.symbols.count)
            t.symbols.bytes.withUnsafeBufferPointer { arena in
                for s in t.seqsOfNames {
                    let r = t.symbols.range(Int(s))
                    prefixes.append(KallsymsTable.prefixKey(UnsafeBufferPointer(rebasing: arena[r.lowerBound + 1 ..< r.upperBound])))
                }
            }
        }
        sampledAddresses = sampled
        namePrefixes = prefixes
        landmarks = Landmarks(t, prefixes: prefixes)
    }
}

