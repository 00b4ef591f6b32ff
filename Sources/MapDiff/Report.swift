/// The result of `MapDiff.compare`: what differs between two symbol lists, grouped so that a
/// 650,000-symbol difference reads as a handful of lines.
///
/// Every type here is `Codable` with the same keys `json()` writes, so a consumer can decode
/// `kallsyms diff --json` with `JSONDecoder` straight into these types. Addresses and deltas are
/// encoded as hex strings (`"0xffffffff81000000"`, `"-0x339000"`): 64-bit addresses do not survive
/// the double-precision numbers of most JSON readers.
public struct MapDiffReport: Codable, Equatable, Sendable {
    /// The one-word answer; `summary` says it in a sentence.
    public var verdict: Verdict
    /// One line leading the output: the verdict and its most likely cause.
    public var summary: String
    /// The number of symbols in A.
    public var countA: Int
    /// The number of symbols in B.
    public var countB: Int
    /// The number of symbols matched by name (by occurrence) between A and B.
    public var matched: Int
    /// Where to look first (see `MapDiff.compare` for the exact rule); nil when the lists are
    /// identical, differ by a uniform shift, or by a shift plus alignment padding only.
    public var firstUnexplained: Difference?
    /// Matched symbols grouped into runs of equal address delta, in B's address order.
    public var runs: [Run]
    /// The number of runs (`runs` may hold fewer).
    public var runCount: Int
    /// Symbols of A whose name has no counterpart (by occurrence) in B.
    public var onlyInA: [OnlySymbol]
    /// The number of symbols only in A (`onlyInA` may hold fewer).
    public var onlyInACount: Int
    /// How many of the symbols only in A fall in each ``SymbolClass``.
    public var onlyInAClasses: ClassCounts
    /// Symbols of B whose name has no counterpart (by occurrence) in A.
    public var onlyInB: [OnlySymbol]
    /// The number of symbols only in B (`onlyInB` may hold fewer).
    public var onlyInBCount: Int
    /// How many of the symbols only in B fall in each ``SymbolClass``.
    public var onlyInBClasses: ClassCounts
    /// Addresses holding two or more symbols in both lists whose order changed.
    public var reorders: [Reorder]
    /// The number of such addresses (`reorders` may hold fewer).
    public var reorderCount: Int
    /// Matched symbols whose type letter changed.
    public var typeChanges: [TypeChange]
    /// The number of type changes (`typeChanges` may hold fewer).
    public var typeChangeCount: Int
    /// Matched symbols that moved past others (their counterpart in A lies before symbols that
    /// were already passed in B's order, at a lower address).
    public var outOfOrderCount: Int
    /// How much the code after the kallsyms table moved relative to the code before it: the
    /// size change of the table (with padding) between the two link passes. Nil when the lists
    /// have no matched table labels or nothing moved across them.
    public var kallsymsTableChange: Delta?

    /// The lists in `runs`, `onlyInA`, … hold at most `Options.maxListed` entries; the `…Count`
    /// fields are the totals.
    public var isTruncated: Bool {
        runs.count < runCount || onlyInA.count < onlyInACount || onlyInB.count < onlyInBCount
            || reorders.count < reorderCount || typeChanges.count < typeChangeCount
    }
}

/// The verdict on two symbol lists.
public enum Verdict: Codable, Equatable, Sendable {
    /// Same symbols, same addresses, same types, same order: the kernel's `cmp` passes.
    case identical
    /// Every symbol moved by the same delta (B − A) and nothing else changed.
    case uniformShift(Delta)
    /// Same symbols in the same order with the same types, but addresses moved by more than one
    /// delta: what two link passes produce when something (normally the kallsyms table) changed
    /// size. `MapDiffReport.firstUnexplained` says where.
    case consistentUpToShifts
    /// Symbols appeared or disappeared, changed type, or changed order.
    case different

    /// A short name for the verdict (also the `kind` in JSON).
    public var kind: String {
        switch self {
        case .identical: "identical"
        case .uniformShift: "uniformShift"
        case .consistentUpToShifts: "consistentUpToShifts"
        case .different: "different"
        }
    }

    enum CodingKeys: String, CodingKey { case kind, delta }

