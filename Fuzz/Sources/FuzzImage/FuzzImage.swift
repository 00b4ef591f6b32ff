import FuzzSupport
import KallsymsCore
import KernelImage

/// The image reader end to end: container sniffing (ELF, bzImage, arm64 Image, zboot, zImage),
/// decompression through the system libraries, and the table scan. The output cap is small so
/// a decompression bomb shows up as a quick error rather than an out-of-memory.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if let k = try? KernelImage.read(bytes: bytes, limit: 64 << 20) {
        _ = ImageReport.text(k)
        let t = k.table
        t.prepareLookups()
        _ = t.lookup(address: t.symbols.addresses.last ?? 0)
    }
    return 0
}

/// The entry SwiftPM links in place of `main` (see FuzzSupport).
@_cdecl("FuzzImage_main")
public func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    runLibFuzzer(argc, argv) { data, size in fuzz(data, size) }
}
