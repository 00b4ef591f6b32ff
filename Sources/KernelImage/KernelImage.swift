import ELFKit
import KallsymsCore

/// A kernel image read back: the container steps that led to the kernel, what is known about
/// it, and its kallsyms table.
public struct KernelImage: Sendable {
    /// How the table was reached, outermost first ("bzImage payload at 0x4a30 (11.9 MB)", "zstd →
    /// 62.1 MB", "ELF64 x86_64", "located by symbols" …).
    public var steps: [String]
    /// From the ELF header, the boot header, or code only one architecture has (the same
    /// vocabulary as `gen --arch`); nil when nothing says.
    public var architecture: Architecture?
    /// The `Linux version …` banner, when the image carries one.
    public var banner: String?
    /// Size of the bytes the table was found in (the decompressed kernel).
    public var kernelSize: Int
    /// True when the arrays were located through `kallsyms_*` ELF symbols.
    public var locatedBySymbols: Bool
    /// The table as stored in the image, with its symbols decoded; lookups by address and by
    /// name go through it.
    public var table: KallsymsTable
    /// How the table is laid out: array order, address encoding, word size, where each array is.
    public var layout: TableLayout
    /// The load address of each array, when the image says (ELF); file offsets are in `layout`.
    public var tableAddresses: [KallsymsArray: UInt64]
    /// The kernel's bytes after unwrapping (what `layout`'s offsets refer to).
    public var kernelBytes: [UInt8]
    /// Loadable segments (address, file offset, size, executable) when the kernel is an ELF.
    public var segments: [(address: UInt64, offset: Int, size: Int, executable: Bool)]

    /// `e_machine` when the kernel is an ELF.
    public var elfMachine: ELFMachine?
    /// The GNU build ID from the ELF's notes, when the kernel is an ELF that has one.
    public var buildID: String?
    /// Where the table lies in a memory dump, and the KASLR slide; nil for kernel images.
    public var memory: MemoryLocation? = nil

    /// The decoded symbols in table order (address order): `table.symbols`.
    public var symbols: SymbolList { table.symbols }

    /// The default cap on the bytes one decompressed stream may produce: 1 GiB, well above any
    /// kernel.
    public static let defaultLimit = 1 << 30

    /// Reads an image file: ELF vmlinux, bzImage, arm64 Image(.gz), EFI zboot, arm zImage,
    /// s390 image, raw or compressed kernel.
    ///
    /// A large vmlinux is mapped rather than read, and its debug information and link-time
    /// relocations are never made resident: the reader does not look at them.
    /// - Parameters:
    ///   - path: The image file (`-`: standard input).
    ///   - limit: The most bytes any decompressed stream may produce (see ``read(bytes:limit:)``).
    /// - Returns: The kernel and its table.
    /// - Throws: `KallsymsError` naming the file: it cannot be read, or no consistent table is
    ///   found in it (the message lists what each container step found), or a container or
    ///   compressed stream is malformed (with its byte offset).
    public static func read(path: String, limit: Int = defaultLimit) throws -> KernelImage {
        if let dump = try MemoryDump.read(path: path, options: MemoryDump.Options()) { return dump }
        let bytes = try KernelFile.read(path)
        do {
            return try read(bytes: bytes, limit: limit)
        } catch let e as KallsymsError {
            throw e.inFile(path)
        }
    }

