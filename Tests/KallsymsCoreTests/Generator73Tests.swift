import ELFKit
import Foundation
import KallsymsCore
import KallsymsTestSupport
import Testing

/// The 7.3 generator in its own form — the vmlinux ELF in, the `.S` on stdout, the byte arrays in
/// `OUT.bin`, System.map with `--sysmap` — against the kernel's own 7.3 `scripts/kallsyms`: the
/// same stdout, `.bin`, System.map, stderr and exit status.
enum Generator73Oracle {
    struct Outcome: Equatable {
        var status: Int32
        var stdout: [UInt8]
        var stderr: [UInt8]
        var bin: [UInt8]
        var sysmap: [UInt8]
    }

    static func options(_ flags: [String]) -> GeneratorOptions {
        GeneratorOptions(
            format: .linux73, allSymbols: flags.contains("--all-symbols"), pcRelative: flags.contains("--pc-relative"))
    }

    /// `kallsyms-7.3 FLAGS --sysmap=MAP INPUT BIN`.
    static func reference(_ flags: [String], input: String, bin: String, map: String) throws -> Outcome {
        defer {
            try? FileManager.default.removeItem(atPath: bin)
            try? FileManager.default.removeItem(atPath: map)
        }
        let r = try runProcess(try ReferenceTool.path(.linux73), flags + ["--sysmap=\(map)", input, bin])
        return Outcome(
            status: r.status, stdout: r.stdout, stderr: r.stderr, bin: (try? FileIO.read(bin)) ?? [],
            sysmap: (try? FileIO.read(map)) ?? [])
    }

    /// Ours, in process, as `gen --format linux-7.3` runs it.
    static func ours(_ flags: [String], input: String, bin binName: String) -> Outcome {
        var warnings: [UInt8] = []
        var sysmap: [UInt8] = []
        do {
            let map = try ELFSysmap.read(path: input)
            sysmap = map.text()
            let table = try KallsymsGenerator.generate(
                symbols: map.symbols, options: options(flags), warnings: { warnings += $0 })
            var bin: [UInt8] = []
            let source = AssemblyWriter.write(table, binName: binName, bin: &bin)
            return Outcome(status: 0, stdout: source, stderr: warnings, bin: bin, sysmap: sysmap)
        } catch let e as KallsymsError {
            return Outcome(status: 1, stdout: [], stderr: warnings + Array((e.message + "\n").utf8), bin: [], sysmap: sysmap)
        } catch {
            return Outcome(status: 99, stdout: [], stderr: Array("\(error)".utf8), bin: [], sysmap: sysmap)
        }
    }

