import ELFKit
import KallsymsCore

/// How `kallsyms link` runs the kernel-style link loop.
///
/// Only ``command``, ``output`` and ``generator`` have no default: the rest is the policy of
/// `kallsyms link` without options (room is reserved once a relink changes the table's layout;
/// at most 10 links).
public struct LinkOptions: @unchecked Sendable {
    /// The link command; `{kallsyms}` stands for the table object of the pass and `{out}` for the
    /// file the pass links.
    public var command: [String]
    /// The converged, verified image ends up here (written atomically).
    public var output: String
    /// The kernel version and flags of the tables: those the kernel's own `scripts/kallsyms`
    /// would be run with, so the final table is the one the kernel's build would make.
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
    /// Room to reserve in every array from the start; nil: only once relinking stops settling.
    /// With room reserved, a table that fits the linked layout is patched in (as with ``patch``).
    public var reserve: Reserve?
    /// Plain relinks tried after the first full table before the driver reserves room itself.
    public var plainPasses: Int
    /// Keep the passes' objects and images after a successful run (they are always kept after
    /// a failure), in ``workDirectory`` or the directory ``LinkSummary/artifacts`` names.
    public var keepTemps: Bool
    /// Where to write the System.map the final table was generated from.
    public var mapOutput: String?
    /// Where pass artifacts go; nil: a fresh directory next to `output`.
    public var workDirectory: String?

    /// How much room to reserve in the table's arrays, so that tables of later passes fit the
    /// layout already linked and are patched in instead of relinked.
    public enum Reserve: Sendable, Equatable {
        /// This many bytes beyond the first full table, shared out over the arrays.
        case bytes(Int)
        /// Estimated from the symbols of the link's input objects (one link), or from the first
        /// pass when the inputs cannot be read (two links).
        case auto
    }

    /// Options for one link; every parameter is the property of the same name.
    ///
    /// - Parameters:
    ///   - command: The link command, with `{kallsyms}` and `{out}` placeholders.
    ///   - output: Where the verified image is written.
    ///   - generator: The kernel version and flags of the tables.
    ///   - arch: The table object's target; nil: the machine of the command's first ELF input.
    ///   - filter: Which of nm's lines reach the generator.
    ///   - maxLinks: The most links before giving up.
    ///   - slack: Bytes of room after the table.
    ///   - patch: Patch a table whose layout equals the linked one instead of relinking.
    ///   - reserve: Room to reserve in every array.
    ///   - plainPasses: Plain relinks tried before the driver reserves room itself.
    ///   - keepTemps: Keep the passes' files after a successful run.
    ///   - mapOutput: Where to write the final table's System.map.
    ///   - workDirectory: Where the passes' files go.
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
    /// Names that appeared compared with the previous image's map.
    public var newSymbols: Int
    /// Names that disappeared compared with the previous image's map.
    public var removedSymbols: Int
    /// Linker branch stubs, veneers and thunks in the image's full symbol table: the symbols a
    /// growing table adds by pushing calls out of branch range.
    public var stubSymbols: Int
    /// Wall time of this pass's link command (0 for a patch or the fixed point).
    public var linkSeconds: Double
    /// Why the driver changed course in this pass (room reserved or grown), if it did.
    public var note: String?
}

/// What a finished loop did: what `kallsyms link` prints, and `--json` writes.
public struct LinkSummary: Codable, Sendable {
    /// The image written (``LinkOptions/output``).
    public var output: String
    /// True: a summary is only made for a loop that reached its fixed point.
    public var converged: Bool
    /// True: the final image's table, decoded, equals the table its own symbols give.
    public var verified: Bool
    /// Link commands run, the empty table's included.
    public var links: Int
    /// Tables written into a linked image in place instead of relinking (0 or 1).
    public var patches: Int
    /// Every pass, in order.
    public var passes: [PassReport]
    /// Symbols in the final table.
    public var symbols: Int
    /// Bytes the final table needs.
    public var tableBytes: Int
    /// Bytes of the table section in the image (reserved room included).
    public var sectionBytes: Int
    /// Reserved bytes the final table leaves unused.
    public var unusedReservedBytes: Int
    /// The room reserved in the end, or nil when the loop settled without reserving.
    public var reservation: TableReservation?
    /// Wall time of all link commands.
    public var linkSeconds: Double
    /// Wall time of listing the images, generating the tables and verifying the result.
    public var kallsymsSeconds: Double
    /// Wall time of the whole run.
    public var totalSeconds: Double
    /// Why the driver changed course (room reserved or grown), in order.
    public var notes: [String]
    /// The directory of the passes' kept objects and images when ``LinkOptions/keepTemps`` is
    /// set; nil otherwise (they are removed).
    public var artifacts: String?
}

/// A loop that could not finish: what went wrong, why, and where the passes are.
public struct LinkFailure: Error, CustomStringConvertible, Sendable {
    /// What went wrong, in one line.
    public var message: String
    /// The detail behind it: the linker's error output, or the `MapDiff` report of how the
    /// table linked in differs from the image's symbols.
    public var explanation: String?
    /// The directory with the passes' objects and images, kept for a post-mortem; nil when no
    /// pass had run.
    public var artifacts: String?
    /// 1 for an inconsistency or no convergence, 2 for a failed link or bad input.
    public var exitCode: Int32

    /// The message, the explanation and where the artifacts are, one after the other: what
    /// `kallsyms link` prints on failure.
    public var description: String {
        var s = message
        if let explanation { s += "\n" + explanation }
        if let artifacts { s += "\npass artifacts kept in \(artifacts)" }
        return s
    }
}
