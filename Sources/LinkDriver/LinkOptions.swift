import ELFKit
import KallsymsCore

/// How `kallsyms link` runs the kernel-style link loop.
public struct LinkOptions: @unchecked Sendable {
    /// The link command; `{kallsyms}` stands for the table object of the pass and `{out}` for the
    /// file the pass links.
    public var command: [String]
    /// The converged, verified image ends up here (written atomically).
    public var output: String
    public var generator: GeneratorOptions
    /// The table object's target; nil: the machine of the first ELF input in the command.
    public var arch: Architecture?
    /// Which of nm's lines reach the generator (the kernel's mksysmap by default).
    public var filter: SymbolFilter
    /// The most links the loop may run before it gives up.
    public var maxLinks: Int
    /// Bytes of room after the table (the section keeps its size while the table fits).
    public var slack: Int?
    /// Write a table into the image when its layout equals the one linked in, instead of
    /// relinking.
    public var patch: Bool
    /// Reserve room in every array; patches imply.
    public var reserve: Reserve?
    /// Plain relinks tried after the first full table before the driver reserves room itself.
    public var plainPasses: Int
    public var keepTemps: Bool
    /// Where to write the System.map the final table was generated from.
    public var mapOutput: String?
    /// Where pass artifacts go; nil: a fresh directory next to `output`.
    public var workDirectory: String?

    public enum Reserve: Sendable, Equatable {
        /// This many bytes beyond the first full table, shared out over the arrays.
        case bytes(Int)
        /// Estimated from the symbols of the link's input objects (one link), or from the first
        /// pass when the inputs cannot be read (two links).
        case auto
    }

    public init(
        command: [String], output: String, generator: GeneratorOptions, arch: Architecture? = nil,
        filter: SymbolFilter = SymbolFilter(), maxLinks: Int = 10, slack: Int? = nil, patch: Bool = false,
        reserve: Reserve? = nil, plainPasses: Int = 0, keepTemps: Bool = false, mapOutput: String? = nil,
        workDirectory: String? = nil
    ) {
        self.command = command
        self.output = output
        self.generator = generator
        self.arch = arch
        self.filter = filter
        self.maxLinks = maxLinks
        self.slack = slack
        self.patch = patch
        self.reserve = reserve
        self.plainPasses = plainPasses
        self.keepTemps = keepTemps
        self.mapOutput = mapOutput
        self.workDirectory = workDirectory
    }
}

/// One pass of the loop, as reported while it runs.
public struct PassReport: Codable, Sendable, Equatable {
    /// 0 is the empty-table link.
    public var pass: Int
    /// "link", "patch" or "fixed point".
    public var action: String
    /// Symbols in the table generated from this pass's input image (0 for pass 0).
    public var symbols: Int
    /// Bytes of the table section linked or patched in (reserved room included).
    public var sectionBytes: Int
    /// Bytes the table itself needs.
    public var tableBytes: Int
    /// Names that appeared / disappeared compared with the previous image's map.
    public var newSymbols: Int
    public var removedSymbols: Int
    /// Linker branch stubs, veneers and thunks in the image's full symbol table.
    public var stubSymbols: Int
    public var linkSeconds: Double
    public var note: String?
}

/// What a finished loop did.
public struct LinkSummary: Codable, Sendable {
    public var output: String
    public var converged: Bool
    public var verified: Bool
    public var links: Int
    public var patches: Int
    public var passes: [PassReport]
    public var symbols: Int
    public var tableBytes: Int
    public var sectionBytes: Int
    /// Reserved bytes the final table leaves unused.
    public var unusedReservedBytes: Int
    public var reservation: TableReservation?
    public var linkSeconds: Double
    public var kallsymsSeconds: Double
    public var totalSeconds: Double
    public var notes: [String]
    /// Kept pass artifacts (with --keep-temps or after a failure).
    public var artifacts: String?
}

/// A loop that could not finish: what went wrong, why, and where the passes are.
public struct LinkFailure: Error, CustomStringConvertible, Sendable {
    public var message: String
    public var explanation: String?
    public var artifacts: String?
    /// 1 for an inconsistency or no convergence, 2 for a failed link or bad input.
    public var exitCode: Int32

    public var description: String {
        var s = message
        if let explanation { s += "\n" + explanation }
        if let artifacts { s += "\npass artifacts kept in \(artifacts)" }
        return s
    }
}
