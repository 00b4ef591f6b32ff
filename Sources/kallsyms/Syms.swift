import ArgumentParser
import ELFKit
import KallsymsCore

/// Options shared by `syms` and `link`: which of nm's lines reach the generator.
struct SymbolRuleOptions: ParsableArguments {
    @Option(help: "Base rules: linux-6.12 (scripts/mksysmap of 6.12, the default), linux-6.1 or none.")
    var filter: String = SymbolFilter.Base.linux612.rawValue

    @Option(help: "Also drop symbols whose name matches this POSIX extended regex (repeatable).")
    var exclude: [String] = []

    @Option(help: "Keep symbols whose name matches this regex although the base rules drop them (repeatable).")
    var keep: [String] = []

    func validate() throws {
        guard SymbolFilter.Base(rawValue: filter) != nil else {
            throw ValidationError("unknown --filter '\(filter)' (expected linux-6.12, linux-6.1 or none)")
        }
    }

    func symbolFilter() throws -> SymbolFilter {
        SymbolFilter(
            base: SymbolFilter.Base(rawValue: filter)!, exclude: try exclude.map(POSIXRegex.init),
            keep: try keep.map(POSIXRegex.init))
    }
}

struct Syms: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the symbol map the kernel feeds its generator: `nm -n ELF | sed -f scripts/mksysmap`.",
        discussion: """
            Reads the ELF symbol table itself (no nm) with binutils' type letters and order; with \
            --filter none the output is exactly `nm -n ELF`.
            """)

    @Argument(help: "An ELF file (vmlinux, an executable or an object).")
    var elf: String

    @OptionGroup var rules: SymbolRuleOptions

    @Option(name: .shortAndLong, help: "Write to FILE (atomically) instead of standard output.")
    var output: String?

    func run() throws {
        let listing = try ELFSymbolSource.listing(path: elf)
        let kept = try rules.symbolFilter().apply(listing.symbols, addressWidth: listing.addressWidth)
        let text = NMListing.text(kept, addressWidth: listing.addressWidth)
        if let output { try FileIO.writeAtomically(output, bytes: text) } else { writeStdout(text) }
    }
}
