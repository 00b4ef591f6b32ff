import CCompression
import ELFKit
import KallsymsCore

#if canImport(Glibc)
    import Glibc
#endif

/// The compressions Linux uses for its images, recognised by their magic bytes and decoded by
/// the system's libraries (zlib, liblzma, libzstd, liblz4, libbz2).
package enum Compression: String, CaseIterable, Sendable {
    case gzip, xz, lzma, zstd, lz4, bzip2

    /// The format whose magic starts at `offset`, if any. `lzma` (the legacy "alone" header)
    /// has a weak magic, so it also requires a plausible dictionary size.
    package static func detect(_ bytes: UnsafeBufferPointer<UInt8>, at offset: Int) -> Compression? {
        func has(_ magic: [UInt8]) -> Bool {
            guard offset >= 0, bytes.count - offset >= magic.count else { return false }
            for k in 0 ..< magic.count where bytes[offset + k] != magic[k] { return false }
            return true
        }
        if has([0x1F, 0x8B, 0x08]) { return .gzip }
        if has([0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00]) { return .xz }
        if has([0x28, 0xB5, 0x2F, 0xFD]) { return .zstd }
        if has([0x02, 0x21, 0x4C, 0x18]) { return .lz4 }
        if has([0x42, 0x5A, 0x68]), bytes.count - offset >= 10, (0x31 ... 0x39).contains(bytes[offset + 3]),
            bytes[offset + 4] == 0x31, bytes[offset + 5] == 0x41, bytes[offset + 6] == 0x59
        {
            return .bzip2
        }
        // lzma-alone: properties byte 0x5D (lc=3 lp=0 pb=2, what the kernel's build uses) and a
        // power-of-two dictionary of 64 KiB ... 1 GiB.
        if has([0x5D, 0x00, 0x00]), bytes.count - offset >= 13 {
            var dict: UInt32 = 0
            for k in 0 ..< 4 { dict |= UInt32(bytes[offset + 1 + k]) << (8 * k) }
            if dict >= 1 << 16, dict <= 1 << 30, dict & (dict - 1) == 0 { return .lzma }
        }
        return nil
    }

    /// Every offset where a compressed stream of some format may start, in file order.
    package static func candidates(in bytes: UnsafeBufferPointer<UInt8>) -> [(offset: Int, format: Compression)] {
        var out: [(Int, Compression)] = []
        guard bytes.count >= 4 else { return out }
        for i in 0 ..< bytes.count - 3 {
            switch bytes[i] {
            case 0x1F, 0xFD, 0x28, 0x02, 0x42, 0x5D:
                if let f = detect(bytes, at: i) { out.append((i, f)) }
            default: continue
            }
        }
        return out
    }
}

