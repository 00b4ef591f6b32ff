import KallsymsCore

/// Symbolizes kernel logs (oops, warnings, backtraces; x86 and arm64 formats) with a table:
/// raw addresses gain `name+0xoff/0xsize`, and `name+0xoff/0xsize` forms gain the link-time
/// address they stand for (what addr2line, gdb and objdump on vmlinux want), with a note when
/// the size in the log disagrees with the table (the log is from another build).
public struct LogSymbolizer {
    /// The table of the kernel that wrote the log.
    public let table: KallsymsTable
    /// 4 or 8: raw addresses in the log are taken only at this width in hex digits.
    public let pointerSize: Int
    /// Run-time minus link-time address (KASLR).
    public private(set) var slide: Int64
    /// How the slide was decided, for the user.
    public private(set) var slideSource: String

    /// A symbolizer for logs of one kernel.
    /// - Parameters:
    ///   - table: The kernel's table (``KernelImage/table``).
    ///   - pointerSize: The kernel's pointer size, 4 or 8 (``TableLayout/pointerSize``).
    ///   - slide: The KASLR slide, when known; nil: 0 until ``deriveSlide(from:)`` finds one.
    public init(table: KallsymsTable, pointerSize: Int, slide: Int64? = nil) {
        self.table = table
        self.pointerSize = pointerSize
        self.slide = slide ?? 0
        self.slideSource = slide == nil ? "none (no KASLR information in the log)" : "given"
    }

    static func isHex(_ c: UInt8) -> Bool { (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46) }
    static func isWord(_ c: UInt8) -> Bool {
        isHex(c) || (c >= 0x67 && c <= 0x7A) || (c >= 0x47 && c <= 0x5A) || c == 0x5F || c == 0x2E || c == 0x24
    }

    static func hexValue(_ s: ArraySlice<UInt8>) -> UInt64? {
        guard !s.isEmpty, s.count <= 16 else { return nil }
        var v: UInt64 = 0
        for c in s {
            let d: UInt8
            switch c {
            case 0x30 ... 0x39: d = c - 0x30
            case 0x61 ... 0x66: d = c - 0x61 + 10
            case 0x41 ... 0x46: d = c - 0x41 + 10
            default: return nil
            }
            v = v << 4 | UInt64(d)
        }
        return v
    }

    /// A `name+0xoff/0xsize` form starting at `i`: (end, name, offset, size).
    static func symbolForm(_ line: [UInt8], at i: Int) -> (end: Int, name: ArraySlice<UInt8>, offset: UInt64, size: UInt64)? {
        var j = i
        while j < line.count && isWord(line[j]) { j += 1 }
        guard j > i, j + 3 < line.count, line[j] == 0x2B, line[j + 1] == 0x30, line[j + 2] == 0x78 else { return nil }
        var k = j + 3
        let offStart = k
        while k < line.count && isHex(line[k]) { k += 1 }
        guard let off = hexValue(line[offStart ..< k]), k + 3 < line.count, line[k] == 0x2F, line[k + 1] == 0x30,
            line[k + 2] == 0x78
        else { return nil }
        var m = k + 3
        let sizeStart = m
        while m < line.count && isHex(line[m]) { m += 1 }
        guard let size = hexValue(line[sizeStart ..< m]) else { return nil }
        return (m, line[i ..< j], off, size)
    }

    /// Decides the slide from the log: the "Kernel Offset:" line panics print, else the most
    /// common difference between a raw address and the symbol form printed beside it. Leaves
    /// the slide as it was when the log says nothing.
    /// - Parameter lines: The log's lines, without their line feeds.
    public mutating func deriveSlide(from lines: [[UInt8]]) {
        let marker = Array("Kernel Offset: 0x".utf8)
        for line in lines {
            guard let at = find(marker, in: line) else { continue }
            var e = at + marker.count
            while e < line.count && Self.isHex(line[e]) { e += 1 }
            if let v = Self.hexValue(line[(at + marker.count) ..< e]) {
                slide = Int64(bitPattern: v)
                slideSource = "the log's \"Kernel Offset\" line"
                return
            }
        }
        var votes: [Int64: Int] = [:]
        for line in lines {
            var i = 0
            while i < line.count {
                guard let (end, value) = rawAddress(line, at: i) else { i += 1; continue }
                var j = end
                while j < line.count && (line[j] == 0x20 || line[j] == 0x3E || line[j] == 0x5D || line[j] == 0x3F) { j += 1 }
                if let form = Self.symbolForm(line, at: j), let k = table.firstIndex(named: Array(form.name)) {
                    let d = Int64(bitPattern: value &- (table.symbols.addresses[k] &+ form.offset))
                    votes[d, default: 0] += 1
                }
                i = end
            }
        }
        if let best = votes.max(by: { $0.value != $1.value ? $0.value < $1.value : $0.key > $1.key }) {
            slide = best.key
            slideSource = "\(best.value) address/symbol pair\(best.value == 1 ? "" : "s") in the log"
        }
    }

