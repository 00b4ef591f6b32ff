import ArgumentParser
import ELFKit
import KallsymsCore
import KernelImage
import MapDiff

struct Diff: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compare two symbol lists and explain the difference (the kernel's \"Inconsistent kallsyms data\").",
        discussion: """
            A and B are System.maps or `nm -n` listings, ELF vmlinux files or kernel images, in any \
            mix; B is the newer side (deltas are B - A). The first line is the verdict: identical, a \
            uniform shift, consistent up to shifts (what link passes produce when the kallsyms \
            table changes size), or different, with the likely cause. Exit status: 0 identical, \
            1 different, 2 bad input.
            """)

    @Argument(help: "The first list (e.g. .tmp_vmlinux2.syms; `-`: standard input).", completion: .file())
    var a: String

    @Argument(help: "The second list (e.g. System.map).", completion: .file())
    var b: String

    @Flag(help: "Print the report as JSON.")
    var json = false

    func run() throws {
        let (symbolsA, kindA) = try loadSymbols(path: a)
        let (symbolsB, kindB) = try loadSymbols(path: b)
        let report = MapDiff.compare(symbolsA, symbolsB)
        writeStdout(json ? report.json() : report.text(sourceA: "\(a) (\(kindA))", sourceB: "\(b) (\(kindB))"))
        if report.verdict != .identical { throw ExitCode(1) }
    }
}

/// The symbols of one input of `kallsyms diff`, and what kind of input it was.
///
/// An ELF file with a symbol table gives its System.map (`nm -n | mksysmap`, as `syms` prints
/// it), which is what the kernel's own consistency check compares; a stripped ELF or any other
/// kernel image gives the symbols of its kallsyms table, through the reader.
///
/// Sniffing: an ELF, or a file whose first 64 KiB hold a control byte other than tab, CR and LF
/// (compressed data, boot sectors), is read as an image; anything else as a text map.
func loadSymbols(path: String) throws -> (SymbolList, String) {
    let bytes = try FileIO.read(path)
    let isELF = bytes.count >= 4 && bytes[0] == 0x7F && bytes[1] == 0x45 && bytes[2] == 0x4C && bytes[3] == 0x46
    // A map's names may hold any byte but NUL and newline (the kernel's parser takes them), so
    // what marks text is no NUL and a first line that starts like `HEX TYPE NAME`.
    let head = bytes.prefix(1 << 16)
    let firstLine = head.prefix { $0 != 0x0A }
    let digits = firstLine.prefix { ($0 >= 0x30 && $0 <= 0x39) || ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x66) }
    // (`nm -n` starts with its undefined symbols: blanks where the address would be.)
    let looksLikeText =
        bytes.isEmpty || (!head.contains(0) && (firstLine.first == 0x20 || (!digits.isEmpty && firstLine.dropFirst(digits.count).first == 0x20)))
    if !isELF && looksLikeText {
        return (try MapDiff.parseMap(bytes, file: path), "symbol map")
    }
    do {
        if isELF {
            let listing = try NMListing.read(ELFFile(bytes))
            if !listing.symbols.isEmpty {
                return (SymbolFilter().apply(listing.symbols, addressWidth: listing.addressWidth), "ELF symbols through mksysmap")
            }
        }
        let kernel = try KernelImage.read(bytes: bytes)
        return (kernel.symbols, "kallsyms table: " + kernel.steps.joined(separator: " → "))
    } catch let e as KallsymsError {
        throw e.inFile(path)
    } catch let e as ELFError {
        throw KallsymsError(.malformed, e.message, file: path, offset: e.offset)
    }
}
