import KallsymsCore

/// The report as text (for people) and as JSON (for programs).
extension MapDiffReport {
    /// The verdict line first, then the details grouped by kind, each list cut after `limit`
    /// entries with "… and N more". `sourceA`/`sourceB` describe the inputs (a path and what it
    /// was read as) when the caller knows them.
    /// - Parameters:
    ///   - limit: The most entries printed per list; 20 by default.
    ///   - sourceA: What A is (a path and how it was read), or nil.
    ///   - sourceB: What B is, or nil.
    /// - Returns: The report for people, ending with a line feed.
    public func text(limit: Int = 20, sourceA: String? = nil, sourceB: String? = nil) -> String {
        var out = summary + "\n"
        let a = sourceA.map { "A = \($0): " } ?? "A: "
        let b = sourceB.map { "B = \($0): " } ?? "B: "
        out += "\(a)\(Report.plural(countA, "symbol"))\n\(b)\(Report.plural(countB, "symbol")); \(Report.number(matched)) matched by name\n"
        if let k = kallsymsTableChange, verdict == .different {  // the other verdicts' summaries say it
            out += "the symbols after the kallsyms table moved by \(k) relative to those before it\n"
        }
        if let f = firstUnexplained {
            var at: [String] = []
            if let x = f.addressA { at.append("A \(x)") }
            if let x = f.addressB { at.append("B \(x)") }
            out += "first unexplained: `\(f.name)` (\(at.joined(separator: ", "))): \(f.detail)\n"
        }

        func section<T>(_ title: String, _ items: [T], total: Int, _ line: (T) -> String) {
            guard total > 0 else { return }
            out += "\n\(title) (\(Report.number(total))):\n"
            for item in items.prefix(limit) { out += "  " + line(item) + "\n" }
            let shown = min(items.count, limit)
            if total > shown { out += "  … and \(Report.number(total - shown)) more\n" }
        }

        // A single unchanged run says nothing the verdict did not.
        if !(runCount == 1 && runs.first?.delta.value == 0) {
            section("address runs", runs, total: runCount) { r in
                let what =
                    r.count == 1
                    ? "1 symbol `\(r.first)`"
                    : "\(Report.number(r.count)) symbols from `\(r.first)` to `\(r.last)`"
                let moved = r.delta.value == 0 ? "unchanged" : "moved by \(r.delta)"
                let range = r.count == 1 ? "B \(r.start)" : "B \(r.start)–\(r.end)"
                return "\(what) \(moved) [\(range)]\(Report.describe(r))"
            }
        }
        func only(_ s: OnlySymbol) -> String {
            "\(s.address) \(s.type) \(s.name)" + (s.symbolClass == .other ? "" : "  [\(Report.describe(s.symbolClass))]")
        }
        section("only in A", onlyInA, total: onlyInACount, only)
        section("only in B", onlyInB, total: onlyInBCount, only)
        section("reordered at equal addresses", reorders, total: reorderCount) { r in
            let printed =
                r.printedNameChanges
                ? "the kernel prints `\(r.printedB)` instead of `\(r.printedA)`"
                : "the kernel still prints `\(r.printedA)`"
            return "B \(r.addressB) (A \(r.addressA)): A order \(r.orderA.map { "`\($0)`" }.joined(separator: ", ")); "
                + "B order \(r.orderB.map { "`\($0)`" }.joined(separator: ", ")) — \(printed)"
        }
        section("type changes", typeChanges, total: typeChangeCount) { t in
            "`\(t.name)` \(t.typeA) → \(t.typeB) [A \(t.addressA), B \(t.addressB)]"
        }
        if isTruncated { out += "\n(some lists were cut at MapDiff.Options.maxListed entries; the counts are totals)\n" }
        return out
    }

    /// The whole report as JSON through its `Codable` conformance (`JSONOutput`: keys sorted;
    /// addresses and deltas as hex strings; absent optionals left out; names as their bytes,
    /// U+0000–U+00FF).
    /// - Returns: The JSON text; `JSONDecoder` reads it back into a ``MapDiffReport``.
    public func json() -> String { JSONOutput.string(self) }
}

