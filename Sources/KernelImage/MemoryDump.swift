import ELFKit
import KallsymsCore

#if canImport(Glibc)
    import Glibc
#endif

/// A memory dump of a running kernel: an ELF core (`qemu dump-guest-memory`, makedumpfile's
/// ELF output, /proc/vmcore) or a raw physical memory image (QEMU's `pmemsave`, /dev/mem-style
/// captures). The kernel's bytes lie contiguous somewhere in physical memory, with every word the
/// boot code relocates already relocated: a table read from memory gives run-time addresses
/// (KASLR applied). Dumps can be gigabytes, so the file is mapped and scanned in place, never
/// copied.
public struct MemoryDump: Sendable {
    /// What kind of dump a file is.
    public enum Kind: String, Sendable, Codable {
        /// An ELF64/ELF32 `ET_CORE` file: PT_LOAD segments of physical memory, notes.
        case vmcore
        /// Physical memory as bytes, the first byte at physical address 0 of the capture.
        case rawMemory = "raw memory"
    }

    /// A stretch of physical memory the file holds: contiguous both in the file and in memory.
    public struct Range: Sendable, Equatable {
        /// Physical address of the first byte (`p_paddr`; for raw images, the file offset).
        public var physical: UInt64
        /// `p_vaddr` when the core sets it (makedumpfile and /proc/vmcore do, qemu does not).
        public var virtual: UInt64?
        /// File offset of the first byte.
        public var offset: Int
        /// Bytes present in the file.
        public var size: Int
    }

    /// What the caller asks of the dump reader.
    public struct Options: Sendable {
        /// Read a file with no header as raw physical memory whatever its size (`--memory`).
        public var rawMemory: Bool
        /// A System.map or kernel image of the same build, for the link-time `_text` (`--sysmap`).
        public var linkMap: String?

        /// - Parameters:
        ///   - rawMemory: treat a headerless file as physical memory even below `rawFrom`.
        ///   - linkMap: path of a System.map or vmlinux of the dumped kernel, or nil.
        public init(rawMemory: Bool = false, linkMap: String? = nil) {
            self.rawMemory = rawMemory
            self.linkMap = linkMap
        }
    }

    /// Headerless files at least this large are read as physical memory without `--memory`:
    /// raw kernels (what headerless files otherwise are) are smaller.
    public static let rawFrom = 64 << 20

    /// vmcore or raw memory.
    public var kind: Kind
    /// File-backed physical ranges in file order: PT_LOADs merged where both the file and the
    /// physical addresses continue, or the whole raw image.
    public var ranges: [Range]
    /// Number of PT_LOAD segments (vmcore).
    public var loadSegments: Int
    /// Number of NT_PRSTATUS notes (one per CPU in qemu and kdump cores).
    public var prstatusNotes: Int
    /// The VMCOREINFO note's `KEY=value` lines, when the core carries one.
    public var vmcoreinfo: [String: String]?
    /// The architecture `e_machine` names (vmcore).
    public var architecture: Architecture?
    /// The byte order of the core's headers.
    public var byteOrder: ByteOrder?
}

/// Where a table read from a memory dump lies, and the KASLR slide. In JSON every address is a
/// hex string (64-bit values do not survive JSON's numbers) and absent values are null.
public struct MemoryLocation: Sendable, Equatable, Codable {
    /// "vmcore" or "raw memory".
    public var container: MemoryDump.Kind
    /// Physical address of the first and one past the last byte of the table's arrays.
    public var tablePhysical: UInt64
    /// Bytes from the first array's start to the last array's end.
    public var tableSize: Int
    /// File offset of `tablePhysical` in the dump.
    public var tableFileOffset: Int
    /// Run-time virtual address of the table, when the core's `p_vaddr` says.
    public var tableVirtual: UInt64?
    /// The symbol the slide is measured at: `_text`, or `_stext` in tables without `_text`
    /// (arm64 without CONFIG_KALLSYMS_ALL).
    public var textSymbol: String
    /// `textSymbol` as the table gives it: the run-time address.
    public var runtimeText: UInt64?
    /// The link-time address of `textSymbol` the slide was computed against.
    public var linkText: UInt64?
    /// Run-time minus link-time `_text`; nil when nothing says what the link-time address was.
    public var slide: Int64?
    /// Where the slide came from (VMCOREINFO, `--sysmap`, the architecture's link layout).
    public var slideSource: String
}

