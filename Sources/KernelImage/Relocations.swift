import ELFKit

/// The dynamic relocations a relocatable kernel carries for itself. Kernels linked with
/// `-pie` / `--no-apply-dynamic-relocs` (arm64, s390x, ppc64, riscv, loongarch) leave pointer
/// words — `kallsyms_relative_base` among them — zero in the file and fill them in at boot from
/// these records, so they are the image's own statement of the value.
struct ImageRelocations: Sendable {
    /// The relocation numbers of one architecture: the position-independent one, and the
    /// absolute pointer-sized one that names a symbol.
    struct Kind: Sendable {
        var machine: ELFMachine
        var order: ByteOrder?
        var relative: RelocationType
        var absolute: RelocationType
        var relativeName: String
        var absoluteName: String
    }

    /// Each architecture whose kernels relocate themselves from Elf64_Rela records.
    static let kinds: [Kind] = [
        Kind(
            machine: .aarch64, order: .little, relative: RelocationType.AArch64.relative,
            absolute: RelocationType.AArch64.abs64, relativeName: "R_AARCH64_RELATIVE", absoluteName: "R_AARCH64_ABS64"),
        Kind(
            machine: .s390, order: .big, relative: RelocationType.S390.relative, absolute: RelocationType.S390.r64,
            relativeName: "R_390_RELATIVE", absoluteName: "R_390_64"),
        Kind(
            machine: .ppc64, order: nil, relative: RelocationType.PPC64.relative, absolute: RelocationType.PPC64.addr64,
            relativeName: "R_PPC64_RELATIVE", absoluteName: "R_PPC64_ADDR64"),
        Kind(
            machine: .x86_64, order: .little, relative: RelocationType.X86_64.relative,
            absolute: RelocationType.X86_64.r64, relativeName: "R_X86_64_RELATIVE", absoluteName: "R_X86_64_64"),
        Kind(
            machine: .riscv, order: .little, relative: RelocationType.RISCV.relative, absolute: RelocationType.RISCV.r64,
            relativeName: "R_RISCV_RELATIVE", absoluteName: "R_RISCV_64"),
        Kind(
            machine: .loongarch, order: .little, relative: RelocationType.LoongArch.relative,
            absolute: RelocationType.LoongArch.r64, relativeName: "R_LARCH_RELATIVE", absoluteName: "R_LARCH_64"),
    ]

    struct Entry: Sendable {
        var target: UInt64
        /// What the word holds after relocation at the link address (RELATIVE: the addend;
        /// absolute: the symbol's value plus the addend); nil when the symbol is not found.
        var value: UInt64?
        var absolute: Bool
    }

    var kind: Kind
    var entries: [Entry]
    /// File offset of the record run, and of the dynamic symbol table when one was needed.
    var offset: Int
    var symbolTableOffset: Int?

    /// The longest run of Elf64_Rela records of one architecture's two kinds; `architecture`
    /// restricts the kinds tried. Nil when no run of at least 16 records exists.
    static func scan(_ r: TableLocator.Reader, architecture: Architecture?) -> ImageRelocations? {
        var best: ImageRelocations?
        for kind in kinds where (kind.order == nil || kind.order == r.order) && (architecture == nil || kind.machine == architecture?.machine) {
            guard let (start, raw) = longestRun(r, kind), raw.count >= 16, raw.count > best?.entries.count ?? 0 else { continue }
            var found = ImageRelocations(kind: kind, entries: [], offset: start, symbolTableOffset: nil)
            let highest = raw.map(\.symbol).max() ?? 0
            let symbols = highest > 0 ? symbolTable(r, count: Int(highest) + 1) : nil
            found.symbolTableOffset = symbols
            found.entries = raw.map { e in
                guard e.symbol != 0 else { return Entry(target: e.target, value: e.addend, absolute: false) }
                guard let at = symbols else { return Entry(target: e.target, value: nil, absolute: true) }
                let value = try? r.u64(at + 24 * Int(e.symbol) + 8)
                return Entry(target: e.target, value: value.map { $0 &+ e.addend }, absolute: true)
            }
            best = found
        }
        return best
    }

    /// Records are 24 bytes (offset, info = symbol << 32 | type, addend); a RELATIVE record names
    /// no symbol. Stray matches elsewhere in the image make short runs and lose to the table.
    static func longestRun(_ r: TableLocator.Reader, _ kind: Kind)
        -> (start: Int, [(target: UInt64, symbol: UInt32, addend: UInt64)])?
    {
        let b = r.b
        var best: (Int, [(target: UInt64, symbol: UInt32, addend: UInt64)])?
        var run: [(target: UInt64, symbol: UInt32, addend: UInt64)] = []
        var runStart = 0
        var i = 0
        func close() {
            if run.count > best?.1.count ?? 0 { best = (runStart, run) }
            run.removeAll(keepingCapacity: true)
        }
        while i + 24 <= b.count {
            guard let info = try? r.u64(i + 8), let target = try? r.u64(i), let addend = try? r.u64(i + 16) else { break }
            let type = RelocationType(rawValue: UInt32(truncatingIfNeeded: info))
            let symbol = UInt32(truncatingIfNeeded: info >> 32)
            if (type == kind.relative && symbol == 0) || (type == kind.absolute && symbol != 0 && symbol < 1 << 20) {
                if run.isEmpty { runStart = i }
                run.append((target, symbol, addend))
                i += 24
            } else {
                if !run.isEmpty { close() }
                i += 8
            }
        }
        close()
        return best
    }

    /// The Elf64_Sym array the absolute records index: a null entry, then `count - 1` entries
    /// each with a name (section symbols excepted) and a known binding, type and visibility.
    static func symbolTable(_ r: TableLocator.Reader, count: Int) -> Int? {
        let b = r.b
        let types: Set<SymbolType> = [.notype, .object, .function, .section, .file, .common, .tls, .gnuIFunc]
        let bindings: Set<SymbolBinding> = [.local, .global, .weak, .gnuUnique]
        func plausible(_ o: Int) -> Bool {
            guard let name = try? r.u32(o) else { return false }
            let info = b[o + 4]
            let type = SymbolType(rawValue: info & 0xF)
            // st_other: visibility in bits 0-1; ppc64 keeps its local entry point in bits 5-7.
            guard types.contains(type), bindings.contains(SymbolBinding(rawValue: info >> 4)), b[o + 5] & 0x1C == 0,
                name < 1 << 24
            else { return false }
            return name != 0 || type == .section
        }
        var p = 0
        while p <= b.count - 24 * count {
            defer { p += 8 }
            guard r.zeros(p, p + 24), plausible(p + 24) else { continue }
            var good = true
            for k in 2 ..< max(count, 2) where !plausible(p + 24 * k) {
                good = false
                break
            }
            if good { return p }
        }
        return nil
    }

    func name(_ e: Entry) -> String { e.absolute ? kind.absoluteName : kind.relativeName }
}
