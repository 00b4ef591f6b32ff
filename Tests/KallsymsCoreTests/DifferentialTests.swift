import Foundation
import KallsymsTestSupport
import Testing

@testable import KallsymsCore

/// Ours against the kernel's own `scripts/kallsyms` (built from Debian's linux-source packages by
/// scripts/fetch-reference.sh): same stdout bytes, same stderr, same success or failure.
@Suite(.serialized) struct DifferentialTests {
    struct Outcome {
        var status: Int32
        var stdout: [UInt8]
        var stderr: [UInt8]
    }

    /// The reference's verdict on `map` with `flags`.
    static func reference(_ format: KallsymsFormat, _ flags: [String], mapPath: String) throws -> Outcome {
        let r = try runProcess(ReferenceTool.path(format), flags + [mapPath])
        return Outcome(status: r.status, stdout: r.stdout, stderr: r.stderr)
    }

    /// Ours, in process, with the reference's messages for the errors it prints.
    static func ours(_ format: KallsymsFormat, _ flags: [String], map: [UInt8]) -> Outcome {
        let options = Self.options(format, flags)
        var warnings: [UInt8] = []
        do {
            let table = try KallsymsGenerator.generate(
                mapBytes: map, options: options, warnings: { warnings += $0 })
            return Outcome(status: 0, stdout: AssemblyWriter.write(table), stderr: warnings)
        } catch let e as KallsymsError {
            let message: String
            switch e.kind {
            case .lineFormat: message = "line format error"
            default: message = e.message
            }
            return Outcome(status: 1, stdout: [], stderr: warnings + Array((message + "\n").utf8))
        } catch {
            return Outcome(status: 99, stdout: [], stderr: Array("\(error)".utf8))
        }
    }

    /// The options a kernel command line stands for.
    static func options(_ format: KallsymsFormat, _ flags: [String]) -> GeneratorOptions {
        GeneratorOptions(
            format: format, allSymbols: flags.contains("--all-symbols"),
            absolutePercpu: flags.contains("--absolute-percpu"), baseRelative: flags.contains("--base-relative"),
            ltoClang: flags.contains("--lto-clang"), pcRelative: flags.contains("--pc-relative"))
    }

    /// Compares; on success also decodes our table and checks it against its own symbols.
    static func compare(
        _ format: KallsymsFormat, _ flags: [String], map: [UInt8], mapPath: String, label: String
    ) throws -> Bool {
        try compareDetailed(format, flags, map: map, mapPath: mapPath, label: label).same
    }

    /// Also says whether the reference succeeded and whether it warned.
    static func compareDetailed(
        _ format: KallsymsFormat, _ flags: [String], map: [UInt8], mapPath: String, label: String
    ) throws -> (same: Bool, referenceSucceeded: Bool, referenceWarned: Bool) {
        let ref = try reference(format, flags, mapPath: mapPath)
        let got = ours(format, flags, map: map)
        let verdict = { (ok: Bool) in (ok, ref.status == 0, ref.status == 0 && !ref.stderr.isEmpty) }
        var ok = true
        if (ref.status == 0) != (got.status == 0) {
            Issue.record("\(label): reference exit \(ref.status), ours \(got.status); reference stderr: \(String(decoding: ref.stderr, as: UTF8.self).prefix(300)) ours: \(String(decoding: got.stderr, as: UTF8.self).prefix(300))")
            return verdict(false)
        }
        if ref.status == 0 {
            if ref.stdout != got.stdout {
                let line = firstDifferentLine(ref.stdout, got.stdout)
                Issue.record("\(label): output differs at line \(line.number): reference \(line.a.debugDescription) ours \(line.b.debugDescription)")
                ok = false
            }
        }
        if ref.stderr != got.stderr {
            Issue.record("\(label): stderr differs: reference \(String(decoding: ref.stderr, as: UTF8.self).prefix(300).debugDescription) ours \(String(decoding: got.stderr, as: UTF8.self).prefix(300).debugDescription)")
            ok = false
        }
        return verdict(ok)
    }

