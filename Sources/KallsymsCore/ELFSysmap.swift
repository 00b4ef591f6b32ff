import ELFKit

#if canImport(Glibc)
    import Glibc
#endif

/// The System.map of Linux 7.3: the symbols `scripts/kallsyms --sysmap=OUT vmlinux` writes and
/// feeds its generator. 7.3 reads the vmlinux ELF itself (`scripts/kallsyms-sysmap.c`) instead of
/// running `nm -n | scripts/mksysmap`; its letters are nm's for the common cases but not all of
/// them, so this is its own reader rather than `NMListing` plus a filter.
///
/// How 7.3's listing differs from binutils' `nm -n` through 6.12's mksysmap:
/// - letters come from section flags alone: no `g`/`s` (small data), no `i`/`p`/`e` for
///   COFF-style section names, no MIPS `c`, and x86-64's large common (`SHN_X86_64_LCOMMON`)
///   is `?`, not `C`; a common symbol shows its value, not its size;
/// - the rules judge the name and the letter, not the text line, so a name with a space in it
///   is never dropped for what follows the space;
/// - undefined weak objects (`v`) stay in the map, with their value;
/// - new rules: `__mod_device_table__*` and `__UNIQUE_ID_modinfo_<digits>` are dropped;
/// - order: by address, then name (`strcmp`); no "undefined first" group, since the undefined
///   letters that remain (`v`) carry an address. Ties keep symbol-table order (glibc's `qsort`
///   is a stable merge sort for tables of this size).
///
/// Reading follows the kernel's reads one for one, with every read checked against the file:
/// on every file where the kernel's tool reads only bytes of the file, the listing is the same;
/// where it would read past the end (the C tool then reads the zeros mapped up to the page
/// boundary, then faults or reads whatever memory follows), this throws an error naming the
/// byte offset.
public struct ELFSysmap: Sendable {
    /// The symbols in System.map order; each entry's type byte is 7.3's letter.
    public var symbols: SymbolList
    /// Hex digits of an address: 8 for ELF32, 16 for ELF64.
    public var addressWidth: Int

    /// A listing from symbols already in System.map order (to print one with ``text()``).
    ///
    /// - Parameters:
    ///   - symbols: The symbols, with 7.3's letters.
    ///   - addressWidth: Hex digits of an address: 8 for ELF32, 16 for ELF64.
    public init(symbols: SymbolList, addressWidth: Int) {
        self.symbols = symbols
        self.addressWidth = addressWidth
    }

    /// Reads the 7.3 symbol list of an ELF file's bytes.
    ///
    /// An empty input gives an empty list: 7.3's first link passes an empty file for vmlinux.
    ///
    /// - Parameters:
    ///   - bytes: The ELF file (a linked vmlinux).
    ///   - exclude: Drops symbols whose name matches (beyond 7.3's rules).
    ///   - keep: Keeps symbols 7.3's rules drop when their name matches.
    /// - Returns: The symbols of 7.3's System.map, in its order.
    /// - Throws: ``KallsymsError`` (`.malformed`) with the byte offset of the offending field,
    ///   where the kernel's tool would read outside the file or refuse it.
    public static func read(_ bytes: [UInt8], exclude: [POSIXRegex] = [], keep: [POSIXRegex] = []) throws -> ELFSysmap {
        try bytes.withUnsafeBytes { try read(UnsafeRawBufferPointer($0), exclude: exclude, keep: keep) }
    }

    /// The same, for a file: mapped, not read, as the kernel's tool does (a vmlinux is hundreds of
    /// megabytes of which only the symbol and string tables matter). Errors name the file. As with
    /// the C tool and nm, a file truncated by someone else while it is read ends the process.
    ///
    /// - Parameters:
    ///   - path: The ELF file; `-` reads standard input.
    ///   - exclude: Drops symbols whose name matches (beyond 7.3's rules).
    ///   - keep: Keeps symbols 7.3's rules drop when their name matches.
    /// - Returns: The symbols of 7.3's System.map, in its order.
    /// - Throws: ``KallsymsError`` naming the file: `.io` when it cannot be read, `.malformed`
    ///   with the byte offset of the offending field.
    public static func read(path: String, exclude: [POSIXRegex] = [], keep: [POSIXRegex] = []) throws -> ELFSysmap {
        do {
            return try MappedFile.withContents(path) { try read($0, exclude: exclude, keep: keep) }
        } catch let e as KallsymsError {
            throw e.inFile(path)
        }
    }