    func find(_ needle: [UInt8], in line: [UInt8]) -> Int? {
        guard line.count >= needle.count else { return nil }
        for i in 0 ... line.count - needle.count where line[i] == needle[0] {
            if line[i ..< i + needle.count].elementsEqual(needle) { return i }
        }
        return nil
    }

    /// A pointer-width hex number at `i` (optionally `0x`-prefixed), not part of a longer word.
    func rawAddress(_ line: [UInt8], at i: Int) -> (end: Int, value: UInt64)? {
        if i > 0 && Self.isWord(line[i - 1]) { return nil }
        var s = i
        if s + 1 < line.count, line[s] == 0x30, line[s + 1] == 0x78 { s += 2 }
        var e = s
        while e < line.count && Self.isHex(line[e]) { e += 1 }
        guard e - s == pointerSize * 2, e == line.count || !Self.isWord(line[e]) else { return nil }
        guard let v = Self.hexValue(line[s ..< e]) else { return nil }
        return (e, v)
    }

    func hex(_ v: UInt64) -> String { "0x" + String(v, radix: 16) }

    /// Rewrites one line: a raw address gains ` name+0xoff/0xsize` (unless the log already
    /// prints a symbol form after it), and a symbol form gains its link-time address.
    /// - Parameter line: One line, without its line feed.
    /// - Returns: The line with its annotations; unchanged where nothing is found.
    public func symbolize(line: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(line.count + 64)
        var i = 0
        while i < line.count {
            if let (end, value) = rawAddress(line, at: i) {
                let link = value &- UInt64(bitPattern: slide)
                out += line[i ..< end]
                i = end
                guard let m = table.lookup(address: link) else { continue }
                // Already followed by a symbol form ("[<addr>] ? name+off/size")? Leave it.
                var j = end
                while j < line.count && (line[j] == 0x3E || line[j] == 0x5D) { out.append(line[j]); j += 1 }
                i = j
                var k = j
                while k < line.count && (line[k] == 0x20 || line[k] == 0x3F) { k += 1 }
                if Self.symbolForm(line, at: k) != nil { continue }
                out += Array(" \(m.formatted)".utf8)
                continue
            }
            if i == 0 || !Self.isWord(line[i - 1]), let form = Self.symbolForm(line, at: i) {
                out += line[i ..< form.end]
                i = form.end
                guard let idx = table.firstIndex(named: Array(form.name)) else { continue }
                let start = table.symbols.addresses[idx]
                var note = " (\(hex(start &+ form.offset)))"
                if let m = table.lookup(address: start), m.size != form.size, m.nameBytes.elementsEqual(form.name) {
                    note = " (\(hex(start &+ form.offset)); this image says size \(hex(m.size)))"
                }
                out += Array(note.utf8)
                continue
            }
            out.append(line[i])
            i += 1
        }
        return out
    }

    /// Symbolizes a whole log (lines split on LF and kept).
    /// - Parameters:
    ///   - log: The log's bytes.
    ///   - derive: True to decide the slide from the log first (``deriveSlide(from:)``).
    /// - Returns: The symbolized log.
    public mutating func symbolize(log: [UInt8], deriveSlide derive: Bool) -> [UInt8] {
        let lines = log.split(separator: 0x0A, omittingEmptySubsequences: false).map(Array.init)
        if derive { deriveSlide(from: lines) }
        var out: [UInt8] = []
        out.reserveCapacity(log.count * 2)
        for (n, line) in lines.enumerated() {
            out += symbolize(line: line)
            if n + 1 < lines.count { out.append(0x0A) }
        }
        return out
    }
}