    static func firstDifferentLine(_ a: [UInt8], _ b: [UInt8]) -> (number: Int, a: String, b: String) {
        let la = a.split(separator: 0x0A, omittingEmptySubsequences: false)
        let lb = b.split(separator: 0x0A, omittingEmptySubsequences: false)
        for i in 0 ..< max(la.count, lb.count) {
            let x = i < la.count ? String(decoding: la[i], as: UTF8.self) : "<end>"
            let y = i < lb.count ? String(decoding: lb[i], as: UTF8.self) : "<end>"
            if x != y { return (i + 1, x, y) }
        }
        return (0, "", "")
    }

    // MARK: The real Debian 6.12 System.map

    static let debianConfigurations: [(KallsymsFormat, [String])] = [
        (.linux612, ["--all-symbols", "--absolute-percpu"]),  // Debian's own flags
        (.linux612, ["--absolute-percpu"]),
        (.linux612, ["--all-symbols"]),  // fails: percpu symbols out of range without absolute-percpu
        (.linux61, ["--all-symbols", "--absolute-percpu", "--base-relative"]),
        (.linux61, ["--absolute-percpu", "--base-relative"]),
        (.linux61, ["--all-symbols", "--absolute-percpu"]),  // kallsyms_addresses layout
        (.linux61, ["--all-symbols", "--absolute-percpu", "--base-relative", "--lto-clang"]),
    ]

    @Test(arguments: 0 ..< debianConfigurations.count)
    func debianSystemMap(_ index: Int) throws {
        let (format, flags) = Self.debianConfigurations[index]
        let path = try DebianData.systemMap612()
        let map = try FileIO.read(path)
        #expect(try Self.compare(format, flags, map: map, mapPath: path, label: "\(format) \(flags)"))
        // The table must also decode to exactly the symbols it was made from.
        let options = Self.options(format, flags)
        if let table = try? KallsymsGenerator.generate(mapBytes: map, options: options) {
            let decoded = try TableDecoder.decode(table)
            #expect(decoded == table.symbols)
            try TableDecoder.verifyIndexes(table, decoded: decoded, ltoClang: options.ltoClang)
            if flags == ["--all-symbols", "--absolute-percpu"] && format == .linux612 {
                // Spec §10: 162,959 of Debian 6.12.107's 162,964 lines are in the table.
                let lines = map.reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
                #expect(table.numSyms == lines - 5 || !path.contains("6.12.107"))
            }
        }
    }

    // MARK: Real maps in the formats after 6.12

    /// Real maps whose addresses all lie in the kernel's range, as 6.15 and later need: Debian's
    /// 6.12 amd64 System.map without its per-cpu block (addresses from 0), and the 6.1 arm64 and
    /// i386 System.maps from their -dbg packages.
    static func realMap(_ which: String) throws -> String {
        switch which {
        case "amd64-6.12-nopercpu": return try DebianData.systemMap612WithoutPercpu()
        case "arm64-6.1": return try DebianData.kernel("6.1", "arm64", map: true).map!
        case "i386-6.1": return try DebianData.kernel("6.1", "i386", map: true).map!
        default: throw SupportError("no map \(which)")
        }
    }

    static let newerConfigurations: [(String, KallsymsFormat, [String])] = [
        ("amd64-6.12-nopercpu", .linux615, ["--all-symbols"]),
        ("amd64-6.12-nopercpu", .linux615, []),
        ("amd64-6.12-nopercpu", .linux70, ["--all-symbols", "--pc-relative"]),
        ("amd64-6.12-nopercpu", .linux70, ["--pc-relative"]),
        ("amd64-6.12-nopercpu", .linux70, ["--all-symbols"]),
        ("arm64-6.1", .linux615, ["--all-symbols"]),
        ("arm64-6.1", .linux70, ["--all-symbols", "--pc-relative"]),
        ("i386-6.1", .linux615, ["--all-symbols"]),
        ("i386-6.1", .linux70, ["--all-symbols"]),  // a 32-bit non-relocatable kernel: absolute values
        ("i386-6.1", .linux70, ["--pc-relative"]),
    ]

