import ELFKit
import KallsymsCore

/// Text and JSON renderings of what the reader found. Symbol listings are built on bytes: a
/// 200k-symbol dump is one buffer, not 200k strings.
public enum ImageReport {
    static let hexDigits = Array("0123456789abcdef".utf8)

    @inline(__always)
    static func appendHex(_ out: inout [UInt8], _ v: UInt64, digits: Int) {
        var k = digits - 1
        while k >= 0 {
            out.append(hexDigits[Int((v >> (UInt64(k) * 4)) & 0xF)])
            k -= 1
        }
    }

    /// `%0Nx %c %s` lines in table order (N = 16, or 8 for 32-bit kernels), addresses plus `slide`.
    /// - Parameters:
    ///   - t: The table.
    ///   - pointerSize: The kernel's pointer size (4 or 8): the address width, and the mask a
    ///     slid address wraps at.
    ///   - slide: Added to every address (a KASLR offset); 0 by default.
    /// - Returns: The listing, in the format of the kernel's System.map.
    public static func systemMap(_ t: KallsymsTable, pointerSize: Int, slide: Int64 = 0) -> [UInt8] {
        let s = t.symbols
        let digits = pointerSize * 2
        let mask: UInt64 = pointerSize == 8 ? .max : 0xFFFF_FFFF
        // Each line: digits, " T ", the name (arena bytes minus the type byte), "\n".
        let total = s.count * (digits + 3) + s.bytes.count
        return [UInt8](unsafeUninitializedCapacity: total) { out, written in
            var o = 0
            s.bytes.withUnsafeBufferPointer { arena in
                hexDigits.withUnsafeBufferPointer { hx in
                    for i in 0 ..< s.count {
                        let v = (s.addresses[i] &+ UInt64(bitPattern: slide)) & mask
                        var k = digits - 1
                        while k >= 0 {
                            out[o] = hx[Int((v >> (UInt64(k) * 4)) & 0xF)]
                            o += 1
                            k -= 1
                        }
                        let r = s.range(i)
                        out[o] = 0x20
                        out[o + 1] = arena[r.lowerBound]
                        out[o + 2] = 0x20
                        o += 3
                        let n = r.count - 1
                        if n > 0 {
                            (out.baseAddress! + o).update(from: arena.baseAddress! + r.lowerBound + 1, count: n)
                        }
                        o += n
                        out[o] = 0x0A
                        o += 1
                    }
                }
            }
            written = o
        }
    }

    /// One entry of `dump --format json`.
    public struct DumpedSymbol: Codable, Equatable, Sendable {
        /// Hex, with the slide applied: 64-bit addresses do not survive JSON's numbers.
        public var address: String
        /// The type letter and the name, as their bytes (see `SymbolNameJSON`).
        public var type: SymbolNameJSON
        /// The symbol's name, as its bytes.
        public var name: SymbolNameJSON
    }

    /// The table as a JSON array, one symbol a line, through `JSONOutput`.
    /// - Parameters:
    ///   - t: The table.
    ///   - pointerSize: The kernel's pointer size (4 or 8): the address width.
    ///   - slide: Added to every address; 0 by default.
    /// - Returns: UTF-8 JSON: an array of ``DumpedSymbol``.
    public static func jsonSymbols(_ t: KallsymsTable, pointerSize: Int, slide: Int64 = 0) -> [UInt8] {
        let s = t.symbols
        let mask: UInt64 = pointerSize == 8 ? .max : 0xFFFF_FFFF
        var hex: [UInt8] = []
        return JSONOutput.lines((0 ..< s.count).lazy.map { i in
            hex.removeAll(keepingCapacity: true)
            hex += Array("0x".utf8)
            appendHex(&hex, (s.addresses[i] &+ UInt64(bitPattern: slide)) & mask, digits: pointerSize * 2)
            return DumpedSymbol(
                address: String(decoding: hex, as: UTF8.self), type: SymbolNameJSON([s.type(i)]), name: SymbolNameJSON(s.name(i)))
        })
    }

    static func hex(_ v: Int?) -> String { v.map { "0x" + String($0, radix: 16) } ?? "-" }