    /// Reads from bytes in memory (an empty buffer gives an empty list).
    ///
    /// - Parameters:
    ///   - file: The ELF file's bytes.
    ///   - exclude: Drops symbols whose name matches (beyond 7.3's rules).
    ///   - keep: Keeps symbols 7.3's rules drop when their name matches.
    /// - Returns: The symbols of 7.3's System.map, in its order.
    /// - Throws: ``KallsymsError`` (`.malformed`) with the byte offset of the offending field.
    public static func read(_ file: UnsafeRawBufferPointer, exclude: [POSIXRegex] = [], keep: [POSIXRegex] = []) throws -> ELFSysmap {
        if file.isEmpty { return ELFSysmap(symbols: SymbolList(), addressWidth: 16) }
        var elf = try SysmapELF(file)
        return try elf.sysmap(exclude: exclude, keep: keep)
    }

    /// What 7.3's `kallsyms` prints on stderr as it takes these symbols in, even with `--sysmap`
    /// alone: one message per name of KSYM_NAME_LEN (512) bytes or more, in map order. Such
    /// names stay in System.map; only the table leaves them out.
    ///
    /// - Returns: The messages' bytes, empty when no name is that long.
    public func warnings() -> [UInt8] {
        var out = [UInt8]()
        for i in 0 ..< symbols.count where symbols.nameLength(i) >= KernelRules.ksymNameLen {
            out += Array("Symbol ".utf8) + symbols.name(i)
            out += Array(
                " too long for kallsyms (\(symbols.nameLength(i)) >= \(KernelRules.ksymNameLen)).\nPlease increase KSYM_NAME_LEN both in kernel and kallsyms.c\n"
                    .utf8)
        }
        return out
    }

    /// System.map's text: `%0*llx %c %s\n`, the address zero-padded to `addressWidth` digits.
    ///
    /// - Returns: The bytes of the System.map 7.3's `kallsyms --sysmap` writes.
    public func text() -> [UInt8] { Self.text(symbols, addressWidth: addressWidth) }

    /// Any symbol list in 7.3's System.map line format.
    ///
    /// - Parameters:
    ///   - symbols: The symbols, in the order to print them.
    ///   - addressWidth: The least number of hex digits of an address (wider values print all
    ///     their digits).
    /// - Returns: One `ADDRESS TYPE NAME` line per symbol.
    public static func text(_ symbols: SymbolList, addressWidth: Int) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(symbols.bytes.count + symbols.count * (addressWidth + 3))
        let hex = Array("0123456789abcdef".utf8)
        for i in 0 ..< symbols.count {
            let a = symbols.addresses[i]
            // `%0*llx` pads, never truncates: a wider value prints all its digits.
            var digits = addressWidth
            while digits < 16 && a >> (UInt64(digits) * 4) != 0 { digits += 1 }
            for k in stride(from: digits - 1, through: 0, by: -1) {
                out.append(hex[Int((a >> (UInt64(k) * 4)) & 0xF)])
            }
            out.append(0x20)
            out.append(symbols.type(i))
            out.append(0x20)
            out.append(contentsOf: symbols.name(i))
            out.append(0x0A)
        }
        return out
    }
}

/// The parts of an ELF file 7.3's `elf_open_ro` locates, read with bounds checks at each access.
struct SysmapELF {
    let file: UnsafeRawBufferPointer
    // Filled in as the header is checked: the checks themselves read through `self`.
    private(set) var reader: ByteReader<UnsafeBufferPointer<UInt8>>
    private(set) var is64: Bool
    private(set) var shoff: UInt64
    private(set) var shentsize: UInt64
    private(set) var shnum: UInt32
    private(set) var shstrtab: UInt64  // file offset of the section-name table
    private(set) var symtab: UInt64  // offset of the symbol table's section header
    private(set) var strtab: UInt64  // file offset of the string table
    /// The letter each section gives its symbols (0: not worked out yet). Symbols name sections
    /// with 16 bits, so 65,536 entries cover every index a symbol can use.
    var sectionLetters = [UInt8](repeating: 0, count: 1 << 16)