// In an extension, so the memberwise initializer stays.
extension MemoryLocation {
    enum CodingKeys: String, CodingKey {
        case container, tablePhysical, tableSize, tableFileOffset, tableVirtual, textSymbol, runtimeText, linkText, slide
        case slideSource
    }

    /// Writes every key; addresses and the slide as hex strings (the slide with a sign).
    /// - Parameter encoder: the JSON encoder.
    /// - Throws: what the encoder throws.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        func hex(_ v: UInt64?) -> String? { v.map { "0x" + String($0, radix: 16) } }
        try c.encode(container, forKey: .container)
        try c.encode(hex(tablePhysical), forKey: .tablePhysical)
        try c.encode(tableSize, forKey: .tableSize)
        try c.encode(tableFileOffset, forKey: .tableFileOffset)
        try c.encode(hex(tableVirtual), forKey: .tableVirtual)
        try c.encode(textSymbol, forKey: .textSymbol)
        try c.encode(hex(runtimeText), forKey: .runtimeText)
        try c.encode(hex(linkText), forKey: .linkText)
        try c.encode(slide.map { ($0 < 0 ? "-0x" : "0x") + String($0.magnitude, radix: 16) }, forKey: .slide)
        try c.encode(slideSource, forKey: .slideSource)
    }

    /// Reads what `encode(to:)` writes.
    /// - Parameter decoder: the JSON decoder.
    /// - Throws: `DecodingError` when a key is missing or an address is not hex.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func hex(_ key: CodingKeys) throws -> UInt64? {
            guard let s = try c.decodeIfPresent(String.self, forKey: key) else { return nil }
            let negative = s.hasPrefix("-")
            guard let v = UInt64(s.dropFirst(negative ? 3 : 2), radix: 16) else {
                throw DecodingError.dataCorruptedError(forKey: key, in: c, debugDescription: "'\(s)' is not 0x-prefixed hex")
            }
            return negative ? 0 &- v : v
        }
        container = try c.decode(MemoryDump.Kind.self, forKey: .container)
        tablePhysical = try hex(.tablePhysical) ?? 0
        tableSize = try c.decode(Int.self, forKey: .tableSize)
        tableFileOffset = try c.decode(Int.self, forKey: .tableFileOffset)
        tableVirtual = try hex(.tableVirtual)
        textSymbol = try c.decode(String.self, forKey: .textSymbol)
        runtimeText = try hex(.runtimeText)
        linkText = try hex(.linkText)
        slide = try hex(.slide).map { Int64(bitPattern: $0) }
        slideSource = try c.decode(String.self, forKey: .slideSource)
    }
}

extension KernelImage {
    /// Reads a kernel image or a memory dump. ELF `ET_CORE` files are read as vmcores; a file
    /// with no header of any kernel container is read as raw physical memory when
    /// `options.rawMemory` is set or it is at least `MemoryDump.rawFrom` bytes; anything else
    /// as `read(path:limit:)` does. `options.linkMap` only applies to dumps.
    /// - Parameters:
    ///   - path: the file (`-`: standard input, never a dump).
    ///   - options: `--memory` and `--sysmap`.
    /// - Returns: the image; `memory` is set for dumps, whose addresses are run-time ones.
    /// - Throws: `KallsymsError` naming the file and, for malformed dumps, the byte offset.
    public static func read(path: String, dump options: MemoryDump.Options) throws -> KernelImage {
        if let image = try MemoryDump.read(path: path, options: options) { return image }
        if options.rawMemory {
            throw KallsymsError(
                .usage, "--memory: \(path) cannot be read as raw memory (standard input, an empty or unmappable file, or an ELF that is not a core)",
                file: path)
        }
        if options.linkMap != nil {
            throw KallsymsError(.usage, "--sysmap applies to memory dumps (vmcore, raw memory); \(path) is a kernel image", file: path)
        }
        return try read(path: path)
    }
}

