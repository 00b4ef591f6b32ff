import ELFKit
import Foundation
import KallsymsCore
import KernelImage

/// The kernel's kallsyms link loop, run to a true fixed point.
///
/// Pass 0 links an empty table (every `kallsyms_*` label present). Each further pass lists the
/// image's symbols (in process, as `nm -n | mksysmap` would), generates the table and compares it
/// with the table linked in: equal tables — the bytes, not the sizes — are the fixed point, and
/// that image is the output. There is no separate final link.
///
/// Why it terminates: every pass either stops (fixed point, patch), fails (`maxLinks`), or links
/// a table whose layout (label offsets and section size) the loop has to try. Plain iteration can
/// cycle — the greedy token compression is not monotone — or grow for dozens of passes as linker
/// stubs feed the table that pushes more calls out of range, so after `plainPasses` relinks that
/// changed the layout (or at once on a layout seen before: a cycle), the driver reserves room in
/// every array, sized to absorb the rest of the growth (`Reservations`). With room reserved, the
/// labels and everything linked after the table stop moving, so the symbols stop changing, and
/// the next table has the reserved layout: it is patched in and the loop ends. If a table
/// outgrows its room, the room grows (at least doubling every array's margin; said in the
/// report) and the link counts against `maxLinks`.
public final class LinkDriver {
    /// The link command, output and policy every run uses.
    public let options: LinkOptions
    /// Receives each pass's report as it finishes, for progress output during links that take
    /// minutes each.
    public var onPass: (PassReport) -> Void = { _ in }

    /// A driver for one link; nothing runs until ``run()``.
    ///
    /// - Parameter options: The link command, output and policy.
    public init(options: LinkOptions) { self.options = options }

    /// Runs the loop to its fixed point, verifies the final image and writes it to
    /// ``LinkOptions/output`` (atomically: an old file there stays until the new one is
    /// complete). Every run starts from nothing, so a driver can run again.
    ///
    /// - Returns: What the loop did: links, patches, each pass, sizes and times.
    /// - Throws: ``LinkFailure`` when a link fails, the loop does not converge within
    ///   ``LinkOptions/maxLinks``, the final image's table does not match its symbols, or an
    ///   input is bad; its ``LinkFailure/exitCode`` tells these apart and its
    ///   ``LinkFailure/artifacts`` names the kept pass files. `KallsymsError` (`.io`) or a
    ///   Foundation error when the work directory cannot be made. The output is never written
    ///   on failure.
    public func run() throws -> LinkSummary {
        var run = LinkRun(options: options, onPass: onPass)
        return try run.execute()
    }
}

/// One run of the loop and everything it accumulates.
struct LinkRun {
    let options: LinkOptions
    let onPass: (PassReport) -> Void
    var work = ""
    var arch: Architecture = .x86_64
    var reservation: TableReservation?
    var passes: [PassReport] = []
    var notes: [String] = []
    var links = 0
    var patches = 0
    var linkSeconds = 0.0
    var lastLinkSeconds = 0.0
    var generatorSeconds = 0.0
    var cycles = CycleWatch()
    var previousNames: [UInt64: Int]?

    init(options: LinkOptions, onPass: @escaping (PassReport) -> Void) {
        self.options = options
        self.onPass = onPass
    }

    /// A table linked into an image.
    struct Linked {
        var table: KallsymsTable
        var layout: BinaryLayout
        var image: String
        /// The table's own layout, without reserved room.
        var bare: BinaryLayout
        /// The address of its first label, once the image has been listed.
        var tableStart: UInt64?
    }

    /// An image read back: its symbols and the table they give.
    struct Examined {
        var pass: Int
        var listing: NMListing
        var map: SymbolList
        var table: KallsymsTable
        var bare: BinaryLayout
        var added: Int
        var removed: Int
        var stubs: Int
    }

    /// What a pass does with the table it generated, laid out as it would be linked or patched.
    enum Step {
        case fixedPoint(BinaryLayout)
        case patch(BinaryLayout)
        case link(BinaryLayout)
    }

    mutating func execute() throws -> LinkSummary {
        let start = Date()
        try prepareWorkDirectory()
        do {
            let summary = try loop(start: start)
            if !options.keepTemps { try? FileManager.default.removeItem(atPath: work) }
            return summary
        } catch var failure as LinkFailure {
            failure.artifacts = keptArtifacts()
            throw failure
        } catch let e as KallsymsError {
            throw LinkFailure(message: e.description, artifacts: keptArtifacts(), exitCode: 2)
        }
    }

    /// After a failure the passes' files are kept for a post-mortem, unless there are none (an
    /// error before the first link): then the empty work directory goes.
    func keptArtifacts() -> String? {
        if options.workDirectory == nil, (try? FileManager.default.contentsOfDirectory(atPath: work))?.isEmpty == true {
            rmdir(work)
            return nil
        }
        return work
    }