    /// Compares one input; records an issue for any difference. Where the reference fails, only
    /// the status and (for the generator's own failures) stderr and the System.map it wrote
    /// first are compared: its stdout and `.bin` are then partial by design.
    @discardableResult
    static func compare(_ flags: [String], input: String, label: String) throws -> (same: Bool, referenceSucceeded: Bool) {
        let dir = (input as NSString).deletingLastPathComponent
        let bin = dir + "/out73.bin"
        let ref = try reference(flags, input: input, bin: bin, map: dir + "/out73.map")
        let got = ours(flags, input: input, bin: bin)
        let refSucceeded = ref.status == 0
        func text(_ b: [UInt8]) -> String { String(decoding: b.prefix(300), as: UTF8.self) }
        // Where the C tool reads past the end of the file it goes on with the zeros mapped up
        // to the page boundary (or faults); we stop with an error naming the offset. Given
        // those zeros as part of the file, we must then agree with it (as ELFSysmapTests
        // require of the System.map alone).
        if String(decoding: got.stderr, as: UTF8.self).contains("past the end") {
            let page = Int(sysconf(Int32(_SC_PAGESIZE)))
            var padded = try FileIO.read(input)
            padded += [UInt8](repeating: 0, count: (page - padded.count % page) % page)
            let path = input + ".padded"
            try Data(padded).write(to: URL(fileURLWithPath: path))
            defer { try? FileManager.default.removeItem(atPath: path) }
            if (try? ELFSysmap.read(path: path)) == nil { return (true, refSucceeded) }
            return try compare(flags, input: path, label: label + " (padded to a page)")
        }
        guard (ref.status == 0) == (got.status == 0) else {
            Issue.record("\(label): reference exit \(ref.status) '\(text(ref.stderr))', ours \(got.status) '\(text(got.stderr))'")
            return (false, refSucceeded)
        }
        var same = true
        if refSucceeded {
            if ref.stdout != got.stdout {
                let a = ref.stdout.split(separator: 0x0A, omittingEmptySubsequences: false)
                let b = got.stdout.split(separator: 0x0A, omittingEmptySubsequences: false)
                let k = (0 ..< min(a.count, b.count)).first { a[$0] != b[$0] } ?? min(a.count, b.count)
                Issue.record(
                    "\(label): .S differs at line \(k + 1): reference '\(k < a.count ? text(Array(a[k])) : "<end>")' ours '\(k < b.count ? text(Array(b[k])) : "<end>")'")
                same = false
            }
            if ref.bin != got.bin {
                Issue.record("\(label): .bin differs (\(ref.bin.count) vs \(got.bin.count) bytes)")
                same = false
            }
            if ref.stderr != got.stderr {
                Issue.record("\(label): stderr differs: reference '\(text(ref.stderr))' ours '\(text(got.stderr))'")
                same = false
            }
        } else if ref.stderr.starts(with: Array("kallsyms failure".utf8)) {
            if ref.stderr != got.stderr {
                Issue.record("\(label): stderr differs: reference '\(text(ref.stderr))' ours '\(text(got.stderr))'")
                same = false
            }
        }
        // System.map is written before the table is built, so it must agree even on failure
        // (when the ELF itself was readable).
        if ref.sysmap != got.sysmap && !(ref.sysmap.isEmpty && !refSucceeded) {
            Issue.record("\(label): System.map differs (\(ref.sysmap.count) vs \(got.sysmap.count) bytes)")
            same = false
        }
        return (same, refSucceeded)
    }
}

@Suite(.serialized) struct Generator73Tests {
    static let flagSets: [[String]] = [
        ["--all-symbols", "--pc-relative"], ["--pc-relative"], ["--all-symbols"], [],
    ]

    /// At least 1,000 random ELF files (RandomELF: every binding, type and section index 7.3
    /// distinguishes, long and 511/512-byte names, bytes >= 0x80, equal addresses), each with
    /// random flags.
    @Test func randomELFFilesGiveTheReferenceTables() throws {
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let cases = Int(ProcessInfo.processInfo.environment["KALLSYMS_FUZZ_CASES"] ?? "") ?? 1200
        var gen = RandomELF(seed: 0x7_3001)
        var rng = SplitMix(seed: 0x7_3002)
        var same = 0
        var referenceOK = 0
        var referenceFailed = 0
        var failures = 0
        for i in 0 ..< cases {
            let path = "\(dir)/e\(i)"
            try Data(gen.make()).write(to: URL(fileURLWithPath: path))
            let flags = Self.flagSets[Int(rng.next() % UInt64(Self.flagSets.count))]
            let r = try Generator73Oracle.compare(flags, input: path, label: "random ELF \(i) \(flags)")
            if r.same { same += 1 } else { failures += 1 }
            if r.referenceSucceeded { referenceOK += 1 } else { referenceFailed += 1 }
            try? FileManager.default.removeItem(atPath: path)
            if failures >= 5 { break }
        }
        #expect(failures == 0)
        #expect(same == cases)
        // Evidence only if most files make tables and some fail as the reference fails.
        #expect(referenceOK * 10 > cases * 6, "\(referenceOK) tables of \(cases)")
        #expect(referenceFailed > 0, "no failing case")
    }