extension MemoryDump {
    /// The dump at `path` read into a `KernelImage`, or nil when the file is not a dump.
    static func read(path: String, options: Options) throws -> KernelImage? {
        guard path != "-", let file = MappedFile(path) else { return nil }
        let b = file.bytes
        do {
            let dump: MemoryDump
            if isELF(b) {
                guard try ByteReader(b, order: b[5] == 2 ? .big : .little).u16(16) == 4 else { return nil }
                dump = try core(b)
            } else if options.rawMemory || (b.count >= rawFrom && !hasKernelHeader(b)) {
                dump = MemoryDump(
                    kind: .rawMemory, ranges: [Range(physical: 0, virtual: nil, offset: 0, size: b.count)], loadSegments: 0,
                    prstatusNotes: 0, vmcoreinfo: nil, architecture: nil, byteOrder: nil)
            } else {
                return nil
            }
            return try dump.image(b, linkMap: options.linkMap)
        } catch let e as FormatError {
            throw KallsymsError(.malformed, e.message, file: path, offset: e.offset)
        } catch let e as KallsymsError {
            throw e.inFile(path)
        }
    }

    static func isELF(_ b: UnsafeBufferPointer<UInt8>) -> Bool {
        b.count >= 16 && b[0] == 0x7F && b[1] == 0x45 && b[2] == 0x4C && b[3] == 0x46 && (b[5] == 1 || b[5] == 2)
    }

    /// True when the file starts like something `read(path:)` unwraps: a boot header, a kernel
    /// magic number, or a compressed stream.
    static func hasKernelHeader(_ b: UnsafeBufferPointer<UInt8>) -> Bool {
        if b.count > 0x206, b[0x202] == 0x48, b[0x203] == 0x64, b[0x204] == 0x72, b[0x205] == 0x53 { return true }
        if b.count > 8, b[0] == 0x4D, b[1] == 0x5A { return true }
        if b.count > 0x3C, b[0x38] == 0x41, b[0x39] == 0x52, b[0x3A] == 0x4D, b[0x3B] == 0x64 { return true }
        if (try? ByteReader(b, order: .little).u32(0x24)) == 0x016F_2818 { return true }
        return Compression.detect(b, at: 0) != nil
    }

