import KallsymsCore

/// Compares two symbol lists and explains the difference: the question behind the kernel's
/// "Inconsistent kallsyms data", where `link-vmlinux.sh` found that the System.map of the final
/// link differs from the map the last kallsyms pass was built from.
///
/// How the lists are read:
/// - Both are taken in address order (stable: equal addresses keep each list's own order).
/// - **Matching.** Symbols are matched by name; when a name repeats (static functions), the k-th
///   occurrence in A is matched with the k-th occurrence in B. Unmatched ones are "only in A/B"
///   and get a `SymbolClass` (the rules are on `Classifier`).
/// - **Runs.** Walking B in address order, consecutive matched symbols with the same delta
///   (addrB − addrA, wrapping) form a run. Unmatched symbols do not break a run.
/// - **Why a run's delta changed** (`Run.Change`), for the change c = delta − previous delta,
///   tested in this order: `outOfOrder` if the symbol's counterpart lies at a lower A address than
///   a symbol B already listed; `insertion` if c > 0 and symbols only in B lie between the
///   previous run and this one; `removal` if c < 0 and symbols only in A lie between them (in
///   A's order); `alignment` if, with α = the largest power of two dividing the symbol's address
///   in both lists (capped at `Options.maxAlignment`), α ≥ 2 and |c| < α — padding before an
///   α-aligned symbol changes by less than α, so a symbol whose content before it did not change
///   size can only move that way; otherwise `unexplained`.
/// - **Same-address groups.** An address holding two or more symbols in B whose matched symbols
///   also share one address in A is reported when the names common to both come in a different
///   order; the first symbol at the address is the name the kernel prints there.
/// - **firstUnexplained** is where to look first: the first difference met when walking B in
///   address order, where before each matched symbol the symbols only in A that precede its
///   counterpart (in A's order) are visited. A difference is a symbol only in A or only in B, a
///   type change, a same-address group whose order changed, or the first symbol of a run whose
///   change is `unexplained` or `outOfOrder`. An `alignment` change is not one (padding follows
///   from what came before), nor are `insertion`/`removal` (the inserted or removed symbol, met
///   just before, is). It is nil exactly when the lists are identical or differ by shifts that
///   are all explained, e.g. a uniform shift.
public enum MapDiff {
    /// What `compare` believes and how much it keeps.
    public struct Options: Sendable {
        /// The largest alignment the alignment rule believes in. 2 MiB, because x86-64 aligns
        /// the kernel's segments to its large-page size (PMD_SIZE) and arm64 to 64 KiB: shifts
        /// absorbed at those boundaries are padding, not content.
        public var maxAlignment: UInt64
        /// At most this many entries are kept in each list of the report (the `…Count` fields
        /// keep the totals), so comparing two unrelated 650k-symbol maps stays cheap.
        public var maxListed: Int

        /// Options; by default 2 MiB and 10,000.
        /// - Parameters:
        ///   - maxAlignment: The largest alignment the alignment rule believes in.
        ///   - maxListed: The most entries kept in each list of the report.
        public init(maxAlignment: UInt64 = 0x20_0000, maxListed: Int = 10_000) {
            self.maxAlignment = maxAlignment
            self.maxListed = maxListed
        }
    }

    /// True for the names linkers give the branch stubs, veneers and thunks they add (the
    /// `linkerStub` class of a report).
    package static func isLinkerStub(_ name: ArraySlice<UInt8>) -> Bool {
        name.withUnsafeBufferPointer { Classifier.isLinkerStub($0) }
    }

    /// Compares `a` with `b` (B is the "new" side: deltas are B − A). Pure: no I/O.
    /// - Parameters:
    ///   - a: The old list, e.g. the map the last kallsyms pass was built from.
    ///   - b: The new list, e.g. the final link's System.map.
    ///   - options: The alignment rule's bound and the report's list sizes.
    /// - Returns: The verdict and the differences, grouped (see ``MapDiffReport``).
    public static func compare(_ a: SymbolList, _ b: SymbolList, options: Options = .init()) -> MapDiffReport {
        let sa = Side(a)
        let sb = Side(b)
        var walker = Walker(a: sa, b: sb, matching: Matching(sa, sb), options: options)
        walker.walk()
        return walker.report()
    }

