import ELFKit
import Foundation

/// The kernel versions whose `scripts/kallsyms` we reproduce byte for byte: each is a command line,
/// an input syntax, an assembly dialect and a table format (`tableFormat(_:)`).
public enum KallsymsFormat: String, CaseIterable, Sendable, CustomStringConvertible {
    /// Debian's 6.1.y (with 6.2's `kallsyms_seqs_of_names`, backported).
    case linux61 = "linux-6.1"
    /// 6.2 to 6.14 (measured on Debian's 6.12).
    case linux612 = "linux-6.12"
    /// 6.15 to 6.19: no `--absolute-percpu`.
    case linux615 = "linux-6.15"
    /// 7.0 to 7.2: no `kallsyms_relative_base`; `--pc-relative`.
    case linux70 = "linux-7.0"
    /// 7.3 and later: reads the vmlinux ELF itself, writes `.S` plus a `.bin`.
    case linux73 = "linux-7.3"

    /// The name the command takes in `--format` (`linux-6.12`).
    public var description: String { rawValue }

    /// The era whose table this version writes.
    public var era: KernelEra {
        switch self {
        case .linux61: .v6_2
        case .linux612: .v6_11
        case .linux615: .v6_15
        case .linux70: .v7_0
        case .linux73: .v7_3
        }
    }

    /// The kernel's own options this version of `scripts/kallsyms` takes.
    public var flags: [GeneratorFlag] {
        switch self {
        case .linux61: [.allSymbols, .absolutePercpu, .baseRelative, .ltoClang]
        case .linux612: [.allSymbols, .absolutePercpu]
        case .linux615: [.allSymbols]
        case .linux70: [.allSymbols, .pcRelative]
        case .linux73: [.allSymbols, .pcRelative]
        }
    }

    /// The reference's usage line(s), as it prints them on a bad command line.
    package var usage: String {
        switch self {
        case .linux61:
            "Usage: kallsyms [--all-symbols] [--absolute-percpu] [--base-relative] [--lto-clang] in.map > out.S\n"
        case .linux612: "Usage: kallsyms [--all-symbols] [--absolute-percpu] in.map > out.S\n"
        case .linux615: "Usage: kallsyms [--all-symbols] in.map > out.S\n"
        case .linux70: "Usage: kallsyms [--all-symbols] in.map > out.S\n"  // 7.0 did not update it
        case .linux73:
            "Usage: kallsyms [--all-symbols] [--pc-relative] [--sysmap=out.map]\n                in out.bin > out.S\n       kallsyms --sysmap=out.map vmlinux\n"
        }
    }

    /// True when the input is a vmlinux ELF rather than a map.
    public var readsELF: Bool { self == .linux73 }

    /// 6.1 reads maps with `fscanf` (skipping what does not parse); later versions reject a bad line.
    package var strictMapSyntax: Bool { self != .linux61 }

    /// The binary format of the table this version writes: the options choose the addressing
    /// (base-relative, absolute per-cpu, place-relative, …) within the version's era.
    ///
    /// - Parameter options: The generator's flags; those this version does not take do not
    ///   change the format.
    /// - Returns: The array order, addressing and encodings of the table.
    public func tableFormat(_ options: GeneratorOptions) -> TableFormat {
        let addressing: Addressing
        switch self {
        case .linux61:
            addressing = !options.baseRelative ? .absolute : options.absolutePercpu ? .absolutePercpu : .baseRelative
        case .linux612: addressing = options.absolutePercpu ? .absolutePercpu : .baseRelative
        case .linux615: addressing = .baseRelative
        case .linux70, .linux73: addressing = options.pcRelative ? .placeRelative : .absolute32
        }
        return era.format(addressing)!
    }
}

