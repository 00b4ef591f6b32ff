#if canImport(Glibc)
    import Glibc
#endif

/// The kernel generator's symbol rules: which map lines become table entries, the text and
/// per-cpu ranges, the validity filter, the absolute per-cpu rewrite and the address sort.
/// Each rule follows `scripts/kallsyms` of the chosen version (docs/table-format.md, "The generator's rules").
package struct KernelRules {
    package static let ksymNameLen = 512

    package let options: GeneratorOptions

    package init(options: GeneratorOptions) { self.options = options }

    /// What reading a map yields before any table is built.
    package struct Collected: Sendable {
        /// Accepted symbols in input order (their index is the kernel's `seq`).
        package var symbols = SymbolList()
        package var text: UInt64 = 0
        package var stext: UInt64 = 0
        package var etext: UInt64 = 0
        package var sinittext: UInt64 = 0
        package var einittext: UInt64 = 0
        package var percpuStart: UInt64 = .max
        package var percpuEnd: UInt64 = 0
    }

    /// Reads a whole map. `warning` receives, as they occur, the messages the reference prints to
    /// stderr without failing (so they precede a later fatal error, as the reference's do).
    package func collect(
        map bytes: UnsafeBufferPointer<UInt8>, file: String, warning: ([UInt8]) -> Void = { _ in }
    ) throws -> Collected {
        var c = Collected()
        // Most lines are 30-60 bytes; reserving avoids repeated growth of the big arrays.
        // Every line costs at least as many bytes in the map as in the arena, and at least five
        // bytes in all; capacity that is never touched costs no memory, so reserve the bound.
        c.symbols.reserveCapacity(symbols: bytes.count / 5 + 1, bytes: bytes.count + 1)
        try MapParser.parse(bytes, format: options.format, file: file, diagnostic: warning) {
            address, type, name, _ in
            accept(address: address, type: type, name: name, into: &c, warning: warning)
        }
        return c
    }

    @inline(__always)
    func accept(
        address: UInt64, type: UInt8, name: UnsafeBufferPointer<UInt8>, into c: inout Collected,
        warning: ([UInt8]) -> Void
    ) {
        if name.count >= Self.ksymNameLen {
            var m = Array("Symbol ".utf8)
            m += name
            m += Array(
                " too long for kallsyms (\(name.count) >= \(Self.ksymNameLen)).\nPlease increase KSYM_NAME_LEN both in kernel and kallsyms.c\n"
                    .utf8)
            warning(m)
            return
        }
        let n = NameMatcher(name)
        if n.equals("_text") { c.text = address }
        if isIgnored(n, type: type) { return }
        // Range markers: only names that passed the ignore filter set them; last one wins.
        if n.count >= 6 && n.count <= 15 && (name[0] == 0x5F) {
            if n.equals("_stext") {
                c.stext = address
            } else if n.equals("_etext") {
                c.etext = address
            } else if n.equals("_sinittext") {
                c.sinittext = address
            } else if n.equals("_einittext") {
                c.einittext = address
            } else if n.equals("__per_cpu_start") {
                c.percpuStart = address
            } else if n.equals("__per_cpu_end") {
                c.percpuEnd = address
            }
        }
        c.symbols.append(address: address, type: type, name: name)
    }

    static let keptAbsolute: [StaticString] = ["__kernel_syscall_via_break", "__kernel_syscall_via_epc", "__kernel_sigtramp", "__gp"]
    /// Besides the table's own labels (`KallsymsArray`).
    static let ignored61Names: [StaticString] = ["_SDA_BASE_", "_SDA2_BASE_"]
    static let ignored61Prefixes: [StaticString] = [
        "__efistub_", "__kvm_nvhe_$", "__kvm_nvhe_.L", "__AArch64ADRPThunk_", "__ARMV5PILongThunk_",
        "__ARMV7PILongThunk_", "__ThumbV7PILongThunk_", "__LA25Thunk_", "__microLA25Thunk_",
        "__kcfi_typeid_",
    ]
    static let ignored61Suffixes: [StaticString] = ["_from_arm", "_from_thumb", "_veneer"]
    static let ignored61Substrings: [StaticString] = [".long_branch.", ".plt_branch."]

    func isIgnored(_ n: NameMatcher, type: UInt8) -> Bool {
        if options.format != .linux61 {
            // 6.2 on: mksysmap (or 7.3's built-in copy of it) drops the rest before we see it.
            if type == UInt8(ascii: "u") || type == UInt8(ascii: "n") { return true }
        } else {
            if type == UInt8(ascii: "U") || type == UInt8(ascii: "u") || type == UInt8(ascii: "N")
                || type == UInt8(ascii: "n")
            {
                return true
            }
            if KallsymsArray.isLabel(n.name) || Self.ignored61Names.contains(where: n.equals) { return true }
            if Self.ignored61Prefixes.contains(where: n.hasPrefix) { return true }
            if Self.ignored61Suffixes.contains(where: n.hasSuffix) { return true }
            if Self.ignored61Substrings.contains(where: n.contains) { return true }
        }
        if type == UInt8(ascii: "A") || type == UInt8(ascii: "a") {
            return !Self.keptAbsolute.contains(where: n.equals)
        }
        return false
    }

    // MARK: After reading

    /// The table the generator compresses: symbols in address order, with the kernel's flags.
    package struct Sorted: Sendable {
        package var symbols: SymbolList
        /// Per symbol: stored with an absolute value (per-cpu with `--absolute-percpu`).
        package var absolute: [Bool]
        package var relativeBase: UInt64
        package var text: UInt64
    }

    /// `shrink_table`, `make_percpus_absolute`, `sort_symbols`, `record_relative_base`.
    package func arrange(_ c: consuming Collected, file: String? = nil) throws -> Sorted {
        var symbols = c.symbols
        if !options.allSymbols {
            symbols = shrink(symbols, c)
        }
        if symbols.isEmpty && options.format == .linux61 {
            throw KallsymsError(.noValidSymbol, "No valid symbol.", file: file)
        }
        let n = symbols.count
        var absolute = [Bool](repeating: false, count: n)
        if options.absolutePercpu {
            for i in 0 ..< n {
                let a = symbols.addresses[i]
                if a >= c.percpuStart && a <= c.percpuEnd {
                    symbols.setType(i, UInt8(ascii: "A"))
                    absolute[i] = true
                }
            }
        }
        // The comparator is a total order (its last key is the input index), so any correct sort
        // gives the kernel's result. Its keys after the address pack into one word.
        if let order = addressOrder(symbols) {
            symbols = symbols.permuted(by: order)
            absolute = order.map { absolute[Int($0)] }
        }
        var relativeBase: UInt64 = 0
        if options.usesOffsets, let first = absolute.firstIndex(of: false) {
            relativeBase = symbols.addresses[first]
        }
        return Sorted(symbols: symbols, absolute: absolute, relativeBase: relativeBase, text: c.text)
    }

    /// The permutation that sorts `symbols` like the kernel's `compare_symbols`, or nil when they
    /// are in that order already.
    func addressOrder(_ symbols: SymbolList) -> [UInt32]? {
        let n = symbols.count
        let addresses = symbols.addresses
        var sortedByAddress = true
        for i in 1 ..< max(n, 1) where addresses[i - 1] > addresses[i] {
            sortedByAddress = false
            break
        }
        return symbols.bytes.withUnsafeBufferPointer { b -> [UInt32]? in
            func rank(_ i: Int) -> UInt64 {
                let s = Int(symbols.starts[i])
                let t = b[s]
                let weak: UInt64 = (t == UInt8(ascii: "w") || t == UInt8(ascii: "W")) ? 1 : 0
                let name = UnsafeBufferPointer(rebasing: b[(s + 1) ..< Int(symbols.ends[i])])
                let lds: UInt64 = Self.mayBeLinkerScriptProvided(name) ? 1 : 0
                var underscores = 0
                while underscores < name.count && name[underscores] == 0x5F { underscores += 1 }
                return (weak << 63) | (lds << 62) | (UInt64(underscores) << 40) | UInt64(i)
            }
            if !sortedByAddress {
                var keys = (0 ..< n).map { SortKey(address: addresses[$0], rank: rank($0)) }
                keys.sort()
                return keys.map { UInt32(truncatingIfNeeded: $0.rank & 0xFF_FFFF_FFFF) }
            }
            // `nm -n` input: only runs of equal addresses can be out of order.
            var order: [UInt32]? = nil
            var i = 0
            while i < n {
                var j = i + 1
                while j < n && addresses[j] == addresses[i] { j += 1 }
                if j - i > 1 {
                    var ranks = (i ..< j).map(rank)
                    let before = ranks
                    ranks.sort()
                    if ranks != before {
                        if order == nil { order = (0 ..< n).map { UInt32($0) } }
                        for k in i ..< j { order![k] = UInt32(truncatingIfNeeded: ranks[k - i] & 0xFF_FFFF_FFFF) }
                    }
                }
                i = j
            }
            return order
        }
    }

    struct SortKey: Comparable {
        var address: UInt64
        var rank: UInt64
        static func < (a: SortKey, b: SortKey) -> Bool {
            a.address != b.address ? a.address < b.address : a.rank < b.rank
        }
    }

    /// `symbol_valid` without `--all-symbols`: keep the text ranges (and, in 6.12, the
    /// `__start_`/`__stop_` section markers).
    func shrink(_ symbols: SymbolList, _ c: Collected) -> SymbolList {
        var kept: [UInt32] = []
        kept.reserveCapacity(symbols.count)
        for i in 0 ..< symbols.count {
            let name = symbols.name(i)
            let a = symbols.addresses[i]
            if options.format != .linux61
                && (name.starts(with: "__start_".utf8) || name.starts(with: "__stop_".utf8))
            {
                kept.append(UInt32(i))
                continue
            }
            let inText = (a >= c.stext && a <= c.etext) || (a >= c.sinittext && a <= c.einittext)
            if !inText { continue }
            // Symbols at a range end can move between passes when the tables are added.
            if a == c.etext && !name.elementsEqual("_etext".utf8) { continue }
            if a == c.einittext && !name.elementsEqual("_einittext".utf8) { continue }
            kept.append(UInt32(i))
        }
        return symbols.permuted(by: kept)
    }

    /// Names like `__start_foo`, `__foo_end`: the sort puts them after other aliases.
    static func mayBeLinkerScriptProvided(_ name: UnsafeBufferPointer<UInt8>) -> Bool {
        let len = name.count
        guard len >= 8, name[0] == 0x5F, name[1] == 0x5F else { return false }
        func at(_ i: Int, _ s: StaticString) -> Bool {
            let n = s.utf8CodeUnitCount
            return s.withUTF8Buffer { p in memcmp(name.baseAddress! + i, p.baseAddress!, n) == 0 }
        }
        return at(2, "start_") || at(2, "stop_") || at(2, "end_") || at(len - 6, "_start")
            || at(len - 4, "_end")
    }
}

/// Byte comparisons of a symbol name against fixed ASCII strings.
struct NameMatcher {
    let name: UnsafeBufferPointer<UInt8>
    init(_ name: UnsafeBufferPointer<UInt8>) { self.name = name }
    var count: Int { name.count }

    @inline(__always)
    private func same(_ s: StaticString, at offset: Int) -> Bool {
        let n = s.utf8CodeUnitCount
        return offset >= 0 && offset + n <= name.count
            && (n == 0 || memcmp(s.utf8Start, name.baseAddress! + offset, n) == 0)
    }
    func equals(_ s: StaticString) -> Bool { s.utf8CodeUnitCount == name.count && same(s, at: 0) }
    func hasPrefix(_ s: StaticString) -> Bool { same(s, at: 0) }
    func hasSuffix(_ s: StaticString) -> Bool { same(s, at: name.count - s.utf8CodeUnitCount) }
    func contains(_ s: StaticString) -> Bool {
        guard name.count > 0 else { return s.utf8CodeUnitCount == 0 }
        return findBytes(name.baseAddress!, name.count, UnsafeBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount)) != nil
    }
}
