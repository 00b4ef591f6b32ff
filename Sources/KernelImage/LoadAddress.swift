import ELFKit
import KallsymsCore

/// Where a raw kernel's first byte lives, for images that do not carry `_text` in their table
/// (arm without CONFIG_KALLSYMS_ALL). The kernel's exported-symbol table says it: each
/// `struct kernel_symbol` on architectures without PREL32 relocations is { value, name,
/// namespace } as absolute pointers, so an entry whose value is a symbol of the table has a name
/// pointer P to that symbol's name in `__ksymtab_strings`, found in the image at file offset f:
/// the image starts at P - f.
enum LoadAddress {
    struct Found: Sendable, Equatable {
        var address: UInt64
        /// What said so, for the user.
        var source: String
    }

    /// The load address of byte 0 of `k.kernelBytes`, or nil when nothing says. ELF kernels
    /// carry their own addresses (segments) and need none.
    static func of(_ k: KernelImage) -> Found? {
        if let t = k.table.address(of: "_text") { return Found(address: t, source: "_text in the table") }
        if let e = fromExports(k) { return e }
        if k.architecture == .aarch64, case .offsets(_, let rb, _) = k.table.addressEncoding, rb != 0 {
            // arm64's Image starts 2 MiB-aligned below the first symbol.
            return Found(address: rb & ~UInt64(0x1F_FFFF), source: "arm64 Image layout (2 MiB-aligned below the relative base)")
        }
        return nil
    }

    /// The vote of the exported-symbol records: the longest run of { value, name, namespace }
    /// entries whose values are table symbols, then each sampled entry's name looked up in the
    /// image; the answer must be unanimous.
    static func fromExports(_ k: KernelImage) -> Found? {
        let ptr = k.layout.pointerSize
        let s = k.symbols
        var byAddress: [UInt64: [Int]] = [:]
        for i in 0 ..< s.count { byAddress[s.addresses[i], default: []].append(i) }
        return k.kernelBytes.withUnsafeBufferPointer { b -> Found? in
            let r = TableLocator.Reader(b, order: k.layout.byteOrder)
            // Exported variables are not in a table without CONFIG_KALLSYMS_ALL: an entry of the
            // run only needs its value and name inside the kernel's address range.
            let first = s.addresses.first ?? 0
            let low = first - min(first, 16 << 20)
            let high = (s.addresses.last ?? 0) &+ (64 << 20)
            func inKernel(_ v: UInt64) -> Bool { v >= low && v < high }
            // Since 5.4 each entry has a namespace, for nearly all the same empty string: a run
            // shares it, which tells the table from other arrays of kernel pointers (exception
            // tables, operations). Older kernels have { value, name } only.
            var best: (start: Int, count: Int, stride: Int) = (0, 0, 0)
            for width in [3 * ptr, 2 * ptr] where best.count < 64 {
                for phase in stride(from: 0, to: width, by: ptr) {
                    var o = phase
                    var start = o
                    var count = 0
                    var namespace: UInt64 = 0
                    while r.ok(o, width) {
                        let ns = width == 3 * ptr ? (try? r.word(o + 2 * ptr, ptr)) ?? 0 : 0
                        let entry = inKernel((try? r.word(o, ptr)) ?? 0) && inKernel((try? r.word(o + ptr, ptr)) ?? 0)
                        if entry, count > 0, ns == namespace {
                            count += 1
                        } else {
                            if count > best.count { best = (start, count, width) }
                            count = entry && (ns == 0 || inKernel(ns)) ? 1 : 0
                            start = o
                            namespace = ns
                        }
                        o += width
                    }
                    if count > best.count { best = (start, count, width) }
                }
            }
            guard best.count >= 64 else { return nil }
            var votes: [UInt64: Int] = [:]
            let step = max(1, best.count / 64)
            for e in stride(from: 0, to: best.count, by: step) {
                let o = best.start + e * best.stride
                guard let name = try? r.word(o + ptr, ptr), let value = try? r.word(o, ptr), let aliases = byAddress[value]
                else { continue }
                // Only a name found once in the image counts: short names recur in other strings.
                // No NUL is required before it: the linker merges a string into the tail of a
                // longer one ("_printk" inside "dev_printk").
                var places = Set<Int>()
                for i in aliases where s.nameLength(i) >= 8 {
                    places.formUnion(occurrences(of: Array(s.name(i)) + [0], in: b, max: 2))
                }
                guard places.count == 1, let f = places.first, name >= UInt64(f) else { continue }
                votes[name - UInt64(f), default: 0] += 1
            }
            guard votes.count == 1, let (address, n) = votes.first, n >= 4 else { return nil }
            return Found(address: address, source: "from \(n) exported-symbol records (__ksymtab) and their names")
        }
    }

    static func occurrences(of needle: [UInt8], in b: UnsafeBufferPointer<UInt8>, max: Int) -> [Int] {
        guard let base = b.baseAddress else { return [] }
        var found: [Int] = []
        var from = 0
        while found.count < max, from < b.count {
            guard
                let p = needle.withUnsafeBytes({ glibcMemmem(base + from, b.count - from, $0.baseAddress, $0.count) })
            else { break }
            let at = UnsafeRawPointer(p) - UnsafeRawPointer(base)
            found.append(at)
            from = at + 1
        }
        return found
    }
}
