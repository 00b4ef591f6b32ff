import KallsymsCore

/// Sorts symbols that exist on one side only into `SymbolClass`es. The rules work on the name's
/// bytes; only the `_e…` alias rule looks at the neighbours at the same address.
///
/// - `linkerStub`: the names linkers give the code they add: a name containing `.long_branch.`
///   `.plt_branch.` or `.plt_call.` (powerpc ld's `00000018.long_branch.foo`), ending in `_veneer` (arm/arm64
///   ld), `_from_arm` or `_from_thumb` (arm interworking), starting with `__long_branch_` or
///   `__plt_branch_`, `__CortexA53843419_` (lld's erratum patch), or `__` + letters/digits +
///   `Thunk_` (lld's `__AArch64ADRPThunk_`, `__ARMV7PILongThunk_`, `__LA25Thunk_`, …; the same
///   pattern mksysmap deletes). mksysmap removes most of these from System.map, so they show in
///   `nm -n` listings and ELF symbol tables; in System.maps only their effect (shifts) shows.
/// - `kallsyms`: exactly one of the table's labels (`kallsyms_addresses`, `_offsets`,
///   `_relative_base`, `_num_syms`, `_names`, `_markers`, `_token_table`, `_token_index`,
///   `_seqs_of_names`). Functions such as `kallsyms_lookup` are ordinary code and stay `other`.
/// - `sectionEnd`: `_etext`, `_einittext`, `_edata`, `_end`, `_ebss`, `__bss_stop`; a name
///   starting with `__end_` or `__stop_`; a name of at least 8 bytes starting with `__` and
///   ending in `_end` (the kernel's own "provided by the linker script" test, ends only:
///   `__per_cpu_end`, `__init_end`); and any other `_e…` name (one leading underscore) that sits
///   at the same address as a symbol of the previous kinds in its own list (an alias of a
///   section end, such as `_erodata`).
/// - `other`: everything else.
enum Classifier {
    static let kallsymsLabels = KallsymsArray.labels

    static let exactEnds: [[UInt8]] = ["_etext", "_einittext", "_edata", "_end", "_ebss", "__bss_stop"].map {
        Array($0.utf8)
    }

    static func isKallsymsLabel(_ n: UnsafeBufferPointer<UInt8>) -> Bool {
        // Cheap reject first: this runs for every matched symbol during the walk.
        guard n.count >= 14, n[0] == UInt8(ascii: "k"), n[8] == UInt8(ascii: "_") else { return false }
        return kallsymsLabels.contains { equal(n, $0) }
    }

    static func isLinkerStub(_ n: UnsafeBufferPointer<UInt8>) -> Bool {
        if contains(n, ".long_branch.") || contains(n, ".plt_branch.") || contains(n, ".plt_call.") { return true }
        if hasSuffix(n, "_veneer") || hasSuffix(n, "_from_arm") || hasSuffix(n, "_from_thumb") { return true }
        if hasPrefix(n, "__long_branch_") || hasPrefix(n, "__plt_branch_") || hasPrefix(n, "__CortexA53843419_") {
            return true
        }
        // __<alnum>*Thunk_
        guard hasPrefix(n, "__") else { return false }
        var i = 2
        while i < n.count, isAlnum(n[i]) {
            // "Thunk_" after any run of letters and digits (the run itself may end in "Thunk").
            if hasPrefix(UnsafeBufferPointer(rebasing: n[i...]), "Thunk_") { return true }
            i += 1
        }
        return false
    }

    /// Section ends by name alone (rules 1–3 of `sectionEnd`).
    static func isSectionEndName(_ n: UnsafeBufferPointer<UInt8>) -> Bool {
        if exactEnds.contains(where: { equal(n, $0) }) { return true }
        if hasPrefix(n, "__end_") || hasPrefix(n, "__stop_") { return true }
        return n.count >= 8 && hasPrefix(n, "__") && hasSuffix(n, "_end")
    }

    /// The class of the symbol at address rank `rank` of `side`.
    static func classify(_ side: Side, rank: Int) -> SymbolClass {
        side.withName(rank) { n in
            if isLinkerStub(n) { return .linkerStub }
            if isKallsymsLabel(n) { return .kallsyms }
            if isSectionEndName(n) { return .sectionEnd }
            if n.count >= 2, n[0] == UInt8(ascii: "_"), n[1] == UInt8(ascii: "e") {
                // An alias of a section end: another symbol at the same address is one.
                let address = side.addr[rank]
                var r = rank - 1
                while r >= 0, side.addr[r] == address {
                    if side.withName(r, isSectionEndName) { return .sectionEnd }
                    r -= 1
                }
                r = rank + 1
                while r < side.count, side.addr[r] == address {
                    if side.withName(r, isSectionEndName) { return .sectionEnd }
                    r += 1
                }
            }
            return .other
        }
    }

    // MARK: Byte helpers

    @inline(__always) static func isAlnum(_ c: UInt8) -> Bool {
        (c >= 0x30 && c <= 0x39) || ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x7A)
    }

    static func equal(_ n: UnsafeBufferPointer<UInt8>, _ s: [UInt8]) -> Bool {
        n.count == s.count && n.elementsEqual(s)
    }

    static func hasPrefix(_ n: UnsafeBufferPointer<UInt8>, _ s: StaticString) -> Bool {
        let c = s.utf8CodeUnitCount
        guard n.count >= c else { return false }
        let p = s.utf8Start
        for i in 0 ..< c where n[i] != p[i] { return false }
        return true
    }

    static func hasSuffix(_ n: UnsafeBufferPointer<UInt8>, _ s: StaticString) -> Bool {
        let c = s.utf8CodeUnitCount
        guard n.count >= c else { return false }
        let p = s.utf8Start
        let o = n.count - c
        for i in 0 ..< c where n[o + i] != p[i] { return false }
        return true
    }

    static func contains(_ n: UnsafeBufferPointer<UInt8>, _ s: StaticString) -> Bool {
        let c = s.utf8CodeUnitCount
        guard n.count >= c else { return false }
        let p = s.utf8Start
        var o = 0
        outer: while o + c <= n.count {
            for i in 0 ..< c where n[o + i] != p[i] {
                o += 1
                continue outer
            }
            return true
        }
        return false
    }
}