    /// Reads an image held in memory, as ``read(path:limit:)`` reads a file.
    ///
    /// `limit` caps every decompressed stream; it is further held to a multiple of the input's
    /// size (kernels compress 3-6x), so no file can make the reader allocate more than a small
    /// multiple of itself, however its streams nest.
    /// Every error is a KallsymsError: a byte-level FormatError (ELF headers, arrays) is mapped
    /// here, the one place, with its offset; `read(path:)` adds the file's name.
    /// - Parameters:
    ///   - bytes: The whole image.
    ///   - limit: The most bytes any decompressed stream may produce; at most 32 times the
    ///     input's size plus 16 MiB is allowed whatever it says.
    /// - Returns: The kernel and its table.
    /// - Throws: `KallsymsError`: no consistent table was found (the message lists what each
    ///   container step found), or a container or compressed stream is malformed (with its byte
    ///   offset).
    public static func read(bytes: [UInt8], limit: Int = defaultLimit) throws -> KernelImage {
        var failures: [String] = []
        let cap = min(limit, bytes.count.multipliedReportingOverflow(by: maxExpansion).partialValue + (16 << 20))
        let found: KernelImage?
        do {
            found = try unwrap(bytes, steps: [], depth: 0, limit: cap, failures: &failures)
        } catch let e as FormatError {
            throw KallsymsError(.malformed, e.message, offset: e.offset)
        }
        if let image = found { return image }
        let why =
            failures.isEmpty
            ? ": expected an ELF vmlinux, a kernel image (bzImage, arm64 Image, EFI zboot, zImage, s390) or a"
                + " compressed or raw kernel holding a token table"
            : " (" + failures.joined(separator: "; ") + ")"
        throw KallsymsError(.malformed, "no kallsyms table found\(why)")
    }

    /// The most a kernel image may expand by when decompressed.
    package static let maxExpansion = 32

    static func mib(_ n: Int) -> String {
        let tenths = (n * 10 + (1 << 19)) >> 20
        return "\(tenths / 10).\(tenths % 10) MiB"
    }

    static func hex(_ v: Int) -> String { "0x" + String(v, radix: 16) }

    /// Tries the container formats that say what they are, then the raw bytes, then every
    /// compressed stream inside.
    static func unwrap(_ b: [UInt8], steps: [String], depth: Int, limit: Int, failures: inout [String]) throws -> KernelImage? {
        guard depth < 5 else { return nil }
        if b.count >= 4, b[0] == 0x7F, b[1] == 0x45, b[2] == 0x4C, b[3] == 0x46 {
            return try unwrapELF(b, steps: steps, depth: depth, limit: limit, failures: &failures)
        }
        if let (payload, step, format) = try bootPayload(b) {
            return try decompressed(
                payload, step: step, format: format, steps: steps, depth: depth, limit: limit, failures: &failures)
        }
        // A compressed stream at the start (Image.gz, vmlinux.xz, …).
        if let fmt = b.withUnsafeBufferPointer({ Compression.detect($0, at: 0) }) {
            return try decompressed(
                b[...], step: "\(fmt.rawValue) file", format: fmt, steps: steps, depth: depth, limit: limit, failures: &failures)
        }
        let (hints, arch, step) = rawKernelHints(b)
        do {
            let located = try b.withUnsafeBufferPointer { try TableLocator.locate(in: $0, hints: hints) }
            return finish(located, bytes: b, steps: steps + [step], arch: arch, bySymbols: false, addresses: [:])
        } catch let e as KallsymsError {
            if depth > 0 || arch == .aarch64 { failures.append("\(step): \(e.message)") }
        }
        // Decompressors (arm zImage, s390, unknown wrappers) carry the kernel as an embedded stream.
        return try embedded(
            b, step: step == "raw kernel" ? "embedded" : step, arch: arch, steps: steps, depth: depth, limit: limit,
            failures: &failures)
    }

    /// An ELF vmlinux (also what an x86 bzImage carries), or an ELF that only wraps the kernel:
    /// MIPS `vmlinuz` and other decompressors hold it as a compressed stream in their data.
    static func unwrapELF(_ b: [UInt8], steps: [String], depth: Int, limit: Int, failures: inout [String]) throws -> KernelImage? {
        let elf = try ELFFile(b)
        let (arch, step) = describe(elf)
        do {
            return try readELF(b, elf, arch: arch, step: step, steps: steps)
        } catch let e as KallsymsError {
            // An ELF whose symbols name the table is the kernel: its error stands.
            guard try !elf.symbols().contains(where: { KallsymsArray(label: $0.nameString) == .tokenTable }) else { throw e }
            failures.append("\(step) without a kallsyms table: \(e.message)")
        }
        return try embedded(
            b, step: "\(step) decompressor: embedded", arch: arch, steps: steps, depth: depth, limit: limit,
            failures: &failures)
    }