    @Test(arguments: 0 ..< newerConfigurations.count)
    func realMapsInNewerFormats(_ index: Int) throws {
        let (which, format, flags) = Self.newerConfigurations[index]
        let path = try Self.realMap(which)
        let map = try FileIO.read(path)
        #expect(try Self.compare(format, flags, map: map, mapPath: path, label: "\(which) \(format) \(flags)"))
        let table = try KallsymsGenerator.generate(mapBytes: map, options: Self.options(format, flags))
        #expect(table.numSyms > 10_000)
        let decoded = try TableDecoder.decode(table)
        var expected = table.symbols
        if table.tableFormat.addressing == .absolute32 {
            // The absolute form keeps the low 32 bits (all of a 32-bit kernel's address).
            expected = expected.withAddresses(expected.addresses.map { $0 & 0xFFFF_FFFF })
        }
        // (A Bool, so a failure does not print two 100,000-entry lists.)
        #expect(Bool(decoded == expected), "\(which) \(format) \(flags): decoded table differs from its symbols")
        try TableDecoder.verifyIndexes(table, decoded: decoded)
    }

    // MARK: Random maps

    /// Thousands of generated maps over both versions and random flags. `KALLSYMS_FUZZ_CASES`
    /// changes the count (default 1500 per version); failures print the seed to reproduce.
    @Test(arguments: [KallsymsFormat.linux612, .linux61, .linux615, .linux70])
    func randomMaps(_ format: KallsymsFormat) throws {
        let cases = Int(ProcessInfo.processInfo.environment["KALLSYMS_FUZZ_CASES"] ?? "") ?? 1500
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var failures = 0
        var successes = 0
        var referenceOK = 0
        var referenceFailed = 0
        var referenceWarned = 0
        for seed in 0 ..< cases {
            let salt: UInt64 = [.linux612: 1, .linux61: 2, .linux615: 3, .linux70: 4][format]!
            var gen = RandomMap(seed: UInt64(seed) &* 0x9E37_79B9 &+ salt)
            let (map, flags) = gen.make(format: format)
            let path = "\(dir)/case-\(seed).map"
            try Data(map).write(to: URL(fileURLWithPath: path))
            let r = try Self.compareDetailed(
                format, flags, map: map, mapPath: path, label: "\(format) seed \(seed) \(flags) (\(path))")
            if r.referenceSucceeded { referenceOK += 1 } else { referenceFailed += 1 }
            if r.referenceWarned { referenceWarned += 1 }
            if r.same {
                successes += 1
                try? FileManager.default.removeItem(atPath: path)
            } else {
                failures += 1
                if failures >= 5 { break }
            }
        }
        #expect(failures == 0)
        #expect(successes == cases)
        // The cases must exercise tables, fatal errors and warnings alike.
        #expect(referenceOK * 2 > cases)
        #expect(referenceFailed * 50 > cases)
        #expect(referenceWarned * 50 > cases)
    }
}

/// Random symbol maps that exercise the reference's corners: equal addresses, weak and
/// linker-script names, per-cpu ranges, section markers, long names and 2-byte lengths, the
/// 512-byte limit, bytes >= 0x80, missing range markers, blank and malformed lines, empty input.
struct RandomMap {
    var rng: SplitMix

    init(seed: UInt64) { rng = SplitMix(seed: seed) }

    mutating func next() -> UInt64 { rng.next() }

    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    mutating func chance(_ percent: Int) -> Bool { below(100) < percent }

    static let words = [
        "init", "exit", "sys", "do", "kmalloc", "free", "page", "lock", "irq", "net", "dev", "pci", "read",
        "write", "probe", "x86", "cpu", "mm", "fs", "ext4", "inode", "sched", "task", "_rcu", "bpf", "usb",
    ]
    static let specials = [
        "_text", "_stext", "_etext", "_sinittext", "_einittext", "__per_cpu_start", "__per_cpu_end",
        "__start_sec", "__stop_sec", "__end_thing", "__sec_start", "__sec_end", "__gp", "kallsyms_names",
        "foo_veneer", "x.long_branch.y", "__efistub_z", "__kcfi_typeid_q", "_SDA_BASE_", "a.llvm.7",
        "f.llvm.12345", "__pfx_f", "___three", "____four_start",
    ]

