import FuzzSupport
import ELFKit
import KallsymsCore

/// Every reading of an ELF file: headers, sections, segments, symbols, relocations, notes, and
/// the nm listing with the mksysmap filter.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let elf = try? ELFFile(bytes) else { return 0 }
    for s in elf.sections {
        _ = try? elf.contents(s)
        if s.type == .rel || s.type == .rela { _ = try? elf.relocations(in: s) }
    }
    _ = try? elf.symbols()
    _ = try? elf.notes()
    _ = try? elf.buildID()
    if let listing = try? NMListing.read(elf) {
        let kept = SymbolFilter().apply(listing.symbols, addressWidth: listing.addressWidth)
        _ = NMListing.text(kept, addressWidth: listing.addressWidth)
        _ = SymbolFilter(base: .linux61).apply(listing.symbols, addressWidth: listing.addressWidth)
    }
    return 0
}

/// The entry SwiftPM links in place of `main` (see FuzzSupport).
@_cdecl("FuzzELF_main")
public func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    runLibFuzzer(argc, argv) { data, size in fuzz(data, size) }
}