    static let debugPrefixes: [[UInt8]] = [
        ".debug", ".zdebug", ".gnu.debuglto_.debug_", ".gnu.linkonce.wi.", ".line", ".stab",
    ].map { Array($0.utf8) }

    init(_ file: UnsafeRawBufferPointer) throws {
        self.file = file
        // elf_parse's checks, in its order.
        let magic: [UInt8] = [0x7F, 0x45, 0x4C, 0x46]
        for (k, m) in magic.enumerated() {
            guard k < file.count else { throw Self.pastEnd(UInt64(k), 4 - k, file.count, "the ELF magic") }
            guard file[k] == m else { throw KallsymsError(.malformed, "not an ELF file (no \\x7fELF magic)", offset: 0) }
        }
        let version = try Self.byte(file, 6, "e_ident[EI_VERSION]")
        guard version == 1 else { throw KallsymsError(.malformed, "ELF version \(version) (expected EV_CURRENT, 1)", offset: 6) }
        let data = try Self.byte(file, 5, "e_ident[EI_DATA]")
        guard data == 1 || data == 2 else {
            throw KallsymsError(.malformed, "unknown ELF data encoding \(data) (expected 1 or 2)", offset: 5)
        }
        reader = ByteReader(file.bindMemory(to: UInt8.self), order: data == 1 ? .little : .big)
        is64 = false
        shoff = 0
        shentsize = 0
        shnum = 0
        shstrtab = 0
        symtab = 0
        strtab = 0
        let type = try u16(16, "e_type")
        // The C tool tests `(1 << e_type) & (1 << ET_EXEC | 1 << ET_DYN)`; gcc compiles the shift
        // to x86's `bt`, which takes it modulo 32, so e_type 34 passes as ET_EXEC there.
        guard (UInt32(1) << UInt32(type & 31)) & 0b1100 != 0 else {
            throw KallsymsError(
                .malformed, "ELF type \(type) is not an executable or shared object (ET_EXEC, ET_DYN): kallsyms reads a linked vmlinux",
                offset: 16)
        }
        let elfClass = try Self.byte(file, 4, "e_ident[EI_CLASS]")
        guard elfClass == 1 || elfClass == 2 else {
            throw KallsymsError(.malformed, "unknown ELF class \(elfClass) (expected 1 or 2)", offset: 4)
        }
        is64 = elfClass == 2
        let (ehsizeAt, shentsizeAt) = is64 ? (52, 58) : (40, 46)
        let want = is64 ? (64, 64) : (52, 40)
        let ehsize = try u16(UInt64(ehsizeAt), "e_ehsize")
        guard ehsize == want.0 else {
            throw KallsymsError(.malformed, "e_ehsize is \(ehsize), not \(want.0) as ELF\(is64 ? 64 : 32) requires", offset: ehsizeAt)
        }
        let entsize = try u16(UInt64(shentsizeAt), "e_shentsize")
        guard entsize == want.1 else {
            throw KallsymsError(.malformed, "e_shentsize is \(entsize), not \(want.1) as ELF\(is64 ? 64 : 32) requires", offset: shentsizeAt)
        }
        shentsize = UInt64(entsize)

        // elf_open_ro: a count or index too large for the header lives in section 0.
        shoff = is64 ? try u64(40, "e_shoff") : UInt64(try u32(32, "e_shoff"))
        var count = UInt32(try u16(is64 ? 60 : 48, "e_shnum"))
        if count == 0 { count = UInt32(truncatingIfNeeded: try sectionWord(0, .size)) }
        shnum = count
        var shstrndx = UInt32(try u16(is64 ? 62 : 50, "e_shstrndx"))
        if shstrndx == UInt32(SectionIndex.xindex.rawValue) { shstrndx = UInt32(truncatingIfNeeded: try sectionWord(0, .link)) }
        // Read here although only the debugging-section check uses it, as the kernel does.
        shstrtab = try sectionWord(shstrndx, .offset)
        var found: UInt64?
        var i: UInt32 = 0
        while i < shnum && found == nil {
            if try sectionType(try sectionHeader(i)) == .symtab { found = try sectionHeader(i) }
            i += 1
        }
        guard let found else { throw KallsymsError(.malformed, "no symbol table (.symtab): the file is stripped") }
        symtab = found
        let link = try field(found, .link)
        strtab = try sectionWord(UInt32(truncatingIfNeeded: link), .offset)
    }