    /// Reads a System.map or an `nm -n` listing: strict `ADDRESS TYPE NAME` lines, the rules of
    /// the 6.12 `scripts/kallsyms` (`MapParser`). Lines `nm` prints without an address
    /// (undefined symbols, `                 U name`, and weak undefined `w`/`v`) are skipped:
    /// they have no address to compare, and `nm -n` of a pass-1 6.1 vmlinux has them.
    /// Errors name `file` and the line.
    /// - Parameters:
    ///   - bytes: The listing's bytes.
    ///   - file: The name errors give the input.
    /// - Returns: The symbols in file order.
    /// - Throws: `KallsymsError` naming `file` and the line that is not `ADDRESS TYPE NAME`.
    public static func parseMap(_ bytes: [UInt8], file: String) throws -> SymbolList {
        var list = SymbolList()
        // The arena never outgrows the text (each line holds its name and type byte), and
        // System.map lines average over 40 bytes. Reserving the bound avoids regrowth copies;
        // untouched reserved pages cost no memory.
        list.reserveCapacity(symbols: bytes.count / 40 + 1, bytes: bytes.count)
        try bytes.withUnsafeBufferPointer { all in
            var offset = 0
            var linesBefore = 0
            while offset < all.count {
                let chunk = UnsafeBufferPointer(rebasing: all[offset...])
                do {
                    try MapParser.parse(chunk, format: .linux612, file: file, diagnostic: { _ in }) {
                        address, type, name, _ in
                        list.append(address: address, type: type, name: name)
                    }
                    return
                } catch let e as KallsymsError where e.kind == .lineFormat && e.line != nil {
                    // Find the failing line; skip it if it is an address-less undefined symbol.
                    let (start, end) = lineBounds(chunk, line: e.line!)
                    let line = UnsafeBufferPointer(rebasing: chunk[start ..< end])
                    guard isUndefinedLine(line) else {
                        var moved = e
                        moved.line = e.line! + linesBefore
                        throw moved
                    }
                    linesBefore += e.line!
                    offset += min(end + 1, chunk.count)
                }
            }
        }
        return list
    }

    /// Byte range of 1-based line `line` of `b` (without its newline).
    static func lineBounds(_ b: UnsafeBufferPointer<UInt8>, line: Int) -> (Int, Int) {
        var start = 0
        var n = 1
        while n < line, start < b.count {
            if b[start] == 0x0A { n += 1 }
            start += 1
        }
        var end = start
        while end < b.count, b[end] != 0x0A { end += 1 }
        return (start, end)
    }

    /// `nm`'s line for a symbol without an address: blanks, then `U`, `w` or `v`, a space, a name.
    static func isUndefinedLine(_ l: UnsafeBufferPointer<UInt8>) -> Bool {
        var i = 0
        while i < l.count, l[i] == 0x20 { i += 1 }
        guard i >= 1, i + 2 < l.count, l[i + 1] == 0x20 else { return false }
        return l[i] == UInt8(ascii: "U") || l[i] == UInt8(ascii: "w") || l[i] == UInt8(ascii: "v")
    }
}

/// The single walk over B in address order that builds every part of the report (see
/// `MapDiff` for the rules).
struct Walker {
    let a: Side
    let b: Side
    let matching: Matching
    let options: Options
    typealias Options = MapDiff.Options

    var runs: [Run] = []
    var runCount = 0
    var onlyInA: [OnlySymbol] = []
    var onlyInACount = 0
    var onlyInAClasses = ClassCounts()
    var onlyInB: [OnlySymbol] = []
    var onlyInBCount = 0
    var onlyInBClasses = ClassCounts()
    var reorders: [Reorder] = []
    var reorderCount = 0
    var typeChanges: [TypeChange] = []
    var typeChangeCount = 0
    var outOfOrderCount = 0
    var firstUnexplained: Difference?

