import Foundation
import KallsymsTestSupport
import Testing

@testable import KallsymsCore

/// Behaviour of the generator's parts, each pinned to a rule of docs/table-format.md. The
/// differential tests prove the same against the kernel's binary; these say which rule broke.
@Suite(.tags(.offline)) struct GeneratorTests {
    func map(_ lines: [String]) -> [UInt8] { Array(lines.joined(separator: "\n").utf8) + [0x0A] }

    func table(_ lines: [String], _ options: GeneratorOptions = GeneratorOptions(allSymbols: true))
        throws -> KallsymsTable
    {
        try KallsymsGenerator.generate(mapBytes: map(lines), options: options)
    }

    func names(_ t: KallsymsTable) -> [String] { (0 ..< t.numSyms).map { t.symbols.nameString($0) } }

    // MARK: Compression (docs/table-format.md, "Compressing")

    @Test func oneSymbolCompressesToOneToken() throws {
        let t = try table(["ffffffff81000000 T foo"])
        // Slot 255 = "Tf", 254 = "oo", 253 = "Tfoo"; the symbol is the single byte 0xfd.
        #expect(Array(t.token(255)) == Array("Tf".utf8))
        #expect(Array(t.token(254)) == Array("oo".utf8))
        #expect(Array(t.token(253)) == Array("Tfoo".utf8))
        #expect(t.names == [0x01, 0xFD])
        #expect(t.markers == [0])
        #expect(Array(t.token(Int(UInt8(ascii: "T")))) == [UInt8(ascii: "T")])
        #expect(t.token(0).isEmpty)
    }

    @Test func overlappingPairsCountAndReplaceLeftToRight() throws {
        // "Taaa": pairs Ta, aa, aa -> "aa" (count 2) wins; replacement is non-overlapping.
        let t = try table(["1 T aaa"])
        #expect(Array(t.token(255)) == Array("aa".utf8))
        let decoded = try TableDecoder.decode(t)
        #expect(decoded.nameString(0) == "aaa")
    }

    @Test func emptyInputIsAValid612Table() throws {
        let t = try KallsymsGenerator.generate(mapBytes: [], options: GeneratorOptions())
        #expect(t.numSyms == 0)
        #expect((0 ..< 256).allSatisfy { t.token($0).isEmpty })
        let lines = AssemblyWriter.write(t).split(separator: 0x0A, omittingEmptySubsequences: false)
        #expect(lines.count == 556)  // 555 lines, each ending in a newline
        #expect(throws: KallsymsError.self) {
            try KallsymsGenerator.generate(mapBytes: [], options: GeneratorOptions(format: .linux61))
        }
    }

    @Test func longNamesUseTwoByteLengths() throws {
        // 200 distinct bytes leave 56 free token slots: 300 bytes cannot shrink below 244.
        var name = (0 ..< 200).map { UInt8(0x30 + $0) }
        name += name[0 ..< 100].reversed()
        let line = Array("ffffffff81000000 T ".utf8) + name + [0x0A]
        let t = try KallsymsGenerator.generate(mapBytes: line, options: GeneratorOptions(allSymbols: true))
        #expect(t.names[0] & 0x80 != 0)
        let decoded = try TableDecoder.decode(t)
        #expect(Array(decoded.name(0)) == name)
    }

    @Test func namesOf512BytesAreSkippedWithTheKernelsMessage() throws {
        var warnings: [[UInt8]] = []
        let long = String(repeating: "x", count: 512)
        let t = try KallsymsGenerator.generate(
            mapBytes: map(["1 T \(long)", "2 T ok"]), options: GeneratorOptions(allSymbols: true),
            warnings: { warnings.append($0) })
        #expect(names(t) == ["ok"])
        #expect(
            warnings == [
                Array(
                    "Symbol \(long) too long for kallsyms (512 >= 512).\nPlease increase KSYM_NAME_LEN both in kernel and kallsyms.c\n"
                        .utf8)
            ])
    }

    /// A 511-byte name is undefined behaviour in the C reference (a one-byte stack overflow); we
    /// produce the intended table: the name kept, decoded intact, and sorted correctly.
    @Test func a511ByteNameGivesTheIntendedTable() throws {
        let long = String(repeating: "y", count: 511)
        let t = try table(["1 T \(long)", "2 T a", "3 T z"])
        let decoded = try TableDecoder.decode(t)
        #expect(decoded.nameString(0) == long)
        try TableDecoder.verifyIndexes(t, decoded: decoded)
        #expect(t.seqsOfNames == [1, 0, 2])
    }

    // MARK: Parsing (docs/table-format.md, "Reading")

    @Test func strictParsingFollowsStrtoull() throws {
        let bytes = map([
            "  0x10 T a", "-1 T b", "1ffffffffffffffff T c", "20 T ", "30   spaced", "40 T name with spaces\r",
        ])
        let c = try bytes.withUnsafeBufferPointer {
            try KernelRules(options: GeneratorOptions(allSymbols: true)).collect(map: $0, file: "m")
        }
        let t = (numSyms: c.symbols.count, symbols: c.symbols)
        #expect(t.symbols.addresses.sorted() == [0x10, 0x20, 0x30, 0x40, .max, .max])
        let byName = Dictionary(uniqueKeysWithValues: (0 ..< t.numSyms).map { (t.symbols.nameString($0), t.symbols.addresses[$0]) })
        #expect(byName["a"] == 0x10)
        #expect(byName["b"] == .max)
        #expect(byName["c"] == .max)
        #expect(byName[""] == 0x20)
        #expect(byName["spaced"] == 0x30)
        #expect(byName["name with spaces\r"] == 0x40)
        let spaced = (0 ..< t.numSyms).first { t.symbols.nameString($0) == "spaced" }!
        #expect(t.symbols.type(spaced) == 0x20)
    }

    @Test(arguments: ["", "10 T", "10  T x", "10 T\tx", "zz T x", "10 \u{80} x", "0x T x"])
    func strictParsingRejects(_ line: String) throws {
        let bytes = Array("1 T ok\n".utf8) + Array(line.utf8) + Array("\n2 T ok2\n".utf8)
        do {
            _ = try KallsymsGenerator.generate(mapBytes: bytes, file: "m", options: GeneratorOptions(allSymbols: true))
            Issue.record("accepted \(line.debugDescription)")
        } catch let e as KallsymsError {
            #expect(e.kind == .lineFormat)
            #expect(e.line == 2)
            #expect(e.file == "m")
        }
    }

    @Test func scanfParsingIsWhitespaceTolerantAndSkipsBadLines() throws {
        var warnings: [[UInt8]] = []
        let bytes = Array("10\tT\talpha\n\n\n  20 t beta gamma\nxyz\n30 T delta\n40".utf8)
        let t = try KallsymsGenerator.generate(
            mapBytes: bytes, options: GeneratorOptions(format: .linux61, allSymbols: true),
            warnings: { warnings.append($0) })
        // After "beta", "gamma" is read as an address: 'g' is no hex digit, so the rest of that
        // line is skipped, as is "xyz"; the trailing "40" has no type: "Read error or end of file.".
        #expect(names(t) == ["alpha", "beta", "delta"])
        #expect(warnings == [Array("Read error or end of file.\n".utf8)])
    }

    // MARK: Filters and ranges (docs/table-format.md, "Reading", "shrink_table")

    @Test func ignoreRulesDifferByVersion() throws {
        let lines = [
            "ffffffff81000000 T _stext", "ffffffff81000010 U undef", "ffffffff81000020 u uniq",
            "ffffffff81000030 A abs", "ffffffff81000040 A __gp", "ffffffff81000050 T kallsyms_names",
            "ffffffff81000060 T foo_veneer", "ffffffff81000070 T x.long_branch.y", "ffffffff81000080 T __efistub_x",
            "ffffffff81000090 N debug", "ffffffff810000a0 T _etext",
        ]
        let t612 = try table(lines)
        #expect(
            names(t612) == [
                "_stext", "undef", "__gp", "kallsyms_names", "foo_veneer", "x.long_branch.y", "__efistub_x",
                "debug", "_etext",
            ])
        let t61 = try table(lines, GeneratorOptions(format: .linux61, allSymbols: true))
        #expect(names(t61) == ["_stext", "__gp", "_etext"])
    }

    @Test func textRangesWithoutAllSymbols() throws {
        let lines = [
            "ffffffff80000000 D before", "ffffffff81000000 T _stext", "ffffffff81000010 T in_text",
            "ffffffff81000100 T _etext", "ffffffff81000100 T at_etext", "ffffffff82000000 D __start_data",
            "ffffffff82000010 D __stop_data", "ffffffff82000020 D data", "ffffffff83000000 T _sinittext",
            "ffffffff83000010 T init_fn", "ffffffff83000020 T _einittext",
        ]
        let t612 = try table(lines, GeneratorOptions())
        #expect(
            names(t612) == [
                "_stext", "in_text", "_etext", "__start_data", "__stop_data", "_sinittext", "init_fn", "_einittext",
            ])
        let t61 = try table(lines, GeneratorOptions(format: .linux61))
        #expect(names(t61) == ["_stext", "in_text", "_etext", "_sinittext", "init_fn", "_einittext"])
    }

    // MARK: Sort order (docs/table-format.md, "sort_symbols")

    @Test func equalAddressesSortWeakThenLinkerScriptThenUnderscoresThenInput() throws {
        let lines = [
            "ffffffff81000000 W weak_one", "ffffffff81000000 T __two", "ffffffff81000000 T __start_sec",
            "ffffffff81000000 T _one", "ffffffff81000000 T plain", "ffffffff81000000 T __foo_end",
            "ffffffff81000000 V vee", "ffffffff81000000 T later",
        ]
        let t = try table(lines)
        #expect(
            names(t) == ["plain", "vee", "later", "_one", "__two", "__start_sec", "__foo_end", "weak_one"])
    }

    // MARK: Addresses (docs/table-format.md, "Addresses")

    @Test func absolutePercpuOffsets() throws {
        let lines = [
            "0000000000000000 D __per_cpu_start", "0000000000000040 D pcpu_var", "0000000000001000 D __per_cpu_end",
            "ffffffff81000000 T _text", "ffffffff81000010 T fn",
        ]
        let t = try table(lines, GeneratorOptions(allSymbols: true, absolutePercpu: true))
        #expect(t.symbols.type(1) == UInt8(ascii: "A"))
        guard case .offsets(let words, let base, true) = t.addressEncoding else {
            Issue.record("expected absolute-percpu offsets")
            return
        }
        #expect(base == 0xFFFF_FFFF_8100_0000)
        #expect(words == [0, 0x40, 0x1000, 0xFFFF_FFFF, 0xFFFF_FFEF])
        #expect(TableDecoder.addresses(t.addressEncoding) == t.symbols.addresses)
        #expect(t.relativeBaseAddend == 0)
    }

    @Test func offsetsOutOfRangeFailWithTheKernelsMessage() throws {
        let lines = ["0000000000000040 D low", "ffffffff81000000 T _text"]
        do {
            _ = try table(lines, GeneratorOptions(allSymbols: true))
            Issue.record("accepted an out-of-range offset")
        } catch let e as KallsymsError {
            #expect(e.kind == .outOfRange)
            #expect(e.message == "kallsyms failure: relative symbol value 0xffffffff81000000 out of range in relative mode")
        }
    }

    @Test func addressesMode61KeepsAbsoluteFlags() throws {
        let lines = [
            "0000000000000000 D __per_cpu_start", "0000000000000040 D v", "0000000000001000 D __per_cpu_end",
            "ffffffff81000000 T _text",
        ]
        let t = try table(lines, GeneratorOptions(format: .linux61, allSymbols: true, absolutePercpu: true))
        guard case .addresses(let a, let abs) = t.addressEncoding else {
            Issue.record("expected addresses")
            return
        }
        #expect(a == [0, 0x40, 0x1000, 0xFFFF_FFFF_8100_0000])
        #expect(abs == [true, true, true, false])
        let text = String(decoding: AssemblyWriter.write(t), as: UTF8.self)
        #expect(text.contains("kallsyms_addresses:\n\tPTR\t0\n\tPTR\t0x40\n\tPTR\t0x1000\n\tPTR\t_text + 0\n"))
    }

    // MARK: Name order (docs/table-format.md, "Compressing")

    @Test func seqsSortByNameThenAddressThenIndex() throws {
        let lines = ["10 T b", "20 T a", "30 T b", "30 t b", "40 T \u{e9}", "50 T B"]
        let t = try table(lines)
        // strcmp on unsigned bytes: "B" < "a" < "b" < 0xc3...; equal names by address, then index.
        #expect(t.seqsOfNames == [5, 1, 0, 2, 3, 4])
    }

    @Test func ltoClangSortsNamesCutAtLLVM() throws {
        let lines = ["10 T foo.llvm.123", "20 T foo.a", "30 T foo"]
        let plain = try table(lines, GeneratorOptions(format: .linux61, allSymbols: true))
        #expect(plain.seqsOfNames == [2, 1, 0])
        let lto = try table(lines, GeneratorOptions(format: .linux61, allSymbols: true, ltoClang: true))
        // "foo.llvm.123" compares as "foo": equal to "foo", earlier address first.
        #expect(lto.seqsOfNames == [0, 2, 1])
        try TableDecoder.verifyIndexes(lto, decoded: TableDecoder.decode(lto), ltoClang: true)
    }

    // MARK: Round trip

    @Test func decodingRecoversEverySymbolAndIndex() throws {
        var lines: [String] = []
        for i in 0 ..< 1000 {
            lines.append(String(format: "ffffffff81%06x %@ sym_%d_%@", i * 16, i % 3 == 0 ? "t" : "T", i, String(i * 7919, radix: 36)))
        }
        let t = try table(lines)
        let decoded = try TableDecoder.decode(t)
        #expect(decoded == t.symbols)
        try TableDecoder.verifyIndexes(t, decoded: decoded)
        #expect(t.markers.count == 4)
    }

    /// The partitioned (multi-threaded) compressor gives the single-threaded result exactly.
    @Test func partitionsDoNotChangeTheResult() throws {
        for seed in 0 ..< 60 {
            var gen = RandomMap(seed: UInt64(seed) &+ 77)
            let (map, _) = gen.make(format: .linux612)
            guard let collected = try? map.withUnsafeBufferPointer({
                try KernelRules(options: GeneratorOptions(allSymbols: true)).collect(map: $0, file: "m")
            }) else { continue }
            let one = try TokenCompressor.compress(collected.symbols, partitions: 1)
            for p in [2, 3, 7] {
                #expect(try TokenCompressor.compress(collected.symbols, partitions: p) == one, "seed \(seed), \(p) partitions")
            }
        }
    }

    @Test func outputIsDeterministic() throws {
        var lines: [String] = []
        for i in 0 ..< 3000 { lines.append("ffffffff81\(String(format: "%06x", i * 8)) T f\(i % 97)_\(i)") }
        let a = AssemblyWriter.write(try table(lines))
        let b = AssemblyWriter.write(try table(lines))
        #expect(a == b)
    }
}