    // MARK: - Fields

    enum SectionField { case name, type, flags, offset, size, link, entsize }

    /// Offset and width of a section header field.
    func layout(_ f: SectionField) -> (UInt64, Int) {
        switch f {
        case .name: return (0, 4)
        case .type: return (4, 4)
        case .flags: return is64 ? (8, 8) : (8, 4)
        case .offset: return is64 ? (24, 8) : (16, 4)
        case .size: return is64 ? (32, 8) : (20, 4)
        case .link: return is64 ? (40, 4) : (24, 4)
        case .entsize: return is64 ? (56, 8) : (36, 4)
        }
    }

    func sectionHeader(_ index: UInt32) throws -> UInt64 {
        let (product, o1) = UInt64(index).multipliedReportingOverflow(by: shentsize)
        let (at, o2) = shoff.addingReportingOverflow(product)
        guard !o1 && !o2 else { throw KallsymsError(.malformed, "section header \(index) lies beyond any file", offset: Int(clamping: shoff)) }
        return at
    }

    func field(_ header: UInt64, _ f: SectionField) throws -> UInt64 {
        let (o, n) = layout(f)
        return try integer(header &+ o, n, "section header field at header offset \(header)")
    }

    func sectionWord(_ index: UInt32, _ f: SectionField) throws -> UInt64 {
        try field(try sectionHeader(index), f)
    }

    func sectionType(_ header: UInt64) throws -> SectionType {
        SectionType(rawValue: UInt32(try field(header, .type)))
    }

    static func pastEnd(_ at: UInt64, _ n: Int, _ count: Int, _ what: String) -> KallsymsError {
        KallsymsError(.malformed, "\(what) (\(n) bytes) lies past the end of the file (\(count) bytes)", offset: Int(clamping: at))
    }

    static func byte(_ file: UnsafeRawBufferPointer, _ at: Int, _ what: String) throws -> UInt8 {
        guard at < file.count else { throw pastEnd(UInt64(at), 1, file.count, what) }
        return file[at]
    }

    @inline(__always)
    func integer(_ at: UInt64, _ n: Int, _ what: @autoclosure () -> String) throws -> UInt64 {
        guard at <= UInt64(file.count), reader.contains(Int(at), n) else { throw Self.pastEnd(at, n, file.count, what()) }
        return try reader.integer(Int(at), n)
    }

    func u16(_ at: UInt64, _ what: String) throws -> UInt16 { UInt16(try integer(at, 2, what)) }
    func u32(_ at: UInt64, _ what: String) throws -> UInt32 { UInt32(try integer(at, 4, what)) }
    func u64(_ at: UInt64, _ what: String) throws -> UInt64 { try integer(at, 8, what) }

    /// The NUL-terminated string at a file offset (the name's bytes, without the NUL).
    func cString(_ at: UInt64, _ what: @autoclosure () -> String) throws -> Range<Int> {
        guard at < UInt64(file.count) else { throw Self.pastEnd(at, 1, file.count, what()) }
        let start = Int(at)
        guard let hit = memchr(file.baseAddress! + start, 0, file.count - start) else {
            throw KallsymsError(.malformed, "\(what()) runs past the end of the file (no NUL)", offset: start)
        }
        return start ..< start + (UnsafeRawPointer(hit) - (file.baseAddress! + start))
    }

    /// True when the string at `at` starts with `prefix`, reading only as far as `strncmp`
    /// would (up to the first difference or NUL).
    func startsWith(_ at: UInt64, _ prefix: [UInt8], _ what: @autoclosure () -> String) throws -> Bool {
        for (k, p) in prefix.enumerated() {
            let (o, overflow) = at.addingReportingOverflow(UInt64(k))
            guard !overflow, o < UInt64(file.count) else { throw Self.pastEnd(o, 1, file.count, what()) }
            let c = file[Int(o)]
            if c != p { return false }
        }
        return true
    }

