import ELFKit
import Foundation
import KallsymsCore
import MapDiff

/// How much room to keep, and how to grow it.
///
/// A reservation is sized from what the passes so far showed. Where the image's own branches
/// can be read (`BranchReach`), the room is the fixed point of a model of the cascade: the calls
/// already pushed out by the last move of the code give the table bytes each pushed call costs,
/// per array, and the calls still in range give how many the room itself will push out; the
/// room is grown until it holds them all. Elsewhere the linear model of the growth seen stands in.
/// Every overflow at least doubles each array's margin, so a wrong guess costs few links.
enum Reservations {
    /// Smallest extra room per array: a few symbols' worth, so a reservation always absorbs a
    /// handful of new stubs.
    static let floors: [KallsymsArray: Int] = [
        .names: 256, .markers: 8, .tokenTable: 128, .offsets: 64, .addresses: 128, .seqsOfNames: 48,
    ]

    static func variableArrays(_ layout: BinaryLayout) -> [BinaryLayout.Label] {
        layout.labels.filter { $0.array.growsWithSymbols }
    }

    /// The room of `layout`'s variable arrays plus `extra` bytes shared out in proportion to each
    /// array's size (new symbols grow names, offsets and seqs together), never below the floors;
    /// `plus` adds bytes to single arrays on top.
    static func spread(_ extra: Int, over layout: BinaryLayout, plus: [KallsymsArray: Int] = [:]) -> TableReservation {
        let arrays = variableArrays(layout)
        let total = max(1, arrays.reduce(0) { $0 + $1.size })
        var room: [KallsymsArray: Int] = [:]
        for l in arrays {
            let share = Int((Double(extra) * Double(l.size) / Double(total)).rounded(.up))
            room[l.array] = l.size + max(share, floors[l.array] ?? 64) + (plus[l.array] ?? 0)
        }
        return TableReservation(room: room)
    }

    /// 1/32 of the table plus 1 KiB: room for a few hundred new symbols on a kernel-sized table,
    /// and for the compression of a slightly different symbol set coming out a little longer.
    static func defaultMargin(_ layout: BinaryLayout) -> Int { layout.bytes.count / 32 + 1024 }

    /// What the last relink showed: the newest table `table` (bare) came from an image in which
    /// the code after the table had moved by `moved` bytes, and its arrays grew by `growth`.
    struct Growth {
        var table: BinaryLayout
        var growth: [KallsymsArray: Int]
        var moved: Int
        var total: Int { growth.values.reduce(0, +) }
    }

    /// Room that absorbs the rest of the cascade at once, from the image's branches: `before` is
    /// the reach of the image linked before the move, `now` that of the image the table came
    /// from, whose section was `linkedSection` bytes. Nil when the move pushed out no branch
    /// (the growth did not come from stubs, or the model cannot see them).
    static func fromBranches(_ g: Growth, before: BranchReach, now: BranchReach, linkedSection: Int) -> TableReservation? {
        let pushed = before.pushedOut(by: g.moved)
        guard pushed > 0 else { return nil }
        // Table bytes per pushed call, per array (names, offsets, seqs, markers grow; the token
        // table may shrink: a negative share counts as none), doubled: the names of the next
        // stubs compress differently from the first ones. On examples/stubs/cascades.txt a
        // factor of 1.25 still overflows on 2 cases, 1.5 on none; 2 keeps a margin over that.
        let measured = g.growth.mapValues { 2 * Double(max(0, $0)) / Double(pushed) }
        // No array gets less than its share by size: one pass's growth can miss an array whose
        // growth comes in steps (a marker per 256 symbols).
        let arrays = variableArrays(g.table)
        let total = Double(max(1, arrays.reduce(0) { $0 + $1.size }))
        let sum = measured.values.reduce(0, +)
        var perCall: [KallsymsArray: Double] = [:]
        for l in arrays { perCall[l.array] = max(measured[l.array] ?? 0, sum * Double(l.size) / total) }
        let cost = perCall.values.reduce(0, +)
        let noise = defaultMargin(g.table)
        let size = g.table.bytes.count
        // The room moves the code by (size + extra - linkedSection); the calls that pushes out
        // must fit in extra. Each round that does not settle pushes out at least one more call,
        // so it settles within as many rounds as there are calls in range.
        var extra = noise
        var calls = 0
        for _ in 0 ... now.slack.count {
            calls = now.pushedOut(by: size + extra - linkedSection)
            let need = noise + Int((cost * Double(calls)).rounded(.up))
            if need <= extra { break }
            extra = need
        }
        var cascade = perCall.mapValues { Int(($0 * Double(calls)).rounded(.up)) }
        // The token table's length follows which substrings are commonest, not how many symbols
        // there are: stub names sharing a long prefix lengthen its tokens. Half its size again.
        if let tokens = g.table.label(.tokenTable), calls > 0 {
            cascade[.tokenTable] = max(cascade[.tokenTable] ?? 0, tokens.size / 2)
        }
        return spread(noise, over: g.table, plus: cascade)
    }

    /// Room from the growth alone (no branches to read). If moving the code after the table by
    /// `d` bytes adds about `r * d` bytes of table, reserving `M` bytes more than the table needs
    /// moves the code by the table's growth plus `M`, which adds `r * (g + M)`: that fits when
    /// `M >= r * g / (1 - r)`. Twice that, plus the default margin, absorbs the unevenness of
    /// stubs (they come whole).
    static func fromGrowth(_ g: Growth) -> TableReservation {
        let growth = abs(g.total)
        var ratio = 0.5
        if g.moved != 0 { ratio = min(0.9, Double(growth) / Double(abs(g.moved))) }
        let needed = Double(growth) * ratio / (1 - ratio)
        let margin = Int(2 * needed) + defaultMargin(g.table) + growth
        return spread(margin, over: g.table)
    }

    /// A reservation `r` the table `bare` outgrew, `anticipated` the room the growth model asks
    /// for now, `linked` the bare table that had `r`'s room when the overflowing image was linked
    /// (nil when that was the empty table of pass 0). Every array gets at least its need plus
    /// twice the margin it had (and twice what it overflowed by, and its floor), or the
    /// anticipated room if that is more.
    static func grow(
        _ r: TableReservation, toFit bare: BinaryLayout, linked: BinaryLayout?, anticipated: TableReservation
    ) -> TableReservation {
        var out = r
        let before = Dictionary((linked.map(variableArrays) ?? []).map { ($0.array, $0.size) }, uniquingKeysWith: max)
        for l in variableArrays(bare) {
            let room = r.room[l.array] ?? 0
            let least = floors[l.array] ?? 64
            let margin = before[l.array].map { max(room - $0, least) } ?? least
            let doubled = l.size + 2 * max(margin, l.size - room) + least
            out.room[l.array] = max(room, doubled, anticipated.room[l.array] ?? 0)
        }
        if let total = r.sectionSize {
            let size = bare.bytes.count
            if size > total { out.sectionSize = size + 2 * max(size - total, total - (linked?.bytes.count ?? total)) + 1024 }
        }
        return out
    }
}

/// Counts linker-made branch stubs, veneers and thunks by the names GNU ld and lld give them
/// (the map differ's `linkerStub` class).
enum LinkerStubs {
    static func count(_ symbols: SymbolList) -> Int {
        var n = 0
        for i in 0 ..< symbols.count where MapDiff.isLinkerStub(symbols.name(i)) { n += 1 }
        return n
    }
}
