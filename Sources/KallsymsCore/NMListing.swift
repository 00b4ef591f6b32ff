import ELFKit
#if canImport(Glibc)
    import Glibc
#endif

/// The symbols `nm -n FILE` prints for an ELF file: the same entries, type letters and order as
/// GNU nm (binutils 2.40), so the link driver needs no `nm` process and sees exactly what the
/// kernel's `mksysmap` sees.
///
/// What nm shows and how, as binutils' BFD decides it for ELF:
/// - every `.symtab` entry but the first, except section and file symbols (BFD marks them as
///   debugging symbols, which nm hides); mapping symbols (`$x`, `$d`, …) are listed, as nm 2.40
///   lists them;
/// - the letter: `U`/`w`/`v` undefined, `C` common, `a` absolute, `i` ifunc, `W`/`V` weak,
///   `u` unique, else from the section: code `t`, read-only data `r`, data `d`, small data `g`,
///   no contents `b` (`s` when small), debugging `N`, other read-only `n`; upper case when global;
/// - the order of `-n`: undefined symbols first (by name), then by address, then by name
///   (`strcmp`, the kernel build's C locale), then symbol table order (glibc's stable qsort).
public struct NMListing: Sendable {
    /// The symbols in `nm -n` order; each entry's type byte is nm's letter.
    public var symbols: SymbolList
    /// Hex digits in an address: 16 for ELF64, 8 for ELF32.
    public var addressWidth: Int

    /// A listing from symbols already in `nm -n` order (to print one with ``text()``).
    ///
    /// - Parameters:
    ///   - symbols: The symbols, with nm's letters.
    ///   - addressWidth: Hex digits of an address: 16 for ELF64, 8 for ELF32.
    public init(symbols: SymbolList, addressWidth: Int) {
        self.symbols = symbols
        self.addressWidth = addressWidth
    }

    /// Letters nm prints with a blank value: their symbols have no address, and the kernel's
    /// mksysmap drops them.
    ///
    /// - Parameter letter: An nm type letter.
    /// - Returns: True for `U`, `w` and `v`.
    @inline(__always) public static func isUndefined(_ letter: UInt8) -> Bool {
        letter == UInt8(ascii: "U") || letter == UInt8(ascii: "w") || letter == UInt8(ascii: "v")
    }

    /// Reads the listing of an ELF file's `.symtab` (empty when it has none).
    ///
    /// - Parameter elf: An ELF file: an object, or a linked image such as vmlinux.
    /// - Returns: The symbols with nm's letters, in `nm -n` order.
    /// - Throws: `ELFError` when the symbol or string table lies outside the file.
    public static func read(_ elf: ELFFile) throws -> NMListing {
        let width = elf.is64 ? 16 : 8
        guard let tableIndex = elf.sections.firstIndex(where: { $0.type == .symtab }) else {
            return NMListing(symbols: SymbolList(), addressWidth: width)
        }
        let classes = sectionClasses(elf)
        // The letter a section gives its symbols, worked out once per section.
        let sectionLetters = classes.map { $0.1.exists ? $0.1.letter(name: $0.0) : UInt8(ascii: "a") }
        let raw = try RawSymbols(elf, tableIndex: tableIndex)
        let n = raw.count
        var letters = [UInt8](repeating: 0, count: n)
        var keep = [Bool](repeating: false, count: n)
        var values = [UInt64](repeating: 0, count: n)
        for i in 1 ..< max(n, 1) {
            let info = try raw.info(i)
            let type = SymbolType(rawValue: info & 0xF)
            if type == .section || type == .file { continue }
            let shndx = try raw.sectionIndex(i)
            let (letter, value) = self.letter(
                binding: SymbolBinding(rawValue: info >> 4), type: type, shndx: shndx, value: try raw.value(i),
                size: try raw.size(i), sectionLetters: sectionLetters, machine: elf.machine)
            letters[i] = letter
            values[i] = value
            keep[i] = true
        }
        // Sort: undefined first (by name), then value, then name, then table order.
        var order: [Int32] = []
        order.reserveCapacity(n)
        var nameStart = [Int32](repeating: 0, count: n)
        var nameEnd = [Int32](repeating: 0, count: n)
        for i in 0 ..< n where keep[i] {
            order.append(Int32(i))
            let r = try raw.nameRange(i)
            nameStart[i] = Int32(r.lowerBound)
            nameEnd[i] = Int32(r.upperBound)
        }
        let undefinedFlags = letters.map { isUndefined($0) }
        raw.strings.withUnsafeBufferPointer { strtab in
            let base = strtab.baseAddress!
            order.sort { x, y in
                let i = Int(x), j = Int(y)
                let ui = undefinedFlags[i], uj = undefinedFlags[j]
                if ui != uj { return ui }
                if !ui && values[i] != values[j] { return values[i] < values[j] }
                let a = UnsafeBufferPointer(start: base + Int(nameStart[i]), count: Int(nameEnd[i] - nameStart[i]))
                let b = UnsafeBufferPointer(start: base + Int(nameStart[j]), count: Int(nameEnd[j] - nameStart[j]))
                let c = compareBytes(a, b)
                if c != 0 { return c < 0 }
                return i < j
            }
        }
        var list = SymbolList()
        list.reserveCapacity(symbols: order.count, bytes: raw.strings.count + order.count)
        raw.strings.withUnsafeBufferPointer { strtab in
            for x in order {
                let i = Int(x)
                list.append(
                    address: undefinedFlags[i] ? 0 : values[i], type: letters[i],
                    name: UnsafeBufferPointer(rebasing: strtab[Int(nameStart[i]) ..< Int(nameEnd[i])]))
            }
        }
        return NMListing(symbols: list, addressWidth: width)
    }

