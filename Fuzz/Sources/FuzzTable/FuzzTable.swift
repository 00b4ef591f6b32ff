import ELFKit
import FuzzSupport
import KallsymsCore
@_spi(TableScan) import KernelImage

/// The table decoder given a blob and a layout: the first 40 bytes say where each array is
/// (ten little-endian u32 offsets into the rest) plus the byte order and pointer size; the
/// structural scan runs over the same blob.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let all = UnsafeBufferPointer(start: data, count: size)
    guard size >= 41 else { return 0 }
    func u32(_ o: Int) -> Int {
        Int(all[o]) | Int(all[o + 1]) << 8 | Int(all[o + 2]) << 16 | Int(all[o + 3]) << 24
    }
    let names: [KallsymsArray] = [
        .numSyms, .names, .markers, .tokenTable, .tokenIndex, .offsets, .relativeBase, .seqsOfNames, .addresses,
    ]
    let blob = UnsafeBufferPointer(rebasing: all[41...])
    var at: [KallsymsArray: Int] = [:]
    for (i, name) in names.enumerated() {
        let o = u32(4 * i)
        if o != 0xFFFF_FFFF { at[name] = o % max(1, blob.count + 8) }
    }
    let flags = all[40]
    let order: ByteOrder = flags & 1 == 0 ? .little : .big
    let ptr = flags & 2 == 0 ? 8 : 4
    if let t = try? TableLocator.readAtSymbols(blob, at: at, order: order, pointerSize: ptr) {
        if (try? TableDecoder.decode(t.table)) != t.table.symbols { fatalError("decoded table disagrees") }
        let table = t.table
        table.prepareLookups()
        _ = table.lookup(address: table.symbols.addresses.first ?? 0)
    }
    if let t = try? TableLocator.locate(in: blob, hints: ScanHints(byteOrder: order, pointerSize: ptr)) {
        _ = t.table.lookup(address: 0)
    }
    return 0
}

/// The entry SwiftPM links in place of `main` (see FuzzSupport).
@_cdecl("FuzzTable_main")
public func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    runLibFuzzer(argc, argv) { data, size in fuzz(data, size) }
}
