#if canImport(Glibc)
    import Glibc
#endif

/// Reads symbol maps (`nm -n` output, System.map) exactly as each kernel version's
/// `scripts/kallsyms` reads them. The two versions differ on malformed input, and a drop-in must
/// accept and reject the same files, so each version's rules are kept apart.
package enum MapParser {
    /// One parsed line. `name` points into the input buffer and is valid only during the callback.
    package typealias LineHandler = (
        _ address: UInt64, _ type: UInt8, _ name: UnsafeBufferPointer<UInt8>, _ line: Int
    ) throws -> Void

    /// Parses `bytes` with the rules of `format`, calling `body` for each symbol line.
    /// `diagnostic` receives the non-fatal messages the reference prints to stderr.
    package static func parse(
        _ bytes: UnsafeBufferPointer<UInt8>, format: KallsymsFormat, file: String,
        diagnostic: ([UInt8]) -> Void, _ body: LineHandler
    ) throws {
        if format.strictMapSyntax {
            try parseStrict(bytes, file: file, body)
        } else {
            try parseScanf(bytes, diagnostic: diagnostic, body)
        }
    }

    @inline(__always) static func isSpace(_ c: UInt8) -> Bool {
        c == 0x20 || (c >= 0x09 && c <= 0x0D)
    }

    @inline(__always) static func hexValue(_ c: UInt8) -> UInt64? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return UInt64(c &- UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return UInt64(c &- UInt8(ascii: "a") &+ 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return UInt64(c &- UInt8(ascii: "A") &+ 10)
        default: return nil
        }
    }

    /// Hex digits from `p` with the C library's overflow rule (saturate at 2^64-1).
    @inline(__always) static func hexDigits(
        _ base: UnsafePointer<UInt8>, _ p: inout Int, _ end: Int
    ) -> (value: UInt64, digits: Int, overflow: Bool) {
        var value: UInt64 = 0
        var digits = 0
        var overflow = false
        while p < end, let d = hexValue(base[p]) {
            if value > (UInt64.max >> 4) { overflow = true }
            value = (value << 4) | d
            digits += 1
            p += 1
        }
        return (overflow ? UInt64.max : value, digits, overflow)
    }

    // MARK: 6.12: getline + strtoull, one symbol per line, anything malformed is fatal.

    static func parseStrict(
        _ bytes: UnsafeBufferPointer<UInt8>, file: String, _ body: LineHandler
    ) throws {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        let end = bytes.count
        var lineStart = 0
        var lineNumber = 0
        while lineStart < end {
            lineNumber += 1
            var lineEnd = lineStart
            // memchr is far faster than a byte loop on 40-byte lines.
            if let nl = memchrByte(base + lineStart, 0x0A, end - lineStart) {
                lineEnd = lineStart + nl
            } else {
                lineEnd = end
            }
            let next = lineEnd + 1
            // Bytes past the line read as the C string terminator.
            @inline(__always) func at(_ i: Int) -> UInt8 { i < lineEnd ? base[i] : 0 }

            var p = lineStart
            // strtoull: blanks, a sign, an optional 0x, hex digits.
            while p < lineEnd && isSpace(base[p]) { p += 1 }
            var negative = false
            if p < lineEnd && (base[p] == UInt8(ascii: "+") || base[p] == UInt8(ascii: "-")) {
                negative = base[p] == UInt8(ascii: "-")
                p += 1
            }
            if at(p) == UInt8(ascii: "0") && (at(p + 1) | 0x20) == UInt8(ascii: "x")
                && hexValue(at(p + 2)) != nil
            {
                p += 2
            }
            let (magnitude, digits, overflow) = hexDigits(base, &p, lineEnd)
            let address = (negative && !overflow) ? 0 &- magnitude : magnitude
            let type = at(p + 1)
            guard digits > 0, at(p) == 0x20, type < 0x80, at(p + 2) == 0x20, p + 2 < lineEnd else {
                throw KallsymsError(
                    .lineFormat, "line format error: expected 'ADDRESS TYPE NAME'",
                    file: file, line: lineNumber)
            }
            var nameEnd = lineEnd
            let nameStart = p + 3
            if let z = memchrByte(base + nameStart, 0, lineEnd - nameStart) { nameEnd = nameStart + z }
            try body(
                address, type, UnsafeBufferPointer(start: base + nameStart, count: nameEnd - nameStart),
                lineNumber)
            lineStart = next
        }
    }

    // MARK: 6.1: fscanf("%llx %c %2048s\n"), whitespace-tolerant, failures skip a line.

    static let scanfNameLimit = 2048

    static func parseScanf(
        _ bytes: UnsafeBufferPointer<UInt8>, diagnostic: ([UInt8]) -> Void, _ body: LineHandler
    ) throws {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        let end = bytes.count
        var pos = 0
        var line = 1
        // Counts newlines as the cursor passes them, so callers can still say where a symbol was.
        @inline(__always) func skipSpace() {
            while pos < end && isSpace(base[pos]) {
                if base[pos] == 0x0A { line += 1 }
                pos += 1
            }
        }
        while pos < end {
            // %llx
            skipSpace()
            if pos == end { break }  // EOF before the first conversion
            let symbolLine = line
            var converted = 0
            var address: UInt64 = 0
            var type: UInt8 = 0
            var nameStart = 0
            var nameEnd = 0
            scan: do {
                var negative = false
                if base[pos] == UInt8(ascii: "+") || base[pos] == UInt8(ascii: "-") {
                    negative = base[pos] == UInt8(ascii: "-")
                    pos += 1
                }
                var sawZero = false
                if pos < end && base[pos] == UInt8(ascii: "0") {
                    // glibc consumes "0x" even when no hex digit follows; the 0 is the number.
                    sawZero = true
                    pos += 1
                    if pos < end && (base[pos] | 0x20) == UInt8(ascii: "x") { pos += 1 }
                }
                let (magnitude, digits, overflow) = hexDigits(base, &pos, end)
                guard digits > 0 || sawZero else { break scan }
                address = (negative && !overflow) ? 0 &- magnitude : magnitude
                converted = 1
                // " %c"
                skipSpace()
                guard pos < end else { break scan }
                type = base[pos]
                pos += 1
                converted = 2
                // " %2048s"
                skipSpace()
                guard pos < end else { break scan }
                nameStart = pos
                while pos < end && !isSpace(base[pos]) && pos - nameStart < scanfNameLimit { pos += 1 }
                nameEnd = pos
                converted = 3
                // "\n" matches any run of white space, blank lines included.
                skipSpace()
            }
            if converted != 3 {
                // fgets(name, 2049, in): the rest of the line, at most 2048 bytes.
                if pos >= end {
                    diagnostic(Array("Read error or end of file.\n".utf8))
                    break
                }
                let limit = min(end, pos + scanfNameLimit)
                while pos < limit {
                    let c = base[pos]
                    pos += 1
                    if c == 0x0A {
                        line += 1
                        break
                    }
                }
                continue
            }
            if let z = memchrByte(base + nameStart, 0, nameEnd - nameStart) { nameEnd = nameStart + z }
            try body(
                address, type, UnsafeBufferPointer(start: base + nameStart, count: nameEnd - nameStart),
                symbolLine)
        }
    }
}

@inline(__always) func memchrByte(_ p: UnsafePointer<UInt8>, _ byte: UInt8, _ count: Int) -> Int? {
    guard count > 0 else { return nil }
    guard let hit = memchr(p, Int32(byte), count) else { return nil }
    return UnsafeRawPointer(hit) - UnsafeRawPointer(p)
}

/// The offset of the first occurrence of `needle` in `p[0..<count]`.
func findBytes(_ p: UnsafePointer<UInt8>, _ count: Int, _ needle: UnsafeBufferPointer<UInt8>) -> Int? {
    let m = needle.count
    guard m > 0 else { return 0 }
    guard count >= m else { return nil }
    var i = 0
    let first = needle[0]
    while i <= count - m {
        guard let f = memchrByte(p + i, first, count - m + 1 - i) else { return nil }
        i += f
        if memcmp(p + i, needle.baseAddress!, m) == 0 { return i }
        i += 1
    }
    return nil
}