    /// Writes `{"kind": …}`, plus `"delta"` for a uniform shift.
    /// - Parameter encoder: The encoder.
    /// - Throws: What the encoder throws.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(kind, forKey: .kind)
        if case .uniformShift(let d) = self { try c.encode(d, forKey: .delta) }
    }

    /// Reads what ``encode(to:)`` writes.
    /// - Parameter decoder: The decoder.
    /// - Throws: `DecodingError` for an unknown `kind` or a missing delta.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        switch try c.decode(String.self, forKey: .kind) {
        case "identical": self = .identical
        case "uniformShift": self = .uniformShift(try c.decode(Delta.self, forKey: .delta))
        case "consistentUpToShifts": self = .consistentUpToShifts
        case "different": self = .different
        case let other:
            throw DecodingError.dataCorruptedError(forKey: .kind, in: c, debugDescription: "unknown verdict \(other)")
        }
    }
}

/// A 64-bit address, written and encoded as `0x` and lower-case hex.
public struct Address: Codable, Hashable, Comparable, Sendable, ExpressibleByIntegerLiteral,
    CustomStringConvertible
{
    /// The address.
    public var value: UInt64
    /// Wraps an address.
    /// - Parameter value: The address.
    public init(_ value: UInt64) { self.value = value }
    /// An address written as a literal, as tests compare with.
    /// - Parameter value: The address.
    public init(integerLiteral value: UInt64) { self.value = value }
    /// `0x` and lower-case hex, no leading zeros.
    public var description: String { "0x" + String(value, radix: 16) }
    /// Orders by value.
    /// - Parameters:
    ///   - a: One address.
    ///   - b: Another.
    /// - Returns: True when `a` is lower.
    public static func < (a: Address, b: Address) -> Bool { a.value < b.value }

    /// Writes the address as its ``description`` string: JSON numbers lose 64-bit precision.
    /// - Parameter encoder: The encoder.
    /// - Throws: What the encoder throws.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }

    /// Reads a `0x` hex string.
    /// - Parameter decoder: The decoder.
    /// - Throws: `DecodingError` when the value is not `0x` and hex digits.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        let s = try c.decode(String.self)
        guard s.hasPrefix("0x"), let v = UInt64(s.dropFirst(2), radix: 16) else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "not a 0x address: \(s)")
        }
        value = v
    }
}

/// A signed address difference (B − A, wrapping), written `+0x1a40`, `-0x339000` or `0`.
public struct Delta: Codable, Hashable, Sendable, ExpressibleByIntegerLiteral, CustomStringConvertible {
    /// The difference.
    public var value: Int64
    /// Wraps a difference.
    /// - Parameter value: B − A.
    public init(_ value: Int64) { self.value = value }
    /// A difference written as a literal, as tests compare with.
    /// - Parameter value: B − A.
    public init(integerLiteral value: Int64) { self.value = value }
    /// `+0x…` or `-0x…` in lower-case hex, or `0`.
    public var description: String {
        if value == 0 { return "0" }
        return (value < 0 ? "-0x" : "+0x") + String(value.magnitude, radix: 16)
    }

    /// Writes the delta as its ``description`` string: JSON numbers lose 64-bit precision.
    /// - Parameter encoder: The encoder.
    /// - Throws: What the encoder throws.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }

    /// Reads `0`, `+0x…` or `-0x…`.
    /// - Parameter decoder: The decoder.
    /// - Throws: `DecodingError` when the value is none of those.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        let s = try c.decode(String.self)
        if s == "0" {
            value = 0
            return
        }
        let negative = s.hasPrefix("-")
        guard s.hasPrefix("+0x") || s.hasPrefix("-0x"), let m = UInt64(s.dropFirst(3), radix: 16) else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "not a signed hex delta: \(s)")
        }
        value = negative ? Int64(bitPattern: 0 &- m) : Int64(bitPattern: m)
    }
}