    mutating func loop(start: Date) throws -> LinkSummary {
        arch = try options.arch ?? LinkInputs.architecture(of: options.command)
        var linked = try linkEmptyTable()
        var previous: Linked?
        var pass = 1
        while true {
            let t0 = Date()
            let seen = try examine(&linked, pass: pass)
            if pass == 1 && reservation == nil { reserveFromOptions(seen.bare) }
            let step = decide(seen, linked: linked, previous: previous)
            generatorSeconds += Date().timeIntervalSince(t0)
            switch step {
            case .fixedPoint(let padded):
                report(seen, "fixed point", padded)
                return try finish(linked, seen, start: start)
            case .patch(let padded):
                let image = try ImagePatch.write(padded, over: linked, listing: seen.listing)
                patches += 1
                linked = Linked(table: seen.table, layout: padded, image: image, bare: seen.bare)
                report(seen, "patch", padded)
                return try finish(linked, seen, start: start)
            case .link(let padded):
                guard links < options.maxLinks else {
                    throw LinkFailure(
                        message: "kallsyms data did not converge in \(options.maxLinks) links (--max-passes)",
                        explanation: MapExplainer.explain(linked.table.symbols, seen.table.symbols), exitCode: 1)
                }
                previous = linked
                cycles.linked(linked.layout.shape, pass: pass - 1)
                linked = try link(seen.table, layout: padded, bare: seen.bare, pass: pass)
                report(seen, "link", padded, note: notes.last.flatMap { $0.hasPrefix("pass \(pass):") ? $0 : nil })
                pass += 1
            }
        }
    }

    /// Pass 0: the empty table, with reserved room when it is estimated from the inputs.
    mutating func linkEmptyTable() throws -> Linked {
        var note: String?
        if options.reserve == .auto, let estimate = try LinkInputs.estimateReservation(
            command: options.command, options: options.generator, filter: options.filter, arch: arch)
        {
            reservation = estimate.reservation
            note = "room reserved for the table of \(estimate.symbols) input symbols (\(estimate.objects) objects)"
            notes.append(note!)
        }
        let empty = try emptyTable()
        let bare = BinaryLayout(empty, arch: arch)
        let linked = try link(empty, layout: BinaryLayout(empty, arch: arch, reservation: reservation), bare: bare, pass: 0)
        report(
            PassReport(
                pass: 0, action: "link", symbols: 0, sectionBytes: linked.layout.bytes.count, tableBytes: bare.bytes.count,
                newSymbols: 0, removedSymbols: 0, stubSymbols: 0, linkSeconds: lastLinkSeconds, note: note))
        return linked
    }

    /// The empty table of pass 0. 6.1's generator refuses an empty map (its own link leaves the
    /// `kallsyms_*` symbols weak and undefined instead), so the empty arrays are made with 6.12's
    /// rules and given the 6.1 encoding: with no symbols the two differ only in array order.
    func emptyTable() throws -> KallsymsTable {
        guard options.generator.format == .linux61 else {
            return try KallsymsGenerator.generate(symbols: SymbolList(), options: options.generator)
        }
        var o = options.generator
        o.format = .linux612
        o.baseRelative = false
        o.ltoClang = false
        var t = try KallsymsGenerator.generate(symbols: SymbolList(), options: o)
        if options.generator.format == .linux61 {
            t.format = .linux61
            if !options.generator.baseRelative { t.addressEncoding = .addresses([], absolute: []) }
        }
        return t
    }

    /// Lists `linked`'s image and generates the table its symbols give; notes where the table
    /// sits in it.
    mutating func examine(_ linked: inout Linked, pass: Int) throws -> Examined {
        let listing = try ELFSymbolSource.listing(path: linked.image)
        // 7.3's generator reads the ELF itself, with mksysmap's rules built in.
        let map =
            options.generator.format.readsELF
            ? try ELFSysmap.read(path: linked.image, exclude: options.filter.exclude, keep: options.filter.keep).symbols
            : options.filter.apply(listing.symbols, addressWidth: listing.addressWidth)
        let table = try KallsymsGenerator.generate(symbols: map, options: options.generator)
        let (added, removed) = nameChanges(map)
        if let first = linked.layout.labels.min(by: { $0.offset < $1.offset }) {
            linked.tableStart = ImagePatch.address(of: first.name, in: listing)
        }
        return Examined(
            pass: pass, listing: listing, map: map, table: table, bare: BinaryLayout(table, arch: arch), added: added,
            removed: removed, stubs: LinkerStubs.count(listing.symbols))
    }

    // MARK: - Policy