    // MARK: - Letters

    /// The letter for symbols of section `index`, as 7.3 classifies section flags.
    mutating func sectionLetter(_ index: UInt16) throws -> UInt8 {
        if sectionLetters[Int(index)] != 0 { return sectionLetters[Int(index)] }
        let header = try sectionHeader(UInt32(index))
        let flags = SectionFlags(rawValue: try field(header, .flags))
        // elf_section_name() is evaluated (sh_name read) before the flags are looked at.
        let name = try field(header, .name)
        var c: UInt8
        if flags.contains(.execinstr) {
            c = UInt8(ascii: "t")
        } else if flags.contains(.alloc) {
            c = try sectionType(header) == .nobits ? UInt8(ascii: "b") : flags.contains(.write) ? UInt8(ascii: "d") : UInt8(ascii: "r")
        } else {
            let at = shstrtab &+ name
            var debugging = false
            for p in Self.debugPrefixes where try startsWith(at, p, "the name of section \(index)") {
                debugging = true
                break
            }
            if debugging {
                c = UInt8(ascii: "N")
            } else if try sectionType(header) != .nobits && !flags.contains(.write) {
                c = UInt8(ascii: "n")
            } else {
                c = UInt8(ascii: "?")
            }
        }
        sectionLetters[Int(index)] = c
        return c
    }

    /// 7.3's letter for a symbol (0: not listed, as section and file symbols are not).
    mutating func letter(info: UInt8, shndx: SectionIndex) throws -> UInt8 {
        let bind = SymbolBinding(rawValue: info >> 4), type = SymbolType(rawValue: info & 0xF)
        if type == .section || type == .file { return 0 }
        if shndx == .common { return UInt8(ascii: "C") }
        if shndx == .undef {
            if bind == .weak { return type == .object ? UInt8(ascii: "v") : UInt8(ascii: "w") }
            return UInt8(ascii: "U")
        }
        if type == .gnuIFunc { return UInt8(ascii: "i") }
        if bind == .weak { return type == .object ? UInt8(ascii: "V") : UInt8(ascii: "W") }
        if bind == .gnuUnique { return UInt8(ascii: "u") }
        if bind != .local && bind != .global { return UInt8(ascii: "?") }
        var c: UInt8
        if shndx == .abs {
            c = UInt8(ascii: "a")
        } else if UInt32(shndx.rawValue) < shnum {
            c = try sectionLetter(shndx.rawValue)
        } else {
            return UInt8(ascii: "?")
        }
        if bind == .global && c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z") { c -= 0x20 }
        return c
    }

    // MARK: - The listing