/// Consecutive matched symbols (in B's address order) that all moved by the same delta.
public struct Run: Codable, Equatable, Sendable {
    /// Why a run's delta differs from the previous run's (see `MapDiff.compare`).
    public enum Change: String, Codable, Sendable {
        /// The first run: its delta is the baseline.
        case first
        /// Explained by alignment padding alone: the run's first symbol sits at a multiple of a
        /// power of two α (2 ≤ α ≤ `Options.maxAlignment`) in both lists and the delta changed by
        /// less than α.
        case alignment
        /// The delta grew and symbols only in B lie just before the run: they took the space.
        case insertion
        /// The delta shrank and symbols only in A lie just before the run: their space went.
        case removal
        /// The run's first symbol moved past symbols B had already listed (order changed).
        case outOfOrder
        /// Nothing in the lists explains it: the bytes between the previous run's last symbol
        /// and this run's first changed size.
        case unexplained
    }

    /// The run's first symbol, in B's address order.
    public var first: String
    /// The run's last symbol, in B's address order.
    public var last: String
    /// The number of matched symbols in the run.
    public var count: Int
    /// addrB − addrA for every symbol of the run.
    public var delta: Delta
    /// B's address of the first symbol.
    public var start: Address
    /// B's address of the last symbol.
    public var end: Address
    /// A's address of the first symbol.
    public var startA: Address
    /// Why the delta differs from the previous run's.
    public var change: Change
    /// The number of symbols only in B between the previous run and this one.
    public var insertedBefore: Int
    /// The number of symbols only in A between the previous run and this one.
    public var removedBefore: Int

    /// The delta changed by padding alone (the run is `alignment`).
    public var alignmentChange: Bool { change == .alignment }

    package init(
        first: String, last: String, count: Int, delta: Delta, start: Address, end: Address, startA: Address,
        change: Change, insertedBefore: Int, removedBefore: Int
    ) {
        self.first = first
        self.last = last
        self.count = count
        self.delta = delta
        self.start = start
        self.end = end
        self.startA = startA
        self.change = change
        self.insertedBefore = insertedBefore
        self.removedBefore = removedBefore
    }
}

/// What kind of symbol appears or disappears, which usually says why.
public enum SymbolClass: String, Codable, Sendable, CaseIterable {
    /// Made by the linker, not the sources: branch stubs, veneers, thunks. New ones mean calls
    /// went out of branch range because code between caller and callee grew.
    case linkerStub
    /// A section-end marker or an alias at a section end (`_etext`, `__stop_*`, …): such names
    /// share their address with whatever follows, and the kernel's rules treat them specially.
    case sectionEnd
    /// A label of the kallsyms table itself (`kallsyms_names`, …): absent from a 6.1 pass-1 map.
    case kallsyms
    /// Anything else: a symbol of the kernel's own code or data.
    case other
}

/// How many only-in symbols fall in each class.
public struct ClassCounts: Codable, Equatable, Sendable {
    /// Linker stubs, veneers and thunks.
    public var linkerStub = 0
    /// Section ends and their aliases.
    public var sectionEnd = 0
    /// Labels of the kallsyms table.
    public var kallsyms = 0
    /// The rest.
    public var other = 0
    package init() {}

    /// The count of one class, by the class.
    /// - Parameter c: The class.
    public subscript(_ c: SymbolClass) -> Int {
        get {
            switch c {
            case .linkerStub: linkerStub
            case .sectionEnd: sectionEnd
            case .kallsyms: kallsyms
            case .other: other
            }
        }
        set {
            switch c {
            case .linkerStub: linkerStub = newValue
            case .sectionEnd: sectionEnd = newValue
            case .kallsyms: kallsyms = newValue
            case .other: other = newValue
            }
        }
    }
}

/// A symbol present in one list only.
public struct OnlySymbol: Codable, Equatable, Sendable {
    /// The symbol's name.
    public var name: String
    /// Its type letter.
    public var type: String
    /// Its address in the list that has it.
    public var address: Address
    /// What kind of symbol it is (`class` in JSON).
    public var symbolClass: SymbolClass

    package init(name: String, type: String, address: Address, symbolClass: SymbolClass) {
        self.name = name
        self.type = type
        self.address = address
        self.symbolClass = symbolClass
    }

    enum CodingKeys: String, CodingKey {
        case name, type, address
        case symbolClass = "class"
    }
}

/// An address with two or more symbols in both lists whose common names changed order.
public struct Reorder: Codable, Equatable, Sendable {
    /// The address in A.
    public var addressA: Address
    /// The address in B.
    public var addressB: Address
    /// The names present at this address in both lists, in A's order (at most 32; `size` is the
    /// full number).
    public var orderA: [String]
    /// The same names in B's order (at most 32).
    public var orderB: [String]
    /// The number of names present at the address in both lists.
    public var size: Int
    /// The first symbol at the address in A: the name kallsyms lookups return there.
    public var printedA: String
    /// The first symbol at the address in B.
    public var printedB: String