/// The options of `scripts/kallsyms`, across versions.
///
/// The raw value is the flag as the kernel's command line spells it; which versions take which
/// flag is ``KallsymsFormat/flags``.
public enum GeneratorFlag: String, CaseIterable, Sendable {
    /// CONFIG_KALLSYMS_ALL: keep symbols outside the text ranges (every version).
    case allSymbols = "--all-symbols"
    /// CONFIG_KALLSYMS_ABSOLUTE_PERCPU: per-cpu symbols keep absolute values (6.1 to 6.14).
    case absolutePercpu = "--absolute-percpu"
    /// CONFIG_KALLSYMS_BASE_RELATIVE: offsets from `kallsyms_relative_base` (6.1 only).
    case baseRelative = "--base-relative"
    /// CONFIG_LTO_CLANG: names sort as if cut at `.llvm.` (6.1 only).
    case ltoClang = "--lto-clang"
    /// Place-relative offsets (7.0 and later; 64-bit or relocatable kernels).
    case pcRelative = "--pc-relative"

    /// The formats that take this option.
    public var formats: [KallsymsFormat] { KallsymsFormat.allCases.filter { $0.flags.contains(self) } }
}

/// The generator's flags, named after the kernel's.
///
/// The generator does not check that the format takes every flag set: the kernel's tool of that
/// version would reject the option, so check ``unsupportedFlags`` first (the command does).
public struct GeneratorOptions: Sendable, Equatable {
    /// The kernel version whose `scripts/kallsyms` to reproduce.
    public var format: KallsymsFormat
    /// `--all-symbols` (CONFIG_KALLSYMS_ALL): keep symbols outside the text ranges.
    public var allSymbols: Bool
    /// `--absolute-percpu` (CONFIG_KALLSYMS_ABSOLUTE_PERCPU, 6.1 and 6.12): per-cpu symbols keep
    /// absolute values.
    public var absolutePercpu: Bool
    /// `--base-relative` (6.1 only; later versions always use offsets).
    public var baseRelative: Bool
    /// `--lto-clang` (6.1 only): sort names as if cut at `.llvm.`.
    public var ltoClang: Bool
    /// `--pc-relative` (7.0 and later; CONFIG_64BIT or CONFIG_RELOCATABLE): place-relative offsets.
    public var pcRelative: Bool

    /// Options with every flag off unless given: the defaults of a kernel configured without
    /// them.
    ///
    /// - Parameters:
    ///   - format: The kernel version whose `scripts/kallsyms` to reproduce.
    ///   - allSymbols: `--all-symbols`.
    ///   - absolutePercpu: `--absolute-percpu` (6.1 and 6.12).
    ///   - baseRelative: `--base-relative` (6.1).
    ///   - ltoClang: `--lto-clang` (6.1).
    ///   - pcRelative: `--pc-relative` (7.0 and later).
    public init(
        format: KallsymsFormat = .linux612, allSymbols: Bool = false, absolutePercpu: Bool = false,
        baseRelative: Bool = false, ltoClang: Bool = false, pcRelative: Bool = false
    ) {
        self.format = format
        self.allSymbols = allSymbols
        self.absolutePercpu = absolutePercpu
        self.baseRelative = baseRelative
        self.ltoClang = ltoClang
        self.pcRelative = pcRelative
    }

    /// The options as the kernel's command line spells them, in the order of `format.flags`.
    public var kernelArguments: [String] {
        format.flags.filter(isSet).map(\.rawValue)
    }

    /// Whether a flag is on, for code that walks `GeneratorFlag.allCases`.
    ///
    /// - Parameter flag: The flag.
    /// - Returns: The value of the matching property.
    public func isSet(_ flag: GeneratorFlag) -> Bool {
        switch flag {
        case .allSymbols: allSymbols
        case .absolutePercpu: absolutePercpu
        case .baseRelative: baseRelative
        case .ltoClang: ltoClang
        case .pcRelative: pcRelative
        }
    }

    /// The flags that are set but that `format` does not take.
    public var unsupportedFlags: [GeneratorFlag] {
        GeneratorFlag.allCases.filter { isSet($0) && !format.flags.contains($0) }
    }

    /// The table format these options give.
    public var tableFormat: TableFormat { format.tableFormat(self) }

    /// True when the table stores 32-bit offsets (`kallsyms_offsets`) rather than addresses.
    public var usesOffsets: Bool { tableFormat.addressing != .absolute }
}