    /// Parses an ELF core's program headers and notes. Every header and note is bounds-checked
    /// against the file; a segment or note that leaves it is an error at its header's offset.
    static func core(_ b: UnsafeBufferPointer<UInt8>) throws -> MemoryDump {
        guard b[4] == 1 || b[4] == 2 else { throw FormatError("ELF class \(b[4]) is neither 32- nor 64-bit", offset: 4) }
        let is64 = b[4] == 2
        let order: ByteOrder = b[5] == 1 ? .little : .big
        let r = ByteReader(b, order: order)
        let w = is64 ? 8 : 4
        try r.check(0, is64 ? 64 : 52, "the ELF header")
        let machine = ELFMachine(rawValue: try r.u16(18))
        let phoff = try r.word(is64 ? 0x20 : 0x1C, w)
        let phentsize = Int(try r.u16(is64 ? 0x36 : 0x2A))
        var phnum = Int(try r.u16(is64 ? 0x38 : 0x2C))
        if phnum == 0xFFFF {
            // PN_XNUM: the real count is section 0's sh_info (qemu writes this for big guests).
            let shoff = try r.word(is64 ? 0x28 : 0x20, w)
            guard shoff < UInt64(b.count) else {
                throw FormatError("e_phnum is PN_XNUM but the section header lies outside the file", offset: is64 ? 0x28 : 0x20)
            }
            phnum = Int(try r.u32(Int(shoff) + (is64 ? 44 : 28)))
        }
        guard phentsize >= (is64 ? 56 : 32) else {
            throw FormatError("e_phentsize \(phentsize) is too small for a program header", offset: is64 ? 0x36 : 0x2A)
        }
        guard phoff < UInt64(b.count), UInt64(phnum) * UInt64(phentsize) <= UInt64(b.count) - phoff else {
            throw FormatError("\(phnum) program headers at \(hex(phoff)) run past the end of the file (\(b.count) bytes)",
                offset: is64 ? 0x20 : 0x1C)
        }
        var loads: [Range] = []
        var prstatus = 0
        var info: [String: String]?
        for i in 0 ..< phnum {
            let h = Int(phoff) + i * phentsize
            let type = try r.u32(h)
            let (offset, vaddr, paddr, filesz) =
                is64
                ? (try r.u64(h + 8), try r.u64(h + 16), try r.u64(h + 24), try r.u64(h + 32))
                : (UInt64(try r.u32(h + 4)), UInt64(try r.u32(h + 8)), UInt64(try r.u32(h + 12)), UInt64(try r.u32(h + 16)))
            guard type == 1 || type == 4 else { continue }
            guard offset <= UInt64(b.count), filesz <= UInt64(b.count) - offset else {
                throw FormatError(
                    "\(type == 1 ? "PT_LOAD" : "PT_NOTE") \(i) (\(filesz) bytes at file offset \(hex(offset))) runs past the "
                        + "end of the file (\(b.count) bytes): truncated dump?", offset: h)
            }
            if type == 1 {
                guard filesz > 0 else { continue }
                loads.append(Range(physical: paddr, virtual: vaddr == 0 ? nil : vaddr, offset: Int(offset), size: Int(filesz)))
            } else {
                try notes(r, from: Int(offset), size: Int(filesz)) { name, type, desc in
                    if name == "CORE", type == 1 { prstatus += 1 }
                    if name == "VMCOREINFO" {
                        var fields: [String: String] = [:]
                        for line in String(decoding: desc.prefix { $0 != 0 }, as: UTF8.self).split(separator: "\n") {
                            guard let eq = line.firstIndex(of: "=") else { continue }
                            fields[String(line[..<eq])] = String(line[line.index(after: eq)...])
                        }
                        info = fields
                    }
                }
            }
        }
        guard !loads.isEmpty else { throw FormatError("the core has no PT_LOAD segment with bytes in the file", offset: 0) }
        // Physical memory that continues in the file is one range: a table may cross the border
        // of two segments that qemu split at a memory-region boundary.
        var merged: [Range] = []
        for l in loads.sorted(by: { $0.offset < $1.offset }) {
            if var last = merged.last, last.offset + last.size == l.offset, last.physical &+ UInt64(last.size) == l.physical,
                last.virtual.map({ $0 &+ UInt64(last.size) }) == l.virtual
            {
                last.size += l.size
                merged[merged.count - 1] = last
            } else {
                merged.append(l)
            }
        }
        return MemoryDump(
            kind: .vmcore, ranges: merged, loadSegments: loads.count, prstatusNotes: prstatus, vmcoreinfo: info,
            architecture: Architecture(machine: machine, is64: is64, order: order), byteOrder: order)
    }

