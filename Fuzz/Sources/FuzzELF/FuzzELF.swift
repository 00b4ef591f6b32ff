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
        if s.type == ELF.shtREL || s.type == ELF.shtRELA { _ = try? elf.relocations(in: s) }
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

/// SwiftPM links executables with `main` renamed to `FuzzELF_main`; hand control to libFuzzer's
/// driver from there (its own `main` is then never pulled from the archive).
@_silgen_name("LLVMFuzzerRunDriver")
func runDriver(
    _ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt
) -> CInt

@_cdecl("FuzzELF_main")
public func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    var count = argc
    var arguments: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = argv
    return runDriver(&count, &arguments) { data, size in fuzz(data, size) }
}
