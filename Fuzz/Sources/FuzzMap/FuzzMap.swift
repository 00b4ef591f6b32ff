import FuzzSupport
import KallsymsCore
import MapDiff

/// Map text through both versions' parsers and the whole generator (the table is then decoded
/// and must give back what went in), and through the differ's parser.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 0 else { return 0 }
    // The first byte picks the version and flags (one generation per input keeps the rate up);
    // flags a version does not take are dropped.
    let flags = data[0]
    let bytes = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    let format = KallsymsFormat.allCases[Int(flags & 7) % KallsymsFormat.allCases.count]
    var options = GeneratorOptions(
        format: format, allSymbols: flags & 8 != 0, absolutePercpu: flags & 16 != 0, baseRelative: flags & 64 != 0,
        ltoClang: flags & 128 != 0, pcRelative: flags & 16 != 0)
    for flag in options.unsupportedFlags {
        switch flag {
        case .absolutePercpu: options.absolutePercpu = false
        case .baseRelative: options.baseRelative = false
        case .ltoClang: options.ltoClang = false
        case .pcRelative: options.pcRelative = false
        case .allSymbols: options.allSymbols = false
        }
    }
    if let table = try? KallsymsGenerator.generate(mapBytes: bytes, options: options) {
        try? AssemblyWriter.write(table, to: ByteOutput { _ in })
        // A NUL type byte is lost in the kernel's own token table (printed with %s): such a
        // table does not decode to its input, by the reference's design.
        // The absolute 32-bit form keeps only the low half of each address.
        if !(0 ..< table.symbols.count).contains(where: { table.symbols.type($0) == 0 }) {
            guard let decoded = try? TableDecoder.decode(table) else { fatalError("table does not decode (\(options))") }
            var expected = table.symbols
            if table.tableFormat.addressing == .absolute32 {
                expected = expected.withAddresses(expected.addresses.map { $0 & 0xFFFF_FFFF })
            }
            if decoded != expected { fatalError("table does not decode to its symbols (\(options))") }
        }
    }
    if flags & 32 != 0, let list = try? MapDiff.parseMap(bytes, file: "fuzz") {
        var shifted = SymbolList()
        for i in 0 ..< list.count { shifted.append(address: list.addresses[i] &+ 0x40, type: list.type(i), name: list.name(i)) }
        _ = MapDiff.compare(list, shifted).text()
    }
    return 0
}

/// The entry SwiftPM links in place of `main` (see FuzzSupport).
@_cdecl("FuzzMap_main")
public func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    runLibFuzzer(argc, argv) { data, size in fuzz(data, size) }
}
