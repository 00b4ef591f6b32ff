import ELFKit
import KallsymsCore

extension TableLocator {
    /// Reads the arrays where the `kallsyms_*` symbols say they are, each by its own count rather
    /// than by where the next array starts. This is how the kernel itself reads them, and it is
    /// the only reading that works for tables linked with reserved room (zero padding after
    /// each array, see `TableReservation`), which the structural scan rejects on purpose.
    /// `at` maps symbol names to file offsets. Every array is still checked: names must chain to
    /// every marker, the token index must describe the token table, seqs must be a permutation,
    /// and addresses must come out sorted.
    /// - Parameters:
    ///   - b: The kernel's bytes.
    ///   - at: The file offset of each array whose symbol the file has.
    ///   - byteOrder: The table's byte order.
    ///   - pointerSize: The kernel's pointer size (4 or 8).
    ///   - addressOf: The load address of a file offset, where known: it tells 7.0's
    ///     place-relative offsets from absolute 32-bit ones.
    /// - Returns: The table and its layout.
    /// - Throws: `KallsymsError` (malformed) naming the array that is missing or inconsistent,
    ///   with its offset.
    @_spi(TableScan)
    public static func readAtSymbols(
        _ b: UnsafeBufferPointer<UInt8>, at: [KallsymsArray: Int], order byteOrder: ByteOrder, pointerSize: Int,
        addressOf: ((Int) -> UInt64?)? = nil
    ) throws -> LocatedTable {
        let r = Reader(b, order: byteOrder)
        func need(_ array: KallsymsArray) throws -> Int {
            guard let o = at[array] else { throw KallsymsError(.malformed, "no symbol \(array.label)") }
            return o
        }
        func bad(_ what: String, _ o: Int) -> KallsymsError {
            KallsymsError(.malformed, "the table read at the kallsyms_* symbols is inconsistent: \(what)", offset: o)
        }
        let numSymsAt = try need(.numSyms)
        guard r.ok(numSymsAt, 4) else { throw bad("\(KallsymsArray.numSyms) is outside the file", numSymsAt) }
        let n = Int(try r.u32(numSymsAt))
        guard n <= maxSymbols, n * 2 <= b.count else { throw bad("\(KallsymsArray.numSyms) = \(n) is impossible", numSymsAt) }

        let markersAt = try need(.markers)
        let groups = (n + 255) / 256
        guard let markers = words(markersAt, groups, r) else { throw bad("markers run past the end", markersAt) }

        let indexAt = try need(.tokenIndex)
        guard r.ok(indexAt, 512) else { throw bad("token index runs past the end", indexAt) }
        let tokenIndex = try (0 ..< 256).map { i throws(FormatError) in try r.u16(indexAt + 2 * i) }
        let tableAt = try need(.tokenTable)
        // The index must be the running sum of the token lengths (each NUL-terminated).
        var expected = 0
        for slot in 0 ..< 256 {
            guard Int(tokenIndex[slot]) == expected else { throw bad("token index slot \(slot)", indexAt + 2 * slot) }
            var e = tableAt + expected
            while e < b.count && b[e] != 0 && e - tableAt < maxTokenLength * 256 { e += 1 }
            guard e < b.count, b[e] == 0 else { throw bad("token \(slot) is not terminated", tableAt + expected) }
            expected = e + 1 - tableAt
        }
        let tokenTable = Array(b[tableAt ..< tableAt + expected])

        let namesAt = try need(.names)
        var chained: (end: Int, sawTwoByte: Bool)?
        for twoByte in [true, false] {
            if let c = chainNames(b, start: namesAt, count: n, markers: markers, limit: b.count, twoByte: twoByte) {
                chained = c
                break
            }
        }
        guard let (namesEnd, sawTwoByte) = chained else { throw bad("names do not chain to the markers", namesAt) }
        let names = Array(b[namesAt ..< namesEnd])

        var encoding: AddressEncoding
        var addresses: [UInt64]
        var kind: TableLayout.AddressKind
        var addressesAt: Int
        var baseAt: Int?
        if let offsetsAt = at[.offsets], at[.relativeBase] == nil {
            // 7.0 and later: no relative base. Place-relative where the file says where each
            // entry is loaded, else (or when that does not come out sorted) absolute 32-bit.
            guard let w = words(offsetsAt, n, r) else { throw bad("offsets run past the end", offsetsAt) }
            var placed: [UInt64]?
            if let addressOf {
                placed = []
                for i in 0 ..< n {
                    guard let p = addressOf(offsetsAt + 4 * i) else { placed = nil; break }
                    placed!.append(p &+ UInt64(bitPattern: Int64(Int32(bitPattern: w[i]))))
                }
                if let p = placed, !sorted(p) { placed = nil }
            }
            if let placed {
                kind = .placeRelative
                addresses = placed
                encoding = .addresses(placed, absolute: [])  // re-expressed against _text below
            } else {
                addresses = w.map { UInt64($0) }
                guard sorted(addresses) else { throw bad("offsets are neither place-relative nor sorted addresses", offsetsAt) }
                kind = .absolute32
                encoding = .absolute32(w)
            }
            addressesAt = offsetsAt
        } else if let offsetsAt = at[.offsets] {
            let base = try need(.relativeBase)
            guard let w = words(offsetsAt, n, r) else { throw bad("offsets run past the end", offsetsAt) }
            guard r.ok(base, pointerSize) else { throw bad("relative base is outside the file", base) }
            let relativeBase = try r.word(base, pointerSize)
            if n == 0 {
                kind = .baseRelative
                addresses = []
            } else if let (k, a) = offsetInterpretations(w, base: relativeBase, pointerSize: pointerSize) {
                kind = k
                addresses = a
            } else {
                throw bad("offsets from relative_base 0x\(String(relativeBase, radix: 16)) do not come out sorted", offsetsAt)
            }
            encoding = .offsets(w, relativeBase: relativeBase, absolutePercpu: kind == .absolutePercpu)
            addressesAt = offsetsAt
            baseAt = base
        } else {
            addressesAt = try need(.addresses)
            guard r.ok(addressesAt, n * pointerSize) else { throw bad("addresses run past the end", addressesAt) }
            addresses = try (0 ..< n).map { i throws(FormatError) in try r.word(addressesAt + i * pointerSize, pointerSize) }
            guard sorted(addresses) else { throw bad("addresses are not sorted", addressesAt) }
            kind = .absolute
            encoding = .addresses(addresses, absolute: [Bool](repeating: false, count: n))
        }

        var seqValues: [UInt32]?
        if let seqsAt = at[.seqsOfNames] {
            guard let s = seqs(at: seqsAt, count: n, b) else { throw bad("seqs_of_names is not a permutation", seqsAt) }
            seqValues = s
        }
        let symbols = try names.withUnsafeBufferPointer { nb in
            try tokenTable.withUnsafeBufferPointer { tt in
                try TableDecoder.decodeNames(numSyms: n, names: nb, tokenTable: tt, tokenIndex: tokenIndex, addresses: addresses)
            }
        }
        let order: TableLayout.ArrayOrder =
            numSymsAt < addressesAt ? .v6_4 : (seqValues != nil ? .v6_2 : .before6_2)
        var offsets: [KallsymsArray: Int] = [
            .numSyms: numSymsAt, .names: namesAt, .markers: markersAt, .tokenTable: tableAt, .tokenIndex: indexAt,
            kind == .absolute ? .addresses : .offsets: addressesAt,
        ]
        offsets[.relativeBase] = baseAt
        offsets[.seqsOfNames] = at[.seqsOfNames]
        let layout = TableLayout(
            order: order, addressKind: kind, byteOrder: byteOrder, pointerSize: pointerSize, markerSize: 4,
            twoByteLengthsSeen: sawTwoByte, hasSeqsOfNames: seqValues != nil, offsets: offsets, namesSize: names.count,
            tokenTableSize: tokenTable.count)
        var table = KallsymsTable(
            format: kind.generator ?? (order == .before6_2 ? .linux61 : .linux612), symbols: symbols, names: names,
            markers: markers, tokenTable: tokenTable, tokenIndex: tokenIndex, addressEncoding: encoding,
            seqsOfNames: seqValues ?? KallsymsGenerator.nameOrder(symbols, ltoClang: false), textAddress: 0)
        table.textAddress = table.address(of: "_text") ?? addresses.first ?? 0
        if kind == .placeRelative { table.expressPlaceRelative() }
        return LocatedTable(table: table, layout: layout)
    }
}

extension TableLayout.AddressKind {
    /// The generator version whose tables only this encoding identifies (7.0's), else nil.
    var generator: KallsymsFormat? { self == .placeRelative || self == .absolute32 ? .linux70 : nil }
}

extension KallsymsTable {
    /// A place-relative table found as plain addresses, re-expressed as the generator wrote it:
    /// each entry `_text - . + (address - _text)`. Left as it is when an entry lies more than
    /// 2 GiB from `_text` (the generator would have refused it).
    mutating func expressPlaceRelative() {
        let text = textAddress
        let deltas = TableDecoder.addresses(addressEncoding, textAddress: text).map { Int64(bitPattern: $0 &- text) }
        guard deltas.allSatisfy({ $0 >= Int64(Int32.min) && $0 <= Int64(Int32.max) }) else { return }
        addressEncoding = .placeRelative(deltas.map { Int32($0) })
    }
}
