import ELFKit
import Foundation
import KallsymsCore
import KallsymsTestSupport
import KernelImage
import LinkDriver
import Testing

/// The link loop in the formats after 6.12: 6.15 (base-relative, no per-cpu), 7.0 and 7.3
/// (place-relative entries, each relocated against its own place; 7.3 lists the image with its
/// own System.map rules). The example firmware runs and symbolizes itself through a table read
/// the way the kernel of each version reads it; the stub cases converge in as few links as 6.12.
@Suite(.serialized) struct NewFormatLinkTests {
    static let formats: [GeneratorOptions] = [
        GeneratorOptions(format: .linux615, allSymbols: true),
        GeneratorOptions(format: .linux70, allSymbols: true, pcRelative: true),
        GeneratorOptions(format: .linux73, allSymbols: true, pcRelative: true),
    ]

    let base = LinkDriverTests()

    /// The table the image's own symbols give, as the format's generator lists them.
    func expectedTable(_ path: String, _ generator: GeneratorOptions, keep: [POSIXRegex] = []) throws -> KallsymsTable {
        if generator.format.readsELF {
            return try KallsymsGenerator.generate(symbols: ELFSysmap.read(path: path, keep: keep).symbols, options: generator)
        }
        let listing = try ELFSymbolSource.listing(path: path)
        let filter = SymbolFilter(keep: keep)
        return try KallsymsGenerator.generate(
            symbols: filter.apply(listing.symbols, addressWidth: listing.addressWidth), options: generator)
    }

    /// The reader's table from the image equals that table, and it is in the format asked for.
    func checkImage(_ path: String, _ generator: GeneratorOptions, keep: [POSIXRegex] = []) throws {
        let expected = try expectedTable(path, generator, keep: keep)
        let image = try KernelImage.read(path: path)
        #expect(Bool(image.table.symbols == expected.symbols), "\(path): decoded symbols differ")
        #expect(image.table.names == expected.names && image.table.seqsOfNames == expected.seqsOfNames)
        #expect(image.table.tableFormat.addressing == generator.tableFormat.addressing, "\(path)")
    }

    @Test(arguments: 0 ..< formats.count)
    func firmwareLinksRunsAndSymbolizesItself(_ index: Int) throws {
        let generator = Self.formats[index]
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let command = try base.firmwareCommand(dir, defines: generator.pcRelative ? ["KALLSYMS_PC_RELATIVE"] : [])
        let plain = try base.run(command, output: "\(dir)/fw", generator: generator)
        #expect(plain.converged && plain.verified && plain.links <= 4)
        try checkImage("\(dir)/fw", generator)
        let out = try base.sh(["\(dir)/fw"])
        let listing = try ELFSymbolSource.listing(path: "\(dir)/fw")
        var frames = 0
        for line in out.split(separator: "\n") where line.hasPrefix(" [<") {
            let parts = line.split(separator: " ")
            let address = UInt64(parts[0].dropFirst(4).dropLast(2), radix: 16)!
            let name = String(parts[1].split(separator: "+")[0])
            let offset = UInt64(parts[1].split(separator: "+")[1].split(separator: "/")[0].dropFirst(2), radix: 16)!
            #expect(try #require(base.addressOf(name, listing)) + offset == address, "\(generator.format): \(line)")
            frames += 1
        }
        #expect(frames >= 5, "\(out)")
        // Patching writes place-relative entries as target - place; reserved room: one link.
        let patched = try base.run(command, output: "\(dir)/fw-patch", generator: generator) { $0.patch = true }
        #expect(patched.converged && patched.verified && patched.links <= 3)
        try checkImage("\(dir)/fw-patch", generator)
        #expect(try base.sh(["\(dir)/fw-patch"]).contains("firmware_init+"))
        let estimated = try base.run(command, output: "\(dir)/fw-auto", generator: generator) { $0.reserve = .auto }
        #expect(estimated.links == 1 && estimated.patches == 1 && estimated.verified)
        try checkImage("\(dir)/fw-auto", generator)
        #expect(try base.sh(["\(dir)/fw-auto"]).contains("firmware_init+"))
    }

    /// ppc64le lld thunks (kept by every rule) and aarch64 GNU ld veneers kept as older kernels
    /// kept them: the cascades that defeat the kernel's own scheme, in 7.0 and 7.3.
    @Test(arguments: [1, 2])
    func stubCascadesConverge(_ index: Int) throws {
        let generator = Self.formats[index]
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        _ = try base.sh(["bash", "\(LinkDriverTests.root)/examples/stubs/make-case.sh", "ppc64le", "\(dir)/ppc", "3000", "64"])
        let lld = try LinkDriverTests.tool("ld.lld")
        let ppc = [lld, "-T", "\(dir)/ppc/case.lds", "-o", "{out}", "\(dir)/ppc/case.o", "{kallsyms}"]
        let thunks = try base.run(ppc, output: "\(dir)/ppc/out", generator: generator)
        #expect(thunks.converged && thunks.verified && thunks.links <= 4)
        #expect(thunks.passes.last!.stubSymbols > 100)
        try checkImage("\(dir)/ppc/out", generator)

        _ = try base.sh(["bash", "\(LinkDriverTests.root)/examples/stubs/make-case.sh", "aarch64", "\(dir)/a64", "3000", "64"])
        let a64 = ["aarch64-linux-gnu-ld", "-T", "\(dir)/a64/case.lds", "-o", "{out}", "\(dir)/a64/case.o", "{kallsyms}"]
        let keep = [try POSIXRegex("_veneer$")]
        let veneers = try base.run(a64, output: "\(dir)/a64/out", generator: generator) { $0.filter = SymbolFilter(keep: keep) }
        #expect(veneers.converged && veneers.verified && veneers.links <= 4)
        #expect(veneers.passes.last!.stubSymbols > 1000)
        try checkImage("\(dir)/a64/out", generator, keep: keep)
    }
}
