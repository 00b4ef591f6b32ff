import ELFKit
import Foundation
import KallsymsCore
import KallsymsTestSupport
import KernelImage
import Testing

/// The containers and compressions a kernel arrives in, around a small table blob.
@Suite(.tags(.offline)) struct ContainerTests {
    static func blob() throws -> (bytes: [UInt8], symbols: SymbolList) {
        let c = LayoutTests.Case(order: .v6_4, kind: .baseRelative, pointerSize: 8, byteOrder: .little)
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

    /// A decompressor ELF (MIPS `vmlinuz`) holds no table but carries the kernel as an xz stream
    /// in its data: it is unwrapped like any container, and the chain says so. Without a stream,
    /// the error says what was tried.
    @Test func elfDecompressorsAreUnwrapped() throws {
        let (bytes, symbols) = try Self.blob()
        func wrapper(_ data: [UInt8]) -> [UInt8] {
            var w = ELFImageWriter(is64: false, byteOrder: .little, machine: .mips)
            w.regions.append(.init(name: ".text", address: 0x810F_0000, bytes: [UInt8](repeating: 0, count: 4096), executable: true))
            w.regions.append(.init(name: ".data", address: 0x810F_1000, bytes: data, executable: false))
            return w.write()
        }
        let xz = try Self.compress(bytes, ["/usr/bin/xz", "-c", "--check=crc32"])
        let image = try KernelImage.read(bytes: wrapper([UInt8](repeating: 0x11, count: 100) + xz + [0, 0, 0, 0]))
        #expect(image.symbols == symbols)
        #expect(image.steps.first?.hasPrefix("ELF32 mipsel little-endian decompressor: embedded xz stream at 0x") == true)
        #expect(image.steps.count == 3 && image.steps[1].hasPrefix("xz → ") && image.steps[2] == "raw kernel")
        #expect(image.architecture == .mips64el, "the wrapper is 32-bit, the kernel inside 64-bit")
        #expect {
            try KernelImage.read(bytes: wrapper([UInt8](repeating: 0x11, count: 4096)))
        } throws: { e in
            let m = "\(e)"
            return m.contains("ELF32 mipsel little-endian without a kallsyms table: no kallsyms token table")
                && m.contains("no compressed stream inside")
        }
    }

    /// FuzzImage, 2026-11: an ELF whose section header puts a section's file offset near 2^64,
    /// so mapping a kallsyms_* symbol's address to a file offset overflowed and trapped.
    static let overflowingSectionOffset = "H4sICBcrBGsCA2ltZy1jcmFzaADtW31sFNcRn3fG2E6R1lBCQlHgSlGFW+qSlBSMCPGFc/VOsiuSmn4InGN9d8iWffZxtwtGhBqzPoWHe8qHEsmVIvWPtolUpSqV2ouTxuHsAxuSChlHTdpSGocGstHxVRSICTbXmd29897VtEip+ke0P+E38+bNzJuZfXv2Gx3ddfXfcTEGObhgI5izWtsI8HRNXgVl66AExzKYa+iWkrByZtVOT5ZCAc3p5e3cOXltAY0shAKas3v0nBKcC3eOSnDgwMGdg7lwmHLq4MDBHWOOUwIHDhx8BtzImnAq4cCBg/8LVl/k2gdX9Et4HxejuozEJya5uDpAF3QxWi9GpNL0Fi7O7X8YlEVvkAnXRtj+DWtBva6P4cdVU9qQZq6SFtcuuPlo3cTqLtQbrdNpZbTuMpFXN+DwGnFv0A3DY+zgedWwXcoD7/B+Kbmfrv8HvXdPJHYxrxjWPpqj3ZhSFnEM6W1dm5AqhtU/ecWb8RPKycxZHrg+4n1wAnhi34T+I4zkhBHo93jPhX4KU9w8Mh/d6RtxiYv39G1Ij9xNklXI1Sfi22khkWhB8tp+skj8PmLpPoUhxlMK54lBEumf3kLbxWR7BTneN0i2+l3kcQlJ/2pKyZX+Mel+jaRHDWnT5In0kfto/jucZz4YoEJIpWas2oXyI8tord/QrSvnia6sviZrGAKPn1a+xPv2lvN4VpnPtctMX2wsLcEV9bzpO+9I3CStRHdW/wiVtBQz1/VncSb+nPknKeonccJSTYbVkR/Szksp3lXEjbmobKP6AyTZQBIXcRdYTsvI6tI0JrliOYA26ZKeT0lJ9CayfXMG3V+uBV5S+lM3QJoO0SdcvCOG6xMH+tFMSh4i0nuiq6ohwZmUPIUBehMLKxOPZOPjSr1INSS2MWacB/NsZHyo6PJIyc1s6GyZ9n53xZtaypV56+A9XLvEeKKbcXQhJSu9Yqh3XFmEp+IS126x3X/n8etKyUgZeMVYuqHmLeWy729DDB15stIrz4F7GUbzyjAv3byAmHEp+SxxvePqYOaUmBzSy0Wqb068FmW8lGLu+ZB+Jyv3W2dVSkbY0Pky7Wx3xVVtmOE/Mc7ZmDbEam4o8zCe3vGu01JyPHOOf4PM01KyrDelfHHdXFXi2iij98cQqRexdlJyUdVYOrGwW0oemFxeC0MTlViqT5GrOI6R3SDR2fKKMeOBeX7g+b5ni6eRHvc6n5jiQj3OxZYUFw0D9aLuMO/JUuMtWoHMydJa2LVsgGL29UxtX4G5HviLOYnQ5Mk/4sTb99CheQAN4tYfjOQW+05d9LEzXnFZr8IH7qs52iA9cs0nbTrTIK75qs74tGm2+zQdy/sSe7N6KemIY/jC3Jwm7WPqXK5lmPoP8Z5oelk/T0IxwrU0q6+5GbsX9d42RMd8NSPRxy15VLfi8wxSzAMUXb20Se/b97Iexg3EKO/DFPvU4/qLaN1QdQ3fE0x3ZUPVx8gdrhdu47xw7ei6rZ5tnibP4x5/U5rHU+rrmV8Ulq3nwkEqgbiFiT/zBYA6Me3RLrKuJs/rRv4V3kSA1dWce+Ixr9C9VRMiPZRZxtKnbnoZ5qRvMcLR350mkvvM2Ewv/bxp+iwx+HrxiV6BivFU92+9ibZs5jemc+NR1NVMRRfwnqMUhi1Yr/hQnySvaXTf9e/ufz1V4P5XpDFsOIyPq4cxsr2okHnJ+X3mYFaUOiVw4MCBAwcOHOTv//c/8K01D3577boauTkQDO0A99YNsLHJDV+Hb8LDsElub3c3RuVAaP1dEIl2BkKxmD8a2qmGYgqscn+1SOR+yG353dEaDe+Wo6H17jZ0EdsTjvnbOzvb1Ii/Qw6HVi4vMlxeZZneY9mzX7IDrIc9x/axJ9gh1s2eZ/3sRfZj9jP2JHuJ9bIX2CB7hmkszvrYT5zn+HlGo433A8jQDAEIQgh2ALRAK0AbtEMYOqATIrATohADBVSA3dAFe+jmHlGVllCXQWN+aAzLrR3QGNsT84e6WhUwhka/EuoiErNoyKBKoDMcwWMMjbkD7W/taM3JAXUickfQj+e7ubMd7PwMp0SirR1KboY7kIfcLjM8xWPbhsLMTaFxtpcILGIMCpnvjrYqGGpQDUcwDznQZsRpeoHGFoyuHeOP7gQbm2fMUYmFduacgUVwGvbLwWAUX1iw8xYxBmtXMEeqoxzFrIo/MxSzDP7OHTtiIQUKZ+Zo1qvQFGxsnrGIMZAFGRt70M4UBYaFzmhO3gBTQV2gDCnV4qKiTj4eoIqpYcDqYYHArCUdI4wR6wlUZ6x6MIh50yoWGkM0iwP4wDpkwMfXIu/BAxsL0+O0PIPB4pPOP/iZY6IqxTFB0bRgYmctSj8qFQHjN4Q0oBUu0GHD1DEdjBdPKrrGGhlhwMzRxCgAORJgrcAIEBXwfUGWxECHlFLA18b5ZHLg4PPUIXK+xOnAgQMHDhw4cODAgYPPjov4swAvDO/Pqc3PCS5Gf94z25XDRIUhdwF9M8eOpbfRX8FM/zeYKf+uJa+y/NB3k+xYb8mvLC+UP2rJn64slAcseW1RPIohLwFYXSjfY8npyyx29Fpxxqw4yyx5wvLfX7TvC7fJF6iJWR2Ambaf2dy0Wp0FLcdcE6k6UNC9K+xdFnbicm1P6pUVdj7zHSlciqG60YOMQXEvzeqf2pqdeQ2lsy3Ugc6CGKetEWnrWhY3DWftflodxiK3itzcjmvGjkafN79uZmaLNBpql5XWXSF/sxwLzYg71DDVxOY5LEfbQtEY5tQRBFvLNt9BnrE1amH1kKGa3MjNSJWoSVtyXLQzKCsyVJOvalP7f4OV1rV85npdW3CHPln0TRBWZL/Ekrmg6EpvXvHffWxhoX55kf1Xivbfbp3/7Wtmv8qzWeauWfKKWPa8ZKZdMc+2/725zw38KZnFfmCtSX/O/vP+829jv9X6/6/V/yX+fwHPx8oEUDsAAA=="

    @Test func fuzzFoundELFWithAnOverflowingSectionOffset() throws {
        let packed = [UInt8](Data(base64Encoded: Self.overflowingSectionOffset)!)
        let elf = try packed.withUnsafeBufferPointer { try Decompressor.decompress($0, format: .gzip) }
        #expect(elf.starts(with: [0x7F, 0x45, 0x4C, 0x46]))
        // Before the fix this trapped; now it is an answer or an error naming the problem.
        do {
            _ = try KernelImage.read(bytes: elf)
        } catch let e as KallsymsError {
            #expect(!e.message.isEmpty)
        }
    }

    /// FuzzImage (replayed with a 64 MiB malloc limit), 2026-11: a 14-byte .lzma header whose
    /// dictionary size made liblzma allocate a gigabyte before it found the stream truncated; the
    /// replay under the limit now passes. A header with an unknown size and the same dictionary
    /// is refused outright: the decoder may use 64 times the input plus 16 MiB.
    @Test func fuzzFoundLZMAHeaderAskingForAHugeDictionary() throws {
        let found = [UInt8](Data(base64Encoded: "AF0AAABAAABrAAAAAAA=")!)
        #expect(found.count == 14)
        #expect(throws: KallsymsError.self) { try KernelImage.read(bytes: found) }
        let unknownSize: [UInt8] = [0x5D, 0x00, 0x00, 0x00, 0x40] + [UInt8](repeating: 0xFF, count: 8) + [0, 0, 0, 0]
        #expect {
            try unknownSize.withUnsafeBufferPointer { try Decompressor.decompress($0, format: .lzma) }
        } throws: { e in
            "\(e)".contains("decoder memory")
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
        #expect(arm64.architecture == .aarch64)

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