    /// A backtrace through this address prints a different name.
    public var printedNameChanges: Bool { printedA != printedB }

    package init(
        addressA: Address, addressB: Address, orderA: [String], orderB: [String], size: Int, printedA: String,
        printedB: String
    ) {
        self.addressA = addressA
        self.addressB = addressB
        self.orderA = orderA
        self.orderB = orderB
        self.size = size
        self.printedA = printedA
        self.printedB = printedB
    }
}

/// A matched symbol whose type letter changed.
public struct TypeChange: Codable, Equatable, Sendable {
    /// The symbol's name.
    public var name: String
    /// Its type letter in A.
    public var typeA: String
    /// Its type letter in B.
    public var typeB: String
    /// Its address in A.
    public var addressA: Address
    /// Its address in B.
    public var addressB: Address

    package init(name: String, typeA: String, typeB: String, addressA: Address, addressB: Address) {
        self.name = name
        self.typeA = typeA
        self.typeB = typeB
        self.addressA = addressA
        self.addressB = addressB
    }
}

/// The first difference not explained by a shift of everything before it.
public struct Difference: Codable, Equatable, Sendable {
    /// What the difference is.
    public enum Kind: String, Codable, Sendable {
        /// A symbol only in A.
        case onlyInA
        /// A symbol only in B.
        case onlyInB
        /// A matched symbol whose type letter changed.
        case typeChange
        /// An address whose symbols changed order.
        case reorder
        /// The first symbol of a run whose delta change nothing explains (`unexplained` or
        /// `outOfOrder`).
        case shift
    }

    /// What the difference is.
    public var kind: Kind
    /// The symbol where it is.
    public var name: String
    /// The symbol's address in A, where it has one.
    public var addressA: Address?
    /// The symbol's address in B, where it has one.
    public var addressB: Address?
    /// A sentence saying what happened there.
    public var detail: String

    package init(kind: Kind, name: String, addressA: Address?, addressB: Address?, detail: String) {
        self.kind = kind
        self.name = name
        self.addressA = addressA
        self.addressB = addressB
        self.detail = detail
    }
}

// Absent values are written as null rather than left out, so a reader sees every key.
extension MapDiffReport {
    /// Writes every key, absent values as null.
    /// - Parameter encoder: The encoder.
    /// - Throws: What the encoder throws.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(verdict, forKey: .verdict)
        try c.encode(summary, forKey: .summary)
        try c.encode(countA, forKey: .countA)
        try c.encode(countB, forKey: .countB)
        try c.encode(matched, forKey: .matched)
        try c.encode(firstUnexplained, forKey: .firstUnexplained)
        try c.encode(runs, forKey: .runs)
        try c.encode(runCount, forKey: .runCount)
        try c.encode(onlyInA, forKey: .onlyInA)
        try c.encode(onlyInACount, forKey: .onlyInACount)
        try c.encode(onlyInAClasses, forKey: .onlyInAClasses)
        try c.encode(onlyInB, forKey: .onlyInB)
        try c.encode(onlyInBCount, forKey: .onlyInBCount)
        try c.encode(onlyInBClasses, forKey: .onlyInBClasses)
        try c.encode(reorders, forKey: .reorders)
        try c.encode(reorderCount, forKey: .reorderCount)
        try c.encode(typeChanges, forKey: .typeChanges)
        try c.encode(typeChangeCount, forKey: .typeChangeCount)
        try c.encode(outOfOrderCount, forKey: .outOfOrderCount)
        try c.encode(kallsymsTableChange, forKey: .kallsymsTableChange)
    }
}

extension Difference {
    /// Writes every key, absent addresses as null.
    /// - Parameter encoder: The encoder.
    /// - Throws: What the encoder throws.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(kind, forKey: .kind)
        try c.encode(name, forKey: .name)
        try c.encode(addressA, forKey: .addressA)
        try c.encode(addressB, forKey: .addressB)
        try c.encode(detail, forKey: .detail)
    }
}
