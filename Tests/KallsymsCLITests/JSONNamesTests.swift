import ELFKit
import Foundation
import KallsymsCore
import KallsymsTestSupport
import KernelImage
import MapDiff
import Testing

/// Every JSON output goes through one encoder, and a symbol name is its bytes: a name with bytes
/// >= 0x80 and a control byte comes back byte for byte from `dump --format json` and
/// `diff --json`; `info --json`, `link --json` and `--emit raw`'s layout file decode into their
/// Codable types.
@Suite struct JSONNamesTests {
    static let odd: [UInt8] = Array("caf".utf8) + [0xE9, 0x01, 0xFF] + Array("_x".utf8)

    @Test func namesRoundTripThroughEveryJSONOutput() throws {
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var map = Array("ffffffff81000000 T _text\nffffffff81000000 T _stext\nffffffff81000010 T start_kernel\n".utf8)
        map += Array("ffffffff81000020 t ".utf8) + Self.odd + [0x0A]
        map += Array("ffffffff81000100 T _etext\n".utf8)
        try Data(map).write(to: URL(fileURLWithPath: dir + "/odd.map"))
        let table = try KallsymsGenerator.generate(mapBytes: map, options: GeneratorOptions(allSymbols: true))
        try Data(ObjectEmitter.object(table, arch: .x86_64)).write(to: URL(fileURLWithPath: dir + "/t.o"))
        let ld = try runProcess(
            "/usr/bin/ld", ["-e", "0", "--defsym=_text=0xffffffff81000000", "--section-start=.rodata=0xffffffff82000000",
                            "-o", dir + "/image", dir + "/t.o"])
        #expect(ld.status == 0)

        // dump --format json
        let dump = try runProcess(CLITests.kallsyms, ["dump", "--format", "json", dir + "/image"])
        #expect(dump.status == 0)
        let symbols = try JSONDecoder().decode([ImageReport.DumpedSymbol].self, from: Data(dump.stdout))
        #expect(symbols.contains { $0.name.bytes == Self.odd && $0.type.bytes == [UInt8(ascii: "t")] })
        #expect(symbols.count == table.numSyms)

        // diff --json: the odd symbol only in B
        let without = map.split(separator: 0x0A).filter { !$0.elementsEqual(Array("ffffffff81000020 t ".utf8) + Self.odd) }
        try Data(without.joined(separator: [0x0A]) + [0x0A]).write(to: URL(fileURLWithPath: dir + "/plain.map"))
        let diff = try runProcess(CLITests.kallsyms, ["diff", "--json", dir + "/plain.map", dir + "/odd.map"])
        #expect(diff.status == 1)
        let report = try JSONDecoder().decode(MapDiffReport.self, from: Data(diff.stdout))
        #expect(report.onlyInB.count == 1)
        #expect(report.onlyInB.first.flatMap { SymbolNameJSON.decode($0.name) } == Self.odd)

        // info --json and the raw layout file decode into their types.
        let info = try runProcess(CLITests.kallsyms, ["info", "--json", dir + "/image"])
        let decoded = try JSONDecoder().decode(ImageReport.Info.self, from: Data(info.stdout))
        #expect(decoded.numSyms == table.numSyms && decoded.tables.count == 8)
        let raw = try runProcess(CLITests.kallsyms, ["gen", "--all-symbols", "--emit", "raw", "--arch", "x86_64", "-o", dir + "/t.bin", dir + "/odd.map"])
        #expect(raw.status == 0)
        let layout = try JSONDecoder().decode(RawEmitter.Description.self, from: Data(contentsOf: URL(fileURLWithPath: dir + "/t.bin.layout.json")))
        #expect(layout.labels.map(\.name) == BinaryLayout(table, arch: .x86_64).labels.map(\.name))
    }
}
