#if canImport(Glibc)
    import Glibc
#endif

/// The filter between `nm -n` and the generator: the kernel's `scripts/mksysmap` of a version,
/// plus user exclusions and exceptions.
///
/// The kernel's rules are `sed`/`grep` patterns over the whole line `ADDRESS TYPE NAME`, not over
/// the name, and most start with a space. They are applied here the same way, to the same line
/// text, so a name containing a space or a type letter surrounded by spaces is judged exactly as
/// the shell pipeline judges it.
public struct SymbolFilter {
    /// Which version's mksysmap rules to apply before the user's patterns.
    public enum Base: String, CaseIterable, Sendable {
        /// 6.12's sed script (also drops linker stubs, veneers and thunks).
        case linux612 = "linux-6.12"
        /// 6.1's grep (the rest of 6.12's patterns were applied inside 6.1's generator).
        case linux61 = "linux-6.1"
        /// Keep every line nm prints.
        case none
    }

    /// The kernel's rules applied first.
    public var base: Base
    /// POSIX extended regular expressions matched against the name: a match drops the symbol.
    public var exclude: [POSIXRegex]
    /// Matched against the name: a match keeps a symbol the base rules would drop.
    public var keep: [POSIXRegex]

    /// A filter; with no arguments, 6.12's mksysmap exactly.
    ///
    /// - Parameters:
    ///   - base: The kernel's rules applied first.
    ///   - exclude: Patterns whose match drops a symbol the rules keep.
    ///   - keep: Patterns whose match keeps a symbol the rules drop (`exclude` still applies).
    public init(base: Base = .linux612, exclude: [POSIXRegex] = [], keep: [POSIXRegex] = []) {
        self.base = base
        self.exclude = exclude
        self.keep = keep
    }

    /// Filters an `nm -n` listing as `nm -n vmlinux | scripts/mksysmap` would.
    ///
    /// - Parameters:
    ///   - list: The listing's symbols, with nm's letters.
    ///   - addressWidth: Hex digits of an address in nm's lines (16 for ELF64, 8 for ELF32):
    ///     the kernel's patterns see the whole line.
    /// - Returns: The symbols that pass, in the same order.
    public func apply(_ list: SymbolList, addressWidth: Int) -> SymbolList {
        var order: [Int32] = []
        order.reserveCapacity(list.count)
        var line = [UInt8]()
        line.reserveCapacity(256)
        let zeros = [UInt8](repeating: UInt8(ascii: "0"), count: addressWidth)
        let blanks = [UInt8](repeating: 0x20, count: addressWidth)
        var cName = [CChar]()
        for i in 0 ..< list.count {
            var dropped = false
            if base != .none {
                line.removeAll(keepingCapacity: true)
                let letter = list.type(i)
                // The address's digits cannot take part in any pattern (none starts or ends in
                // a hex digit next to the space), so a constant stands in for them.
                line.append(contentsOf: NMListing.isUndefined(letter) ? blanks : zeros)
                line.append(0x20)
                line.append(letter)
                line.append(0x20)
                line.append(contentsOf: list.name(i))
                dropped = line.withUnsafeBufferPointer { base == .linux612 ? Self.drops612($0) : Self.drops61($0) }
            }
            if dropped || !exclude.isEmpty {
                cName.removeAll(keepingCapacity: true)
                for b in list.name(i) { cName.append(CChar(bitPattern: b)) }
                cName.append(0)
                if dropped && keep.contains(where: { $0.matches(cName) }) { dropped = false }
                if !dropped && exclude.contains(where: { $0.matches(cName) }) { dropped = true }
            }
            if !dropped { order.append(Int32(i)) }
        }
        if order.count == list.count { return list }
        return list.permuted(by: order)
    }

    // MARK: - The kernel's patterns

    static let spaced612: [[UInt8]] = [
        "$", ".L", "__efistub_", "__pi_$", "__pi_.L", "__kvm_nvhe_$", "__kvm_nvhe_.L", "__kcfi_typeid_",
        "__kvm_nvhe___kcfi_typeid_", "__pi___kcfi_typeid_", "__crc_", "__kstrtab_", "__kstrtabns_",
    ].map { Array($0.utf8) }
    static let suffixes612: [[UInt8]] = ["_from_arm", "_from_thumb", "_veneer", " L0", " _SDA_BASE_", " _SDA2_BASE_"]
        .map { Array($0.utf8) }
    static let anywhere612: [[UInt8]] = [".long_branch.", ".plt_branch."].map { Array($0.utf8) }
    static let spaced61: [[UInt8]] = ["$", ".L", "__crc_", "__kstrtab_", "__kstrtabns_"].map { Array($0.utf8) }

    /// 6.12's `mksysmap` sed script: true when the line is deleted.
    static func drops612(_ line: UnsafeBufferPointer<UInt8>) -> Bool {
        if typeField(line) { return true }
        for p in 0 ..< line.count where line[p] == 0x20 {
            for s in spaced612 where hasPrefix(line, at: p + 1, s) { return true }
            if thunk(line, at: p + 1) { return true }
        }
        for s in suffixes612 where hasSuffix(line, s) { return true }
        for s in anywhere612 where contains(line, s) { return true }
        return false
    }

    /// 6.1's `mksysmap` grep.
    static func drops61(_ line: UnsafeBufferPointer<UInt8>) -> Bool {
        if typeField(line) { return true }
        for p in 0 ..< line.count where line[p] == 0x20 {
            for s in spaced61 where hasPrefix(line, at: p + 1, s) { return true }
        }
        return hasSuffix(line, Array(" L0".utf8))
    }

