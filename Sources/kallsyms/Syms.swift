import ArgumentParser
import ELFKit
import KallsymsCore

/// Options shared by `syms` and `link`: which of nm's lines reach the generator.
struct SymbolRuleOptions: ParsableArguments {
    @Option(help: "Base rules: linux-6.12 (scripts/mksysmap of 6.12), linux-6.1, linux-7.3 (syms only: `scripts/kallsyms --sysmap` of 7.3, which reads the ELF itself) or none (nm -n itself).")
    var filter: FilterRules = .linux612

    @Option(help: "Also drop symbols whose name matches this POSIX extended regex (repeatable).")
    var exclude: [String] = []

    @Option(help: "Keep symbols whose name matches this regex although the base rules drop them (repeatable).")
    var keep: [String] = []

    var isLinux73: Bool { filter == .linux73 }

    func symbolFilter() throws -> SymbolFilter {
        guard case .base(let base) = filter else {
            throw KallsymsError(.usage, "--filter linux-7.3 is for `syms`; `link --format linux-7.3` applies 7.3's rules itself")
        }
        return SymbolFilter(
            base: base, exclude: try exclude.map(POSIXRegex.init),
            keep: try keep.map(POSIXRegex.init))
    }
}

struct Syms: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the symbol map the kernel feeds its generator: `nm -n ELF | sed -f scripts/mksysmap`.",
        discussion: """
            Reads the ELF symbol table itself (no nm) with binutils' type letters and order; with \
            --filter none the output is exactly `nm -n ELF`. With --filter linux-7.3 the output is \
            what 7.3's `scripts/kallsyms --sysmap=OUT ELF` writes to OUT (its own letters and rules; \
            an empty file gives an empty map, as 7.3's first link does).
            """)

    @Argument(help: "An ELF file (vmlinux, an executable or an object).", completion: .file())
    var elf: String

    @OptionGroup var rules: SymbolRuleOptions

    @Option(name: .shortAndLong, help: ArgumentHelp("Write to FILE (atomically) instead of standard output.", valueName: "file"), completion: .file())
    var output: String?

    func run() throws {
        if rules.isLinux73 {
            let map = try ELFSysmap.read(
                path: elf, exclude: try rules.exclude.map(POSIXRegex.init), keep: try rules.keep.map(POSIXRegex.init))
            writeStderr(map.warnings())
            try emit(map.text())
            return
        }
        let listing = try ELFSymbolSource.listing(path: elf)
        let kept = try rules.symbolFilter().apply(listing.symbols, addressWidth: listing.addressWidth)
        try emit(NMListing.text(kept, addressWidth: listing.addressWidth))
    }

    func emit(_ text: [UInt8]) throws {
        if let output { try FileIO.writeAtomically(output, bytes: text) } else { writeStdout(text) }
    }
}
