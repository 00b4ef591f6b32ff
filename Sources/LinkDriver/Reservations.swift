import ELFKit
import KallsymsCore
import MapDiff

/// How much room to keep, and how to grow it.
enum Reservations {
    /// Smallest extra room per array: a few symbols' worth, so a reservation always absorbs a
    /// handful of new stubs.
    static let floors: [KallsymsArray: Int] = [
        .names: 256, .markers: 8, .tokenTable: 128, .offsets: 64, .addresses: 128, .seqsOfNames: 48,
    ]

    /// The room of `layout`'s variable arrays plus `extra` bytes shared out in proportion to each
    /// array's size (new symbols grow names, offsets and seqs together), never below the floors.
    static func spread(_ extra: Int, over layout: BinaryLayout) -> TableReservation {
        let arrays = layout.labels.filter { $0.array.growsWithSymbols }
        let total = max(1, arrays.reduce(0) { $0 + $1.size })
        var room: [KallsymsArray: Int] = [:]
        for l in arrays {
            let share = Int((Double(extra) * Double(l.size) / Double(total)).rounded(.up))
            room[l.array] = l.size + max(share, floors[l.array] ?? 64)
        }
        return TableReservation(room: room)
    }

    /// 1/32 of the table plus 1 KiB: room for a few hundred new symbols on a kernel-sized table.
    static func defaultMargin(_ layout: BinaryLayout) -> Int { layout.bytes.count / 32 + 1024 }

    /// Room sized from the growth the plain loop showed. `table` is the newest table, `linked`
    /// the layout linked into the image it came from, `before` the one linked before that.
    ///
    /// If moving the code after the table by `d` bytes adds about `r * d` bytes of table (new
    /// stubs), then reserving `M` bytes more than the table needs moves the code by the table's
    /// growth plus `M`, which adds `r * (g + M)`: that fits when `M >= r * g / (1 - r)`. Twice
    /// that, plus the default margin, absorbs the unevenness of stubs (they come whole).
    static func fromGrowth(table: BinaryLayout, linked: BinaryLayout, before: BinaryLayout?, arch: Architecture)
        -> TableReservation
    {
        let growth = abs(table.bytes.count - linked.bytes.count)
        var ratio = 0.5
        if let before {
            let shift = abs(linked.bytes.count - before.bytes.count)
            if shift > 0 { ratio = min(0.9, Double(growth) / Double(shift)) }
        }
        let needed = Double(growth) * ratio / (1 - ratio)
        let margin = Int(2 * needed) + defaultMargin(table) + growth
        return spread(margin, over: table)
    }

    /// A reservation the table `bare` outgrew: every array gets its need plus twice what it
    /// overflowed by (and the floor), the others keep their room.
    static func grow(_ r: TableReservation, toFit bare: BinaryLayout, previous: BinaryLayout) -> TableReservation {
        var out = r
        for l in bare.labels where l.array.growsWithSymbols {
            let room = r.room[l.array] ?? 0
            if l.size > room {
                out.room[l.array] = l.size + 2 * (l.size - room) + (floors[l.array] ?? 64)
            }
        }
        if let total = r.sectionSize {
            let size = bare.bytes.count
            if size > total { out.sectionSize = size + 2 * (size - total) + 1024 }
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
