/// Reads symbols back out of table arrays the way the kernel's runtime does (`kernel/kallsyms.c`):
/// names by expanding tokens, addresses from offsets or absolute values. Every index and length is
/// checked, so corrupt arrays give an error with the offset at fault, never a trap.
public enum TableDecoder {
    /// Expands all `numSyms` names of `names` with the token table. Returns, per symbol, the
    /// decoded `type || name` (the kernel drops the first character to print the name and uses it
    /// as the type).
    package static func decodeNames(
        numSyms: Int, names: UnsafeBufferPointer<UInt8>, tokenTable: UnsafeBufferPointer<UInt8>,
        tokenIndex: [UInt16], addresses: [UInt64], nameLengths: NameLengthPrefix = .uleb128
    ) throws -> SymbolList {
        guard tokenIndex.count == 256 else {
            throw KallsymsError(.malformed, "token index has \(tokenIndex.count) entries, expected 256")
        }
        guard addresses.count == numSyms else {
            throw KallsymsError(.malformed, "\(addresses.count) addresses for \(numSyms) symbols")
        }
        // Token expansions resolved once: (start, length) in the token table.
        var tokenStart = [Int](repeating: 0, count: 256)
        var tokenLength = [Int](repeating: 0, count: 256)
        for slot in 0 ..< 256 {
            let start = Int(tokenIndex[slot])
            guard start < tokenTable.count else {
                throw KallsymsError(
                    .malformed, "token \(slot) starts at \(start), past the token table (\(tokenTable.count) bytes)")
            }
            var end = start
            while end < tokenTable.count && tokenTable[end] != 0 { end += 1 }
            guard end < tokenTable.count else {
                throw KallsymsError(.malformed, "token \(slot) is not NUL-terminated", offset: start)
            }
            tokenStart[slot] = start
            tokenLength[slot] = end - start
        }
        var out = SymbolList()
        // A name expands to at most 256 tokens' worth per byte; the arena reserve is only a hint.
        out.reserveCapacity(symbols: numSyms, bytes: min(names.count * 4, 1 << 28))
        var off = 0
        var expanded = [UInt8]()
        expanded.reserveCapacity(1024)
        for i in 0 ..< numSyms {
            guard off < names.count else {
                throw KallsymsError(.malformed, "names end before symbol \(i)", offset: off)
            }
            guard let (len, prefix) = nameLengths.decode(names, at: off) else {
                throw KallsymsError(.malformed, "truncated 2-byte length of symbol \(i)", offset: off)
            }
            guard len > 0, off + prefix + len <= names.count else {
                throw KallsymsError(.malformed, "symbol \(i) has length \(len) past the names table", offset: off)
            }
            expanded.removeAll(keepingCapacity: true)
            for k in 0 ..< len {
                let t = Int(names[off + prefix + k])
                expanded.append(contentsOf: UnsafeBufferPointer(rebasing: tokenTable[tokenStart[t] ..< tokenStart[t] + tokenLength[t]]))
            }
            guard let type = expanded.first else {
                throw KallsymsError(.malformed, "symbol \(i) expands to nothing", offset: off)
            }
            out.append(address: addresses[i], type: type, name: expanded[1...])
            off += prefix + len
        }
        return out
    }

    /// The addresses an encoding stands for, as `kallsyms_sym_address` computes them.
    ///
    /// - Parameters:
    ///   - encoding: The address array (with its relative base) as a table stores it.
    ///   - textAddress: The address of `_text`, which place-relative entries are stored against
    ///     (7.0 and later); the other encodings do not use it.
    /// - Returns: One address per entry, in table order.
    public static func addresses(_ encoding: AddressEncoding, textAddress: UInt64 = 0) -> [UInt64] {
        switch encoding {
        case .addresses(let a, _):
            return a
        case .placeRelative(let deltas):
            return deltas.map { textAddress &+ UInt64(bitPattern: Int64($0)) }
        case .absolute32(let words):
            return words.map { UInt64($0) }
        case .offsets(let words, let base, let absolutePercpu):
            return words.map { w in
                if !absolutePercpu { return base &+ UInt64(w) }
                let v = Int32(bitPattern: w)
                if v >= 0 { return UInt64(v) }
                return base &- 1 &- UInt64(bitPattern: Int64(v))
            }
        }
    }