    /// A boot header that says where its compressed payload is: x86 bzImage, EFI zboot.
    static func bootPayload(_ b: [UInt8]) throws -> (ArraySlice<UInt8>, String, Compression?)? {
        // x86 bzImage: setup header "HdrS" at 0x202, payload located by payload_offset/length.
        // Boot headers are little-endian on every architecture that has them.
        let header = ByteReader(b, order: .little)
        if b.count > 0x250, b[0x202] == 0x48, b[0x203] == 0x64, b[0x204] == 0x72, b[0x205] == 0x53 {
            var setupSects = Int(b[0x1F1])
            if setupSects == 0 { setupSects = 4 }
            let version = Int(b[0x206]) | Int(b[0x207]) << 8
            guard version >= 0x208, let po = try? Int(header.u32(0x248)), let pl = try? Int(header.u32(0x24C)) else {
                throw KallsymsError(.malformed, "bzImage boot protocol \(hex(version)) has no payload fields", offset: 0x206)
            }
            let start = (setupSects + 1) * 512 + po
            guard start >= 0, pl > 0, start <= b.count, pl <= b.count - start else {
                throw KallsymsError(
                    .malformed, "bzImage payload (\(pl) bytes at \(hex(start))) lies outside the file (\(b.count) bytes)",
                    offset: 0x248)
            }
            return (b[start ..< start + pl], "bzImage payload at \(hex(start)) (\(mib(pl)))", nil)
        }
        // EFI zboot: "MZ", "zimg" at 4, payload offset/size at 8/12, compression name at 0x18.
        if b.count > 0x40, b[0] == 0x4D, b[1] == 0x5A, b[4] == 0x7A, b[5] == 0x69, b[6] == 0x6D, b[7] == 0x67 {
            guard let po = try? Int(header.u32(8)), let pl = try? Int(header.u32(12)), po <= b.count, pl <= b.count - po, pl > 0 else {
                throw KallsymsError(.malformed, "EFI zboot payload lies outside the file", offset: 8)
            }
            let name = String(decoding: b[0x18 ..< 0x20].prefix { $0 != 0 }, as: UTF8.self)
            let fmt: Compression? =
                switch name {
                case "gzip": .gzip
                case "lzma": .lzma
                case "xzkern", "xz": .xz
                case "zstd", "zstd22": .zstd
                case "lz4": .lz4
                case "bzip2": .bzip2
                default: nil
                }
            return (b[po ..< po + pl], "EFI zboot payload (\(name)) at \(hex(po))", fmt)
        }
        return nil
    }

    /// What a raw kernel's own header says: arm64 `Image` and arm `zImage` have magic numbers.
    static func rawKernelHints(_ b: [UInt8]) -> (ScanHints, arch: Architecture?, step: String) {
        if b.count > 0x40, b[0x38] == 0x41, b[0x39] == 0x52, b[0x3A] == 0x4D, b[0x3B] == 0x64 {
            // arm64 Image: little-endian 64-bit; _text is at file offset 0. Relocatable kernels
            // leave absolute words to R_AARCH64_RELATIVE fix-ups at boot.
            return (ScanHints(byteOrder: .little, pointerSize: 8, architecture: .aarch64), .aarch64, "arm64 Image")
        }
        if (try? ByteReader(b, order: .little).u32(0x24)) == 0x016F_2818 {
            return (ScanHints(byteOrder: .little, pointerSize: 4, architecture: .arm), .arm, "arm zImage")
        }
        return (ScanHints(), nil, "raw kernel")
    }