    // The open run: its first and last B rank, the A rank of its first symbol, its delta.
    var runOpen = false
    var runFirst = 0
    var runLast = 0
    var runFirstA = 0
    var runLength = 0
    var runDelta: Int64 = 0
    var runChange = Run.Change.first
    var runInserted = 0
    var runRemoved = 0

    // The kallsyms table: deltas on either side of its labels.
    var deltaBeforeTable: Int64?
    var deltaAfterTable: Int64?
    var lastNonLabelDelta: Int64?
    var sawLabel = false
    var afterLabel = false

    init(a: Side, b: Side, matching: Matching, options: Options) {
        self.a = a
        self.b = b
        self.matching = matching
        self.options = options
    }

    mutating func walk() {
        let nA = a.count
        let nB = b.count
        var aNext = 0  // the next A rank the merged walk has not visited
        var inserted = 0
        var removed = 0
        var maxA = -1  // the highest A rank matched so far
        for rb in 0 ..< nB {
            let ra = Int(matching.aOfB[rb])
            if ra >= 0 {
                // Symbols only in A that come before this one's counterpart sit "here".
                while aNext < ra {
                    if matching.bOfA[aNext] < 0 {
                        noteOnlyInA(aNext)
                        removed += 1
                    }
                    aNext += 1
                }
                if aNext == ra { aNext += 1 }
            }
            if (rb == 0 || b.addr[rb - 1] != b.addr[rb]) && rb + 1 < nB && b.addr[rb + 1] == b.addr[rb] {
                checkGroup(from: rb)
            }
            guard ra >= 0 else {
                noteOnlyInB(rb)
                inserted += 1
                continue
            }
            let delta = Int64(bitPattern: b.addr[rb] &- a.addr[ra])
            let outOfOrder = maxA > ra && a.addr[ra] < a.addr[maxA]
            if outOfOrder { outOfOrderCount += 1 }
            if ra > maxA { maxA = ra }

            if !runOpen {
                openRun(rb, ra, delta, .first, inserted, removed)
            } else if delta != runDelta {
                let c = delta &- runDelta
                let change: Run.Change =
                    if outOfOrder { .outOfOrder }
                    else if c > 0 && inserted > 0 { .insertion }
                    else if c < 0 && removed > 0 { .removal }
                    else if isAlignment(c, a.addr[ra], b.addr[rb]) { .alignment }
                    else { .unexplained }
                if change == .unexplained || change == .outOfOrder {
                    noteShift(rb, ra, change: c, outOfOrder: outOfOrder, maxA: maxA)
                }
                closeRun()
                openRun(rb, ra, delta, change, inserted, removed)
            } else {
                runLast = rb
                runLength += 1
            }
            if a.type(ra) != b.type(rb) { noteTypeChange(rb, ra) }
            trackTable(rb, delta)
            inserted = 0
            removed = 0
        }
        while aNext < nA {
            if matching.bOfA[aNext] < 0 { noteOnlyInA(aNext) }
            aNext += 1
        }
        if runOpen { closeRun() }
    }

    /// Padding alone can explain a delta change c at a symbol aligned to α in both lists when
    /// |c| < α (see `MapDiff`).
    func isAlignment(_ c: Int64, _ addressA: UInt64, _ addressB: UInt64) -> Bool {
        let cap = options.maxAlignment == 0 ? 0 : UInt64.bitWidth - 1 - options.maxAlignment.leadingZeroBitCount
        let shift = min(addressA.trailingZeroBitCount, addressB.trailingZeroBitCount, cap)
        guard shift >= 1 else { return false }
        return c.magnitude < (UInt64(1) << UInt64(shift))
    }

    mutating func openRun(_ rb: Int, _ ra: Int, _ delta: Int64, _ change: Run.Change, _ inserted: Int, _ removed: Int) {
        runOpen = true
        runFirst = rb
        runLast = rb
        runFirstA = ra
        runLength = 1
        runDelta = delta
        runChange = change
        runInserted = inserted
        runRemoved = removed
    }