    mutating func sysmap(exclude: [POSIXRegex], keep: [POSIXRegex]) throws -> ELFSysmap {
        let entsize = try field(symtab, .entsize)
        guard entsize != 0 else {
            throw KallsymsError(.malformed, "the symbol table's sh_entsize is 0", offset: Int(clamping: symtab &+ layout(.entsize).0))
        }
        let count = try field(symtab, .size) / entsize
        let tableOffset = try field(symtab, .offset)
        let (nameAt, infoAt, shndxAt, valueAt): (UInt64, UInt64, UInt64, UInt64) = is64 ? (0, 4, 6, 8) : (0, 12, 14, 4)
        let valueSize = is64 ? 8 : 4
        // The table cannot hold more entries than the file has bytes: no allocation beyond that.
        let plausible = Int(min(count, UInt64(file.count) / max(entsize, 1) + 1))
        var names: [Range<Int>] = []
        var letters: [UInt8] = []
        var values: [UInt64] = []
        names.reserveCapacity(plausible)
        letters.reserveCapacity(plausible)
        values.reserveCapacity(plausible)
        var cName = [CChar]()
        var i: UInt64 = 1
        while i < count {
            let (step, o1) = i.multipliedReportingOverflow(by: entsize)
            let (entry, o2) = tableOffset.addingReportingOverflow(step)
            guard !o1 && !o2 else { throw Self.pastEnd(UInt64.max, Int(clamping: entsize), file.count, "symbol \(i)") }
            i += 1
            let nameOffset = try integer(entry &+ nameAt, 4, "symbol \(i - 1)'s st_name")
            let info = UInt8(try integer(entry &+ infoAt, 1, "symbol \(i - 1)'s st_info"))
            let shndx = SectionIndex(rawValue: UInt16(try integer(entry &+ shndxAt, 2, "symbol \(i - 1)'s st_shndx")))
            let c = try letter(info: info, shndx: shndx)
            if c == 0 { continue }
            // The type rules come first and need no name; the name rules read all of it.
            var dropped = SymbolFilter.omits73(type: c)
            if dropped && keep.isEmpty { continue }
            let (at, overflow) = strtab.addingReportingOverflow(nameOffset)
            guard !overflow else { throw Self.pastEnd(UInt64.max, 1, file.count, "symbol \(i - 1)'s name") }
            let name = try cString(at, "symbol \(i - 1)'s name")
            let bytes = UnsafeRawBufferPointer(rebasing: file[name]).bindMemory(to: UInt8.self)
            if !dropped { dropped = SymbolFilter.omits73(name: bytes) }
            if dropped || !exclude.isEmpty {
                cName.removeAll(keepingCapacity: true)
                for b in bytes { cName.append(CChar(bitPattern: b)) }
                cName.append(0)
                if dropped && keep.contains(where: { $0.matches(cName) }) { dropped = false }
                if !dropped && exclude.contains(where: { $0.matches(cName) }) { dropped = true }
            }
            if dropped { continue }
            names.append(name)
            letters.append(c)
            values.append(try integer(entry &+ valueAt, valueSize, "symbol \(i - 1)'s st_value"))
        }
        // By address, then name (strcmp); ties stay in table order (glibc's merge sort).
        var order = Array(0 ..< Int32(names.count))
        let base = file.baseAddress!.assumingMemoryBound(to: UInt8.self)
        order.sort { x, y in
            let i = Int(x), j = Int(y)
            if values[i] != values[j] { return values[i] < values[j] }
            let a = names[i], b = names[j]
            let n = min(a.count, b.count)
            if n > 0 {
                let c = memcmp(base + a.lowerBound, base + b.lowerBound, n)
                if c != 0 { return c < 0 }
            }
            if a.count != b.count { return a.count < b.count }
            return i < j
        }
        // Names may share bytes (a linker merges common tails), so what the list copies can exceed
        // the file; by a bounded factor in any real file. Past that the file is built to blow up
        // memory (and past 4 GiB a symbol list cannot address it): refuse instead.
        let total = names.reduce(order.count) { $0 + $1.count }
        let limit = min(max(16 * file.count, 1 << 20), Int(UInt32.max))
        guard total <= limit else {
            throw KallsymsError(
                .malformed, "the listed names add up to \(total) bytes, more than \(limit) for a \(file.count)-byte file: names overlap as no linker writes them",
                offset: Int(clamping: strtab))
        }
        var list = SymbolList()
        list.reserveCapacity(symbols: order.count, bytes: total)
        for x in order {
            let k = Int(x)
            list.append(address: values[k], type: letters[k], name: UnsafeBufferPointer(start: base + names[k].lowerBound, count: names[k].count))
        }
        return ELFSysmap(symbols: list, addressWidth: is64 ? 16 : 8)
    }
}

/// A file's contents for the length of a closure: mapped read-only when it is a regular file,
/// read otherwise (a pipe, standard input).
enum MappedFile {
    static func withContents<R>(_ path: String, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        var st = stat()
        guard path != "-", stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, st.st_size > 0 else {
            // FileIO names the error (missing file, directory) or reads the pipe.
            let bytes = try FileIO.read(path)
            return try bytes.withUnsafeBytes { try body($0) }
        }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw KallsymsError(.io, FileIO.errnoMessage(), file: path) }
        defer { close(fd) }
        guard fstat(fd, &st) == 0 else { throw KallsymsError(.io, FileIO.errnoMessage(), file: path) }
        let size = Int(st.st_size)
        if size == 0 { return try body(UnsafeRawBufferPointer(start: nil, count: 0)) }
        guard let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
            throw KallsymsError(.io, "cannot map the file: \(FileIO.errnoMessage())", file: path)
        }
        defer { munmap(p, size) }
        return try body(UnsafeRawBufferPointer(start: p, count: size))
    }
}