    /// `nm -n`'s text: `%016lx %c %s` (8 digits for ELF32), blanks for undefined symbols.
    ///
    /// - Returns: The bytes nm prints for this listing.
    public func text() -> [UInt8] { Self.text(symbols, addressWidth: addressWidth) }

    /// The map text of any symbol list, in nm's line format: what the generator reads, so a
    /// filtered listing can be written as the System.map of a 6.x build.
    ///
    /// - Parameters:
    ///   - symbols: The symbols, in the order to print them.
    ///   - addressWidth: Hex digits of an address (16 for ELF64, 8 for ELF32).
    /// - Returns: One `ADDRESS TYPE NAME` line per symbol.
    public static func text(_ symbols: SymbolList, addressWidth: Int) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(symbols.bytes.count + symbols.count * (addressWidth + 4))
        let hex = Array("0123456789abcdef".utf8)
        for i in 0 ..< symbols.count {
            let letter = symbols.type(i)
            if isUndefined(letter) {
                out.append(contentsOf: repeatElement(0x20, count: addressWidth))
            } else {
                let a = symbols.addresses[i]
                for k in stride(from: addressWidth - 1, through: 0, by: -1) {
                    out.append(hex[Int((a >> (UInt64(k) * 4)) & 0xF)])
                }
            }
            out.append(0x20)
            out.append(letter)
            out.append(0x20)
            out.append(contentsOf: symbols.name(i))
            out.append(0x0A)
        }
        return out
    }

    // MARK: - BFD's view of sections and symbols

    /// What BFD derives from a section header that decides a letter.
    struct SectionClass {
        var code = false, data = false, readOnly = false, hasContents = false, debugging = false
        var smallData = false, exists = false

        /// BFD's `decode_section_type` (preceded by the COFF name table, which for ELF only
        /// matters for PE-style names such as `.idata`).
        func letter(name: String) -> UInt8 {
            if let c = coffLetter(name) { return c }
            if code { return UInt8(ascii: "t") }
            if data {
                if readOnly { return UInt8(ascii: "r") }
                return smallData ? UInt8(ascii: "g") : UInt8(ascii: "d")
            }
            if !hasContents { return smallData ? UInt8(ascii: "s") : UInt8(ascii: "b") }
            if debugging { return UInt8(ascii: "N") }
            if readOnly { return UInt8(ascii: "n") }
            return UInt8(ascii: "?")
        }
    }

    /// BFD's table of section-name prefixes whose letter is fixed, matched when the prefix is
    /// the whole name or is followed by `.`, `$` or a digit.
    static func coffLetter(_ name: String) -> UInt8? {
        let table: [(String, UInt8)] = [
            (".drectve", UInt8(ascii: "i")), (".edata", UInt8(ascii: "e")), (".idata", UInt8(ascii: "i")),
            (".pdata", UInt8(ascii: "p")),
        ]
        let bytes = Array(name.utf8)
        for (prefix, letter) in table {
            let p = Array(prefix.utf8)
            guard bytes.count >= p.count, Array(bytes[0 ..< p.count]) == p else { continue }
            if bytes.count == p.count { return letter }
            let next = bytes[p.count]
            if next == UInt8(ascii: ".") || next == UInt8(ascii: "$") || (next >= 0x30 && next <= 0x39) { return letter }
        }
        return nil
    }

    /// `(letter name, class)` per section header, as `_bfd_elf_make_section_from_shdr` sets the
    /// flags. Sections BFD makes no section of (the null section, the symbol table and its
    /// strings, the section-name table) have `exists == false`: their symbols are treated as
    /// absolute. `.dynsym` and its strings are sections too (BFD keeps them for objcopy): a
    /// linker-script symbol there, powerpc's `__dynamic_symtab`, is `R`.
    static func sectionClasses(_ elf: ELFFile) -> [(String, SectionClass)] {
        let shstrndx = elf.sections.firstIndex { $0.type == .strtab && $0.name == ".shstrtab" }
        var symtabStrings = Set<Int>()
        for s in elf.sections where s.type == .symtab { symtabStrings.insert(Int(s.link)) }
        // The machines whose BFD back ends have small-data sections (.sdata, .sbss, ...). Not
        // RISC-V: binutils 2.40's nm prints D/B for its .sdata/.sbss (clang 14 puts data there).
        let smallDataMachines: Set<ELFMachine> = [.mips, .mipsRS3LE, .ppc, .v800, .ia64, .m32r]
        return elf.sections.enumerated().map { index, s in
            var c = SectionClass()
            if index == 0 || s.type == .symtab || index == shstrndx
                || (s.type == .strtab && symtabStrings.contains(index))
            {
                return (s.name, c)
            }
            c.exists = true
            let alloc = s.flags.contains(.alloc)
            c.hasContents = s.type != .nobits
            let load = alloc && c.hasContents
            c.readOnly = !s.flags.contains(.write)
            if s.flags.contains(.execinstr) { c.code = true } else if load { c.data = true }
            if !alloc && s.name.hasPrefix(".") {
                c.debugging =
                    s.name.hasPrefix(".debug") || s.name.hasPrefix(".gnu.debuglto_.debug_")
                    || s.name.hasPrefix(".gnu.linkonce.wi.") || s.name.hasPrefix(".zdebug")
                    || s.name.hasPrefix(".line") || s.name.hasPrefix(".stab") || s.name == ".gdb_index"
            }
            if smallDataMachines.contains(elf.machine) {
                let n = s.name
                c.smallData =
                    n == ".sdata" || n.hasPrefix(".sdata.") || n == ".sbss" || n.hasPrefix(".sbss.")
                    || n == ".sdata2" || n == ".sbss2" || n.hasPrefix(".srodata") || n == ".scommon"
            }
            return (s.name, c)
        }
    }

    /// BFD's `bfd_decode_symclass` over an ELF symbol, and the value nm prints (the size for a
    /// common symbol: BFD keeps it in the value field).
    static func letter(
        binding: SymbolBinding, type: SymbolType, shndx: SectionIndex, value: UInt64, size: UInt64,
        sectionLetters: [UInt8], machine: ELFMachine
    ) -> (UInt8, UInt64) {
        let weak = binding == .weak
        let object = type == .object || type == .common
        let isCommon = shndx == .common || (machine == .x86_64 && shndx == .x86_64LCommon)
        if isCommon { return (UInt8(ascii: "C"), size) }
        if machine == .mips && shndx == .mipsSCommon { return (UInt8(ascii: "c"), size) }
        if shndx == .undef {
            if weak { return (object ? UInt8(ascii: "v") : UInt8(ascii: "w"), 0) }
            return (UInt8(ascii: "U"), 0)
        }
        if type == .gnuIFunc { return (UInt8(ascii: "i"), value) }
        if weak { return (object ? UInt8(ascii: "V") : UInt8(ascii: "W"), value) }
        if binding == .gnuUnique { return (UInt8(ascii: "u"), value) }
        guard binding == .local || binding == .global else { return (UInt8(ascii: "?"), value) }
        var c: UInt8
        let index = Int(shndx.rawValue)
        if shndx.isReserved || index >= sectionLetters.count {
            c = UInt8(ascii: "a")
        } else {
            c = sectionLetters[index]
        }
        if binding == .global && c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z") { c -= 0x20 }
        return (c, value)
    }

    /// Unsigned byte comparison, as `strcmp` in the C locale.
    @inline(__always)
    static func compareBytes(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>) -> Int {
        let n = min(a.count, b.count)
        if n > 0 {
            let c = memcmp(a.baseAddress!, b.baseAddress!, n)
            if c != 0 { return Int(c) }
        }
        return a.count - b.count
    }
}