    mutating func name(format: KallsymsFormat) -> [UInt8] {
        switch below(100) {
        case 0 ..< 12:
            return Array(Self.specials[below(Self.specials.count)].utf8)
        case 12 ..< 16:
            // The length edges: 127/128 and 510 (1- and 2-byte lengths) and >= 512 (skipped).
            let len = [1, 2, 126, 127, 128, 129, 200, 509, 510, 512, 513, 600][below(12)]
            var n = [UInt8]()
            for _ in 0 ..< len { n.append(UInt8(0x21 + below(0x5E))) }
            return n
        case 16 ..< 20:
            // Bytes >= 0x80 (and, in 6.12, anything but newline and NUL).
            var n = Array("hi_".utf8)
            for _ in 0 ..< 1 + below(20) { n.append(UInt8(0x80 + below(0x80))) }
            return n
        case 20 ..< 22 where format != .linux61:
            return Array("with space \(below(9))".utf8)
        default:
            var n = [UInt8]()
            for k in 0 ..< 1 + below(4) {
                if k > 0 { n.append(UInt8(ascii: "_")) }
                n += Array(Self.words[below(Self.words.count)].utf8)
            }
            if chance(30) { n += Array(String(below(1000)).utf8) }
            if chance(10) { n = Array("__".utf8) + n }
            return n
        }
    }

    static let types = Array("TTTTtttDdBbRrWwVvAaUuNn".utf8)

    mutating func make(format: KallsymsFormat) -> (map: [UInt8], flags: [String]) {
        var flags: [String] = []
        if chance(60) { flags.append("--all-symbols") }
        let percpu = chance(50)
        if format.flags.contains(.absolutePercpu) && (percpu || chance(20)) { flags.append("--absolute-percpu") }
        if format == .linux61 {
            if chance(60) { flags.append("--base-relative") }
            if chance(20) { flags.append("--lto-clang") }
        }
        if format.flags.contains(.pcRelative) && chance(60) { flags.append("--pc-relative") }
        if chance(2) { return ([], flags) }
        var lines: [[UInt8]] = []
        let count = below(10) == 0 ? below(2000) : below(300)
        if percpu {
            lines.append(Array("0000000000000000 D __per_cpu_start".utf8))
            for i in 0 ..< below(20) {
                lines.append(Array(String(format: "%016llx d pcpu_%d", UInt64(i * 64), i).utf8))
            }
            lines.append(Array("0000000000001000 D __per_cpu_end".utf8))
        }
        // From 7.0, a symbol more than 2 GiB from _text: out of range with --pc-relative.
        if format.era >= .v7_0 && chance(8) {
            lines.append(Array([
                "ffffffff01000000 T far_below", "0000000100000000 d far_above_zero", "ffffffff81000000 t _text",
            ][below(3)].utf8))
        }
        var addr: UInt64 = 0xFFFF_FFFF_8100_0000
        let withMarkers = chance(80)
        if withMarkers { lines.append(Array("ffffffff81000000 T _text".utf8)) }
        if withMarkers && chance(90) { lines.append(Array("ffffffff81000000 T _stext".utf8)) }
        // One malformed line in some maps: fatal in 6.12, skipped in 6.1.
        let malformedAt = chance(15) ? below(count + 1) : -1
        for k in 0 ..< count {
            if !chance(15) { addr &+= UInt64(1 + below(64)) }  // equal addresses 15% of the time
            var line = Array(String(addr, radix: 16).utf8)
            if chance(50) { line = Array(repeating: UInt8(ascii: "0"), count: max(0, 16 - line.count)) + line }
            line.append(0x20)
            // Now and then a NUL type byte: both versions take it, and 6.12 then sorts the name by
            // what its in-place restore leaves behind (found by fuzzing).
            line.append(chance(1) ? 0 : Self.types[below(Self.types.count)])
            line.append(0x20)
            line += name(format: format)
            if chance(1) { line += [0] + name(format: format) }  // an embedded NUL ends the name
            if k == malformedAt {
                line = [
                    Array("zz T bad".utf8), Array("1234".utf8), [], Array("12 T".utf8), Array("  \t".utf8),
                ][below(5)]
            }
            lines.append(line)
        }
        if withMarkers && chance(90) {
            addr &+= 16
            lines.append(Array("\(String(addr, radix: 16)) T _etext".utf8))
        }
        if chance(30) {
            addr &+= 0x1000
            lines.append(Array("\(String(addr, radix: 16)) T _sinittext".utf8))
            lines.append(Array("\(String(addr + 8, radix: 16)) T init_fn".utf8))
            lines.append(Array("\(String(addr + 16, radix: 16)) T _einittext".utf8))
        }
        var map = [UInt8]()
        for l in lines {
            map += l
            map.append(0x0A)
        }
        if chance(5) && !map.isEmpty { map.removeLast() }  // no final newline
        return (map, flags)
    }
}
