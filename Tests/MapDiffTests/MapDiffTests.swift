import Foundation
import KallsymsCore
import KallsymsTestSupport
import MapDiff
import Testing

/// A map from `ADDRESS TYPE NAME` lines, addresses written in full as System.map has them.
func map(_ lines: [(UInt64, String, String)]) -> String {
    lines.map { a, t, n in
        let h = String(a, radix: 16)
        return String(repeating: "0", count: max(0, 16 - h.count)) + h + " \(t) \(n)\n"
    }.joined()
}

func symbols(_ lines: [(UInt64, String, String)]) throws -> SymbolList {
    try MapDiff.parseMap(Array(map(lines).utf8), file: "test.map")
}

func compare(_ a: [(UInt64, String, String)], _ b: [(UInt64, String, String)]) throws -> MapDiffReport {
    MapDiff.compare(try symbols(a), try symbols(b))
}

/// `(first, last, count, delta, change)` of each run, for compact assertions.
func shape(_ r: MapDiffReport) -> [String] {
    r.runs.map { "\($0.first)..\($0.last) \($0.count) \($0.delta) \($0.change.rawValue)" }
}

@Suite struct MapDiffTests {
    // MARK: Debian's real map against the map its first link pass would have produced

    /// The kallsyms table of Debian's 6.12 build lives in .rodata from `kallsyms_num_syms`
    /// (0xffffffff821957a8) for 3,379,237 bytes. In pass 1 the table is empty (the 555-line .S of
    /// an empty input): its labels sit at the offsets that .S gives them, and everything after the
    /// table lies lower by the size difference, rounded up to a page (the model for "the later
    /// content keeps its alignment").
    static let tableStart: UInt64 = 0xffff_ffff_8219_57a8
    static let tableSize: UInt64 = 3_379_237
    /// Offsets of the labels in the empty table: num_syms (.long 0), names, markers and
    /// token_table after ALGN (8), token_index after 256 one-byte `.asciz ""`, offsets after 256
    /// `.short`, relative_base at the same place, seqs_of_names after its 8-byte PTR.
    static let emptyOffsets: [String: UInt64] = [
        "kallsyms_num_syms": 0, "kallsyms_names": 8, "kallsyms_markers": 8, "kallsyms_token_table": 8,
        "kallsyms_token_index": 0x108, "kallsyms_offsets": 0x308, "kallsyms_relative_base": 0x308,
        "kallsyms_seqs_of_names": 0x310,
    ]
    static let emptySize: UInt64 = 0x310
    static let pass1Delta = -Int64((tableSize - emptySize + 0xFFF) & ~0xFFF)

    func debianMap() throws -> SymbolList {
        let path = try DebianData.systemMap612()
        return try MapDiff.parseMap(FileIO.read(path), file: path)
    }

    /// The pass-1 addresses of the real map's symbols (6.12: the labels exist, the table is empty).
    func pass1(_ real: SymbolList, keepLabels: Bool = true) -> SymbolList {
        var out = SymbolList()
        let tableEnd = Self.tableStart + Self.tableSize
        for i in 0 ..< real.count {
            var address = real.addresses[i]
            let name = real.nameString(i)
            if let offset = Self.emptyOffsets[name] {
                if !keepLabels { continue }
                address = Self.tableStart + offset
            } else if address >= tableEnd {
                address = UInt64(bitPattern: Int64(bitPattern: address) + Self.pass1Delta)
            } else {
                precondition(address < Self.tableStart, "a symbol inside the table: \(name)")
            }
            out.append(address: address, type: real.type(i), name: real.name(i))
        }
        return out
    }