    // MARK: - 7.3's rules (scripts/kallsyms-sysmap.c), over the name and letter, not a line

    static let prefixes73: [[UInt8]] = [
        "$", ".L", "__efistub_", "__pi_$", "__pi_.L", "__kvm_nvhe_$", "__kvm_nvhe_.L", "__kcfi_typeid_",
        "__kvm_nvhe___kcfi_typeid_", "__pi___kcfi_typeid_", "__crc_", "__kstrtab_", "__kstrtabns_",
        "__mod_device_table__",
    ].map { Array($0.utf8) }
    static let suffixes73: [[UInt8]] = ["_from_arm", "_from_thumb", "_veneer"].map { Array($0.utf8) }
    static let names73: [[UInt8]] = ["L0", "_SDA_BASE_", "_SDA2_BASE_"].map { Array($0.utf8) }
    static let modinfo73 = Array("__UNIQUE_ID_modinfo_".utf8)

    /// 7.3 drops absolute, undefined and debugging symbols by letter (`a`, `N`, `U`, `w`; not
    /// `A`, and not `v`).
    package static func omits73(type: UInt8) -> Bool {
        type == UInt8(ascii: "a") || type == UInt8(ascii: "N") || type == UInt8(ascii: "U") || type == UInt8(ascii: "w")
    }

    /// 7.3's name rules: true when System.map leaves the symbol out.
    package static func omits73(name: UnsafeBufferPointer<UInt8>) -> Bool {
        for p in prefixes73 where hasPrefix(name, at: 0, p) { return true }
        for s in suffixes73 where hasSuffix(name, s) { return true }
        for n in names73 where name.count == n.count && hasPrefix(name, at: 0, n) { return true }
        for s in anywhere612 where contains(name, s) { return true }
        if thunk(name, at: 0) { return true }
        // __UNIQUE_ID_modinfo_ followed by digits only (none at all counts).
        guard hasPrefix(name, at: 0, modinfo73) else { return false }
        return name[modinfo73.count...].allSatisfy { $0 >= 0x30 && $0 <= 0x39 }
    }

    /// ` [aNUw] ` anywhere in the line.
    static func typeField(_ line: UnsafeBufferPointer<UInt8>) -> Bool {
        guard line.count >= 3 else { return false }
        for p in 0 ..< line.count - 2 where line[p] == 0x20 && line[p + 2] == 0x20 {
            switch line[p + 1] {
            case UInt8(ascii: "a"), UInt8(ascii: "N"), UInt8(ascii: "U"), UInt8(ascii: "w"): return true
            default: continue
            }
        }
        return false
    }

    /// `__[[:alnum:]]*Thunk_` starting at `p`: the alphanumeric run after `__` must end in
    /// `Thunk` and be followed by `_` (the run cannot stop earlier, as `Thunk` is alphanumeric).
    static func thunk(_ line: UnsafeBufferPointer<UInt8>, at p: Int) -> Bool {
        guard p + 2 <= line.count, line[p] == 0x5F, line[p + 1] == 0x5F else { return false }
        var e = p + 2
        while e < line.count, isAlnum(line[e]) { e += 1 }
        guard e - (p + 2) >= 5, e < line.count, line[e] == 0x5F else { return false }
        return hasPrefix(line, at: e - 5, Array("Thunk".utf8))
    }

    @inline(__always) static func isAlnum(_ c: UInt8) -> Bool {
        (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A)
    }

    @inline(__always) static func hasPrefix(_ line: UnsafeBufferPointer<UInt8>, at p: Int, _ s: [UInt8]) -> Bool {
        guard p + s.count <= line.count else { return false }
        for k in 0 ..< s.count where line[p + k] != s[k] { return false }
        return true
    }

    static func hasSuffix(_ line: UnsafeBufferPointer<UInt8>, _ s: [UInt8]) -> Bool {
        line.count >= s.count && hasPrefix(line, at: line.count - s.count, s)
    }

    static func contains(_ line: UnsafeBufferPointer<UInt8>, _ s: [UInt8]) -> Bool {
        guard line.count >= s.count else { return false }
        for p in 0 ... line.count - s.count where line[p] == s[0] && hasPrefix(line, at: p, s) { return true }
        return false
    }
}

/// A compiled POSIX extended regular expression (glibc's `regcomp`), matched against bytes.
///
/// glibc's `regcomp`, not Foundation's regular expressions: a pattern means what it means to
/// `grep -E`, and the names it matches need not be UTF-8.
public final class POSIXRegex: @unchecked Sendable {
    /// The pattern as given.
    public let pattern: String
    var compiled = regex_t()

    /// Compiles a pattern.
    ///
    /// - Parameter pattern: A POSIX extended regular expression, unanchored.
    /// - Throws: ``KallsymsError`` (`.usage`) with `regerror`'s message when it does not compile.
    public init(_ pattern: String) throws {
        self.pattern = pattern
        let rc = regcomp(&compiled, pattern, REG_EXTENDED | REG_NOSUB)
        guard rc == 0 else {
            var buffer = [CChar](repeating: 0, count: 256)
            regerror(rc, &compiled, &buffer, buffer.count)
            let message = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw KallsymsError(.usage, "bad regular expression '\(pattern)': \(message)")
        }
    }

    deinit { regfree(&compiled) }

    /// Matches a name (its bytes as C characters, so a name that is not UTF-8 still matches).
    ///
    /// - Parameter cString: The bytes, NUL-terminated.
    /// - Returns: True when the pattern matches somewhere in them.
    public func matches(_ cString: [CChar]) -> Bool {
        regexec(&compiled, cString, 0, nil, 0) == 0
    }
}