    mutating func closeRun() {
        runCount += 1
        guard runs.count < options.maxListed else { return }
        runs.append(
            Run(
                first: b.name(runFirst), last: b.name(runLast), count: runLength, delta: Delta(runDelta),
                start: Address(b.addr[runFirst]), end: Address(b.addr[runLast]), startA: Address(a.addr[runFirstA]),
                change: runChange, insertedBefore: runInserted, removedBefore: runRemoved))
    }

    mutating func noteOnlyInA(_ ra: Int) {
        let cls = Classifier.classify(a, rank: ra)
        onlyInAClasses[cls] += 1
        onlyInACount += 1
        if onlyInA.count < options.maxListed {
            onlyInA.append(OnlySymbol(name: a.name(ra), type: a.typeString(ra), address: Address(a.addr[ra]), symbolClass: cls))
        }
        if firstUnexplained == nil {
            firstUnexplained = Difference(
                kind: .onlyInA, name: a.name(ra), addressA: Address(a.addr[ra]), addressB: nil,
                detail: "only in A (\(Report.describe(cls))): B has no symbol of this name here")
        }
    }

    mutating func noteOnlyInB(_ rb: Int) {
        let cls = Classifier.classify(b, rank: rb)
        onlyInBClasses[cls] += 1
        onlyInBCount += 1
        if onlyInB.count < options.maxListed {
            onlyInB.append(OnlySymbol(name: b.name(rb), type: b.typeString(rb), address: Address(b.addr[rb]), symbolClass: cls))
        }
        if firstUnexplained == nil {
            firstUnexplained = Difference(
                kind: .onlyInB, name: b.name(rb), addressA: nil, addressB: Address(b.addr[rb]),
                detail: "only in B (\(Report.describe(cls))): everything after it can move by its size")
        }
    }

    mutating func noteTypeChange(_ rb: Int, _ ra: Int) {
        typeChangeCount += 1
        let change = TypeChange(
            name: b.name(rb), typeA: a.typeString(ra), typeB: b.typeString(rb), addressA: Address(a.addr[ra]),
            addressB: Address(b.addr[rb]))
        if typeChanges.count < options.maxListed { typeChanges.append(change) }
        if firstUnexplained == nil {
            firstUnexplained = Difference(
                kind: .typeChange, name: change.name, addressA: change.addressA, addressB: change.addressB,
                detail: "type changed from \(change.typeA) to \(change.typeB)")
        }
    }

    mutating func noteShift(_ rb: Int, _ ra: Int, change c: Int64, outOfOrder: Bool, maxA: Int) {
        let name = b.name(rb)
        let detail: String
        if outOfOrder {
            detail =
                "moved past other symbols: in A it lies before `\(a.name(maxA))` (\(Address(a.addr[maxA]))), in B after it"
        } else {
            let previous = b.name(runLast)
            let size = "\(c > 0 ? "grew" : "shrank") by 0x\(String(c.magnitude, radix: 16))"
            let moved =
                "moved by \(Delta(Int64(bitPattern: b.addr[rb] &- a.addr[ra]))) while the symbols before it moved by \(Delta(runDelta)): "
            if b.withName(runLast, Classifier.isKallsymsLabel) {
                // Between two table labels lies one table array: its size follows the symbols.
                detail = moved + "the kallsyms table array `\(previous)` \(size) (the table describes different symbols)"
            } else {
                detail = moved + "the bytes from `\(previous)` to `\(name)` \(size) and nothing in the lists says why"
            }
        }
        if firstUnexplained == nil {
            firstUnexplained = Difference(
                kind: .shift, name: name, addressA: Address(a.addr[ra]), addressB: Address(b.addr[rb]), detail: detail)
        }
    }