    /// A payload whose compression is known (or detected at its start), decompressed and
    /// unwrapped in turn.
    static func decompressed(
        _ payload: ArraySlice<UInt8>, step: String, format: Compression?, steps: [String], depth: Int, limit: Int,
        failures: inout [String]
    ) throws -> KernelImage? {
        let fmt = format ?? payload.withUnsafeBufferPointer { Compression.detect($0, at: 0) }
        guard let fmt else {
            failures.append("\(step): payload is not compressed in a known format")
            return nil
        }
        let out: [UInt8]
        do {
            // Kernel payloads end with the uncompressed size (u32 LE): a hint, never trusted.
            let hint = payload.count >= 8 ? try? Int(ByteReader(payload, order: .little).u32(payload.endIndex - 4)) : nil
            out = try payload.withUnsafeBufferPointer {
                try Decompressor.decompress($0, format: fmt, limit: limit, sizeHint: hint)
            }
        } catch let e as KallsymsError {
            throw KallsymsError(.malformed, "\(step): \(e.message)", offset: e.offset.map { $0 + payload.startIndex })
        }
        return try unwrap(
            out, steps: steps + [step, "\(fmt.rawValue) → \(mib(out.count))"], depth: depth + 1, limit: limit,
            failures: &failures)
    }

    /// The first compressed stream inside `b` that holds a kernel with a table.
    static func embedded(
        _ b: [UInt8], step: String, arch: Architecture?, steps: [String], depth: Int, limit: Int, failures: inout [String]
    ) throws -> KernelImage? {
        let candidates = b.withUnsafeBufferPointer { Compression.candidates(in: $0) }
        var tried = 0
        for (offset, fmt) in candidates.prefix(64) {
            let out: [UInt8]
            do {
                out = try b.withUnsafeBufferPointer { whole in
                    try Decompressor.decompress(UnsafeBufferPointer(rebasing: whole[offset...]), format: fmt, limit: limit)
                }
            } catch {
                continue
            }
            guard out.count >= 1024 else { continue }
            tried += 1
            let stepHere = "\(step) \(fmt.rawValue) stream at \(hex(offset))"
            var sub: [String] = []
            if let image = try? unwrap(
                out, steps: steps + [stepHere, "\(fmt.rawValue) → \(mib(out.count))"], depth: depth + 1, limit: limit,
                failures: &sub)
            {
                var image = image
                image.architecture = refined(image.architecture ?? arch, image.layout)
                return image
            }
            failures += sub
        }
        // Plain bytes with no stream say nothing worth reporting; a wrapper without one does.
        if tried == 0, step != "embedded" {
            failures.append(
                "\(step): no compressed stream inside (\(candidates.count) stream header\(candidates.count == 1 ? "" : "s") "
                    + "found, none decompressed to a kernel)")
        }
        return nil
    }

    /// The architecture a wrapper names, made exact by the kernel's own word size (a 32-bit MIPS
    /// decompressor may carry a 64-bit kernel).
    static func refined(_ arch: Architecture?, _ layout: TableLayout) -> Architecture? {
        guard let arch, arch.pointerSize != layout.pointerSize else { return arch }
        return Architecture.allCases.first {
            $0.machine == arch.machine && $0.byteOrder == arch.byteOrder && $0.pointerSize == layout.pointerSize
        } ?? arch
    }

    /// The architecture an ELF header names, and the container step that says so.
    static func describe(_ elf: ELFFile) -> (arch: Architecture?, step: String) {
        let arch = Architecture(machine: elf.machine, is64: elf.is64, order: elf.byteOrder)
        let name = arch?.rawValue ?? "ELF machine \(elf.machine.rawValue)"
        return (arch, "ELF\(elf.is64 ? 64 : 32) \(name) \(elf.byteOrder)")
    }

