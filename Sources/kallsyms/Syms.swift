import ArgumentParser
import ELFKit
import KallsymsCore

/// Options shared by `syms` and `link`: which of nm's lines reach the generator.
struct SymbolRuleOptions: ParsableArguments {
    @Option(help: "Base rules: linux-6.12 (scripts/mksysmap of 6.12, the default), linux-6.1, linux-7.3 (syms only: `scripts/kallsyms --sysmap` of 7.3, which reads the ELF itself) or none.")
    var filter: String = SymbolFilter.Base.linux612.rawValue

    @Option(help: "Also drop symbols whose name matches this POSIX extended regex (repeatable).")
    var exclude: [String] = []

    @Option(help: "Keep symbols whose name matches this regex although the base rules drop them (repeatable).")
    var keep: [String] = []

    /// 7.3's System.map is not nm's listing through a filter but a reader of its own (ELFSysmap).
    static let linux73 = "linux-7.3"
    var isLinux73: Bool { filter == Self.linux73 }

    func validate() throws {
        guard SymbolFilter.Base(rawValue: filter) != nil || isLinux73 else {
            throw ValidationError("unknown --filter '\(filter)' (expected linux-6.12, linux-6.1, linux-7.3 or none)")
        }
    }

    func symbolFilter() throws -> SymbolFilter {
        guard !isLinux73 else {
            throw KallsymsError(.usage, "--filter linux-7.3 is for `syms`; `link --format linux-7.3` applies 7.3's rules itself")
        }
        return SymbolFilter(
            base: SymbolFilter.Base(rawValue: filter)!, exclude: try exclude.map(POSIXRegex.init),
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

    @Argument(help: "An ELF file (vmlinux, an executable or an object).")
    var elf: String

    @OptionGroup var rules: SymbolRuleOptions

    @Option(name: .shortAndLong, help: "Write to FILE (atomically) instead of standard output.")
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
