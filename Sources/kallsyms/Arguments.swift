import ArgumentParser
import ELFKit
import KallsymsCore

// The library's types are the option types, so `--help`, the completion scripts and the man page
// list exactly the values the library knows: a format added to `KallsymsFormat` appears in all
// three without touching the command.
extension KallsymsFormat: ExpressibleByArgument {}

/// What `gen` writes.
enum Emit: String, ExpressibleByArgument, CaseIterable {
    /// The kernel's `.S`.
    case asm
    /// An ELF relocatable object.
    case object
    /// The bare `.rodata` blob, with FILE.layout.json beside it.
    case raw
}

/// `--arch` of `gen` and `link`: an architecture the table object can be written for, by our
/// name or an alias `Architecture(name:)` accepts (`arm64`, `amd64`, …); help and completions
/// offer our names.
struct TableTarget: ExpressibleByArgument {
    var architecture: Architecture

    init?(argument: String) {
        guard let a = Architecture(name: argument), Architecture.tableObjectTargets.contains(a) else { return nil }
        architecture = a
    }

    static var allValueStrings: [String] { Architecture.tableObjectTargets.map(\.rawValue) }
    static var defaultCompletionKind: CompletionKind { .list(allValueStrings) }
}

/// `--filter` of `syms` and `link`: one of the library's rule sets (`SymbolFilter.Base`), or
/// linux-7.3, whose System.map comes from a reader of its own (`ELFSysmap`, `syms` only).
enum FilterRules: ExpressibleByArgument, Equatable {
    case base(SymbolFilter.Base)
    case linux73

    static let linux612 = FilterRules.base(.linux612)

    init?(argument: String) {
        if argument == "linux-7.3" {
            self = .linux73
        } else if let base = SymbolFilter.Base(rawValue: argument) {
            self = .base(base)
        } else {
            return nil
        }
    }

    var name: String {
        switch self {
        case .base(let base): base.rawValue
        case .linux73: "linux-7.3"
        }
    }

    static var allValueStrings: [String] { SymbolFilter.Base.allCases.map(\.rawValue) + ["linux-7.3"] }
    static var defaultCompletionKind: CompletionKind { .list(allValueStrings) }
    var defaultValueDescription: String { name }
}

/// The help of every IMAGE argument: what the reader accepts.
let imageHelp =
    "A vmlinux, bzImage, Image(.gz), zboot, zImage, compressed kernel, or a memory dump (vmcore, raw memory) (`-`: standard input)."