/// Decompresses one stream. Output is capped (`limit`) so that a hostile input cannot make us
/// allocate without bound; data after the end of the stream is ignored, as kernel payloads are
/// often followed by a size word or padding.
package enum Decompressor {
    /// `sizeHint`: the expected output size, when a container says (kernel payloads end with it).
    package static func decompress(
        _ input: UnsafeBufferPointer<UInt8>, format: Compression, limit: Int = KernelImage.defaultLimit, sizeHint: Int? = nil
    ) throws -> [UInt8] {
        guard let base = input.baseAddress, !input.isEmpty else {
            throw KallsymsError(.malformed, "empty \(format.rawValue) stream")
        }
        var hint = sizeHint
        if format == .zstd {
            let declared = ZSTD_getFrameContentSize(base, input.count)
            if declared < UInt64(Int.max) / 2 { hint = Int(declared) }
        }
        // A hint is never trusted beyond what a kernel compresses to (~5x): a lying size word
        // must not make us allocate far more than the input.
        if let h = hint, h < 0 || h > limit || h > input.count * 32 + (1 << 20) { hint = nil }
        switch format {
        case .gzip: return try inflate(base, input.count, limit, hint)
        case .xz, .lzma: return try lzma(base, input.count, alone: format == .lzma, limit, hint)
        case .zstd: return try zstd(base, input.count, limit, hint)
        case .lz4: return try lz4Legacy(base, input.count, limit)
        case .bzip2: return try bzip2(base, input.count, limit, hint)
        }
    }

    /// Output goes straight into the result array, sized up front when the stream or its
    /// container says how big it is (no zero fill, no copy); if that turns out too small, or
    /// nothing was known, it grows by doubling. `body` fills `dst[0 ..< room]` and returns
    /// (bytes written, done).
    private static func drive(
        _ format: Compression, _ limit: Int, _ sizeHint: Int?,
        _ body: (UnsafeMutablePointer<UInt8>, Int) throws -> (Int, Bool)
    ) throws -> [UInt8] {
        let capacity = min(max(sizeHint.map { $0 + 4096 } ?? (1 << 22), 1 << 16), limit + 1)
        var finished = false
        var out = try [UInt8](unsafeUninitializedCapacity: capacity) { buf, count in
            var produced = 0
            while produced < capacity {
                let (n, done) = try body(buf.baseAddress! + produced, capacity - produced)
                produced += n
                if done { finished = true; break }
            }
            count = produced
        }
        // The size was unknown or too small: go on in chunks; the array grows by doubling.
        var chunk = [UInt8](repeating: 0, count: 1 << 22)
        while !finished {
            let (n, done) = try chunk.withUnsafeMutableBufferPointer { try body($0.baseAddress!, $0.count) }
            out.append(contentsOf: chunk[..<n])
            finished = done
            guard out.count <= limit else {
                throw KallsymsError(.malformed, "\(format.rawValue) stream expands past \(limit) bytes")
            }
        }
        return out
    }

    private static func inflate(_ src: UnsafePointer<UInt8>, _ count: Int, _ limit: Int, _ hint: Int?) throws -> [UInt8] {
        var s = z_stream()
        // 16 + 15: a gzip wrapper with the largest window.
        guard inflateInit2_(&s, 16 + 15, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw KallsymsError(.malformed, "zlib cannot start")
        }
        defer { inflateEnd(&s) }
        s.next_in = UnsafeMutablePointer(mutating: src)
        var remaining = count
        s.avail_in = 0
        return try drive(.gzip, limit, hint) { dst, room in
            if s.avail_in == 0 && remaining > 0 {
                let n = min(remaining, Int(UInt32.max >> 1))
                s.avail_in = UInt32(n)
                remaining -= n
            }
            s.next_out = dst
            s.avail_out = UInt32(min(room, Int(UInt32.max >> 1)))
            let before = Int(s.avail_out)
            let rc = zlib_inflate(&s, Z_NO_FLUSH)
            let wrote = before - Int(s.avail_out)
            if rc == Z_STREAM_END { return (wrote, true) }
            if rc == Z_BUF_ERROR && s.avail_in == 0 && remaining == 0 {
                throw KallsymsError(.malformed, "gzip stream is truncated", offset: count)
            }
            guard rc == Z_OK || rc == Z_BUF_ERROR else {
                let consumed = count - remaining - Int(s.avail_in)
                throw KallsymsError(.malformed, "gzip data is corrupt (zlib error \(rc))", offset: consumed)
            }
            return (wrote, false)
        }
    }

    private static func lzma(_ src: UnsafePointer<UInt8>, _ count: Int, alone: Bool, _ limit: Int, _ hint: Int?) throws -> [UInt8] {
        var s = lzma_stream()
        // The dictionary size comes from the stream header: a 14-byte file can ask liblzma for a
        // gigabyte. Real kernels use dictionaries of at most 64 MiB and are megabytes long, so
        // the decoder may use 64 times the input plus 16 MiB, and no more.
        let memlimit = UInt64(min(limit, count.multipliedReportingOverflow(by: 64).partialValue + (16 << 20)))
        let rc0 = alone ? lzma_alone_decoder(&s, memlimit) : lzma_stream_decoder(&s, memlimit, 0)
        guard rc0 == LZMA_OK else { throw KallsymsError(.malformed, "liblzma cannot start") }
        defer { lzma_end(&s) }
        s.next_in = src
        s.avail_in = count
        let name: Compression = alone ? .lzma : .xz
        return try drive(name, limit, hint) { dst, room in
            s.next_out = dst
            s.avail_out = room
            // LZMA_FINISH: all input is present; a stream that needs more is truncated.
            let rc = lzma_code(&s, LZMA_FINISH)
            let wrote = room - s.avail_out
            if rc == LZMA_STREAM_END { return (wrote, true) }
            if rc == LZMA_OK { return (wrote, false) }
            if rc == LZMA_BUF_ERROR && s.avail_in == 0 {
                if alone && wrote == 0 { return (0, true) }  // "alone" streams may lack an end marker
                throw KallsymsError(.malformed, "\(name.rawValue) stream is truncated", offset: count)
            }
            if rc == LZMA_BUF_ERROR { return (wrote, false) }
            if rc == LZMA_MEMLIMIT_ERROR {
                throw KallsymsError(
                    .malformed, "\(name.rawValue) stream needs more than \(memlimit) bytes of decoder memory (64 times its size)",
                    offset: 0)
            }
            throw KallsymsError(
                .malformed, "\(name.rawValue) data is corrupt (liblzma error \(rc.rawValue))", offset: count - s.avail_in)
        }
    }

    private static func zstd(_ src: UnsafePointer<UInt8>, _ count: Int, _ limit: Int, _ hint: Int?) throws -> [UInt8] {
        guard let d = ZSTD_createDCtx() else { throw KallsymsError(.malformed, "libzstd cannot start") }
        defer { ZSTD_freeDCtx(d) }
        // Kernel images are compressed with large windows (--ultra -22); allow up to 2 GiB.
        _ = ZSTD_DCtx_setParameter(d, ZSTD_d_windowLogMax, 31)
        var input = ZSTD_inBuffer(src: src, size: count, pos: 0)
        return try drive(.zstd, limit, hint) { dst, room in
            var output = ZSTD_outBuffer(dst: dst, size: room, pos: 0)
            let rc = ZSTD_decompressStream(d, &output, &input)
            if ZSTD_isError(rc) != 0 {
                let why = String(cString: ZSTD_getErrorName(rc))
                throw KallsymsError(.malformed, "zstd data is corrupt (\(why))", offset: input.pos)
            }
            if rc == 0 { return (output.pos, true) }
            if input.pos == count && output.pos < room {
                throw KallsymsError(.malformed, "zstd stream is truncated", offset: count)
            }
            return (output.pos, false)
        }
    }

    /// The lz4 "legacy" frame the kernel uses (`lz4 -l`): a magic, then blocks of
    /// (u32 LE compressed size, data), each expanding to at most 8 MiB, until the input ends, a
    /// zero size, or the magic of a following frame.
    private static func lz4Legacy(_ src: UnsafePointer<UInt8>, _ count: Int, _ limit: Int) throws -> [UInt8] {
        let blockMax = 8 << 20
        var pos = 4
        var out = [UInt8]()
        let sizes = ByteReader(UnsafeBufferPointer(start: src, count: count), order: .little)
        while pos + 4 <= count {
            let size = Int(try sizes.u32(pos))
            if size == 0 || size == 0x184C_2102 { break }
            guard size <= count - pos - 4 else {
                if out.isEmpty { throw KallsymsError(.malformed, "lz4 block of \(size) bytes is truncated", offset: pos) }
                break  // a trailing size word after the last block
            }
            guard out.count + blockMax <= limit + blockMax else {
                throw KallsymsError(.malformed, "lz4 stream expands past \(limit) bytes")
            }
            let start = out.count
            out.append(contentsOf: repeatElement(0, count: blockMax))
            let n = out.withUnsafeMutableBufferPointer { buf -> Int32 in
                (src + pos + 4).withMemoryRebound(to: CChar.self, capacity: size) { s in
                    (buf.baseAddress! + start).withMemoryRebound(to: CChar.self, capacity: blockMax) { d in
                        LZ4_decompress_safe(s, d, Int32(size), Int32(blockMax))
                    }
                }
            }
            guard n >= 0 else {
                if start > 0 { out.removeSubrange(start...); break }  // trailing bytes that only looked like a block
                throw KallsymsError(.malformed, "lz4 block is corrupt", offset: pos)
            }
            out.removeSubrange((start + Int(n))...)
            pos += 4 + size
            if out.count > limit { throw KallsymsError(.malformed, "lz4 stream expands past \(limit) bytes") }
        }
        guard !out.isEmpty else { throw KallsymsError(.malformed, "lz4 stream holds no data", offset: 0) }
        return out
    }

    private static func bzip2(_ src: UnsafePointer<UInt8>, _ count: Int, _ limit: Int, _ hint: Int?) throws -> [UInt8] {
        var s = bz_stream()
        guard BZ2_bzDecompressInit(&s, 0, 0) == BZ_OK else { throw KallsymsError(.malformed, "libbz2 cannot start") }
        defer { BZ2_bzDecompressEnd(&s) }
        var remaining = count
        var next = UnsafeMutableRawPointer(mutating: src).assumingMemoryBound(to: CChar.self)
        s.avail_in = 0
        return try drive(.bzip2, limit, hint) { dst, room in
            if s.avail_in == 0 && remaining > 0 {
                let n = min(remaining, Int(UInt32.max >> 1))
                s.next_in = next
                s.avail_in = UInt32(n)
                next += n
                remaining -= n
            }
            let chunk = min(room, Int(UInt32.max >> 1))
            s.next_out = UnsafeMutableRawPointer(dst).assumingMemoryBound(to: CChar.self)
            s.avail_out = UInt32(chunk)
            let rc = BZ2_bzDecompress(&s)
            let wrote = chunk - Int(s.avail_out)
            if rc == BZ_STREAM_END { return (wrote, true) }
            guard rc == BZ_OK else {
                throw KallsymsError(.malformed, "bzip2 data is corrupt (libbz2 error \(rc))", offset: count - remaining)
            }
            if s.avail_in == 0 && remaining == 0 && wrote == 0 {
                throw KallsymsError(.malformed, "bzip2 stream is truncated", offset: count)
            }
            return (wrote, false)
        }
    }
}

/// zlib's `inflate`, named apart from our own function of the same name.
@inline(__always)
private func zlib_inflate(_ s: inout z_stream, _ flush: Int32) -> Int32 { CCompression.inflate(&s, flush) }
