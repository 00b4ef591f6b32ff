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
/// every array, sized from the growth it observed. With room reserved, the labels and everything
/// linked after the table stop moving, so the symbols stop changing, and the next table has the
/// reserved layout: it is patched in (or relinked once) and the loop ends. If a table outgrows its
/// room, the room is grown (said in the report) and counted against `maxLinks`.
public final class LinkDriver {
    public let options: LinkOptions
    /// Receives each pass's report as it finishes.
    public var onPass: (PassReport) -> Void = { _ in }

    public init(options: LinkOptions) { self.options = options }

    // State of one run.
    var work = ""
    var arch: Architecture = .x86_64
    var reservation: TableReservation?
    var passes: [PassReport] = []
    var notes: [String] = []
    var links = 0
    var patches = 0
    var linkSeconds = 0.0
    var seenShapes: [[Int]: Int] = [:]
    var plainRelinks = 0
    var keepArtifacts = false
    var previousNames: [UInt64: Int]?

    struct Linked {
        var table: KallsymsTable
        var layout: BinaryLayout
        var image: String
        var bareSize: Int
    }

    public func run() throws -> LinkSummary {
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

    func loop(start: Date) throws -> LinkSummary {
        arch = try options.arch ?? LinkInputs.architecture(of: options.command)
        var generatorTime = 0.0

        // Pass 0: the empty table, with reserved room when it is estimated from the inputs.
        var note0: String?
        if options.reserve == .auto, let estimate = try LinkInputs.estimateReservation(
            command: options.command, options: options.generator, filter: options.filter, arch: arch)
        {
            reservation = estimate.reservation
            note0 = "room reserved for the table of \(estimate.symbols) input symbols (\(estimate.objects) objects)"
            notes.append(note0!)
        }
        let empty = try emptyTable()
        var linked = try link(table: empty, pass: 0)
        report(
            PassReport(
                pass: 0, action: "link", symbols: 0, sectionBytes: linked.layout.bytes.count, tableBytes: linked.bareSize,
                newSymbols: 0, removedSymbols: 0, stubSymbols: 0, linkSeconds: lastLinkSeconds, note: note0))
        var previousLinked: Linked?

        var pass = 1
        while true {
            let t0 = Date()
            let listing = try readListing(linked.image)
            let map = options.filter.apply(listing.symbols, addressWidth: listing.addressWidth)
            let table = try KallsymsGenerator.generate(symbols: map, options: options.generator)
            let (added, removed) = nameChanges(map)
            let stubs = LinkerStubs.count(listing.symbols)
            let bare = BinaryLayout(table, arch: arch)

            // Reservations that start from the first full table.
            if pass == 1 && reservation == nil {
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
            var padded = BinaryLayout(table, arch: arch, reservation: reservation)
            generatorTime += Date().timeIntervalSince(t0)

            func passReport(_ action: String, _ layout: BinaryLayout, note: String? = nil) -> PassReport {
                PassReport(
                    pass: pass, action: action, symbols: table.numSyms, sectionBytes: layout.bytes.count,
                    tableBytes: bare.bytes.count, newSymbols: added, removedSymbols: removed, stubSymbols: stubs,
                    linkSeconds: action == "link" ? lastLinkSeconds : 0, note: note)
            }

            // The fixed point: the table generated from the image is the one linked into it.
            if padded.bytes == linked.layout.bytes && padded.relocations == linked.layout.relocations {
                report(passReport("fixed point", padded))
                return try finish(linked, table: table, listing: listing, map: map, start: start, ourTime: generatorTime)
            }

            // A table that does not fit its room grows the room.
            if let r = reservation, !BinaryLayout.fits(table, arch: arch, r) {
                let grown = Reservations.grow(r, toFit: bare, previous: linked.layout)
                reservation = grown
                padded = BinaryLayout(table, arch: arch, reservation: grown)
                notes.append("pass \(pass): the table outgrew its reserved room; section grown to \(padded.bytes.count) bytes")
            }

            // Same layout: nothing after the table moves, so writing it in place is a fixed point.
            if padded.shape == linked.layout.shape && (options.patch || reservation != nil) {
                let patchedImage = try patchImage(linked, with: padded, listing: listing)
                patches += 1
                linked = Linked(table: table, layout: padded, image: patchedImage, bareSize: bare.bytes.count)
                report(passReport("patch", padded))
                return try finish(linked, table: table, listing: listing, map: map, start: start, ourTime: generatorTime)
            }

            // Plain iteration while it looks like it settles; room once it does not.
            if reservation == nil && pass >= 2 && padded.shape != linked.layout.shape {
                plainRelinks += 1
                var why: String?
                if let seen = seenShapes[padded.shape] {
                    why = "a cycle: this layout was linked in pass \(seen)"
                } else if plainRelinks > options.plainPasses {
                    why =
                        options.plainPasses == 0
                        ? "the table changed the image's symbols (\(linked.bareSize) -> \(bare.bytes.count) bytes)"
                        : "the layout still changes after \(options.plainPasses) plain relinks"
                }
                if let why {
                    let r = Reservations.fromGrowth(
                        table: bare, linked: linked.layout, before: previousLinked?.layout, arch: arch)
                    reservation = r
                    padded = BinaryLayout(table, arch: arch, reservation: r)
                    notes.append("pass \(pass): \(why); reserving room: section \(padded.bytes.count) bytes")
                }
            }

            guard links < options.maxLinks else {
                keepArtifacts = true
                throw LinkFailure(
                    message: "kallsyms data did not converge in \(options.maxLinks) links (--max-passes)",
                    explanation: explainChange(from: linked.table, to: table), exitCode: 1)
            }
            previousLinked = linked
            seenShapes[linked.layout.shape] = pass - 1
            linked = try link(table: table, layout: padded, pass: pass)
            report(passReport("link", padded, note: notes.last.flatMap { $0.hasPrefix("pass \(pass):") ? $0 : nil }))
            pass += 1
        }
    }

    /// The empty table of pass 0. 6.1's generator refuses an empty map (its own link leaves the
    /// `kallsyms_*` symbols weak and undefined instead), so the empty arrays are made with 6.12's
    /// rules and given the 6.1 encoding: with no symbols the two differ only in array order.
    func emptyTable() throws -> KallsymsTable {
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

    // MARK: - Passes

    var lastLinkSeconds = 0.0

    func link(table: KallsymsTable, layout: BinaryLayout? = nil, pass: Int) throws -> Linked {
        let layout = layout ?? BinaryLayout(table, arch: arch, reservation: reservation)
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
            keepArtifacts = true
            throw LinkFailure(
                message: "link command failed in pass \(pass) with status \(result.status): \(args.joined(separator: " "))",
                explanation: String(decoding: result.stderr.suffix(4000), as: UTF8.self), exitCode: 2)
        }
        guard FileManager.default.fileExists(atPath: out) else {
            throw LinkFailure(message: "the link command did not write {out} (\(out)) in pass \(pass)", exitCode: 2)
        }
        return Linked(table: table, layout: layout, image: out, bareSize: BinaryLayout(table, arch: arch).bytes.count)
    }

    func readListing(_ path: String) throws -> NMListing {
        try ELFSymbolSource.listing(path: path)
    }

    /// Names that appeared and disappeared since the previous pass, counted as multisets of
    /// 64-bit FNV-1a hashes of the names (a report figure: a collision would only miscount).
    func nameChanges(_ map: SymbolList) -> (Int, Int) {
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

    func report(_ r: PassReport) {
        passes.append(r)
        onPass(r)
    }

    /// Writes `layout` over the table linked into `linked.image`, after checking that the bytes
    /// there are exactly the table that was linked (so nothing else is ever overwritten).
    func patchImage(_ linked: Linked, with layout: BinaryLayout, listing: NMListing) throws -> String {
        var bytes = try FileIO.read(linked.image)
        let elf = try ELFFile(bytes)
        let first = linked.layout.labels.min { $0.offset < $1.offset }!
        guard let start = address(of: first.name, in: listing), let text = address(of: "_text", in: listing) else {
            throw LinkFailure(message: "cannot patch: \(first.name) or _text is missing from the image", exitCode: 2)
        }
        guard let offset = Self.fileOffset(of: start, size: layout.bytes.count, in: elf) else {
            throw LinkFailure(message: "cannot patch: the table at 0x\(String(start, radix: 16)) is not in the file", exitCode: 2)
        }
        let old = linked.layout.resolvedBytes(textAddress: text)
        guard Array(bytes[offset ..< offset + old.count]) == old else {
            throw LinkFailure(
                message: "cannot patch: the bytes at file offset \(offset) are not the table that was linked", exitCode: 2)
        }
        let new = layout.resolvedBytes(textAddress: text)
        bytes.replaceSubrange(offset ..< offset + new.count, with: new)
        let path = linked.image + ".patched"
        try FileIO.writeAtomically(path, bytes: bytes, mode: Self.mode(of: linked.image))
        return path
    }

    func address(of name: String, in listing: NMListing) -> UInt64? {
        let wanted = Array(name.utf8)
        let s = listing.symbols
        for i in 0 ..< s.count where s.nameLength(i) == wanted.count && s.name(i).elementsEqual(wanted) {
            if !NMListing.isUndefined(s.type(i)) { return s.addresses[i] }
        }
        return nil
    }

    static func fileOffset(of address: UInt64, size: Int, in elf: ELFFile) -> Int? {
        for s in elf.sections where s.type != .nobits && s.flags.contains(.alloc) {
            if address >= s.address, address - s.address + UInt64(size) <= s.size {
                return Int(s.offset + (address - s.address))
            }
        }
        return nil
    }

    static func mode(of path: String) -> mode_t {
        var st = stat()
        return stat(path, &st) == 0 ? st.st_mode & 0o7777 : 0o755
    }

    // MARK: - Verification and output

    func finish(
        _ linked: Linked, table: KallsymsTable, listing: NMListing, map: SymbolList, start: Date, ourTime: Double
    ) throws -> LinkSummary {
        let t0 = Date()
        let bytes = try FileIO.read(linked.image)
        try verify(bytes, expected: table, path: linked.image)
        if let mapOutput = options.mapOutput {
            try FileIO.writeAtomically(mapOutput, bytes: NMListing.text(map, addressWidth: listing.addressWidth))
        }
        try FileIO.writeAtomically(options.output, bytes: bytes, mode: Self.mode(of: linked.image))
        let verifyTime = Date().timeIntervalSince(t0)
        let bare = BinaryLayout(table, arch: arch).bytes.count
        return LinkSummary(
            output: options.output, converged: true, verified: true, links: links, patches: patches, passes: passes,
            symbols: table.numSyms, tableBytes: bare, sectionBytes: linked.layout.bytes.count,
            unusedReservedBytes: linked.layout.bytes.count - bare, reservation: reservation, linkSeconds: linkSeconds,
            kallsymsSeconds: ourTime + verifyTime, totalSeconds: Date().timeIntervalSince(start), notes: notes,
            artifacts: options.keepTemps ? work : nil)
    }

    /// Decodes the table inside the image with the reader and compares it, entry by entry and
    /// array by array, with the table the image's own symbols give.
    func verify(_ bytes: [UInt8], expected: KallsymsTable, path: String) throws {
        let image: KernelImage
        do {
            image = try KernelImage.read(bytes: bytes)
        } catch let e as KallsymsError {
            keepArtifacts = true
            throw LinkFailure(
                message: "Inconsistent kallsyms data: the final image's table cannot be read back (\(e.message))",
                exitCode: 1)
        }
        let found = image.table
        var problems: [String] = []
        if found.names != expected.names { problems.append("\(KallsymsArray.names) differ") }
        if found.markers != expected.markers { problems.append("\(KallsymsArray.markers) differ") }
        if found.tokenTable != expected.tokenTable { problems.append("\(KallsymsArray.tokenTable) differs") }
        if found.tokenIndex != expected.tokenIndex { problems.append("\(KallsymsArray.tokenIndex) differs") }
        if found.seqsOfNames != expected.seqsOfNames { problems.append("\(KallsymsArray.seqsOfNames) differs") }
        if TableDecoder.addresses(found.addressEncoding, textAddress: found.textAddress)
            != TableDecoder.addresses(expected.addressEncoding, textAddress: expected.textAddress)
        {
            problems.append("addresses differ")
        }
        if found.symbols != expected.symbols { problems.append("decoded entries differ") }
        guard problems.isEmpty else {
            keepArtifacts = true
            throw LinkFailure(
                message: "Inconsistent kallsyms data: " + problems.joined(separator: ", "),
                explanation: explainMismatch(linkedIn: found.symbols, fromImage: expected.symbols), exitCode: 1)
        }
    }

    func explainChange(from a: KallsymsTable, to b: KallsymsTable) -> String {
        explainMismatch(linkedIn: a.symbols, fromImage: b.symbols)
    }

    /// What `kallsyms diff` says about the two symbol lists.
    func explainMismatch(linkedIn: SymbolList, fromImage: SymbolList) -> String {
        MapExplainer.explain(linkedIn, fromImage)
    }

    func prepareWorkDirectory() throws {
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