    /// Reservations that start from the first full table.
    mutating func reserveFromOptions(_ bare: BinaryLayout) {
        if case .bytes(let n) = options.reserve {
            reservation = Reservations.spread(n, over: bare)
            notes.append("reserved \(n) bytes beyond the first table")
        } else if options.reserve == .auto {
            reservation = Reservations.spread(Reservations.defaultMargin(bare), over: bare)
            notes.append("inputs not readable as objects: reserved room from the first table")
        } else if let slack = options.slack {
            reservation = TableReservation(sectionSize: bare.bytes.count + slack)
        }
    }

    /// Fixed point, patch or relink — and room reserved or grown on the way.
    mutating func decide(_ seen: Examined, linked: Linked, previous: Linked?) -> Step {
        let pass = seen.pass
        var padded = BinaryLayout(seen.table, arch: arch, reservation: reservation)

        // The fixed point: the table generated from the image is the one linked into it.
        if padded.bytes == linked.layout.bytes && padded.relocations == linked.layout.relocations {
            return .fixedPoint(padded)
        }

        // A table that does not fit its room grows the room.
        if let r = reservation, !BinaryLayout.fits(seen.table, arch: arch, r) {
            // Room reserved in pass 0 (--reserve auto) was sized for a table not linked yet: no
            // growth to go by and no margin to double, only the overflow.
            let anticipated = previous.map { anticipate(seen, linked: linked, previous: $0).0 }
            reservation = Reservations.grow(
                r, toFit: seen.bare, linked: previous == nil ? nil : linked.bare,
                anticipated: anticipated ?? TableReservation())
            padded = BinaryLayout(seen.table, arch: arch, reservation: reservation)
            notes.append("pass \(pass): the table outgrew its reserved room; section grown to \(padded.bytes.count) bytes")
        }

        // Same layout: nothing after the table moves, so writing it in place is a fixed point.
        if padded.shape == linked.layout.shape && (options.patch || reservation != nil) { return .patch(padded) }

        // Plain iteration while it looks like it settles; room once it does not.
        if reservation == nil && pass >= 2 && padded.shape != linked.layout.shape, let previous,
            let why = cycles.reasonToReserve(
                padded.shape, plainPasses: options.plainPasses, from: linked.bare.bytes.count, to: seen.bare.bytes.count)
        {
            let (r, how) = anticipate(seen, linked: linked, previous: previous)
            reservation = r
            padded = BinaryLayout(seen.table, arch: arch, reservation: r)
            notes.append("pass \(pass): \(why); reserving room\(how): section \(padded.bytes.count) bytes")
        }
        return .link(padded)
    }

    /// Room for the table `seen` and the growth still to come, from how it grew since the table
    /// linked into its image, which moved the code by the difference between `linked`'s section
    /// and `previous`'s; the words say which model sized it.
    func anticipate(_ seen: Examined, linked: Linked, previous: Linked) -> (TableReservation, String) {
        var growth: [KallsymsArray: Int] = [:]
        for l in Reservations.variableArrays(seen.bare) { growth[l.array] = l.size }
        for l in Reservations.variableArrays(linked.bare) { growth[l.array, default: 0] -= l.size }
        let g = Reservations.Growth(
            table: seen.bare, growth: growth, moved: linked.layout.bytes.count - previous.layout.bytes.count)
        if let before = reach(previous), let now = reach(linked),
            let r = Reservations.fromBranches(g, before: before, now: now, linkedSection: linked.layout.bytes.count)
        {
            return (r, " for the calls still in branch range")
        }
        return (Reservations.fromGrowth(g), "")
    }

    func reach(_ linked: Linked) -> BranchReach? {
        guard let start = linked.tableStart else { return nil }
        return BranchReach.scan(
            image: linked.image, arch: arch, tableStart: start, tableEnd: start + UInt64(linked.layout.bytes.count))
    }

    // MARK: - Passes

    mutating func link(_ table: KallsymsTable, layout: BinaryLayout, bare: BinaryLayout, pass: Int) throws -> Linked {
        let object = "\(work)/pass\(pass).kallsyms.o"
        try FileIO.writeAtomically(object, bytes: ObjectEmitter.object(layout, arch: arch))
        let out = "\(work)/pass\(pass).out"
        let args = options.command.map {
            $0.replacingOccurrences(of: "{kallsyms}", with: object).replacingOccurrences(of: "{out}", with: out)
        }
        let t0 = Date()
        let result = try Subprocess.run(args)
        lastLinkSeconds = Date().timeIntervalSince(t0)
        linkSeconds += lastLinkSeconds
        links += 1
        guard result.status == 0 else {
            throw LinkFailure(
                message: "link command failed in pass \(pass) with status \(result.status): \(args.joined(separator: " "))",
                explanation: String(decoding: result.stderr.suffix(4000), as: UTF8.self), exitCode: 2)
        }
        guard FileManager.default.fileExists(atPath: out) else {
            throw LinkFailure(message: "the link command did not write {out} (\(out)) in pass \(pass)", exitCode: 2)
        }
        return Linked(table: table, layout: layout, image: out, bare: bare)
    }

