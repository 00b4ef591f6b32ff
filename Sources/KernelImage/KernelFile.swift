import ELFKit
import KallsymsCore

#if canImport(Glibc)
    import Glibc
#endif

/// Reads a kernel file for the reader. A vmlinux from a `-dbg` package is mostly DWARF
/// (`.debug_*`) and link-time relocations (`.rela.*` from --emit-relocs): 85-90% of its 350-630
/// MB, none of which the reader looks at. The file is mapped, what the reader can use is copied
/// out of the mapping, and the bytes of non-loaded PROGBITS, RELA and REL sections stay zero
/// pages that are never made resident: the result reads like the file with those sections
/// zeroed. Other files (boot images are a few MB) are copied whole.
package enum KernelFile {
    /// `sparseFrom`: files smaller than this are read whole.
    package static func read(_ path: String, sparseFrom: Int = 64 << 20) throws -> [UInt8] {
        guard path != "-" else { return try FileIO.read(path) }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return try FileIO.read(path) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_mode & S_IFMT == S_IFREG, st.st_size >= sparseFrom else { return try FileIO.read(path) }
        let size = Int(st.st_size)
        guard let map = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), map != MAP_FAILED else { return try FileIO.read(path) }
        defer { munmap(map, size) }
        let file = UnsafeBufferPointer(start: map.assumingMemoryBound(to: UInt8.self), count: size)
        guard let skipped = unloadedSections(file), !skipped.isEmpty else { return Array(file) }
        return [UInt8](unsafeUninitializedCapacity: size) { out, count in
            var at = 0
            for r in skipped {
                copy(file, out, at ..< r.lowerBound)
                zero(out, r)
                at = r.upperBound
            }
            copy(file, out, at ..< size)
            count = size
        }
    }

    static func copy(_ from: UnsafeBufferPointer<UInt8>, _ to: UnsafeMutableBufferPointer<UInt8>, _ r: Range<Int>) {
        guard !r.isEmpty else { return }
        (to.baseAddress! + r.lowerBound).update(from: from.baseAddress! + r.lowerBound, count: r.count)
    }

    /// Zeroes `r` without touching its whole pages: MADV_DONTNEED makes private anonymous
    /// memory read as zero-fill-on-demand pages.
    static func zero(_ out: UnsafeMutableBufferPointer<UInt8>, _ r: Range<Int>) {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let base = Int(bitPattern: out.baseAddress!)
        let first = (base + r.lowerBound + page - 1) / page * page - base
        let last = (base + r.upperBound) / page * page - base
        guard first < last else {
            (out.baseAddress! + r.lowerBound).initialize(repeating: 0, count: r.count)
            return
        }
        (out.baseAddress! + r.lowerBound).initialize(repeating: 0, count: first - r.lowerBound)
        if madvise(out.baseAddress! + first, last - first, MADV_DONTNEED) != 0 {
            (out.baseAddress! + first).initialize(repeating: 0, count: last - first)
        }
        (out.baseAddress! + last).initialize(repeating: 0, count: r.upperBound - last)
    }

    /// The file ranges of an ELF's non-loaded PROGBITS and relocation sections, sorted and
    /// disjoint, minus anything else the file describes (headers, every other section), so a
    /// malformed file whose sections overlap keeps every byte another part names.
    static func unloadedSections(_ b: UnsafeBufferPointer<UInt8>) -> [Range<Int>]? {
        guard b.count >= 64, b[0] == 0x7F, b[1] == 0x45, b[2] == 0x4C, b[3] == 0x46, b[4] == 1 || b[4] == 2,
            b[5] == 1 || b[5] == 2
        else { return nil }
        let is64 = b[4] == 2
        let r = ByteReader(b, order: b[5] == 1 ? .little : .big)
        func field(_ o32: Int, _ o64: Int, _ size32: Int) -> Int? {
            let (o, n) = is64 ? (o64, size32 == 2 ? 2 : 8) : (o32, size32)
            guard let v = try? r.integer(o, n) else { return nil }
            return v < UInt64(b.count) ? Int(v) : nil
        }
        guard let phoff = field(0x1C, 0x20, 4), let shoff = field(0x20, 0x28, 4), let phentsize = field(0x2A, 0x36, 2),
            let phnum = field(0x2C, 0x38, 2), let shentsize = field(0x2E, 0x3A, 2), let shnum = field(0x30, 0x3C, 2),
            shentsize >= (is64 ? 64 : 40), shnum > 0, r.contains(shoff, shentsize * shnum)
        else { return nil }
        var skip: [Range<Int>] = []
        var keep: [Range<Int>] = [0 ..< (is64 ? 64 : 52), shoff ..< shoff + shentsize * shnum]
        if phnum > 0 { keep.append(phoff ..< min(b.count, phoff + phentsize * phnum)) }
        for i in 0 ..< shnum {
            let h = shoff + i * shentsize
            let w = is64 ? 8 : 4
            guard let type = try? r.u32(h + 4), let flags = try? r.word(h + 8, w), let offset = try? r.word(h + (is64 ? 24 : 16), w),
                let size = try? r.word(h + (is64 ? 32 : 20), w)
            else { return nil }
            guard SectionType(rawValue: type) != .nobits, offset < UInt64(b.count), size > 0 else { continue }
            let range = Int(offset) ..< Int(offset + min(size, UInt64(b.count) - offset))
            // SHT_PROGBITS, SHT_RELA, SHT_REL not loaded (SHF_ALLOC): DWARF and --emit-relocs' records.
            let unloaded: [SectionType] = [.progbits, .rela, .rel]
            if unloaded.contains(SectionType(rawValue: type)) && !SectionFlags(rawValue: flags).contains(.alloc) && range.count >= 1 << 16 {
                skip.append(range)
            } else {
                keep.append(range)
            }
        }
        // Whole ranges minus every kept one, then sorted and merged.
        var pieces: [Range<Int>] = []
        for s in skip {
            var parts = [s]
            for k in keep where k.overlaps(s) {
                parts = parts.flatMap { p -> [Range<Int>] in
                    guard p.overlaps(k) else { return [p] }
                    return [p.lowerBound ..< max(p.lowerBound, k.lowerBound), min(p.upperBound, k.upperBound) ..< p.upperBound]
                        .filter { !$0.isEmpty }
                }
            }
            pieces += parts
        }
        var out: [Range<Int>] = []
        for p in pieces.sorted(by: { $0.lowerBound < $1.lowerBound }) {
            if let last = out.last, last.upperBound >= p.lowerBound {
                out[out.count - 1] = last.lowerBound ..< max(last.upperBound, p.upperBound)
            } else {
                out.append(p)
            }
        }
        return out
    }
}