    /// Decodes the symbols of a table from its arrays alone (ignoring `table.symbols`): what the
    /// kernel will see, to compare with what the table was generated from.
    ///
    /// - Parameter table: A generated table, or one whose arrays were read from an image.
    /// - Returns: The symbols in table order, each type letter and name expanded from its tokens.
    /// - Throws: ``KallsymsError`` (`.malformed`) naming the symbol and the offset in
    ///   `kallsyms_names` when an array is inconsistent (a length past the end, a token past the
    ///   token table, a token index without 256 entries).
    public static func decode(_ table: KallsymsTable) throws -> SymbolList {
        try table.names.withUnsafeBufferPointer { names in
            try table.tokenTable.withUnsafeBufferPointer { tokens in
                try decodeNames(
                    numSyms: table.numSyms, names: names, tokenTable: tokens, tokenIndex: table.tokenIndex,
                    addresses: addresses(table.addressEncoding, textAddress: table.textAddress),
                    nameLengths: table.tableFormat.nameLengths)
            }
        }
    }

    static func sortName(_ name: ArraySlice<UInt8>, _ ltoClang: Bool) -> ArraySlice<UInt8> {
        guard ltoClang else { return name }
        let llvm = Array(".llvm.".utf8)
        var i = name.startIndex
        while i + llvm.count <= name.endIndex {
            if name[i ..< i + llvm.count].elementsEqual(llvm) { return name[name.startIndex ..< i] }
            i += 1
        }
        return name
    }

    /// Checks the arrays that describe order and position: markers point at every 256th name,
    /// and `seqsOfNames` is a permutation listing names in sorted order.
    ///
    /// - Parameters:
    ///   - table: The table whose `kallsyms_markers` and `kallsyms_seqs_of_names` to check.
    ///   - decoded: Its symbols, as ``decode(_:)`` gives them.
    ///   - ltoClang: Names sort as if cut at `.llvm.` (6.1's `--lto-clang`).
    /// - Throws: ``KallsymsError`` (`.malformed`) naming the first marker or entry at fault.
    public static func verifyIndexes(_ table: KallsymsTable, decoded: SymbolList, ltoClang: Bool = false) throws {
        var off = 0
        for i in 0 ..< table.numSyms {
            if i & 0xFF == 0 {
                guard i >> 8 < table.markers.count, table.markers[i >> 8] == off else {
                    throw KallsymsError(.malformed, "marker \(i >> 8) does not point at symbol \(i)", offset: off)
                }
            }
            guard let (len, prefix) = table.tableFormat.nameLengths.decode(table.names, at: off) else {
                throw KallsymsError(.malformed, "names end inside the length of symbol \(i)", offset: off)
            }
            off += prefix + len
        }
        guard table.seqsOfNames.count == table.numSyms else {
            throw KallsymsError(.malformed, "\(table.seqsOfNames.count) name-order entries for \(table.numSyms) symbols")
        }
        var seen = [Bool](repeating: false, count: table.numSyms)
        for s in table.seqsOfNames {
            guard Int(s) < table.numSyms, !seen[Int(s)] else {
                throw KallsymsError(.malformed, "name order is not a permutation (entry \(s))")
            }
            seen[Int(s)] = true
        }
        for k in 1 ..< max(table.seqsOfNames.count, 1) {
            let a = sortName(decoded.name(Int(table.seqsOfNames[k - 1])), ltoClang)
            let b = sortName(decoded.name(Int(table.seqsOfNames[k])), ltoClang)
            if a.lexicographicallyPrecedes(b) || a.elementsEqual(b) { continue }
            throw KallsymsError(.malformed, "name order is not sorted at entry \(k)")
        }
    }
}