/// Wording and JSON shared by the report's parts.
enum Report {
    static func number(_ n: Int) -> String {
        let digits = String(n.magnitude)
        var out = ""
        for (i, c) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out += "," }
            out.append(c)
        }
        return (n < 0 ? "-" : "") + out
    }

    static func plural(_ n: Int, _ word: String, _ plural: String? = nil) -> String {
        "\(number(n)) \(n == 1 ? word : plural ?? word + "s")"
    }

    static func describe(_ c: SymbolClass) -> String {
        switch c {
        case .linkerStub: "linker stub"
        case .sectionEnd: "section end"
        case .kallsyms: "kallsyms table label"
        case .other: "symbol"
        }
    }

    /// The note after a run's line: why its delta differs from the previous run's.
    static func describe(_ r: Run) -> String {
        switch r.change {
        case .first: ""
        case .alignment: "  (alignment padding)"
        case .insertion: "  (after \(plural(r.insertedBefore, "new symbol")))"
        case .removal: "  (after \(plural(r.removedBefore, "removed symbol")))"
        case .outOfOrder: "  (moved past other symbols)"
        case .unexplained: "  (unexplained)"
        }
    }

    /// The verdict line: the verdict and the most telling causes, most telling first.
    static func summary(_ r: MapDiffReport) -> String {
        switch r.verdict {
        case .identical:
            return "identical (\(plural(r.countA, "symbol")))"
        case .uniformShift(let d):
            return "consistent up to a uniform shift of \(d) (\(plural(r.countA, "symbol")))"
        case .consistentUpToShifts:
            let head = "consistent up to shifts (\(plural(r.runCount, "run")))"
            if let t = r.kallsymsTableChange {
                return head
                    + ": the kallsyms table changed size, as between link passes: the symbols after it moved by \(t) relative to those before it"
            }
            if let f = r.firstUnexplained {
                return head + ": addresses first diverge at `\(f.name)`"
            }
            return head + ": alignment padding only"
        case .different:
            break
        }
        var parts: [String] = []
        let grew = (r.kallsymsTableChange?.value ?? 0) > 0
        if r.onlyInBClasses.linkerStub > 0 {
            parts.append(
                "\(plural(r.onlyInBClasses.linkerStub, "new linker stub")) in B — "
                    + (grew ? "the kallsyms table grew and pushed calls out of branch range" : "code moved and calls went out of branch range"))
        }
        if r.onlyInAClasses.linkerStub > 0 {
            parts.append("\(plural(r.onlyInAClasses.linkerStub, "linker stub")) gone in B — calls came back into branch range")
        }
        for (side, classes) in [("A", r.onlyInAClasses), ("B", r.onlyInBClasses)] where classes.kallsyms > 0 {
            parts.append(
                "\(plural(classes.kallsyms, "kallsyms table label")) only in \(side)"
                    + (side == "B" ? " (a 6.1 pass-1 map has none)" : ""))
        }
        for (side, classes) in [("A", r.onlyInAClasses), ("B", r.onlyInBClasses)] where classes.sectionEnd > 0 {
            parts.append("\(plural(classes.sectionEnd, "section-end symbol")) only in \(side)")
        }
        for (side, classes) in [("A", r.onlyInAClasses), ("B", r.onlyInBClasses)] where classes.other > 0 {
            let classified = classes.linkerStub + classes.kallsyms + classes.sectionEnd > 0
            parts.append("\(plural(classes.other, classified ? "other symbol" : "symbol")) only in \(side)")
        }
        if r.reorderCount > 0 {
            var s = "\(plural(r.reorderCount, "group")) of symbols at equal addresses reordered"
            if let p = r.reorders.first(where: \.printedNameChanges) {
                s += " — the kernel prints `\(p.printedB)` instead of `\(p.printedA)` at \(p.addressB)"
            }
            parts.append(s)
        }
        if r.outOfOrderCount > 0 { parts.append("\(plural(r.outOfOrderCount, "symbol")) moved past others") }
        if r.typeChangeCount > 0 {
            var s = plural(r.typeChangeCount, "type change")
            if r.typeChangeCount == 1, let t = r.typeChanges.first { s += " (`\(t.name)`: \(t.typeA) → \(t.typeB))" }
            parts.append(s)
        }
        return parts.joined(separator: "; ")
    }
}
