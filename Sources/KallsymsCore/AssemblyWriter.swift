/// Writes a table as the assembly source `scripts/kallsyms` prints, byte for byte, in the
/// dialect of the table's generator version (docs/table-format.md, "The assembly"). The arrays
/// come in the order of the table's `TableFormat`; 7.3 writes the byte arrays to a `.bin`
/// that the `.S` pulls in with `.incbin`.
public enum AssemblyWriter {
    /// What differs between the versions' `.S` files beyond the table format.
    struct Dialect {
        /// The `#include <asm/bitsperlong.h>` / `PTR` / `ALGN` preamble (before 7.0).
        var preamble: Bool
        /// `/* <type><name> */` after names, offsets and seqs (6.2 and later; 7.3 keeps them on
        /// offsets only, the others go to the `.bin`).
        var comments: Bool
        /// `.size LABEL, . - LABEL` after names, markers, token_table and offsets (7.3).
        var sizes: Bool
        /// Names, token table and seqs go to the `.bin` (7.3).
        var binaryArrays: Bool

        init(_ format: KallsymsFormat) {
            preamble = format.era < .v7_0
            comments = format != .linux61
            sizes = format == .linux73
            binaryArrays = format == .linux73
        }
    }

    /// The arrays whose label gets `.size LABEL, . - LABEL` in `format`'s `.S` (7.3).
    package static func sizedArrays(_ format: KallsymsFormat) -> Set<KallsymsArray> {
        Dialect(format).sizes ? [.names, .markers, .tokenTable, .offsets] : []
    }

    /// The whole `.S` in memory, with 7.3's `.bin` beside it (for small tables; a kernel's
    /// streams better through ``write(_:to:bin:binName:)``).
    ///
    /// - Parameters:
    ///   - table: The table to print.
    ///   - binName: The file name the `.incbin` lines of 7.3's `.S` give the `.bin`.
    ///   - bin: Set to the `.bin`'s bytes (empty before 7.3, which writes none).
    /// - Returns: The bytes of the `.S`, as the kernel's `scripts/kallsyms` prints them.
    public static func write(_ table: KallsymsTable, binName: String = "kallsyms.bin", bin: inout [UInt8]) -> [UInt8] {
        var binBytes: [UInt8] = []
        let binOut = ByteOutput { binBytes.append(contentsOf: $0) }
        let s = ByteOutput.collecting { try! write(table, to: $0, bin: binOut, binName: binName) }
        bin = binBytes
        return s
    }

    /// The whole `.S` in memory, for the formats that write no `.bin` (before 7.3).
    ///
    /// - Parameter table: The table to print.
    /// - Returns: The bytes of the `.S`, as the kernel's `scripts/kallsyms` prints them.
    public static func write(_ table: KallsymsTable) -> [UInt8] {
        var bin: [UInt8] = []
        return write(table, bin: &bin)
    }

    /// Streams the `.S` into `out` (and flushes it); for 7.3 the byte arrays into `bin`, named
    /// `binName` in the `.S`. A kernel's table is written in one pass through a fixed buffer.
    ///
    /// - Parameters:
    ///   - table: The table to print.
    ///   - out: Receives the `.S`.
    ///   - bin: Receives 7.3's `.bin` (`kallsyms_names`, the token table and
    ///     `kallsyms_seqs_of_names`); required for a 7.3 table, ignored before.
    ///   - binName: The file name the `.incbin` lines give the `.bin`.
    /// - Throws: What the outputs' sinks throw.
    public static func write(_ table: KallsymsTable, to out: ByteOutput, bin: ByteOutput? = nil, binName: String = "") throws {
        let dialect = Dialect(table.format)
        precondition(!dialect.binaryArrays || bin != nil, "7.3 tables need a .bin output")
        let bin = dialect.binaryArrays ? bin : nil
        if dialect.preamble {
            try out.write(
                """
                #include <asm/bitsperlong.h>
                #if BITS_PER_LONG == 64
                #define PTR .quad
                #define ALGN .balign 8
                #else
                #define PTR .long
                #define ALGN .balign 4
                #endif

                """)
        }
        try out.write("\t.section .rodata, \"a\"\n")
        let w = Writer(table: table, out: out, dialect: dialect, bin: bin, binName: Array(binName.utf8))
        for array in table.tableFormat.arrays {
            try w.label(array)
            switch array {
            case .numSyms: try w.numSyms()
            case .names: try w.names()
            case .markers: try w.markers()
            case .tokenTable: try w.tokenTable()
            case .tokenIndex: try w.tokenIndex()
            case .offsets: try w.offsets()
            case .relativeBase: try w.relativeBase()
            case .addresses: try w.addresses()
            case .seqsOfNames: try w.seqs()
            }
        }
        try out.flush()
        try bin?.flush()
    }

