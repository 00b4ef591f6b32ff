import ELFKit
import Foundation
import KallsymsCore
import KallsymsTestSupport
import LinkDriver
import Testing

/// The stub-cascade family of examples/stubs/cascades.txt: synthetic images whose table growth
/// pushes calls out of branch range, with the stubs kept in the table, spaced so that plain
/// iteration takes 5 to 29 links. Each must converge in at most 4 links (3 + a patch) and pass
/// a check that owes nothing to our generator: the image's own `nm -n | mksysmap` (plus the
/// kept stubs) is the map the driver wrote, and the kernel's scripts/kallsyms, given that map and
/// assembled by the target's GNU as, gives arrays that sit byte for byte in the image.
@Suite(.serialized) struct CascadeFamilyTests {
    struct Case: CustomStringConvertible {
        var linker: String
        var parameters: [String]
        var description: String { ([linker] + parameters).joined(separator: " ") }
    }

    static func family() throws -> [Case] {
        let text = try String(contentsOfFile: "\(LinkDriverTests.root)/examples/stubs/cascades.txt", encoding: .utf8)
        return text.split(separator: "\n").filter { !$0.hasPrefix("#") }.map {
            let f = $0.split(separator: " ").map(String.init)
            return Case(linker: f[0], parameters: Array(f.dropFirst()))
        }
    }

    func sh(_ args: [String], stdin: [UInt8]? = nil) throws -> [UInt8] {
        let r = try runProcess("/usr/bin/env", ["LC_ALL=C"] + args, stdin: stdin)
        guard r.status == 0 else {
            throw SupportError("\(args.joined(separator: " ")): \(String(decoding: r.stdout + r.stderr, as: UTF8.self))")
        }
        return r.stdout
    }

    @Test func everyCascadeConvergesInFourLinksAndMatchesTheKernelsTable() throws {
        let family = try Self.family()
        #expect(family.count >= 20)
        let reference = try ReferenceTool.path(.linux612)
        let mksysmap = try ReferenceTool.mksysmap(.linux612)
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: "\(dir)/inc/asm", withIntermediateDirectories: true)
        try "#define BITS_PER_LONG 64\n".write(toFile: "\(dir)/inc/asm/bitsperlong.h", atomically: true, encoding: .utf8)
        var worst = 0
        for (i, c) in family.enumerated() {
            let d = "\(dir)/\(i)"
            let arch = c.linker.hasPrefix("a64") ? "aarch64" : "ppc64le"
            _ = try sh(["bash", "\(LinkDriverTests.root)/examples/stubs/make-case.sh", arch, d] + c.parameters)
            let tail = ["-T", "\(d)/case.lds", "-o", "{out}", "\(d)/case.o", "{kallsyms}"]
            let (command, keep, assembler): ([String], String?, String) =
                switch c.linker {
                case "ppc-lld": ([try LinkDriverTests.tool("ld.lld")] + tail, nil, "powerpc64le-linux-gnu-as")
                case "ppc-gnu": (["powerpc64le-linux-gnu-ld", "--emit-stub-syms"] + tail, "\\.long_branch\\.", "powerpc64le-linux-gnu-as")
                default: (["aarch64-linux-gnu-ld"] + tail, "_veneer$", "aarch64-linux-gnu-as")
                }
            var o = LinkOptions(
                command: command, output: "\(d)/image", generator: GeneratorOptions(format: .linux612, allSymbols: true))
            o.mapOutput = "\(d)/System.map"
            if let keep { o.filter = SymbolFilter(keep: [try POSIXRegex(keep)]) }
            let s = try LinkDriver(options: o).run()
            #expect(s.converged && s.verified, "\(c)")
            #expect(s.links + s.patches <= 4, "\(c): \(s.links) links + \(s.patches) patches")
            // A cascade happened: stubs in the table, room reserved for them.
            #expect(s.passes.last!.stubSymbols > 0 && s.reservation != nil, "\(c)")
            worst = max(worst, s.links + s.patches)

            // The map, from the image by the kernel's own tools: nm, mksysmap, and the kept stubs.
            let nm = try sh(["nm", "-n", "\(d)/image"])
            let filtered = try sh(["sed", "-f", mksysmap], stdin: nm)
            var left: [Substring: Int] = [:]
            for l in String(decoding: filtered, as: UTF8.self).split(separator: "\n") { left[l, default: 0] += 1 }
            let regex = try keep.map { try POSIXRegex($0) }
            var expected = ""
            for l in String(decoding: nm, as: UTF8.self).split(separator: "\n") {
                if let n = left[l], n > 0 {
                    left[l] = n - 1
                } else if let regex, let name = l.split(separator: " ").last, regex.matches(Array(String(name).utf8CString)) {
                } else { continue }
                expected += l + "\n"
            }
            #expect(try String(contentsOfFile: "\(d)/System.map", encoding: .utf8) == expected, "\(c)")

            // The kernel's table for that map, assembled, sits in the image array by array.
            let source = try sh([reference, "--all-symbols", "\(d)/System.map"])
            try Data(source).write(to: URL(fileURLWithPath: "\(d)/ref.S"))
            _ = try sh(["gcc", "-E", "-P", "-x", "assembler-with-cpp", "-I", "\(dir)/inc", "\(d)/ref.S", "-o", "\(d)/ref.s"])
            _ = try sh([assembler, "-o", "\(d)/ref.o", "\(d)/ref.s"])
            try expectTable(of: "\(d)/ref.o", in: "\(d)/image", case: c)
        }
        print("cascade family: \(family.count) cases, at most \(worst) links + patches")
    }

    /// Every `kallsyms_*` array of the object's `.rodata` (relocations against `_text` resolved)
    /// equals the bytes at the same label in the image; what follows an array up to the next
    /// label is zeros in both (alignment there, reserved room here).
    func expectTable(of objectPath: String, in imagePath: String, case c: Case) throws {
        let object = try ELFFile(try FileIO.read(objectPath))
        let rodata = try #require(object.section(named: ".rodata"))
        var data = Array(try object.contents(rodata))
        let imageBytes = try FileIO.read(imagePath)
        let image = try ELFFile(imageBytes)
        let symbols = try image.symbols()
        func address(_ name: String) throws -> UInt64 {
            try #require(symbols.first { $0.nameString == name && $0.sectionIndex != .undef }).value
        }
        let text = try address("_text")
        if let rela = object.section(named: ".rela.rodata") {
            for r in try object.relocations(in: rela) {
                let v = text &+ UInt64(bitPattern: r.addend ?? 0)
                for k in 0 ..< 8 { data[Int(r.offset) + k] = UInt8(truncatingIfNeeded: v >> (8 * UInt64(k))) }
            }
        }
        let labels = try object.symbols().filter { $0.nameString.hasPrefix("kallsyms_") }.sorted { $0.value < $1.value }
        #expect(labels.count == 8)
        for (i, l) in labels.enumerated() {
            let end = i + 1 < labels.count ? Int(labels[i + 1].value) : data.count
            let want = Array(data[Int(l.value) ..< end])
            let at = try address(l.nameString)
            let section = try #require(image.sections.first { at >= $0.address && at < $0.address + $0.size && $0.type == .progbits })
            let offset = Int(section.offset + (at - section.address))
            #expect(Array(imageBytes[offset ..< offset + want.count]) == want, "\(c): \(l.nameString)")
        }
    }
}
