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

    static func jsonString(_ bytes: some Collection<UInt8>, into out: inout [UInt8]) {
        out.append(0x22)
        for c in bytes {
            switch c {
            case 0x22: out += [0x5C, 0x22]
            case 0x5C: out += [0x5C, 0x5C]
            case 0 ..< 0x20, 0x7F ... 0xFF:
                // Names are bytes, not necessarily UTF-8: escape anything outside printable ASCII.
                out += Array("\\u00".utf8)
                out.append(hexDigits[Int(c >> 4)])
                out.append(hexDigits[Int(c & 0xF)])
            default: out.append(c)
            }
        }
        out.append(0x22)
    }

    public static func jsonSymbols(_ t: KallsymsTable, pointerSize: Int, slide: Int64 = 0) -> [UInt8] {
        let s = t.symbols
        let open = Array("  {\"address\": \"0x".utf8)
        let typeField = Array("\", \"type\": \"".utf8)
        let nameField = Array("\", \"name\": ".utf8)
        var out = Array("[\n".utf8)
        out.reserveCapacity(s.bytes.count + s.count * (open.count + typeField.count + nameField.count + 24))
        let mask: UInt64 = pointerSize == 8 ? .max : 0xFFFF_FFFF
        for i in 0 ..< s.count {
            out += open
            appendHex(&out, (s.addresses[i] &+ UInt64(bitPattern: slide)) & mask, digits: pointerSize * 2)
            out += typeField
            out.append(s.type(i))
            out += nameField
            jsonString(s.name(i), into: &out)
            out += [0x7D]
            if i + 1 < s.count { out.append(0x2C) }
            out.append(0x0A)
        }
        out += Array("]\n".utf8)
        return out
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
        if k.segments.isEmpty {
            let found = LoadAddress.of(k)
            lines.append(
                "load address:  " + (found.map { "0x\(String($0.address, radix: 16)) (\($0.source))" } ?? "unknown (give --base)"))
        }
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

    public static func json(_ k: KernelImage) -> String {
        func q(_ s: String) -> String {
            var b = [UInt8]()
            jsonString(Array(s.utf8), into: &b)
            return String(decoding: b, as: UTF8.self)
        }
        let l = k.layout
        var fields: [String] = [
            "\"container\": [" + k.steps.map(q).joined(separator: ", ") + "]",
            "\"architecture\": " + (k.architecture.map { q($0.rawValue) } ?? "null"),
            "\"littleEndian\": \(l.byteOrder == .little)", "\"pointerSize\": \(l.pointerSize)",
            "\"banner\": " + (k.banner.map(q) ?? "null"), "\"buildID\": " + (k.buildID.map(q) ?? "null"),
            "\"kernelBytes\": \(k.kernelSize)",
            "\"arrayOrder\": " + q(l.order.rawValue), "\"addressKind\": " + q(l.addressKind.rawValue),
            "\"markerSize\": \(l.markerSize)", "\"twoByteLengthsSeen\": \(l.twoByteLengthsSeen)",
            "\"hasSeqsOfNames\": \(l.hasSeqsOfNames)", "\"locatedBySymbols\": \(k.locatedBySymbols)",
            "\"numSyms\": \(k.table.numSyms)",
        ]
        if case .offsets(_, let base, _) = k.table.addressEncoding {
            fields.append("\"relativeBase\": \"0x\(String(base, radix: 16))\"")
        }
        if k.segments.isEmpty, let found = LoadAddress.of(k) {
            fields.append("\"loadAddress\": \"0x\(String(found.address, radix: 16))\", \"loadAddressSource\": \(q(found.source))")
        }
        let arrays = arrays(k).map { name, off, size in
            "{\"name\": \(q(name.label)), \"offset\": \(off.map(String.init) ?? "null"), \"size\": \(size)}"
        }
        fields.append("\"tables\": [" + arrays.joined(separator: ", ") + "]")
        return "{\n  " + fields.joined(separator: ",\n  ") + "\n}\n"
    }
}