    static func readELF(_ b: [UInt8], _ elf: ELFFile, arch: Architecture?, step: String, steps: [String]) throws -> KernelImage {
        let loaded = elf.sections.filter { $0.type != .nobits && $0.flags.contains(.alloc) && $0.size > 0 }
        let segments = elf.segments.filter { $0.type == .load && $0.fileSize > 0 }
        // Headers come from the file: every sum wraps instead of trapping, and an offset counts
        // only if it lies inside the file.
        let fileSize = UInt64(b.count)
        let addressOf: @Sendable (Int) -> UInt64? = { o in
            let u = UInt64(o)
            for s in loaded where u >= s.offset && u - s.offset < s.size { return s.address &+ (u - s.offset) }
            for s in segments where u >= s.offset && u - s.offset < s.fileSize { return s.virtualAddress &+ (u - s.offset) }
            return nil
        }
        let offsetOf: (UInt64) -> Int? = { a in
            func inFile(_ o: UInt64) -> Int? { o < fileSize ? Int(o) : nil }
            for s in loaded where a >= s.address && a - s.address < s.size {
                if let o = inFile(s.offset &+ (a - s.address)) { return o }
            }
            for s in segments where a >= s.virtualAddress && a - s.virtualAddress < s.fileSize {
                if let o = inFile(s.offset &+ (a - s.virtualAddress)) { return o }
            }
            return nil
        }
        var hints = ScanHints(byteOrder: elf.byteOrder, pointerSize: elf.is64 ? 8 : 4, addressOfOffset: addressOf)
        hints.architecture = arch

        // Symbols, when present, say where each array is; the scan must then find exactly them.
        var wanted: [KallsymsArray: UInt64] = [:]
        for s in try elf.symbols() {
            if let array = KallsymsArray(label: s.nameString), wanted[array] == nil { wanted[array] = s.value }
        }
        let bySymbols = wanted[.tokenTable] != nil && wanted[.names] != nil
        var readAtSymbols = false
        let located: LocatedTable
        do {
            located = try scanned(b, hints: hints, bySymbols: bySymbols, wanted: wanted, offsetOf: offsetOf)
        } catch let scanError as KallsymsError {
            // Tables linked with reserved room (padding after each array) defeat the scan by
            // design; where the symbols name every array, read each array at its symbol.
            guard bySymbols else { throw scanError }
            var at: [KallsymsArray: Int] = [:]
            for (array, address) in wanted {
                // An empty array may be labelled at the very end of its section.
                if let o = offsetOf(address) ?? offsetOf(address &- 1).map({ $0 + 1 }) { at[array] = o }
            }
            do {
                located = try b.withUnsafeBufferPointer {
                    try TableLocator.readAtSymbols(
                        $0, at: at, order: elf.byteOrder, pointerSize: elf.is64 ? 8 : 4, addressOf: addressOf)
                }
                readAtSymbols = true
            } catch {
                throw scanError
            }
        }
        var image = finish(
            located, bytes: b, steps: steps + [
                step,
                readAtSymbols
                    ? "arrays read at their kallsyms_* symbols (reserved room)"
                    : bySymbols ? "located by kallsyms_* symbols" : "located by scanning",
            ],
            arch: arch, bySymbols: bySymbols, addresses: wanted)
        image.segments = segments.compactMap { s in
            guard s.offset <= UInt64(b.count), s.fileSize <= UInt64(b.count) - s.offset else { return nil }
            return (s.virtualAddress, Int(s.offset), Int(s.fileSize), s.flags.contains(.execute))
        }
        image.elfMachine = elf.machine
        image.buildID = try elf.buildID()
        return image
    }