    /// Walks the notes of a PT_NOTE segment: 4-byte `namesz`, `descsz`, `type`, then the name and
    /// the descriptor, each padded to 4 bytes (Linux and qemu use 4 in ELF64 cores too).
    static func notes(
        _ r: ByteReader<UnsafeBufferPointer<UInt8>>, from: Int, size: Int,
        _ each: (String, UInt32, UnsafeBufferPointer<UInt8>) throws -> Void
    ) throws {
        var o = from
        let end = from + size
        while end - o >= 12 {
            let namesz = Int(try r.u32(o))
            let descsz = Int(try r.u32(o + 4))
            let type = try r.u32(o + 8)
            let nameAt = o + 12
            let descAt = nameAt + (namesz + 3) / 4 * 4
            guard namesz <= end - nameAt, descsz <= end - descAt, descAt <= end else {
                throw FormatError(
                    "note (name \(namesz) bytes, descriptor \(descsz) bytes) runs past the end of its PT_NOTE segment "
                        + "(ends at \(hex(UInt64(end))))", offset: o)
            }
            let name = String(decoding: r.bytes[nameAt ..< nameAt + namesz].prefix { $0 != 0 }, as: UTF8.self)
            try each(name, type, UnsafeBufferPointer(rebasing: r.bytes[descAt ..< descAt + descsz]))
            o = descAt + (descsz + 3) / 4 * 4
        }
    }