/// How a table stores symbol addresses: the data behind an `Addressing`.
public enum AddressEncoding: Sendable, Equatable {
    /// `kallsyms_offsets[]` (the raw 32-bit words) plus `kallsyms_relative_base`.
    /// With `absolutePercpu`, a non-negative word is an absolute value and a negative one is
    /// `relativeBase - 1 - word`; without it every word is an unsigned offset from the base.
    case offsets([UInt32], relativeBase: UInt64, absolutePercpu: Bool)
    /// `kallsyms_addresses[]` (6.1 without `--base-relative`): pointer-sized absolute addresses.
    /// `absolute[i]` marks values emitted as plain numbers; the others are emitted relative to
    /// `_text` and become relocations.
    case addresses([UInt64], absolute: [Bool])
    /// 7.0 `--pc-relative`: per symbol, its address minus `_text` (the N of
    /// `.long _text - . + (N)`); in the image each word holds `_text + N - place`.
    case placeRelative([Int32])
    /// 7.0 without `--pc-relative`: the low 32 bits of each address.
    case absolute32([UInt32])

    /// The kind of encoding, without its data: what ``TableFormat/addressing`` records.
    public var addressing: Addressing {
        switch self {
        case .offsets(_, _, let percpu): percpu ? .absolutePercpu : .baseRelative
        case .addresses: .absolute
        case .placeRelative: .placeRelative
        case .absolute32: .absolute32
        }
    }

    /// The number of entries.
    public var count: Int {
        switch self {
        case .offsets(let w, _, _): w.count
        case .addresses(let a, _): a.count
        case .placeRelative(let d): d.count
        case .absolute32(let w): w.count
        }
    }
}

/// One kallsyms table: the arrays the kernel links into its image, plus the decoded symbols they
/// describe. The generator builds it; the encoders write it as assembly, an object or a raw blob;
/// the reader returns the same model, so a round trip compares like with like.
public struct KallsymsTable: Sendable, Equatable {
    /// The generator version whose assembly this table is written in. Changing it gives the
    /// table that version's binary format.
    public var format: KallsymsFormat {
        didSet { tableFormat = Self.defaultFormat(format, addressEncoding.addressing) }
    }
    /// The binary format: array order, alignment, encodings. Its addressing always follows
    /// `addressEncoding`.
    public private(set) var tableFormat: TableFormat
    /// The symbols in table (address) order, with the type byte as stored (`A` for absolute
    /// per-cpu symbols). `symbols.count` is `kallsyms_num_syms`.
    public var symbols: SymbolList { didSet { lookupCache = LookupCache() } }
    /// `kallsyms_names`: per symbol, a length prefix (`tableFormat.nameLengths`) and its token bytes.
    public var names: [UInt8]
    /// `kallsyms_markers`: the offset in `names` of every 256th symbol.
    public var markers: [UInt32]
    /// `kallsyms_token_table`: 256 NUL-terminated token expansions, back to back.
    public var tokenTable: [UInt8]
    /// `kallsyms_token_index`: the offset of each token in `tokenTable`.
    public var tokenIndex: [UInt16]
    /// `kallsyms_offsets` or `kallsyms_addresses` (with `kallsyms_relative_base`): the symbols'
    /// addresses as the table stores them. ``TableDecoder/addresses(_:textAddress:)`` turns them
    /// back into addresses.
    public var addressEncoding: AddressEncoding {
        didSet { tableFormat.addressing = addressEncoding.addressing }
    }
    /// `kallsyms_seqs_of_names`: address-order indices in name order (stored as 3 bytes each).
    public var seqsOfNames: [UInt32] { didSet { lookupCache = LookupCache() } }
    /// The address of `_text`, which `kallsyms_relative_base` and relative addresses are
    /// expressed against (the one relocation of the table object).
    public var textAddress: UInt64