    /// Names that appeared and disappeared since the previous pass, counted as multisets of
    /// 64-bit FNV-1a hashes of the names (a report figure: a collision would only miscount).
    mutating func nameChanges(_ map: SymbolList) -> (Int, Int) {
        var counts: [UInt64: Int] = [:]
        counts.reserveCapacity(map.count)
        map.bytes.withUnsafeBufferPointer { b in
            for i in 0 ..< map.count {
                var h: UInt64 = 0xcbf2_9ce4_8422_2325
                for k in (Int(map.starts[i]) + 1) ..< Int(map.ends[i]) { h = (h ^ UInt64(b[k])) &* 0x100_0000_01b3 }
                counts[h, default: 0] += 1
            }
        }
        defer { previousNames = counts }
        guard let before = previousNames else { return (0, 0) }
        var added = 0
        var removed = 0
        for (name, c) in counts { added += max(0, c - (before[name] ?? 0)) }
        for (name, c) in before { removed += max(0, c - (counts[name] ?? 0)) }
        return (added, removed)
    }

    // MARK: - Reporting

    mutating func report(_ r: PassReport) {
        passes.append(r)
        onPass(r)
    }

    mutating func report(_ seen: Examined, _ action: String, _ layout: BinaryLayout, note: String? = nil) {
        report(
            PassReport(
                pass: seen.pass, action: action, symbols: seen.table.numSyms, sectionBytes: layout.bytes.count,
                tableBytes: seen.bare.bytes.count, newSymbols: seen.added, removedSymbols: seen.removed,
                stubSymbols: seen.stubs, linkSeconds: action == "link" ? lastLinkSeconds : 0, note: note))
    }

    // MARK: - Verification and output

    mutating func finish(_ linked: Linked, _ seen: Examined, start: Date) throws -> LinkSummary {
        let t0 = Date()
        let bytes = try FileIO.read(linked.image)
        try Verification.check(bytes, expected: seen.table)
        if let mapOutput = options.mapOutput {
            try FileIO.writeAtomically(mapOutput, bytes: NMListing.text(seen.map, addressWidth: seen.listing.addressWidth))
        }
        try FileIO.writeAtomically(options.output, bytes: bytes, mode: ImagePatch.mode(of: linked.image))
        let verifySeconds = Date().timeIntervalSince(t0)
        let bare = seen.bare.bytes.count
        return LinkSummary(
            output: options.output, converged: true, verified: true, links: links, patches: patches, passes: passes,
            symbols: seen.table.numSyms, tableBytes: bare, sectionBytes: linked.layout.bytes.count,
            unusedReservedBytes: linked.layout.bytes.count - bare, reservation: reservation, linkSeconds: linkSeconds,
            kallsymsSeconds: generatorSeconds + verifySeconds, totalSeconds: Date().timeIntervalSince(start), notes: notes,
            artifacts: options.keepTemps ? work : nil)
    }

    mutating func prepareWorkDirectory() throws {
        if let w = options.workDirectory {
            try FileManager.default.createDirectory(atPath: w, withIntermediateDirectories: true)
            work = w
            return
        }
        let (dir, base) = FileIO.splitPath(options.output)
        var template = Array("\(dir)/.\(base).kallsyms-link-XXXXXX".utf8CString)
        guard template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) != nil else {
            throw KallsymsError(.io, "cannot create a work directory next to the output", file: options.output)
        }
        work = String(cString: template)
    }
}

/// When plain iteration stops looking like it settles: a layout seen before (a cycle), or more
/// relinks that changed the layout than `--plain-passes` allows.
struct CycleWatch {
    var seenShapes: [[Int]: Int] = [:]
    var plainRelinks = 0

    mutating func linked(_ shape: [Int], pass: Int) { seenShapes[shape] = pass }

    /// Called for each plain relink that would change the layout to `shape`; the reason to
    /// reserve room instead, or nil to relink plainly.
    mutating func reasonToReserve(_ shape: [Int], plainPasses: Int, from: Int, to: Int) -> String? {
        plainRelinks += 1
        if let seen = seenShapes[shape] { return "a cycle: this layout was linked in pass \(seen)" }
        guard plainRelinks > plainPasses else { return nil }
        return plainPasses == 0
            ? "the table changed the image's symbols (\(from) -> \(to) bytes)"
            : "the layout still changes after \(plainPasses) plain relinks"
    }
}