    struct Writer {
        let table: KallsymsTable
        let out: ByteOutput
        let dialect: Dialect
        let bin: ByteOutput?
        let binName: [UInt8]

        func label(_ array: KallsymsArray) throws {
            try out.write(".globl ")
            try out.write(array.label)
            try out.write(dialect.preamble ? "\n\tALGN\n" : "\n\t.balign 4\n")
            try out.write(array.label)
            try out.write(":\n")
        }

        /// `.size LABEL, . - LABEL` (7.3).
        func size(_ array: KallsymsArray) throws {
            guard dialect.sizes else { return }
            assert(AssemblyWriter.sizedArrays(table.format).contains(array))
            try out.write(".size \(array.label), . - \(array.label)\n")
        }

        /// `\t.incbin "NAME", START, LENGTH` for what was written to the `.bin` since `start`;
        /// nothing when that is empty, as the reference does.
        func incbin(from start: Int) throws {
            guard let bin else { return }
            let end = bin.position
            guard start < end else { return }
            try out.write("\t.incbin \"")
            try out.write(binName)
            try out.write("\", \(start), \(end - start)\n")
        }

        /// `\t/* <type><name> */`: the restored working string, printed as a C string.
        @inline(__always)
        func comment(_ i: Int, _ bytes: UnsafePointer<UInt8>) throws {
            let s = Int(table.symbols.starts[i])
            var len = Int(table.symbols.ends[i]) - s
            if let z = memchrByte(bytes + s, 0, len) { len = z }
            try out.reserve(len + 8)
            out.append("\t/* ")
            out.append(bytes + s, len)
            out.append(" */")
        }

        func numSyms() throws {
            try out.reserve(40)
            out.append("\t.long\t")
            out.decimal(UInt64(table.numSyms))
            out.append("\n\n")
        }

        func names() throws {
            let prefixes = table.tableFormat.nameLengths
            if let bin {
                let start = bin.position
                try table.names.withUnsafeBufferPointer { try bin.write($0) }
                try incbin(from: start)
                try size(.names)
                try out.write("\n")
                return
            }
            try table.names.withUnsafeBufferPointer { names in
                try table.symbols.bytes.withUnsafeBufferPointer { symbolBytes in
                    let nb = names.baseAddress!
                    var off = 0
                    for i in 0 ..< table.numSyms {
                        let (len, prefix) = prefixes.decode(names, at: off)!
                        try out.reserve(24 + (prefix + len) * 6)
                        out.append("\t.byte ")
                        out.hexByte(nb[off])
                        if prefix == 2 {
                            out.append(", ")
                            out.hexByte(nb[off + 1])
                        }
                        out.commaHexBytes(nb + off + prefix, len)
                        if dialect.comments { try comment(i, symbolBytes.baseAddress!) }
                        out.byte(0x0A)
                        off += prefix + len
                    }
                }
            }
            try out.write("\n")
        }

        /// A block of `\t<directive>\t%u` lines.
        func decimalBlock<S: Sequence>(_ directive: StaticString, _ values: S) throws where S.Element: BinaryInteger {
            for v in values {
                try out.reserve(32)
                out.append(directive)
                out.decimal(UInt64(v))
                out.byte(0x0A)
            }
        }