    /// Assembles a table from its arrays, for readers that found them in an image; the
    /// generator makes its tables itself.
    ///
    /// - Parameters:
    ///   - format: The generator version whose assembly the table is written in.
    ///   - tableFormat: The binary format; nil: what `format` writes with `addressEncoding`'s
    ///     addressing. Its addressing is always taken from `addressEncoding`.
    ///   - symbols: The symbols the arrays describe, in address order.
    ///   - names: `kallsyms_names`.
    ///   - markers: `kallsyms_markers`.
    ///   - tokenTable: `kallsyms_token_table`.
    ///   - tokenIndex: `kallsyms_token_index` (256 entries).
    ///   - addressEncoding: `kallsyms_offsets` or `kallsyms_addresses`, with the relative base.
    ///   - seqsOfNames: `kallsyms_seqs_of_names` (empty before 6.2).
    ///   - textAddress: The address of `_text`.
    public init(
        format: KallsymsFormat, tableFormat: TableFormat? = nil, symbols: SymbolList, names: [UInt8],
        markers: [UInt32], tokenTable: [UInt8], tokenIndex: [UInt16], addressEncoding: AddressEncoding,
        seqsOfNames: [UInt32], textAddress: UInt64
    ) {
        self.format = format
        var f = tableFormat ?? Self.defaultFormat(format, addressEncoding.addressing)
        f.addressing = addressEncoding.addressing
        self.tableFormat = f
        self.symbols = symbols
        self.names = names
        self.markers = markers
        self.tokenTable = tokenTable
        self.tokenIndex = tokenIndex
        self.addressEncoding = addressEncoding
        self.seqsOfNames = seqsOfNames
        self.textAddress = textAddress
    }

    /// The helpers that make lookups fast, built by the first lookup (a few milliseconds for a
    /// kernel) and shared by copies of the table until one of them changes its symbols.
    var lookupCache = LookupCache()

    /// Builds the lookup helpers now rather than at the first lookup (optional: lookups build
    /// them once by themselves).
    public func prepareLookups() { _ = lookupIndex }

    /// `kallsyms_num_syms`: the number of symbols.
    public var numSyms: Int { symbols.count }

    /// What `format` writes with `addressing` (the era's layout, even for an addressing the era
    /// does not produce, as a reader may find).
    static func defaultFormat(_ format: KallsymsFormat, _ addressing: Addressing) -> TableFormat {
        var f = format.era.format(addressing) ?? format.era.format(format.era.addressings[0])!
        f.addressing = addressing
        return f
    }

    /// What a byte of `kallsyms_names` stands for: the token table entry the kernel's
    /// `kallsyms_expand_symbol` copies for it.
    ///
    /// - Parameter slot: A byte value, 0 to 255.
    /// - Returns: The token's expansion, without its NUL (a view of ``tokenTable``).
    public func token(_ slot: Int) -> ArraySlice<UInt8> {
        let start = Int(tokenIndex[slot])
        var end = start
        while end < tokenTable.count && tokenTable[end] != 0 { end += 1 }
        return tokenTable[start ..< end]
    }

    /// The 32-bit value of `kallsyms_relative_base` relative to `_text`, as the assembler's
    /// `PTR _text ± delta` line states it (two's complement on 64 bits).
    package var relativeBaseAddend: Int64 {
        if case .offsets(_, let base, _) = addressEncoding {
            return Int64(bitPattern: base &- textAddress)
        }
        return 0
    }
}

/// `_stext`, `_etext`, `_sinittext`, `_einittext`, `_end` of a table, where present.
///
/// The kernel bounds its lookups by these symbols; so do ``KallsymsTable/lookup(address:)`` and
/// the size of the last symbol.
public struct Landmarks: Sendable, Equatable {
    /// `_stext`: the start of the kernel's text.
    public var stext: UInt64?
    /// `_etext`: the end of the kernel's text.
    public var etext: UInt64?
    /// `_sinittext`: the start of the init text.
    public var sinittext: UInt64?
    /// `_einittext`: the end of the init text.
    public var einittext: UInt64?
    /// `_end`: the end of the image (in the table only with CONFIG_KALLSYMS_ALL).
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
    ///
    /// - Parameter a: An address.
    /// - Returns: True when the kernel would look the address up.
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
/// Holds a table's `LookupIndex` once built. A mutation of the table replaces the whole cache
/// (never clears a shared one), so copies made before keep theirs; the lock makes the first
/// build safe when several threads look up at once.
final class LookupCache: @unchecked Sendable, Equatable {
    private let lock = NSLock()
    private var index: LookupIndex?

    static func == (a: LookupCache, b: LookupCache) -> Bool { true }  // derived data: not part of equality

    func index(for table: KallsymsTable) -> LookupIndex {
        lock.lock()
        defer { lock.unlock() }
        if let index { return index }
        let built = LookupIndex(table)
        index = built
        return built
    }
}

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

