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
        var t = k.table
        t.prepareLookups()
        _ = t.lookup(address: t.symbols.addresses.last ?? 0)
    }
    return 0
}

/// SwiftPM links executables with `main` renamed to `FuzzImage_main`; hand control to libFuzzer's
/// driver from there (its own `main` is then never pulled from the archive).
@_silgen_name("LLVMFuzzerRunDriver")
func runDriver(
    _ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt
) -> CInt

@_cdecl("FuzzImage_main")
public func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    var count = argc
    var arguments: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = argv
    return runDriver(&count, &arguments) { data, size in fuzz(data, size) }
}