        func markers() throws {
            try decimalBlock("\t.long\t", table.markers)
            try size(.markers)
            try out.write("\n")
        }

        func tokenTable() throws {
            if let bin {
                let start = bin.position
                for slot in 0 ..< 256 {
                    let token = table.token(slot)
                    try token.withUnsafeBufferPointer { try bin.write($0) }
                    try bin.write([0])
                }
                try incbin(from: start)
                try size(.tokenTable)
                try out.write("\n")
                return
            }
            for slot in 0 ..< 256 {
                let token = table.token(slot)
                try out.reserve(token.count + 16)
                out.append("\t.asciz\t\"")
                if !token.isEmpty { token.withUnsafeBufferPointer { out.append($0.baseAddress!, $0.count) } }
                out.append("\"\n")
            }
            try out.write("\n")
        }

        func tokenIndex() throws {
            try decimalBlock("\t.short\t", table.tokenIndex)
            try out.write("\n")
        }

        func offsets() throws {
            try table.symbols.bytes.withUnsafeBufferPointer { symbolBytes in
                for i in 0 ..< table.numSyms {
                    try out.reserve(48)
                    switch table.addressEncoding {
                    case .offsets(let words, _, _):
                        out.append("\t.long\t")
                        out.alternateHex(UInt64(words[i]))
                    case .absolute32(let words):
                        out.append("\t.long\t")
                        out.alternateHex(UInt64(words[i]))
                    case .placeRelative(let deltas):
                        out.append("\t.long\t_text - . + (")
                        out.signedDecimal(Int64(deltas[i]))
                        out.byte(0x29)
                    case .addresses:
                        return
                    }
                    if dialect.comments { try comment(i, symbolBytes.baseAddress!) }
                    out.byte(0x0A)
                }
            }
            try size(.offsets)
            try out.write("\n")
        }

        /// `PTR _text + d` or `PTR _text - d`.
        func relativeAddress(_ addr: UInt64) throws {
            try out.reserve(48)
            let text = table.textAddress
            if text <= addr {
                out.append("\tPTR\t_text + ")
                out.alternateHex(addr - text)
            } else {
                out.append("\tPTR\t_text - ")
                out.alternateHex(text - addr)
            }
            out.byte(0x0A)
        }

        func relativeBase() throws {
            guard case .offsets(_, let base, _) = table.addressEncoding else { return }
            try relativeAddress(base)
            try out.write("\n")
        }

        func addresses() throws {
            guard case .addresses(let addrs, let absolute) = table.addressEncoding else { return }
            for i in 0 ..< addrs.count {
                if absolute[i] {
                    try out.reserve(32)
                    out.append("\tPTR\t")
                    out.alternateHex(addrs[i])
                    out.byte(0x0A)
                } else {
                    try relativeAddress(addrs[i])
                }
            }
            try out.write("\n")
        }

        func seqs() throws {
            if let bin {
                let start = bin.position
                for seq in table.seqsOfNames {
                    try bin.reserve(3)
                    bin.byte(UInt8(truncatingIfNeeded: seq >> 16))
                    bin.byte(UInt8(truncatingIfNeeded: seq >> 8))
                    bin.byte(UInt8(truncatingIfNeeded: seq))
                }
                try incbin(from: start)
                try out.write("\n")
                return
            }
            try table.symbols.bytes.withUnsafeBufferPointer { symbolBytes in
                for seq in table.seqsOfNames {
                    try out.reserve(32)
                    out.append("\t.byte ")
                    out.hexByte(UInt8(truncatingIfNeeded: seq >> 16))
                    out.append(", ")
                    out.hexByte(UInt8(truncatingIfNeeded: seq >> 8))
                    out.append(", ")
                    out.hexByte(UInt8(truncatingIfNeeded: seq))
                    if dialect.comments { try comment(Int(seq), symbolBytes.baseAddress!) }
                    out.byte(0x0A)
                }
            }
            try out.write("\n")
        }
    }
}
