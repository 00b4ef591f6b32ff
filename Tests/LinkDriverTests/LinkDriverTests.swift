import ELFKit
import Foundation
import KallsymsCore
import KallsymsTestSupport
import KernelImage
import LinkDriver
import MapDiff
import Testing

/// The link loop with real linkers: the example firmware (gcc + GNU ld), and synthetic images
/// whose table growth pushes calls out of branch range (lld on ppc64le, GNU ld on aarch64 and
/// ppc64le), against a re-enactment of the kernel's own 6.12 procedure.
@Suite(.serialized) struct LinkDriverTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    static func tool(_ name: String) throws -> String {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":") {
            let p = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        throw SupportError("\(name) is not on PATH (scripts/setup.sh installs it)")
    }

    func sh(_ args: [String]) throws -> String {
        let r = try runProcess("/usr/bin/env", args)
        guard r.status == 0 else {
            throw SupportError("\(args.joined(separator: " ")): \(String(decoding: r.stdout + r.stderr, as: UTF8.self))")
        }
        return String(decoding: r.stdout, as: UTF8.self)
    }

    /// Builds the firmware's objects; returns the link command.
    func firmwareCommand(_ dir: String, defines: [String] = []) throws -> [String] {
        let src = "\(Self.root)/examples/firmware"
        let cflags = defines.map { "-D" + $0 } + [
            "-O1", "-fno-optimize-sibling-calls", "-fno-inline-functions-called-once", "-ffreestanding", "-fno-pic",
            "-fno-pie", "-fno-omit-frame-pointer", "-fno-stack-protector", "-fcf-protection=none",
            "-fno-asynchronous-unwind-tables",
        ]
        for c in ["main", "kallsyms"] { _ = try sh(["gcc"] + cflags + ["-c", "\(src)/\(c).c", "-o", "\(dir)/\(c).o"]) }
        _ = try sh(["gcc", "-c", "\(src)/start.S", "-o", "\(dir)/start.o"])
        return [
            "ld", "-static", "-nostdlib", "--no-warn-rwx-segments", "-z", "noexecstack", "-T", "\(src)/firmware.lds",
            "-o", "{out}", "\(dir)/start.o", "\(dir)/main.o", "\(dir)/kallsyms.o", "{kallsyms}",
        ]
    }

    func run(_ command: [String], output: String, generator: GeneratorOptions = GeneratorOptions(format: .linux612),
             configure: (inout LinkOptions) -> Void = { _ in }) throws -> LinkSummary {
        var o = LinkOptions(command: command, output: output, generator: generator)
        configure(&o)
        return try LinkDriver(options: o).run()
    }

    /// The image's table, read back by the reader, equals the table its own symbols give.
    func checkImage(_ path: String, generator: GeneratorOptions, filter: SymbolFilter = SymbolFilter()) throws {
        let listing = try ELFSymbolSource.listing(path: path)
        let expected = try KallsymsGenerator.generate(
            symbols: filter.apply(listing.symbols, addressWidth: listing.addressWidth), options: generator)
        let image = try KernelImage.read(path: path)
        #expect(image.table.symbols == expected.symbols)
        #expect(image.table.seqsOfNames == expected.seqsOfNames)
        #expect(image.table.names == expected.names)
    }

    @Test func firmwareConvergesVerifiesAndSymbolizesItself() throws {
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let command = try firmwareCommand(dir)
        let plain = try run(command, output: "\(dir)/fw") { $0.mapOutput = "\(dir)/System.map" }
        #expect(plain.converged && plain.verified && plain.links <= 4)
        // The map written is exactly `nm -n | mksysmap` of the output.
        let map = try [UInt8](Data(contentsOf: URL(fileURLWithPath: "\(dir)/System.map")))
        let nm = try runProcess("/usr/bin/env", ["LC_ALL=C", "nm", "-n", "\(dir)/fw"])
        let sed = try runProcess(
            "/usr/bin/env", ["LC_ALL=C", "sed", "-f", try ReferenceTool.mksysmap(.linux612)], stdin: nm.stdout)
        #expect(map == sed.stdout)
        try checkImage("\(dir)/fw", generator: GeneratorOptions(format: .linux612))

        // It runs, and every frame it prints is the symbol the image's own map says.
        let out = try sh(["\(dir)/fw"])
        #expect(out.contains("Call Trace:"))
        let listing = try ELFSymbolSource.listing(path: "\(dir)/fw")
        var frames = 0
        for line in out.split(separator: "\n") where line.hasPrefix(" [<") {
            let parts = line.split(separator: " ")
            let address = UInt64(parts[0].dropFirst(4).dropLast(2), radix: 16)!
            let name = String(parts[1].split(separator: "+")[0])
            let offset = UInt64(parts[1].split(separator: "+")[1].split(separator: "/")[0].dropFirst(2), radix: 16)!
            #expect(try #require(addressOf(name, listing)) + offset == address, "\(line)")
            frames += 1
        }
        #expect(frames >= 5)
        #expect(out.contains("kallsyms_lookup_name(\"process_request\") = 0x\(String(try #require(addressOf("process_request", listing)), radix: 16))"))

        // Reserved room: two links; estimated from the inputs: one.
        let reserved = try run(command, output: "\(dir)/fw2") { $0.reserve = .bytes(1024) }
        #expect(reserved.links == 2 && reserved.patches == 1 && reserved.unusedReservedBytes > 0)
        try checkImage("\(dir)/fw2", generator: GeneratorOptions(format: .linux612))
        let estimated = try run(command, output: "\(dir)/fw3") { $0.reserve = .auto }
        #expect(estimated.links == 1 && estimated.patches == 1)
        try checkImage("\(dir)/fw3", generator: GeneratorOptions(format: .linux612))
        #expect(try sh(["\(dir)/fw3"]).contains("firmware_init+"))
        // Patching only: no relink once the layout settles.
        let patched = try run(command, output: "\(dir)/fw4") { $0.patch = true }
        #expect(patched.links <= 3)
        // Deterministic: the same inputs give the same image.
        let again = try run(command, output: "\(dir)/fw5") { $0.reserve = .auto }
        #expect(again.links == 1)
        #expect(FileManager.default.contentsEqual(atPath: "\(dir)/fw3", andPath: "\(dir)/fw5"))
    }

    /// A driver run twice does the same thing twice: nothing of the first run (its room, its
    /// links, the layouts and names it saw) reaches the second.
    @Test func aSecondRunStartsFresh() throws {
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let command = try firmwareCommand(dir)
        var o = LinkOptions(command: command, output: "\(dir)/fw", generator: GeneratorOptions(format: .linux612))
        o.reserve = .bytes(1024)
        let driver = LinkDriver(options: o)
        let first = try driver.run()
        let second = try driver.run()
        func shape(_ s: LinkSummary) -> [String] {
            s.passes.map { "\($0.pass) \($0.action) \($0.sectionBytes) \($0.tableBytes) +\($0.newSymbols)/-\($0.removedSymbols)" }
        }
        #expect(first.links == 2 && second.links == 2 && second.patches == 1)
        #expect(shape(first) == shape(second) && first.notes == second.notes && first.reservation == second.reservation)
    }

    func addressOf(_ name: String, _ listing: NMListing) -> UInt64? {
        let s = listing.symbols
        return (0 ..< s.count).first { s.nameString($0) == name }.map { s.addresses[$0] }
    }

    /// ppc64le, lld: its `__long_branch_*` thunks are symbols no 6.12 rule drops, so the table
    /// feeds itself. The kernel's scheme ends inconsistent; ours converges.
    @Test func lldPowerPCThunksDefeatTheKernelsSchemeButNotOurs() throws {
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        _ = try sh(["bash", "\(Self.root)/examples/stubs/make-case.sh", "ppc64le", dir, "3000", "64"])
        let lld = try Self.tool("ld.lld")
        let command = [lld, "-T", "\(dir)/case.lds", "-o", "{out}", "\(dir)/case.o", "{kallsyms}"]
        let all = GeneratorOptions(format: .linux612, allSymbols: true)

        let kernel = try runProcess(
            "/bin/bash",
            ["\(Self.root)/scripts/kernel-link-scheme.sh", "--as", "powerpc64le-linux-gnu-as", "--work", "\(dir)/kernel",
             "--all-symbols", "--"] + command)
        let kernelText = String(decoding: kernel.stdout, as: UTF8.self)
        #expect(kernel.status == 1 && kernelText.contains("Inconsistent kallsyms data"), "\(kernelText)")
        #expect(kernelText.contains("links: 4"))
        // The diff of the kernel's last pass map and its final System.map names the cause:
        // only new linker stubs, and everything after the table shifted.
        let pass3 = try MapDiff.parseMap(try FileIO.read("\(dir)/kernel/.tmp_vmlinux3.syms"), file: "pass3")
        let final = try MapDiff.parseMap(try FileIO.read("\(dir)/kernel/System.map"), file: "System.map")
        let why = MapDiff.compare(pass3, final)
        #expect(why.verdict == .different && why.onlyInACount == 0)
        #expect(why.onlyInBCount == final.count - pass3.count && why.onlyInBCount > 0)
        #expect(why.onlyInB.allSatisfy { $0.symbolClass == .linkerStub })
        #expect(why.summary.contains("new linker stubs"))

        let ours = try run(command, output: "\(dir)/ours", generator: all)
        #expect(ours.converged && ours.verified && ours.links + (ours.patches > 0 ? 0 : 0) <= 4)
        #expect(ours.passes.last!.stubSymbols > 1000)
        try checkImage("\(dir)/ours", generator: all)
        // The pass maps agree with the kernel's own pipeline on the same images.
        #expect(kernelText.contains("pass 1: \(ours.passes[1].symbols) symbols"))
        #expect(kernelText.contains("pass 2: \(ours.passes[2].symbols) symbols"))

        // --reserve auto: the estimate from the inputs knows nothing of the stubs; the overflow
        // grows the room by what it overflowed (pass 0's empty table gives no margin to double
        // and no growth to go by), and the next table fits.
        let auto = try run(command, output: "\(dir)/auto", generator: all) { $0.reserve = .auto }
        #expect(auto.links == 2 && auto.patches == 1 && auto.unusedReservedBytes < auto.tableBytes / 4)
        #expect(auto.notes.contains { $0.contains("outgrew its reserved room") })

        // Plain iteration does reach a fixed point here, but only after many links.
        let plain = try run(command, output: "\(dir)/plain", generator: all) {
            $0.plainPasses = 40
            $0.maxLinks = 40
        }
        #expect(plain.links > 5 && plain.reservation == nil)
        // A cap below that fails with exit status 1, keeps the passes, and writes no output.
        #expect {
            try run(command, output: "\(dir)/capped", generator: all) {
                $0.plainPasses = 40
                $0.maxLinks = 3
            }
        } throws: { e in
            guard let f = e as? LinkFailure else { return false }
            return f.exitCode == 1 && f.message.contains("did not converge") && f.artifacts != nil
        }
        #expect(!FileManager.default.fileExists(atPath: "\(dir)/capped"))
    }

    /// aarch64, GNU ld: veneers (`__target_N_veneer`) are dropped by 6.12's rules; kept (as
    /// older kernels kept them) they grow the table pass after pass.
    @Test(.tags(.offline)) func aarch64VeneersConvergeWithAndWithoutTheOldRules() throws {
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        _ = try sh(["bash", "\(Self.root)/examples/stubs/make-case.sh", "aarch64", dir, "3000", "64"])
        let command = ["aarch64-linux-gnu-ld", "-T", "\(dir)/case.lds", "-o", "{out}", "\(dir)/case.o", "{kallsyms}"]
        let all = GeneratorOptions(format: .linux612, allSymbols: true)
        let keep = SymbolFilter(keep: [try POSIXRegex("_veneer$")])
        let kept = try run(command, output: "\(dir)/kept", generator: all) { $0.filter = keep }
        #expect(kept.converged && kept.links <= 4 && kept.reservation != nil)
        #expect(kept.passes.last!.stubSymbols > 1000)
        try checkImage("\(dir)/kept", generator: all, filter: keep)
        let dropped = try run(command, output: "\(dir)/dropped", generator: all)
        #expect(dropped.converged && dropped.links <= 3 && dropped.reservation == nil)
        try checkImage("\(dir)/dropped", generator: all)
        // With --reserve and a room big enough: two links.
        let reserved = try run(command, output: "\(dir)/reserved", generator: all) {
            $0.filter = keep
            $0.reserve = .bytes(64 << 10)
        }
        #expect(reserved.links == 2 && reserved.patches == 1)
        // The 6.1 format (absolute addresses, its own array order) links and verifies the same way.
        let old = GeneratorOptions(format: .linux61, allSymbols: true)
        let v61 = try run(command, output: "\(dir)/v61", generator: old) { $0.filter = keep }
        #expect(v61.converged && v61.verified && v61.links <= 4)
        try checkImage("\(dir)/v61", generator: old, filter: keep)
    }

    /// ppc64le, GNU ld with --emit-stub-syms: `.long_branch.` stubs are dropped by every rule set.
    @Test(.tags(.offline)) func gnuLDPowerPCStubSymbolsAreFiltered() throws {
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        _ = try sh(["bash", "\(Self.root)/examples/stubs/make-case.sh", "ppc64le", dir, "3000", "64"])
        let command = [
            "powerpc64le-linux-gnu-ld", "--emit-stub-syms", "-T", "\(dir)/case.lds", "-o", "{out}", "\(dir)/case.o",
            "{kallsyms}",
        ]
        let all = GeneratorOptions(format: .linux612, allSymbols: true)
        let s = try run(command, output: "\(dir)/out", generator: all) { $0.patch = true }
        #expect(s.converged && s.links <= 3 && s.passes.last!.stubSymbols > 1000)
        try checkImage("\(dir)/out", generator: all)
    }

    /// A link whose symbols alternate from pass to pass (an extra object on odd passes, standing
    /// in for the compression's non-monotone cycles): plain iteration has no fixed point. The
    /// driver must notice the repeated layout, reserve room, and still converge and verify.
    @Test(.tags(.offline)) func aCycleOfLayoutsIsDetectedAndBrokenByReservingRoom() throws {
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let base = try firmwareCommand(dir)
        try "void cycle_a(void) {}\nvoid cycle_b(void) {}\nvoid cycle_c(void) {}\n"
            .write(toFile: "\(dir)/extra.c", atomically: true, encoding: .utf8)
        _ = try sh(["gcc", "-O1", "-fno-pic", "-c", "\(dir)/extra.c", "-o", "\(dir)/extra.o"])
        let link = base.map { $0 == "{out}" ? "$1" : $0 == "{kallsyms}" ? "$2" : $0 }.joined(separator: " ")
        let script = "n=$(basename \"$1\" .out); n=${n#pass}; x=; [ $((n % 2)) = 1 ] && x=\(dir)/extra.o; \(link) $x"
        let command = ["bash", "-c", script, "link", "{out}", "{kallsyms}"]
        let s = try run(command, output: "\(dir)/fw") {
            $0.plainPasses = 10
            $0.arch = .x86_64
        }
        #expect(s.converged && s.verified && s.reservation != nil)
        #expect(s.notes.contains { $0.contains("a cycle: this layout was linked in pass") })
        #expect(s.links <= 5)
    }

    /// A "linker" that ignores the table it is given: the table inside never matches the symbols,
    /// and the driver must say so, exit 1, keep the passes and leave OUT alone.
    @Test(.tags(.offline)) func aTableThatDoesNotMatchItsImageFailsVerification() throws {
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let command = try firmwareCommand(dir)
        // A stale table object: generated for a different symbol set.
        var stale = SymbolList()
        stale.append(address: 0x400000, type: UInt8(ascii: "T"), name: Array("_text".utf8))
        stale.append(address: 0x400010, type: UInt8(ascii: "T"), name: Array("not_in_the_image".utf8))
        let table = try KallsymsGenerator.generate(symbols: stale, options: GeneratorOptions(format: .linux612, allSymbols: true))
        try Data(ObjectEmitter.object(table, arch: .x86_64)).write(to: URL(fileURLWithPath: "\(dir)/stale.o"))
        let ignoring = command.map { $0 == "{kallsyms}" ? "\(dir)/stale.o" : $0 } + ["-Map", "{kallsyms}.map"]
        try Data("old".utf8).write(to: URL(fileURLWithPath: "\(dir)/fw"))
        #expect {
            try run(ignoring, output: "\(dir)/fw") { $0.arch = .x86_64 }
        } throws: { e in
            guard let f = e as? LinkFailure else { return false }
            return f.exitCode == 1 && f.message.hasPrefix("Inconsistent kallsyms data") && f.artifacts != nil
                && (f.explanation ?? "").contains("not_in_the_image")
        }
        #expect(try String(contentsOfFile: "\(dir)/fw", encoding: .utf8) == "old")
    }
}
