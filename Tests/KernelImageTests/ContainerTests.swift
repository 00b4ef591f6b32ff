import Foundation
import KallsymsCore
import KallsymsTestSupport
import KernelImage
import Testing

/// The containers and compressions a kernel arrives in, around a small table blob.
@Suite struct ContainerTests {
    static func blob() throws -> (bytes: [UInt8], symbols: SymbolList) {
        let c = LayoutTests.Case(order: .v64, kind: .baseRelative, pointerSize: 8, littleEndian: true)
        let t = try LayoutTests.sourceTable(c)
        return (LayoutTests.encode(t, c).bytes, t.symbols)
    }

    /// Compresses with the system's own command-line tool (the way kernel builds do).
    static func compress(_ bytes: [UInt8], _ tool: [String]) throws -> [UInt8] {
        let r = try runProcess(tool[0], Array(tool.dropFirst()), stdin: bytes)
        guard r.status == 0 else { throw SupportError("\(tool) failed: \(String(decoding: r.stderr, as: UTF8.self))") }
        return r.stdout
    }

    static let tools: [(Compression, [String])] = [
        (.gzip, ["/usr/bin/gzip", "-9c"]), (.xz, ["/usr/bin/xz", "-c", "--check=crc32"]),
        (.lzma, ["/usr/bin/xz", "--format=lzma", "-c"]), (.zstd, ["/usr/bin/zstd", "-19", "-c", "-q"]),
        (.lz4, ["/usr/bin/lz4", "-l", "-c", "-q"]), (.bzip2, ["/usr/bin/bzip2", "-c"]),
    ]

    @Test(arguments: tools.map { $0.0.rawValue })
    func everyCompressionUnwraps(_ name: String) throws {
        let (bytes, symbols) = try Self.blob()
        let tool = Self.tools.first { $0.0.rawValue == name }!
        var packed = try Self.compress(bytes, tool.1)
        packed += [0x78, 0x56, 0x34, 0x12]  // kernels append the uncompressed size
        let image = try KernelImage.read(bytes: packed)
        let same = image.symbols == symbols
        #expect(same)
        #expect(image.steps.first == "\(name) file")
        // Truncated, the stream is an error that says so, not a crash.
        let cut = Array(packed[0 ..< packed.count / 2])
        #expect(throws: KallsymsError.self) { try KernelImage.read(bytes: cut) }
    }

    /// Output larger than the first buffer (no size known: 4 MiB) keeps growing until the end.
    @Test func largePayloadsGrowPastTheFirstBuffer() throws {
        let (bytes, symbols) = try Self.blob()
        let big = [UInt8](repeating: 0x90, count: 9 << 20) + bytes
        for tool in [["/usr/bin/gzip", "-1c"], ["/usr/bin/xz", "-0", "-c"]] {
            let packed = try Self.compress(big, tool)
            let image = try KernelImage.read(bytes: packed)
            #expect(image.kernelSize == big.count)
            #expect(image.symbols == symbols)
        }
    }

    /// A decompression bomb: 200 MiB of zeros in a few hundred KiB. The reader stops at a small
    /// multiple of the file's size with an error, instead of allocating what the stream asks.
    @Test(arguments: ["gzip", "xz", "zstd", "bzip2"])
    func decompressionIsBoundedByTheInputsSize(_ name: String) throws {
        let tool = Self.tools.first { $0.0.rawValue == name }!
        let packed = try Self.compress([UInt8](repeating: 0, count: 200 << 20), tool.1)
        #expect(packed.count < 1 << 20)
        let cap = packed.count * KernelImage.maxExpansion + (16 << 20)
        #expect {
            try KernelImage.read(bytes: packed)
        } throws: { e in
            (e as? KallsymsError)?.message.contains("expands past \(cap) bytes") == true
                || "\(e)".contains("expands past \(cap) bytes")
        }
    }

    @Test func bzImageZbootAndArm64ImageHeaders() throws {
        let (bytes, symbols) = try Self.blob()
        let gz = try Self.compress(bytes, ["/usr/bin/gzip", "-9c"])
        // x86 bzImage: one setup sector after the boot sector, payload located by the header.
        var bz = [UInt8](repeating: 0, count: 1024)
        bz[0x1F1] = 1
        bz.replaceSubrange(0x202 ..< 0x206, with: Array("HdrS".utf8))
        bz[0x206] = 0x0F
        bz[0x207] = 0x02
        let payloadOffset = 0x40
        func put32(_ a: inout [UInt8], _ o: Int, _ v: Int) { for k in 0 ..< 4 { a[o + k] = UInt8(v >> (8 * k) & 0xFF) } }
        put32(&bz, 0x248, payloadOffset)
        put32(&bz, 0x24C, gz.count)
        bz += [UInt8](repeating: 0xCC, count: payloadOffset) + gz + [1, 2, 3, 4]
        let x86 = try KernelImage.read(bytes: bz)
        #expect(x86.symbols == symbols)
        #expect(x86.steps.first?.hasPrefix("bzImage payload at 0x440") == true)
        // A payload length past the end is an error naming the header field.
        var lying = bz
        put32(&lying, 0x24C, 1 << 30)
        #expect(throws: KallsymsError.self) { try KernelImage.read(bytes: lying) }

        // EFI zboot.
        var zb = [UInt8](repeating: 0, count: 0x100)
        zb[0] = 0x4D
        zb[1] = 0x5A
        zb.replaceSubrange(4 ..< 8, with: Array("zimg".utf8))
        put32(&zb, 8, 0x100)
        put32(&zb, 12, gz.count)
        zb.replaceSubrange(0x18 ..< 0x1C, with: Array("gzip".utf8))
        zb += gz
        let efi = try KernelImage.read(bytes: zb)
        #expect(efi.symbols == symbols)
        #expect(efi.steps.first?.hasPrefix("EFI zboot payload (gzip)") == true)

        // arm64 Image header magic at 0x38.
        var img = bytes
        img.replaceSubrange(0x38 ..< 0x3C, with: [0x41, 0x52, 0x4D, 0x64])
        let arm64 = try KernelImage.read(bytes: img)
        #expect(arm64.symbols == symbols)
        #expect(arm64.architecture == "arm64")

        // A decompressor with the kernel as an embedded stream somewhere inside (zImage, s390).
        let embedded = [UInt8](repeating: 0x90, count: 5000) + gz + [UInt8](repeating: 0, count: 300)
        let inner = try KernelImage.read(bytes: embedded)
        #expect(inner.symbols == symbols)
        #expect(inner.steps.first == "embedded gzip stream at 0x1388")
    }

    @Test func garbageAndCorruptionGiveErrorsNotCrashes() throws {
        var rng = SplitMix(seed: 1)
        let noise = (0 ..< 200_000).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        #expect(throws: KallsymsError.self) { try KernelImage.read(bytes: noise) }
        #expect(throws: KallsymsError.self) { try KernelImage.read(bytes: []) }
        // Every single-byte corruption of a table either still decodes consistently or fails
        // with an error; sample positions across the whole blob.
        let (bytes, _) = try Self.blob()
        for o in stride(from: 0, to: bytes.count, by: 7) {
            var bad = bytes
            bad[o] ^= 0x5A
            do {
                let k = try KernelImage.read(bytes: bad)
                #expect(k.table.numSyms == k.symbols.count)
            } catch is KallsymsError {
            }
        }
    }
}