    static func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }

    /// The lines `info` prints for a dump.
    static func reportLines(_ m: MemoryLocation) -> [String] {
        var lines = [
            "dump:          \(m.container.rawValue): addresses below are run-time ones (KASLR applied); table offsets are in the dump file",
            "table at:      physical \(hex(m.tablePhysical))-\(hex(m.tablePhysical &+ UInt64(m.tableSize))) "
                + "(file offset \(hex(UInt64(m.tableFileOffset))))" + (m.tableVirtual.map { ", p_vaddr \(hex($0))" } ?? ""),
            "run-time \(m.textSymbol): " + (m.runtimeText.map { hex($0) } ?? "unknown (neither _text nor _stext is in the table)"),
        ]
        if let link = m.linkText { lines.append("link \(m.textSymbol):    \(hex(link))") }
        let slide = m.slide.map { ($0 < 0 ? "-0x" : "0x") + String($0.magnitude, radix: 16) } ?? "unknown"
        lines.append("slide:         \(slide) (\(m.slideSource))")
        return lines
    }

    /// Scans each range for the table and describes what was found.
    func image(_ b: UnsafeBufferPointer<UInt8>, linkMap: String?) throws -> KernelImage {
        var hints = ScanHints(byteOrder: byteOrder, architecture: architecture)
        hints.pointerSize = architecture?.pointerSize
        var reasons: [String] = []
        for range in ranges {
            let bytes = UnsafeBufferPointer(rebasing: b[range.offset ..< range.offset + range.size])
            var tried: [Swift.Range<Int>] = []
            for start in Self.tokenTables(bytes) where !tried.contains(where: { $0.contains(start) }) {
                // The arrays lie within a few MB of the token table: the structural scan runs on a
                // window around it (page-aligned, so physical alignment is kept), not the dump.
                let from = max(0, start - Self.window) & ~0xFFF
                let window = from ..< min(bytes.count, start + Self.window)
                tried.append(window)
                let located: LocatedTable
                do {
                    located = try TableLocator.locate(in: UnsafeBufferPointer(rebasing: bytes[window]), hints: hints)
                } catch let e as KallsymsError {
                    reasons.append("physical \(Self.hex(range.physical &+ UInt64(start))): \(e.message)")
                    continue
                }
                return try describe(located, in: UnsafeBufferPointer(rebasing: bytes[window]), at: window.lowerBound, of: range, linkMap: linkMap)
            }
        }
        if reasons.isEmpty { reasons.append("no token table: the digits 0-9 as one-character tokens with a matching index") }
        let what = kind == .vmcore ? "in any PT_LOAD of the vmcore" : "in the raw memory image"
        throw KallsymsError(.malformed, "no kallsyms table found \(what) (" + reasons.joined(separator: "; ") + ")")
    }

    /// Bytes either side of a token table that the structural scan is given.
    static let window = 48 << 20

    /// Where token tables start in `b`, found chunk by chunk; the pages behind each chunk are
    /// released (MADV_DONTNEED refills them from the file if touched again), so scanning a dump
    /// of many GB keeps about one chunk of it resident.
    static func tokenTables(_ b: UnsafeBufferPointer<UInt8>) -> [Int] {
        let chunk = 64 << 20
        var starts: [Int] = []
        var from = 0
        while from < b.count {
            let to = min(b.count, from + chunk)
            // The pattern (20 bytes) may start just before `to`: the search reaches past it.
            starts += TableLocator.findTokenTables(b, order: nil, searchFrom: from, searchTo: min(b.count, to + 20)).map(\.start)
            let page = Int(sysconf(Int32(_SC_PAGESIZE)))
            let base = Int(bitPattern: b.baseAddress!)
            let first = (base + from + page - 1) / page * page
            let last = (base + to) / page * page
            if last > first { _ = madvise(UnsafeMutableRawPointer(bitPattern: first), last - first, MADV_DONTNEED) }
            from = to
        }
        return Array(Set(starts)).sorted()
    }

    /// `bytes` is the window the table was found in, starting `at` bytes into `range`.
    func describe(_ located: LocatedTable, in bytes: UnsafeBufferPointer<UInt8>, at: Int, of range: Range, linkMap: String?)
        throws -> KernelImage
    {
        var steps: [String]
        switch kind {
        case .vmcore:
            var parts = ["\(loadSegments) PT_LOAD", "\(prstatusNotes) NT_PRSTATUS"]
            if vmcoreinfo != nil { parts.append("VMCOREINFO") }
            steps = ["ELF\(architecture?.pointerSize == 4 ? 32 : 64) core (vmcore\(architecture.map { " " + $0.rawValue } ?? ""), "
                + parts.joined(separator: ", ") + ")"]
            steps.append(
                "physical \(Self.hex(range.physical))-\(Self.hex(range.physical &+ UInt64(range.size)))"
                    + (range.virtual.map { " (p_vaddr \(Self.hex($0)))" } ?? ""))
        case .rawMemory:
            steps = ["raw memory (\(KernelImage.mib(range.size)))"]
        }
        steps.append("located by scanning")
        var image = KernelImage.finish(located, bytes: [], steps: steps, arch: architecture, bySymbols: false, addresses: [:])
        let spans = ImageReport.arrays(image).compactMap { _, o, size in o.map { $0 ..< $0 + size } }
        let first = at + (spans.map(\.lowerBound).min() ?? 0)
        let last = at + (spans.map(\.upperBound).max() ?? 0)
        image.banner = KernelImage.banner(in: bytes)
        image.kernelSize = range.size
        // Offsets in the dump file: what a hex editor or `dd` needs.
        image.layout.offsets = located.layout.offsets.mapValues { $0 + range.offset + at }
        let symbol = ["_text", "_stext"].first { located.table.address(of: $0) != nil } ?? "_text"
        let runtime = located.table.address(of: symbol)
        let (link, slide, source) = try Self.slide(
            symbol, runtime: runtime, architecture: image.architecture, info: vmcoreinfo, linkMap: linkMap)
        image.memory = MemoryLocation(
            container: kind, tablePhysical: range.physical &+ UInt64(first), tableSize: last - first,
            tableFileOffset: range.offset + first, tableVirtual: range.virtual.map { $0 &+ UInt64(first) }, textSymbol: symbol,
            runtimeText: runtime,
            linkText: link, slide: slide, slideSource: source)
        return image
    }

    /// The link-time address of `symbol` (`_text` or `_stext`) and the slide: from `--sysmap` (a
    /// System.map or an image of the same build), else VMCOREINFO's KERNELOFFSET (the kernel's
    /// own `kaslr_offset()`), else the architecture's fixed link address of `_text` (x86_64:
    /// `__START_KERNEL_map` + CONFIG_PHYSICAL_START, 0xffffffff81000000 by default; i386:
    /// 0xc1000000), accepted only when the slide it gives is a non-negative multiple of 2 MiB
    /// (KASLR's granularity there).
    static func slide(_ symbol: String, runtime: UInt64?, architecture: Architecture?, info: [String: String]?, linkMap: String?)
        throws -> (UInt64?, Int64?, String)
    {
        let offset = info?["KERNELOFFSET"].flatMap { UInt64($0, radix: 16) }
        guard let runtime else {
            return (nil, offset.map { Int64(bitPattern: $0) }, offset == nil ? "unknown (no _text in the table)" : "VMCOREINFO KERNELOFFSET")
        }
        if let linkMap {
            let link = try linkAddress(of: symbol, in: linkMap)
            let slide = Int64(bitPattern: runtime &- link)
            var source = "run-time \(symbol) minus \(symbol) of \(linkMap)"
            if let offset, offset != UInt64(bitPattern: slide) {
                source += " (VMCOREINFO KERNELOFFSET says \(hex(offset)): another build?)"
            }
            return (link, slide, source)
        }
        if let offset {
            return (runtime &- offset, Int64(bitPattern: offset), "VMCOREINFO KERNELOFFSET=\(String(offset, radix: 16))")
        }
        let layouts: [Architecture: (UInt64, String)] = [
            .x86_64: (0xFFFF_FFFF_8100_0000, "x86_64 link layout: __START_KERNEL_map + CONFIG_PHYSICAL_START 0x1000000"),
            .i386: (0xC100_0000, "i386 link layout: PAGE_OFFSET + CONFIG_PHYSICAL_START 0x1000000"),
        ]
        if symbol == "_text", let arch = architecture, let (link, name) = layouts[arch], runtime >= link,
            (runtime - link) % (2 << 20) == 0
        {
            return (link, Int64(bitPattern: runtime - link), "\(name) (assumed; give --sysmap for other configurations)")
        }
        return (nil, nil, "unknown: give --sysmap with the System.map or vmlinux of the same build")
    }

    /// The address of `symbol` in a System.map or in a kernel image's table.
    static func linkAddress(of symbol: String, in path: String) throws -> UInt64 {
        let bytes = try FileIO.read(path)
        if bytes.starts(with: [0x7F, 0x45, 0x4C, 0x46]) || bytes.contains(0) {
            guard let t = try KernelImage.read(path: path).table.address(of: symbol) else {
                throw KallsymsError(.malformed, "--sysmap: the image's table has no \(symbol)", file: path)
            }
            return t
        }
        var line = 0
        for text in bytes.split(separator: 0x0A, omittingEmptySubsequences: false) {
            line += 1
            let fields = text.split(separator: 0x20)
            guard fields.count == 3, fields[2].elementsEqual(symbol.utf8) else { continue }
            guard let v = UInt64(String(decoding: fields[0], as: UTF8.self), radix: 16) else {
                throw KallsymsError(.lineFormat, "--sysmap: '\(symbol)' has no hex address", file: path, line: line)
            }
            return v
        }
        throw KallsymsError(.malformed, "--sysmap: no \(symbol) line (expected a System.map or a kernel image)", file: path)
    }
}

/// A file mapped read-only for the life of the object: the dump is scanned in place.
final class MappedFile: @unchecked Sendable {
    let base: UnsafeMutableRawPointer
    let count: Int

    /// Nil when the file cannot be mapped (not a regular file, empty, unreadable): the caller
    /// falls back to reading it as before, which reports the error.
    init?(_ path: String) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_mode & S_IFMT == S_IFREG, st.st_size > 0 else { return nil }
        guard let map = mmap(nil, Int(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0), map != MAP_FAILED else { return nil }
        base = map
        count = Int(st.st_size)
    }

    var bytes: UnsafeBufferPointer<UInt8> { UnsafeBufferPointer(start: base.assumingMemoryBound(to: UInt8.self), count: count) }

    deinit { munmap(base, count) }
}