    /// The structural scan, held to the `kallsyms_*` symbols when there are any.
    static func scanned(
        _ b: [UInt8], hints: ScanHints, bySymbols: Bool, wanted: [KallsymsArray: UInt64], offsetOf: (UInt64) -> Int?
    ) throws -> LocatedTable {
        let located = try b.withUnsafeBufferPointer { buf -> LocatedTable in
            if bySymbols, let tt = wanted[.tokenTable], let start = offsetOf(tt) {
                return try TableLocator.locate(in: buf, hints: hints, tokenTableAt: start)
            }
            return try TableLocator.locate(in: buf, hints: hints)
        }
        if bySymbols {
            let l = located.layout
            let checks: [KallsymsArray] = [.numSyms, .names, .markers, .tokenIndex, .relativeBase, .seqsOfNames, l.addressArray]
            for name in checks {
                guard let a = wanted[name] else { continue }
                let found = l.offsets[name]
                guard let at = offsetOf(a), at == found else {
                    throw KallsymsError(
                        .malformed,
                        "symbol \(name) (0x\(String(a, radix: 16))) disagrees with the table's structure (found at \(found.map { hex($0) } ?? "nowhere"))",
                        offset: found)
                }
            }
        }
        return located
    }

    static func finish(
        _ located: LocatedTable, bytes: [UInt8], steps: [String], arch: Architecture?, bySymbols: Bool,
        addresses: [KallsymsArray: UInt64]
    ) -> KernelImage {
        KernelImage(
            steps: steps, architecture: arch ?? guessArchitecture(located),
            banner: banner(in: bytes), kernelSize: bytes.count, locatedBySymbols: bySymbols, table: located.table,
            layout: located.layout, tableAddresses: addresses, kernelBytes: bytes, segments: [], elfMachine: nil)
    }

    /// The `Linux version …` string.
    static func banner(in b: [UInt8]) -> String? { b.withUnsafeBufferPointer { banner(in: $0) } }

    static func banner(in buf: UnsafeBufferPointer<UInt8>) -> String? {
        let needle = Array("Linux version ".utf8)
        return needle.withUnsafeBytes { n -> String? in
            var from = 0
            while from < buf.count {
                guard let p = glibcMemmem(buf.baseAddress! + from, buf.count - from, n.baseAddress, n.count) else {
                    return nil
                }
                let start = UnsafeRawPointer(p) - UnsafeRawPointer(buf.baseAddress!)
                var end = start
                while end < buf.count, end - start < 512, buf[end] >= 0x20 || buf[end] == 0x09 { end += 1 }
                // The printk format string has "%s"; the real banner has a version number.
                let s = String(decoding: buf[start ..< end], as: UTF8.self)
                if !s.contains("%"), end - start > needle.count + 2 { return s }
                from = start + 1
            }
            return nil
        }
    }

    /// The architecture from the system-call wrappers every modern kernel has, or from code only
    /// one architecture has (MIPS's TLB refill set-up, arm's software-interrupt vector).
    static func guessArchitecture(_ located: LocatedTable) -> Architecture? {
        let prefixes: [(String, ELFMachine)] = [
            ("__x64_sys_", .x86_64), ("__arm64_sys_", .aarch64), ("__s390x_sys_", .s390), ("__ia32_sys_", .i386),
            ("__riscv_sys_", .riscv),
        ]
        let s = located.table.symbols
        let l = located.layout
        // The machine's variant of the table's word size and byte order (i386's wrappers are
        // also in x86_64 kernels).
        func variant(_ machine: ELFMachine) -> Architecture? {
            let m = machine == .i386 && l.pointerSize == 8 ? .x86_64 : machine
            return Architecture.allCases.first { $0.machine == m && $0.pointerSize == l.pointerSize && $0.byteOrder == l.byteOrder }
        }
        for (p, machine) in prefixes {
            let want = Array(p.utf8)
            for i in 0 ..< s.count where s.name(i).starts(with: want) { return variant(machine) }
        }
        let landmarks: [(String, ELFMachine)] = [("tlbmiss_handler_setup_pgd", .mips), ("vector_swi", .arm)]
        for (name, machine) in landmarks where located.table.firstIndex(named: Array(name.utf8)) != nil {
            return variant(machine)
        }
        return nil
    }
}
