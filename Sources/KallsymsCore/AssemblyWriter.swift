/// Writes a table as the assembly source `scripts/kallsyms` prints (reference spec §7), byte for
/// byte, for 6.12 and 6.1.
public enum AssemblyWriter {
    /// The whole `.S` in memory (tests, small tables).
    public static func write(_ table: KallsymsTable) -> [UInt8] {
        ByteOutput.collecting { try! write(table, to: $0) }
    }

    /// Streams the `.S` into `out` (and flushes it).
    public static func write(_ table: KallsymsTable, to out: ByteOutput) throws {
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
            \t.section .rodata, "a"

            """)
        let w = Writer(table: table, out: out)
        switch table.format {
        case .linux612:
            try w.numSyms()
            try w.names(comments: true)
            try w.markers()
            try w.tokenTable()
            try w.tokenIndex()
            try w.offsets(comments: true)
            try w.relativeBase()
            try w.seqs(comments: true)
        case .linux61:
            if case .offsets = table.addressEncoding {
                try w.offsets(comments: false)
                try w.relativeBase()
            } else {
                try w.addresses()
            }
            try w.numSyms()
            try w.names(comments: false)
            try w.markers()
            try w.seqs(comments: false)
            try w.tokenTable()
            try w.tokenIndex()
        }
        try out.flush()
    }

    struct Writer {
        let table: KallsymsTable
        let out: ByteOutput

        func label(_ name: StaticString) throws {
            try out.write(".globl ")
            try out.write(name)
            try out.write("\n\tALGN\n")
            try out.write(name)
            try out.write(":\n")
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
            try label("kallsyms_num_syms")
            try out.reserve(40)
            out.append("\t.long\t")
            out.decimal(UInt64(table.numSyms))
            out.append("\n\n")
        }

        func names(comments: Bool) throws {
            try label("kallsyms_names")
            try table.names.withUnsafeBufferPointer { names in
                try table.symbols.bytes.withUnsafeBufferPointer { symbolBytes in
                    let nb = names.baseAddress
                    var off = 0
                    for i in 0 ..< table.numSyms {
                        let b0 = Int(nb![off])
                        var len = b0
                        var prefix = 1
                        if b0 & 0x80 != 0 {
                            len = (b0 & 0x7F) | (Int(nb![off + 1]) << 7)
                            prefix = 2
                        }
                        try out.reserve(24 + (prefix + len) * 6)
                        out.append("\t.byte ")
                        out.hexByte(UInt8(b0))
                        if prefix == 2 {
                            out.append(", ")
                            out.hexByte(nb![off + 1])
                        }
                        out.commaHexBytes(nb! + off + prefix, len)
                        if comments { try comment(i, symbolBytes.baseAddress!) }
                        out.byte(0x0A)
                        off += prefix + len
                    }
                }
            }
            try out.write("\n")
        }

        /// A labelled block of `\t<directive>\t%u` lines.
        func decimalBlock<S: Sequence>(_ name: StaticString, _ directive: StaticString, _ values: S) throws
        where S.Element: BinaryInteger {
            try label(name)
            for v in values {
                try out.reserve(32)
                out.append(directive)
                out.decimal(UInt64(v))
                out.byte(0x0A)
            }
            try out.write("\n")
        }

        func markers() throws { try decimalBlock("kallsyms_markers", "\t.long\t", table.markers) }

        func tokenTable() throws {
            try label("kallsyms_token_table")
            for slot in 0 ..< 256 {
                let token = table.token(slot)
                try out.reserve(token.count + 16)
                out.append("\t.asciz\t\"")
                if !token.isEmpty { token.withUnsafeBufferPointer { out.append($0.baseAddress!, $0.count) } }
                out.append("\"\n")
            }
            try out.write("\n")
        }

        func tokenIndex() throws { try decimalBlock("kallsyms_token_index", "\t.short\t", table.tokenIndex) }

        func offsets(comments: Bool) throws {
            guard case .offsets(let words, _, _) = table.addressEncoding else { return }
            try label("kallsyms_offsets")
            try table.symbols.bytes.withUnsafeBufferPointer { symbolBytes in
                for i in 0 ..< words.count {
                    try out.reserve(32)
                    out.append("\t.long\t")
                    out.alternateHex(UInt64(words[i]))
                    if comments { try comment(i, symbolBytes.baseAddress!) }
                    out.byte(0x0A)
                }
            }
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
            try label("kallsyms_relative_base")
            try relativeAddress(base)
            try out.write("\n")
        }

        func addresses() throws {
            guard case .addresses(let addrs, let absolute) = table.addressEncoding else { return }
            try label("kallsyms_addresses")
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

        func seqs(comments: Bool) throws {
            try label("kallsyms_seqs_of_names")
            try table.symbols.bytes.withUnsafeBufferPointer { symbolBytes in
                for seq in table.seqsOfNames {
                    try out.reserve(32)
                    out.append("\t.byte ")
                    out.hexByte(UInt8(truncatingIfNeeded: seq >> 16))
                    out.append(", ")
                    out.hexByte(UInt8(truncatingIfNeeded: seq >> 8))
                    out.append(", ")
                    out.hexByte(UInt8(truncatingIfNeeded: seq))
                    if comments { try comment(Int(seq), symbolBytes.baseAddress!) }
                    out.byte(0x0A)
                }
            }
            try out.write("\n")
        }
    }
}