    @Test func debianMapAgainstItsPass1Map() throws {
        let real = try debianMap()
        #expect(real.count == 162_964)
        // The table's last array, 3 bytes per symbol, ends where the spec says the table ends.
        let seqs = (0 ..< real.count).first { real.nameString($0) == "kallsyms_seqs_of_names" }!
        #expect(real.addresses[seqs] + 3 * 162_959 == Self.tableStart + Self.tableSize)
        #expect(Self.pass1Delta == -0x339000)

        let r = MapDiff.compare(real, pass1(real))
        #expect(r.verdict == .consistentUpToShifts)
        #expect(r.matched == 162_964 && r.onlyInACount == 0 && r.onlyInBCount == 0)
        #expect(r.reorderCount == 0 && r.typeChangeCount == 0 && r.outOfOrderCount == 0)
        #expect(
            shape(r) == [
                "__per_cpu_start..kallsyms_names 111297 0 first",  // all before the table, and its first 8 bytes
                "kallsyms_markers..kallsyms_markers 1 -0x221858 unexplained",
                "kallsyms_token_table..kallsyms_token_table 1 -0x222250 unexplained",
                "kallsyms_token_index..kallsyms_offsets 2 -0x222528 unexplained",  // token_index is 512 bytes in both
                "kallsyms_relative_base..kallsyms_seqs_of_names 2 -0x2c1768 unexplained",
                "IV..\(real.nameString(real.count - 1)) 51661 -0x339000 unexplained",
            ])
        #expect(r.runs[5].start == Address(0xffff_ffff_825c_cf60 - 0x339000))
        #expect(r.runs[5].startA == 0xffff_ffff_825c_cf60)
        #expect(r.kallsymsTableChange == Delta(Self.pass1Delta))
        #expect(r.firstUnexplained?.kind == .shift)
        #expect(r.firstUnexplained?.name == "kallsyms_markers")
        #expect(r.firstUnexplained?.detail.hasSuffix("the kallsyms table array `kallsyms_names` shrank by 0x221858 (the table describes different symbols)") == true)
        #expect(r.summary.hasPrefix("consistent up to shifts (6 runs): the kallsyms table changed size"))
        #expect(r.summary.contains("-0x339000"))
        let text = r.text()
        #expect(text.hasPrefix(r.summary + "\n"))
        #expect(text.contains("51,661 symbols from `IV` to `"))
        #expect(text.contains("111,297 symbols from `__per_cpu_start` to `kallsyms_names` unchanged"))
    }

    /// 6.1's pass 1 has no table labels at all (weak undefined, dropped by mksysmap).
    @Test func debian61StylePass1MapLacksTheLabels() throws {
        let real = try debianMap()
        let r = MapDiff.compare(pass1(real, keepLabels: false), real)
        #expect(r.verdict == .different)
        #expect(r.onlyInACount == 0 && r.onlyInBCount == 8)
        #expect(r.onlyInBClasses.kallsyms == 8 && r.onlyInBClasses.other == 0)
        #expect(
            r.onlyInB.map(\.name) == [
                "kallsyms_num_syms", "kallsyms_names", "kallsyms_markers", "kallsyms_token_table", "kallsyms_token_index",
                "kallsyms_offsets", "kallsyms_relative_base", "kallsyms_seqs_of_names",
            ])
        // Everything after the table moved up by the table's size; the labels explain it.
        #expect(shape(r) == ["__per_cpu_start..linux_banner 111295 0 first", "IV..\(real.nameString(real.count - 1)) 51661 +0x339000 insertion"])
        #expect(r.runs[1].insertedBefore == 8)
        #expect(r.firstUnexplained?.kind == .onlyInB)
        #expect(r.firstUnexplained?.name == "kallsyms_num_syms")
        #expect(r.summary == "8 kallsyms table labels only in B (a 6.1 pass-1 map has none)")
    }

    // MARK: Small cases, one rule each

    static let base: [(UInt64, String, String)] = [
        (0x1000, "T", "_stext"), (0x1000, "T", "f1"), (0x1010, "T", "f2"), (0x1020, "t", "f3"), (0x1040, "T", "_etext"),
    ]

    @Test(.tags(.offline)) func identicalLists() throws {
        let r = try compare(Self.base, Self.base)
        #expect(r.verdict == .identical)
        #expect(r.summary == "identical (5 symbols)")
        #expect(shape(r) == ["_stext.._etext 5 0 first"])
        #expect(r.firstUnexplained == nil)
        #expect(r.text() == "identical (5 symbols)\nA: 5 symbols\nB: 5 symbols; 5 matched by name\n")
        let empty = MapDiff.compare(SymbolList(), SymbolList())
        #expect(empty.verdict == .identical && empty.runCount == 0)
    }

    @Test(.tags(.offline)) func uniformShiftIsSignedAndWraps() throws {
        let up = try compare(Self.base, Self.base.map { ($0.0 + 0x2000, $0.1, $0.2) })
        #expect(up.verdict == .uniformShift(0x2000))
        #expect(up.summary == "consistent up to a uniform shift of +0x2000 (5 symbols)")
        #expect(shape(up) == ["_stext.._etext 5 +0x2000 first"])
        #expect(up.firstUnexplained == nil)
        // 0x10 → 2^64 - 0x10: a delta of -0x20, not a huge positive one.
        let wrap = try compare([(0x10, "T", "a")], [(0xffff_ffff_ffff_fff0, "T", "a")])
        #expect(wrap.verdict == .uniformShift(-0x20))
        #expect(wrap.runs[0].delta.description == "-0x20")
    }

    @Test(.tags(.offline), arguments: ["__long_branch_foo", "foo_veneer", "00000018.long_branch.bar"])
    func insertedLinkerStubShiftsWhatFollows(stub: String) throws {
        let b: [(UInt64, String, String)] = [
            (0x1000, "T", "_stext"), (0x1000, "T", "f1"), (0x1010, "t", stub), (0x1020, "T", "f2"), (0x1030, "t", "f3"),
            (0x1050, "T", "_etext"),
        ]
        let r = try compare(Self.base, b)
        #expect(r.verdict == .different)
        #expect(r.onlyInB == [OnlySymbol(name: stub, type: "t", address: 0x1010, symbolClass: .linkerStub)])
        #expect(r.onlyInBClasses.linkerStub == 1 && r.onlyInACount == 0)
        #expect(shape(r) == ["_stext..f1 2 0 first", "f2.._etext 3 +0x10 insertion"])
        #expect(r.runs[1].insertedBefore == 1)
        #expect(r.firstUnexplained == Difference(kind: .onlyInB, name: stub, addressA: nil, addressB: 0x1010, detail: r.firstUnexplained!.detail))
        #expect(r.summary == "1 new linker stub in B — code moved and calls went out of branch range")
    }

    @Test(.tags(.offline)) func reorderAtEqualAddressChangesThePrintedName() throws {
        let a: [(UInt64, String, String)] = [(0x1000, "T", "x"), (0x1000, "W", "y"), (0x1010, "T", "z"), (0x1010, "T", "z2"), (0x1010, "T", "z3")]
        let b: [(UInt64, String, String)] = [(0x1000, "W", "y"), (0x1000, "T", "x"), (0x1010, "T", "z"), (0x1010, "T", "z3"), (0x1010, "T", "z2")]
        let r = try compare(a, b)
        #expect(r.verdict == .different)
        #expect(r.reorderCount == 2)
        #expect(
            r.reorders[0]
                == Reorder(addressA: 0x1000, addressB: 0x1000, orderA: ["x", "y"], orderB: ["y", "x"], size: 2, printedA: "x", printedB: "y"))
        #expect(r.reorders[0].printedNameChanges)
        // The second group's first name stays: the kernel prints the same name.
        #expect(r.reorders[1].orderA == ["z", "z2", "z3"] && r.reorders[1].orderB == ["z", "z3", "z2"])
        #expect(!r.reorders[1].printedNameChanges && r.reorders[1].printedB == "z")
        #expect(shape(r) == ["y..z2 5 0 first"])
        #expect(r.outOfOrderCount == 0)
        #expect(r.firstUnexplained?.kind == .reorder && r.firstUnexplained?.name == "y")
        #expect(r.summary == "2 groups of symbols at equal addresses reordered — the kernel prints `y` instead of `x` at 0x1000")
    }

    @Test(.tags(.offline)) func alignmentPaddingIsToldFromGrowth() throws {
        // b grows by 0x10 (unexplained: c is 16-aligned and moved by a whole 0x10); d is
        // 64-aligned, so the padding before it grows from 0x10 to 0x40 (alignment).
        let a: [(UInt64, String, String)] = [(0x1000, "T", "a"), (0x1010, "T", "b"), (0x1030, "T", "c"), (0x1080, "T", "d"), (0x1090, "T", "e")]
        let b: [(UInt64, String, String)] = [(0x1000, "T", "a"), (0x1010, "T", "b"), (0x1040, "T", "c"), (0x10c0, "T", "d"), (0x10d0, "T", "e")]
        let r = try compare(a, b)
        #expect(r.verdict == .consistentUpToShifts)
        #expect(shape(r) == ["a..b 2 0 first", "c..c 1 +0x10 unexplained", "d..e 2 +0x40 alignment"])
        #expect(r.runs[2].alignmentChange && !r.runs[1].alignmentChange)
        #expect(r.firstUnexplained?.name == "c" && r.firstUnexplained?.kind == .shift)
        #expect(r.summary == "consistent up to shifts (3 runs): addresses first diverge at `c`")
        #expect(r.text().contains("2 symbols from `d` to `e` moved by +0x40 [B 0x10c0–0x10d0]  (alignment padding)"))

        // A shift that padding absorbs entirely: nothing unexplained.
        let pad = try compare([(0x1008, "T", "p"), (0x1040, "T", "q")], [(0x1010, "T", "p"), (0x1040, "T", "q")])
        #expect(pad.verdict == .consistentUpToShifts)
        #expect(shape(pad) == ["p..p 1 +0x8 first", "q..q 1 0 alignment"])
        #expect(pad.firstUnexplained == nil)
        #expect(pad.summary == "consistent up to shifts (2 runs): alignment padding only")
        // The same change at a symbol aligned to only 8 bytes is not padding.
        let notPad = try compare([(0x1008, "T", "p"), (0x1048, "T", "q")], [(0x1010, "T", "p"), (0x1048, "T", "q")])
        #expect(shape(notPad) == ["p..p 1 +0x8 first", "q..q 1 0 unexplained"])
    }

    @Test(.tags(.offline)) func typeChange() throws {
        let b = Self.base.map { $0.2 == "f3" ? ($0.0, "T", $0.2) : $0 }
        let r = try compare(Self.base, b)
        #expect(r.verdict == .different)
        #expect(r.typeChanges == [TypeChange(name: "f3", typeA: "t", typeB: "T", addressA: 0x1020, addressB: 0x1020)])
        #expect(shape(r) == ["_stext.._etext 5 0 first"])
        #expect(r.firstUnexplained?.kind == .typeChange && r.firstUnexplained?.name == "f3")
        #expect(r.summary == "1 type change (`f3`: t → T)")
    }

    @Test(.tags(.offline)) func removedSymbolWithItsClass() throws {
        // f2 (0x10 bytes) is gone and everything after it moved down; __stop_x went too.
        let a = Self.base + [(0x1040, "D", "__stop_x")]
        let b: [(UInt64, String, String)] = [(0x1000, "T", "_stext"), (0x1000, "T", "f1"), (0x1010, "t", "f3"), (0x1030, "T", "_etext")]
        let r = try compare(a, b)
        #expect(r.verdict == .different)
        #expect(
            r.onlyInA == [
                OnlySymbol(name: "f2", type: "T", address: 0x1010, symbolClass: .other),
                OnlySymbol(name: "__stop_x", type: "D", address: 0x1040, symbolClass: .sectionEnd),
            ])
        #expect(r.onlyInAClasses.other == 1 && r.onlyInAClasses.sectionEnd == 1)
        #expect(shape(r) == ["_stext..f1 2 0 first", "f3.._etext 2 -0x10 removal"])
        #expect(r.runs[1].removedBefore == 1)
        #expect(r.firstUnexplained?.kind == .onlyInA && r.firstUnexplained?.name == "f2")
        #expect(r.firstUnexplained?.addressA == 0x1010 && r.firstUnexplained?.addressB == nil)
        #expect(r.summary == "1 section-end symbol only in A; 1 other symbol only in A")
    }

    @Test(.tags(.offline)) func sectionEndAliasesAndClasses() throws {
        // `_eprobes` shares its address with `__stop_probes`: an alias of a section end.
        // `_efoo` stands alone: an ordinary symbol.
        let a: [(UInt64, String, String)] = [(0x1000, "T", "f"), (0x2000, "D", "__stop_probes"), (0x3000, "D", "g")]
        let b: [(UInt64, String, String)] = [
            (0x1000, "T", "f"), (0x1800, "D", "_efoo"), (0x2000, "D", "_eprobes"), (0x2000, "D", "__stop_probes"),
            (0x3000, "D", "g"),
        ]
        let r = try compare(a, b)
        #expect(r.onlyInB.map(\.name) == ["_efoo", "_eprobes"])
        #expect(r.onlyInB.map(\.symbolClass) == [.other, .sectionEnd])
        #expect(shape(r) == ["f..g 3 0 first"])
        #expect(r.summary == "1 section-end symbol only in B; 1 other symbol only in B")
    }

    @Test(.tags(.offline), arguments: [
        ("__AArch64ADRPThunk_foo", SymbolClass.linkerStub), ("__ARMV7PILongThunk_bar", .linkerStub),
        ("__LA25Thunk_x", .linkerStub), ("foo_from_thumb", .linkerStub), ("foo_from_arm", .linkerStub),
        ("__plt_branch_x", .linkerStub), ("00000010.plt_branch.y", .linkerStub), ("_etext", .sectionEnd),
        ("_end", .sectionEnd), ("__end_rodata", .sectionEnd), ("__per_cpu_end", .sectionEnd),
        ("__bss_stop", .sectionEnd), ("kallsyms_names", .kallsyms), ("kallsyms_offsets", .kallsyms),
        ("kallsyms_lookup", .other), ("__x86_indirect_thunk_rax", .other), ("__Thunk", .other), ("_end_x", .other),
        ("__init_end", .sectionEnd),
    ])
    func classOfAnOnlyInSymbol(name: String, expected: SymbolClass) throws {
        let r = try compare([(0x1000, "T", "f")], [(0x1000, "T", "f"), (0x1010, "T", name)])
        #expect(r.onlyInB.map(\.symbolClass) == [expected])
    }

    @Test(.tags(.offline)) func repeatedNamesMatchByOccurrence() throws {
        // Two static `helper`s: the first in A is matched with the first in B, whatever the gap.
        let a: [(UInt64, String, String)] = [(0x1000, "t", "helper"), (0x2000, "t", "helper"), (0x3000, "T", "x")]
        let b: [(UInt64, String, String)] = [(0x1100, "t", "helper"), (0x2100, "t", "helper"), (0x2200, "t", "helper"), (0x3100, "T", "x")]
        let r = try compare(a, b)
        #expect(r.onlyInB == [OnlySymbol(name: "helper", type: "t", address: 0x2200, symbolClass: .other)])
        #expect(shape(r) == ["helper..x 3 +0x100 first"])
    }

    /// The matcher's fast paths (common prefix, predicted next symbol, hash lookup) against the
    /// rule written out naively, on random lists with many repeated names.
    @Test(.tags(.offline)) func matchingAndRunsAgreeWithANaiveReading() throws {
        var rng = SplitMix(seed: 0x6D61_7064_6966_66)
        func randomList() -> [(UInt64, String, String)] {
            var address: UInt64 = 0x1000
            return (0 ..< Int(rng.next() % 40)).map { _ in
                address += [0, 0, 0x10, 0x20][Int(rng.next() % 4)]
                return (address, "T", ["a", "b", "c", "d", "e", "f"][Int(rng.next() % 6)])
            }
        }
        for _ in 0 ..< 300 {
            let a = randomList()
            // B: usually A with a few edits, so the prefix and prediction paths both run.
            var b = rng.next() % 4 == 0 ? randomList() : a
            if !b.isEmpty && a.count == b.count {
                for _ in 0 ..< Int(rng.next() % 3) {
                    let i = Int(rng.next() % UInt64(b.count))
                    if rng.next() % 2 == 0 { b.remove(at: i) } else { b.insert((b[i].0, "T", "g"), at: i) }
                    if b.isEmpty { break }
                }
                let shift = rng.next() % 2 == 0 ? UInt64(0x100) : 0
                b = b.enumerated().map { $0.offset >= b.count / 2 ? ($0.element.0 + shift, $0.element.1, $0.element.2) : $0.element }
            }
            // Naive: the k-th occurrence of a name in A pairs with the k-th in B.
            var seenB: [String: Int] = [:]
            var occurrencesA: [String: [Int]] = [:]
            for (i, s) in a.enumerated() { occurrencesA[s.2, default: []].append(i) }
            var pairs: [(Int, Int)] = []  // (A index, B index) in B order
            var onlyB: [String] = []
            for (j, s) in b.enumerated() {
                let k = seenB[s.2, default: 0]
                seenB[s.2] = k + 1
                if let list = occurrencesA[s.2], k < list.count { pairs.append((list[k], j)) } else { onlyB.append(s.2) }
            }
            let pairedA = Set(pairs.map(\.0))
            let onlyA = a.indices.filter { !pairedA.contains($0) }.map { a[$0].2 }
            var runs: [String] = []
            var current: (first: String, last: String, count: Int, delta: Int64)?
            for (i, j) in pairs {
                let d = Int64(bitPattern: b[j].0 &- a[i].0)
                if let c = current, c.delta == d {
                    current = (c.first, b[j].2, c.count + 1, d)
                } else {
                    if let c = current { runs.append("\(c.first)..\(c.last) \(c.count) \(Delta(c.delta))") }
                    current = (b[j].2, b[j].2, 1, d)
                }
            }
            if let c = current { runs.append("\(c.first)..\(c.last) \(c.count) \(Delta(c.delta))") }

            let r = try compare(a, b)
            #expect(r.matched == pairs.count)
            #expect(r.onlyInB.map(\.name) == onlyB)
            #expect(r.onlyInA.map(\.name) == onlyA)
            #expect(r.runs.map { "\($0.first)..\($0.last) \($0.count) \($0.delta)" } == runs)
        }
    }

    @Test(.tags(.offline)) func symbolsMovingPastOthersAreOutOfOrder() throws {
        let a: [(UInt64, String, String)] = [(0x1000, "T", "a"), (0x1010, "T", "b"), (0x1020, "T", "c"), (0x1030, "T", "d")]
        let b: [(UInt64, String, String)] = [(0x1000, "T", "a"), (0x1010, "T", "c"), (0x1020, "T", "b"), (0x1030, "T", "d")]
        let r = try compare(a, b)
        #expect(r.verdict == .different)
        #expect(r.outOfOrderCount == 1)
        #expect(shape(r) == ["a..a 1 0 first", "c..c 1 -0x10 unexplained", "b..b 1 +0x10 outOfOrder", "d..d 1 0 unexplained"])
        #expect(r.firstUnexplained?.name == "c")
        #expect(r.summary == "1 symbol moved past others")
    }

    @Test(.tags(.offline)) func nmUndefinedLinesAreSkippedAndErrorsKeepTheirLineNumbers() throws {
        let text = "                 U printk\n                 w kallsyms_names\nffffffff81000000 T _stext\n"
        let s = try MapDiff.parseMap(Array(text.utf8), file: "nm.txt")
        #expect(s.count == 1 && s.nameString(0) == "_stext")
        #expect(throws: KallsymsError(.lineFormat, "line format error: expected 'ADDRESS TYPE NAME'", file: "nm.txt", line: 4)) {
            try MapDiff.parseMap(Array((text + "garbage\n").utf8), file: "nm.txt")
        }
    }

    @Test(.tags(.offline)) func jsonRoundTripsThroughTheCodableTypes() throws {
        let a: [(UInt64, String, String)] = [(0x1000, "T", "x"), (0x1000, "W", "y"), (0x1010, "t", "q\"uote")]
        let b: [(UInt64, String, String)] = [(0x1000, "W", "y"), (0x1000, "T", "x"), (0x1010, "t", "__long_branch_q"), (0x1020, "T", "q\"uote")]
        let r = try compare(a, b)
        let decoded = try JSONDecoder().decode(MapDiffReport.self, from: Data(r.json().utf8))
        #expect(decoded == r)
        // Keys come sorted and the bytes do not depend on the run.
        #expect(r.json() == (try compare(a, b)).json())
        let object = try JSONSerialization.jsonObject(with: Data(r.json().utf8)) as! [String: Any]
        #expect(Array(object.keys).sorted() == r.json().split(separator: "\n").filter { $0.hasPrefix("  \"") }.map {
            String($0.dropFirst(3).prefix { $0 != "\"" })
        })
    }

    // MARK: The command

    static var kallsyms: String {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: exe).deletingLastPathComponent().appendingPathComponent("kallsyms").path
    }

    func withFiles(_ files: [String: [UInt8]], _ body: (String) throws -> Void) throws {
        #expect(FileManager.default.isExecutableFile(atPath: Self.kallsyms), "build the kallsyms executable (swift build) first")
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for (name, bytes) in files { try Data(bytes).write(to: URL(fileURLWithPath: dir + "/" + name)) }
        try body(dir)
    }

    @Test(.tags(.offline)) func commandExitCodesAndJSON() throws {
        let a = Array(map(Self.base).utf8)
        let shifted = Array(map(Self.base.map { ($0.0 + 0x2000, $0.1, $0.2) }).utf8)
        try withFiles(["a.map": a, "b.map": shifted, "bad.map": Array("ffffffff81000000 T ok\nnot a line\n".utf8), "noise.bin": [0x00, 0x01, 0x02, 0xFF]]) { dir in
            let same = try runProcess(Self.kallsyms, ["diff", "\(dir)/a.map", "\(dir)/a.map"])
            #expect(same.status == 0)
            #expect(String(decoding: same.stdout, as: UTF8.self).hasPrefix("identical (5 symbols)\n"))

            let moved = try runProcess(Self.kallsyms, ["diff", "\(dir)/a.map", "\(dir)/b.map"])
            #expect(moved.status == 1)
            #expect(String(decoding: moved.stdout, as: UTF8.self).hasPrefix("consistent up to a uniform shift of +0x2000"))

            let json = try runProcess(Self.kallsyms, ["diff", "--json", "\(dir)/a.map", "\(dir)/b.map"])
            #expect(json.status == 1)
            let object = try JSONSerialization.jsonObject(with: Data(json.stdout)) as! [String: Any]
            #expect((object["verdict"] as? [String: Any])?["kind"] as? String == "uniformShift")
            #expect((object["verdict"] as? [String: Any])?["delta"] as? String == "+0x2000")
            let runs = object["runs"] as! [[String: Any]]
            #expect(runs.count == 1 && runs[0]["count"] as? Int == 5 && runs[0]["first"] as? String == "_stext")
            #expect(object["firstUnexplained"] is NSNull)
            // The same report the library makes.
            let library = MapDiff.compare(try symbols(Self.base), try symbols(Self.base.map { ($0.0 + 0x2000, $0.1, $0.2) }))
            #expect(try JSONDecoder().decode(MapDiffReport.self, from: Data(json.stdout)) == library)

            let bad = try runProcess(Self.kallsyms, ["diff", "\(dir)/a.map", "\(dir)/bad.map"])
            #expect(bad.status == 2)
            #expect(bad.stdout.isEmpty)
            #expect(String(decoding: bad.stderr, as: UTF8.self).contains("\(dir)/bad.map:2: line format error"))

            let noise = try runProcess(Self.kallsyms, ["diff", "\(dir)/noise.bin", "\(dir)/a.map"])
            #expect(noise.status == 2)
            #expect(String(decoding: noise.stderr, as: UTF8.self).contains("\(dir)/noise.bin"))

            let missing = try runProcess(Self.kallsyms, ["diff", "\(dir)/a.map", "\(dir)/missing.map"])
            #expect(missing.status == 2)
            #expect(String(decoding: missing.stderr, as: UTF8.self).contains("\(dir)/missing.map"))
        }
    }

    /// Debian's 6.12 bzImage against its own System.map: the image's table (the kernel's order,
    /// per-cpu symbols typed `A`, no absolute symbols) against the map's.
    @Test func commandReadsAKernelImageAgainstItsSystemMap() throws {
        let (image, systemMap) = try DebianData.kernel("6.12", "amd64", map: true)
        let r = try runProcess(Self.kallsyms, ["diff", "--json", systemMap!, image])
        #expect(r.status == 1)
        let report = try JSONDecoder().decode(MapDiffReport.self, from: Data(r.stdout))
        #expect(report.verdict == .different)
        #expect(report.countA == 162_964 && report.countB == 162_959 && report.matched == 162_959)
        #expect(report.onlyInA.map(\.type) == ["A", "A", "A", "A", "A"])
        #expect(report.onlyInA.map(\.name).contains("text_size"))
        #expect(report.typeChangeCount == 391 && report.typeChanges.allSatisfy { $0.typeB == "A" })
        #expect(shape(report).count == 1 && report.runs[0].delta == 0)
        // The spec: at 0 the table has fixed_percpu_data before __per_cpu_start, and at _stext
        // the order is _stext, _text, __pfx_sev_es_terminate.
        #expect(report.reorders[0].printedA == "__per_cpu_start" && report.reorders[0].printedB == "fixed_percpu_data")
        let stext = report.reorders.first { $0.addressB == 0xffff_ffff_8100_0000 }
        #expect(stext?.orderB == ["_stext", "_text", "__pfx_sev_es_terminate"])
        #expect(report.firstUnexplained?.kind == .reorder && report.firstUnexplained?.addressB == 0)
    }
}