    /// The table arrays with their file offsets and, when known, load addresses.
    static func arrays(_ k: KernelImage) -> [(KallsymsArray, Int?, Int)] {
        let l = k.layout
        let n = k.table.numSyms
        func size(_ array: KallsymsArray) -> Int {
            switch array {
            case .numSyms: 4
            case .names: l.namesSize
            case .markers: k.table.markers.count * l.markerSize
            case .tokenTable: l.tokenTableSize
            case .tokenIndex: 512
            case .addresses: n * l.pointerSize
            case .offsets: n * 4
            case .relativeBase: l.pointerSize
            case .seqsOfNames: 3 * n
            }
        }
        return l.offsets.map { ($0.key, $0.value, size($0.key)) }.sorted { $0.1 ?? 0 < $1.1 ?? 0 }
    }

    /// What `info` prints: the container steps, architecture, banner, layout, load address and
    /// where each array is.
    /// - Parameter k: The kernel read.
    /// - Returns: Lines of `label: value`, ending with a line feed.
    public static func text(_ k: KernelImage) -> String {
        var lines: [String] = []
        lines.append("container:     " + k.steps.joined(separator: " → "))
        lines.append("architecture:  " + (k.architecture?.rawValue ?? "unknown"))
        lines.append(
            "byte order:    \(k.layout.byteOrder), \(k.layout.pointerSize * 8)-bit")
        lines.append("banner:        " + (k.banner ?? "(none)"))
        if let id = k.buildID { lines.append("build ID:      " + id) }
        lines.append("kernel bytes:  \(k.kernelSize)")
        lines.append("layout:        \(k.layout)")
        lines.append("symbols:       \(k.table.numSyms)")
        if case .offsets(_, let base, _) = k.table.addressEncoding {
            lines.append("relative base: 0x\(String(base, radix: 16)) (\(k.layout.relativeBaseSource ?? "stored in the image"))")
        }
        if let t = k.table.address(of: "_text") { lines.append("_text:         0x\(String(t, radix: 16))") }
        if k.segments.isEmpty, k.memory == nil {
            let found = LoadAddress.of(k)
            lines.append(
                "load address:  " + (found.map { "0x\(String($0.address, radix: 16)) (\($0.source))" } ?? "unknown (give --base)"))
        }
        if let m = k.memory { lines += MemoryDump.reportLines(m) }
        if let first = k.symbols.addresses.first, let last = k.symbols.addresses.last {
            lines.append("address range: 0x\(String(first, radix: 16)) - 0x\(String(last, radix: 16))")
        }
        lines.append("tables (file offset in the kernel bytes, size):")
        for (array, off, size) in arrays(k) {
            let name = array.label
            let addr = k.tableAddresses[array].map { "  at 0x" + String($0, radix: 16) } ?? ""
            let padded = name + String(repeating: " ", count: max(0, 24 - name.count))
            lines.append("  \(padded) \(hex(off))  \(size) bytes\(addr)")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// What `info --json` prints.
    /// Decodable, so a program can read `kallsyms info --json` back into it with `JSONDecoder`.
    public struct Info: Codable, Equatable, Sendable {
        /// One array of the table.
        public struct Array: Codable, Equatable, Sendable {
            /// The array's symbol, such as `kallsyms_names`.
            public var name: String
            /// Its file offset in the kernel's bytes (after unwrapping).
            public var offset: Int?
            /// Its size in bytes.
            public var size: Int
        }
        /// ``KernelImage/steps``: how the table was reached, outermost first.
        public var container: [String]
        /// The architecture's name (as `gen --arch` takes it), or null when unknown.
        public var architecture: String?
        /// The byte order of the table.
        public var byteOrder: ByteOrder
        /// 4 or 8.
        public var pointerSize: Int
        /// The `Linux version …` banner, or null.
        public var banner: String?
        /// The GNU build ID in hex, or null.
        public var buildID: String?
        /// The size of the kernel's bytes after unwrapping.
        public var kernelBytes: Int
        /// ``TableLayout/order``'s name ("before 6.2", "6.2-6.3", "6.4+").
        public var arrayOrder: String
        /// ``TableLayout/addressKind``'s name ("absolute", "base-relative", …).
        public var addressKind: String
        /// The width of `kallsyms_markers` entries.
        public var markerSize: Int
        /// True when some name uses the 2-byte length prefix.
        public var twoByteLengthsSeen: Bool
        /// True when the table has `kallsyms_seqs_of_names`.
        public var hasSeqsOfNames: Bool
        /// True when `kallsyms_*` ELF symbols located the arrays.
        public var locatedBySymbols: Bool
        /// The number of symbols.
        public var numSyms: Int
        /// `kallsyms_relative_base` in hex, for tables that have one; else null.
        public var relativeBase: String?
        /// The load address of the kernel's first byte in hex, for raw kernels that say; null
        /// for ELF kernels (their segments carry addresses) and when unknown.
        public var loadAddress: String?
        /// What said `loadAddress`.
        public var loadAddressSource: String?
        /// The arrays, by file offset.
        public var tables: [Array]
        /// Where the table lies in a memory dump and the slide (null for kernel images).
        public var memory: MemoryLocation?

        /// Writes every key, absent values as null, so a reader sees the same keys for every
        /// kernel.
        /// - Parameter encoder: The encoder.
        /// - Throws: What the encoder throws.
        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(container, forKey: .container)
            try c.encode(architecture, forKey: .architecture)
            try c.encode(byteOrder, forKey: .byteOrder)
            try c.encode(pointerSize, forKey: .pointerSize)
            try c.encode(banner, forKey: .banner)
            try c.encode(buildID, forKey: .buildID)
            try c.encode(kernelBytes, forKey: .kernelBytes)
            try c.encode(arrayOrder, forKey: .arrayOrder)
            try c.encode(addressKind, forKey: .addressKind)
            try c.encode(markerSize, forKey: .markerSize)
            try c.encode(twoByteLengthsSeen, forKey: .twoByteLengthsSeen)
            try c.encode(hasSeqsOfNames, forKey: .hasSeqsOfNames)
            try c.encode(locatedBySymbols, forKey: .locatedBySymbols)
            try c.encode(numSyms, forKey: .numSyms)
            try c.encode(relativeBase, forKey: .relativeBase)
            try c.encode(loadAddress, forKey: .loadAddress)
            try c.encode(loadAddressSource, forKey: .loadAddressSource)
            try c.encode(tables, forKey: .tables)
            try c.encode(memory, forKey: .memory)
        }
    }

    /// What `info --json` prints, as a value.
    /// - Parameter k: The kernel read.
    /// - Returns: The facts ``text(_:)`` prints, typed.
    public static func info(_ k: KernelImage) -> Info {
        let l = k.layout
        var relativeBase: String?
        if case .offsets(_, let base, _) = k.table.addressEncoding { relativeBase = "0x" + String(base, radix: 16) }
        let load = k.segments.isEmpty && k.memory == nil ? LoadAddress.of(k) : nil
        return Info(
            container: k.steps, architecture: k.architecture?.rawValue, byteOrder: l.byteOrder,
            pointerSize: l.pointerSize, banner: k.banner, buildID: k.buildID, kernelBytes: k.kernelSize,
            arrayOrder: l.order.rawValue, addressKind: l.addressKind.rawValue, markerSize: l.markerSize,
            twoByteLengthsSeen: l.twoByteLengthsSeen, hasSeqsOfNames: l.hasSeqsOfNames,
            locatedBySymbols: k.locatedBySymbols, numSyms: k.table.numSyms, relativeBase: relativeBase,
            loadAddress: load.map { "0x" + String($0.address, radix: 16) }, loadAddressSource: load?.source,
            tables: arrays(k).map { Info.Array(name: $0.0.label, offset: $0.1, size: $0.2) }, memory: k.memory)
    }

    /// What `info --json` prints.
    /// - Parameter k: The kernel read.
    /// - Returns: ``info(_:)`` as JSON (keys sorted).
    public static func json(_ k: KernelImage) -> String { JSONOutput.string(info(k)) }
}