/// A symbol table read in place: fixed-size entries and one string table, no per-symbol objects.
struct RawSymbols {
    let reader: ByteCursor
    let is64: Bool
    let start: Int
    let count: Int
    /// The string table's bytes, with a terminating NUL guaranteed.
    let strings: [UInt8]

    init(_ elf: ELFFile, tableIndex: Int) throws {
        let table = elf.sections[tableIndex]
        reader = elf.cursor
        is64 = elf.is64
        let entsize = is64 ? 24 : 16
        start = Int(clamping: table.offset)
        let size = Int(clamping: table.size)
        try elf.cursor.check(start, size, "symbol table \(table.name)")
        count = size / entsize
        guard Int(table.link) < elf.sections.count else {
            throw ELFError("symbol table links to missing string table \(table.link)", offset: start)
        }
        let strtab = elf.sections[Int(table.link)]
        var s = Array(try elf.cursor.slice(Int(clamping: strtab.offset), Int(clamping: strtab.size), "string table \(strtab.name)"))
        if s.last != 0 { s.append(0) }
        strings = s
    }

    @inline(__always) func entry(_ i: Int) -> Int { start + i * (is64 ? 24 : 16) }
    func info(_ i: Int) throws -> UInt8 { try reader.u8(entry(i) + (is64 ? 4 : 12)) }
    func sectionIndex(_ i: Int) throws -> SectionIndex {
        SectionIndex(rawValue: try reader.u16(entry(i) + (is64 ? 6 : 14)))
    }
    func value(_ i: Int) throws -> UInt64 { try reader.integer(entry(i) + (is64 ? 8 : 4), is64 ? 8 : 4) }
    func size(_ i: Int) throws -> UInt64 { try reader.integer(entry(i) + (is64 ? 16 : 8), is64 ? 8 : 4) }