    /// An empty file is the first link's vmlinux: the pass-0 table.
    @Test func anEmptyFileGivesThePassZeroTable() throws {
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Data().write(to: URL(fileURLWithPath: dir + "/empty"))
        for flags in Self.flagSets {
            #expect(try Generator73Oracle.compare(flags, input: dir + "/empty", label: "empty \(flags)").same)
        }
        let table = try KallsymsGenerator.generate(symbols: SymbolList(), options: Generator73Oracle.options(["--pc-relative"]))
        #expect(table.numSyms == 0)
    }

    /// Debian's real vmlinux files: 6.12 amd64, and 6.1 arm64, i386 (32-bit, not relocatable:
    /// the absolute form) and armhf.
    static let debian: [(String, String, [String])] = [
        ("6.12", "amd64", ["--all-symbols", "--pc-relative"]), ("6.12", "amd64", ["--pc-relative"]),
        ("6.1", "arm64", ["--all-symbols", "--pc-relative"]), ("6.1", "i386", ["--all-symbols"]),
        ("6.1", "armhf", ["--all-symbols"]),
    ]

    @Test(arguments: 0 ..< debian.count)
    func debianVmlinuxGivesTheReferenceTable(_ index: Int) throws {
        let (version, arch, flags) = Self.debian[index]
        let vmlinux = try DebianData.vmlinux(version, arch)
        // The reference writes its .bin next to the input: work in a directory of our own.
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let link = dir + "/vmlinux"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: vmlinux)
        let r = try Generator73Oracle.compare(flags, input: link, label: "\(version) \(arch) \(flags)")
        #expect(r.same && r.referenceSucceeded)
    }

    /// An ELF our own writer makes from Debian's 6.12 System.map, and the programs the nm tests
    /// build for six architectures with GNU ld and lld.
    @Test func writtenFilesAndProgramsGiveTheReferenceTables() throws {
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let w = MapELF.writer(try MapELF.symbols(of: DebianData.systemMap612WithoutPercpu()), is64: true, byteOrder: .little)
        try Data(w.write()).write(to: URL(fileURLWithPath: dir + "/from-map"))
        for flags in [["--all-symbols", "--pc-relative"], ["--pc-relative"]] {
            #expect(try Generator73Oracle.compare(flags, input: dir + "/from-map", label: "from the 6.12 map \(flags)").same)
        }

        let clang = try NMListingTests.tool("clang")
        let lld = try NMListingTests.tool("ld.lld")
        try NMListingTests.cSource.write(toFile: "\(dir)/t.c", atomically: true, encoding: .utf8)
        try NMListingTests.asmSource.write(toFile: "\(dir)/s.S", atomically: true, encoding: .utf8)
        try NMListingTests.mainSource.write(toFile: "\(dir)/e.c", atomically: true, encoding: .utf8)
        var programs = 0
        for (target, gnuLD) in NMListingTests.targets {
            let sub = "\(dir)/\(target)"
            try FileManager.default.createDirectory(atPath: sub, withIntermediateDirectories: true)
            for f in ["t", "s", "e"] {
                let src = f == "s" ? "\(dir)/s.S" : "\(dir)/\(f).c"
                let r = try runProcess(clang, ["--target=\(target)", "-O1", "-fcommon", "-fno-pic", "-c", src, "-o", "\(sub)/\(f).o"])
                #expect(r.status == 0, "\(target) \(f)")
            }
            let objects = ["t", "s", "e"].map { "\(sub)/\($0).o" }
            _ = try runProcess(gnuLD, ["-static", "-z", "noexecstack", "-o", "\(sub)/bfd"] + objects)
            _ = try runProcess(lld, ["-static", "-o", "\(sub)/lld"] + objects)
            for program in ["bfd", "lld"] {
                for flags in [["--all-symbols", "--pc-relative"], ["--all-symbols"]] {
                    let r = try Generator73Oracle.compare(flags, input: "\(sub)/\(program)", label: "\(target) \(program) \(flags)")
                    #expect(r.same)
                    if r.referenceSucceeded { programs += 1 }
                }
            }
        }
        #expect(programs == 24)
    }
}
