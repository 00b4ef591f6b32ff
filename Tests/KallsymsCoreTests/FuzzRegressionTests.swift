import Foundation
import KallsymsCore
import KallsymsTestSupport
import Testing

/// Inputs the fuzzers (scripts/fuzz.sh) found, each pinned against the reference.
@Suite struct FuzzRegressionTests {
    /// FuzzMap, 2026-11: a line whose type byte is NUL (and NULs inside the address field). The
    /// kernel prints such a token as an empty string and advances its index by strlen + 1, and
    /// 6.12 sorts the name by the compressed bytes its in-place strcpy restore leaves behind.
    static let nulType = "MDAwMDAwMDAwMDQwMDAwMCBUIF9zdGFydAowMDAwMDAwMDAwNDAwMDAwIFQgX3N0ZXh0CjAwMDAwMDAwMDA0MDAwMDAgVCBfdGV4dAowMDAwMDAwMDAwNDAwMDEyIHQgc3lzX3dyaXRlCjAwMDAwMDAwMDA0MDAwMjUgdCBwdXRzXwowMDAwMDAwMDAwNDAwMDRiIHQgcHV0aGV4CjAwMDAwMDAwMDA0MDAwY2UgdCBwcmludF9zeW1ib2wKMDAwMDAwMDAwMDQwMDE3MyBUIHN5c19leGl0CjAwMDAwMDAwMDA0MDAxN2EgVCBkdW1wX3N0YWNrCjAwMDAwMDAwMDA0MDAxYzMgVCBoYW5kbGVfaXJxCjAwMDAwMDAwMDA0MDAxZWMgVCBwcm9jZXNzX3JlcXVlc3QKMDAwMDAwMDAwMDQwMDFmOSBUIG1haW4KMDAwMDAwMDAwMDQwMDI0NyB0IHN5bV9hZGRyZXNzCjAwMDAwMDAwMDA0MDAyNTggdCBleHBhbmRfc3ltYm9sCjAwMDAwMDAwMDA0MDAzMTAgdCBzeW1ib2xfb2Zmc2V0CjAwMDAwMDAwMDA0MDAzNjQgdCBjb21wYXJlCjAwMDAwMDAwMDA0MDAzODcgdCBzZXEKMDAwMDAwMDAwMDQwMDNhYSBUIGthbGxzeW1zX2xvb2t1cAowMDAwMDAwMDAwNDAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAMDRlMSAwMDAwMDAwMDA0MDAxNzMgVCBzeXNfZXhpdAowMDAwMDAwMDAwNDAwMTdhIFQgX3RhYmxlCjAwMDAwMDAwMDA0MDFmMjAgUiBrYWxsc3ltc190b2tlbl9pbmRleAowMDAwMDAwMDAwNDAyMTIwIFIga2FsbHN5bXNfb2Zmc2V0cwowMDAwMDAwMDAwNDAyMmYwIFIga2FsbHN5bXNfcmVsYXRpdmVfYmFzZQowMDAwMDAwMDAwMjAxMWY4IFIga2FsbHN5bXNfc2Vxc19vZl9uYW1lcwowMDAwMDAwMDAwNDAyNDYwIFRfX2VmaXN0dWJfIF9zaW5pdHRleHQKMDAwMDAwMDAwMDQwMjQ2MCBUIGZpcm13YXJlX2luaXQKMDAwMDAwMDAwMDQwMjQ3MCBUIF9laW5pdHRleHQKMDAwMDAwMDAwMDIwMTUwMCBUIF9lbmQK"

    @Test(arguments: [KallsymsFormat.linux612, .linux61])
    func nulTypeBytesMatchTheReference(_ format: KallsymsFormat) throws {
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var small = Array("0000000000001000 T _stext\n0000000000001010 ".utf8) + [0]
        small += Array(" nulltype\n0000000000001020 T foo\n0000000000001030 ".utf8) + [0]
        small += Array(" other\n0000000000002000 T _etext\n".utf8)
        for (k, map) in [Array(Data(base64Encoded: Self.nulType)!), small].enumerated() {
            let path = "\(dir)/map\(k)"
            try Data(map).write(to: URL(fileURLWithPath: path))
            for flags in [[], ["--all-symbols"]] {
                #expect(try DifferentialTests.compare(format, flags, map: map, mapPath: path, label: "case \(k) \(flags)"))
            }
        }
    }
}
