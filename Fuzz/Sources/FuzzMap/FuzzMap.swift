import KallsymsCore
import MapDiff

/// Map text through both versions' parsers and the whole generator (the table is then decoded
/// and must give back what went in), and through the differ's parser.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    for format in KallsymsFormat.allCases {
        for all in [false, true] {
            let options = GeneratorOptions(format: format, allSymbols: all, absolutePercpu: all)
            guard let table = try? KallsymsGenerator.generate(mapBytes: bytes, options: options) else { continue }
            try? AssemblyWriter.write(table, to: ByteOutput { _ in })
            // A NUL type byte is lost in the kernel's own token table (printed with %s): such a
            // table does not decode to its input, by the reference's design.
            if (0 ..< table.symbols.count).contains(where: { table.symbols.type($0) == 0 }) { continue }
            guard let decoded = try? TableDecoder.decode(table) else { fatalError("table does not decode (\(format), all: \(all))") }
            if decoded != table.symbols {
                let n = min(decoded.count, table.symbols.count)
                let i = (0 ..< n).first { decoded.addresses[$0] != table.symbols.addresses[$0] || decoded.typeAndName($0) != table.symbols.typeAndName($0) } ?? n
                fatalError("table does not decode to its symbols (\(format), all: \(all)): \(decoded.count) vs \(table.symbols.count), first difference at \(i): \(i < n ? "\(decoded.addresses[i]) \(Array(decoded.typeAndName(i))) vs \(table.symbols.addresses[i]) \(Array(table.symbols.typeAndName(i)))" : "")")
            }
        }
    }
    if let list = try? MapDiff.parseMap(bytes, file: "fuzz") {
        _ = MapDiff.compare(list, list)
    }
    return 0
}

/// SwiftPM links executables with `main` renamed to `FuzzMap_main`; hand control to libFuzzer's
/// driver from there (its own `main` is then never pulled from the archive).
@_silgen_name("LLVMFuzzerRunDriver")
func runDriver(
    _ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt
) -> CInt

@_cdecl("FuzzMap_main")
public func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    var count = argc
    var arguments: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = argv
    return runDriver(&count, &arguments) { data, size in fuzz(data, size) }
}