    /// The symbols `rb ..<` at one B address: report when the names both lists have at one
    /// address came in another order.
    mutating func checkGroup(from rb0: Int) {
        var rb1 = rb0 + 1
        while rb1 < b.count, b.addr[rb1] == b.addr[rb0] { rb1 += 1 }
        var members: [(ra: Int, rb: Int)] = []
        for rb in rb0 ..< rb1 where matching.aOfB[rb] >= 0 { members.append((Int(matching.aOfB[rb]), rb)) }
        guard members.count >= 2 else { return }
        // Sub-groups of members sharing one A address, each in B order.
        members.sort { a.addr[$0.ra] != a.addr[$1.ra] ? a.addr[$0.ra] < a.addr[$1.ra] : $0.rb < $1.rb }
        var i = 0
        while i < members.count {
            var j = i + 1
            while j < members.count, a.addr[members[j].ra] == a.addr[members[i].ra] { j += 1 }
            let sub = members[i ..< j]
            if sub.count >= 2, zip(sub.dropFirst(), sub).contains(where: { $0.ra < $1.ra }) {
                noteReorder(sub, groupStart: rb0)
            }
            i = j
        }
    }

    mutating func noteReorder(_ sub: ArraySlice<(ra: Int, rb: Int)>, groupStart rb0: Int) {
        reorderCount += 1
        let limit = 32
        let orderB = sub.prefix(limit).map { b.name($0.rb) }
        let orderA = sub.sorted { $0.ra < $1.ra }.prefix(limit).map { a.name($0.ra) }
        var firstA = sub.map(\.ra).min()!
        while firstA > 0, a.addr[firstA - 1] == a.addr[firstA] { firstA -= 1 }
        let r = Reorder(
            addressA: Address(a.addr[sub.first!.ra]), addressB: Address(b.addr[rb0]), orderA: orderA, orderB: orderB,
            size: sub.count, printedA: a.name(firstA), printedB: b.name(rb0))
        if reorders.count < options.maxListed { reorders.append(r) }
        let printed =
            r.printedNameChanges
            ? "the kernel prints `\(r.printedB)` there instead of `\(r.printedA)`"
            : "the kernel still prints `\(r.printedA)` there"
        if firstUnexplained == nil {
            firstUnexplained = Difference(
                kind: .reorder, name: orderB[0], addressA: r.addressA, addressB: r.addressB,
                detail: "symbols at one address changed order (\(orderA.joined(separator: ", ")) → \(orderB.joined(separator: ", "))): \(printed)")
        }
    }

    /// Remembers the deltas just before the first kallsyms table label and just after the last.
    mutating func trackTable(_ rb: Int, _ delta: Int64) {
        if b.withName(rb, Classifier.isKallsymsLabel) {
            if !sawLabel {
                sawLabel = true
                deltaBeforeTable = lastNonLabelDelta
            }
            afterLabel = true
        } else {
            if afterLabel {
                deltaAfterTable = delta
                afterLabel = false
            }
            lastNonLabelDelta = delta
        }
    }

    func report() -> MapDiffReport {
        var tableChange: Delta?
        if let before = deltaBeforeTable, let after = deltaAfterTable, after != before {
            tableChange = Delta(after &- before)
        }
        let clean =
            onlyInACount == 0 && onlyInBCount == 0 && typeChangeCount == 0 && reorderCount == 0 && outOfOrderCount == 0
        let verdict: Verdict
        if !clean {
            verdict = .different
        } else if runCount == 0 {
            verdict = .identical
        } else if runCount == 1 {
            verdict = runDelta == 0 ? .identical : .uniformShift(Delta(runDelta))
        } else {
            verdict = .consistentUpToShifts
        }
        var r = MapDiffReport(
            verdict: verdict, summary: "", countA: a.count, countB: b.count, matched: matching.matched,
            firstUnexplained: firstUnexplained, runs: runs, runCount: runCount, onlyInA: onlyInA,
            onlyInACount: onlyInACount, onlyInAClasses: onlyInAClasses, onlyInB: onlyInB, onlyInBCount: onlyInBCount,
            onlyInBClasses: onlyInBClasses, reorders: reorders, reorderCount: reorderCount, typeChanges: typeChanges,
            typeChangeCount: typeChangeCount, outOfOrderCount: outOfOrderCount, kallsymsTableChange: tableChange)
        r.summary = Report.summary(r)
        return r
    }
}