    /// The name's bytes in `strings` (a name offset past the table reads as empty, as BFD
    /// reports such names as `(null)` only with a warning; nm then prints nothing useful).
    func nameRange(_ i: Int) throws -> Range<Int> {
        let o = Int(try reader.u32(entry(i)))
        guard o < strings.count else { return strings.count - 1 ..< strings.count - 1 }
        var e = o
        strings.withUnsafeBufferPointer { p in
            if let base = p.baseAddress, let hit = memchr(base + o, 0, p.count - o) {
                e = o + (UnsafeRawPointer(hit) - UnsafeRawPointer(base + o))
            }
        }
        return o ..< e
    }

    func name(_ i: Int) throws -> ArraySlice<UInt8> { strings[try nameRange(i)] }
}


/// Reading `nm -n` listings from files, with errors that name the file.
public enum ELFSymbolSource {
    /// The `nm -n` listing of an ELF file on disk, without running nm.
    ///
    /// - Parameter path: The ELF file; `-` reads standard input.
    /// - Returns: The symbols with nm's letters, in `nm -n` order.
    /// - Throws: ``KallsymsError`` naming the file: `.io` when it cannot be read, `.malformed`
    ///   with the byte offset when it is not a readable ELF file.
    public static func listing(path: String) throws -> NMListing {
        let bytes = try FileIO.read(path)
        do {
            return try NMListing.read(ELFFile(bytes))
        } catch let e as ELFError {
            throw KallsymsError(.malformed, e.message, file: path, offset: e.offset)
        }
    }
}
