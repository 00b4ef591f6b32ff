// The ELF numbers as typed values, named as in the System V ABI and the processor supplements
// (the way Go's debug/elf mirrors the spec). Each type is a thin wrapper over the raw field, so an
// unknown value from a file is kept, not rejected; only the names we use are listed.

/// The file's class, `e_ident[EI_CLASS]`: whether its addresses and offsets are 32 or 64 bits wide.
public struct ELFClass: RawRepresentable, Hashable, Sendable {
    /// The byte of `e_ident[EI_CLASS]`.
    public var rawValue: UInt8
    /// Wraps a raw value, known or not.
    /// - Parameter rawValue: The field as stored in the file.
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    /// `ELFCLASSNONE`: no class, an invalid file.
    public static let none = ELFClass(rawValue: 0)
    /// `ELFCLASS32`: 32-bit addresses and offsets.
    public static let elf32 = ELFClass(rawValue: 1)
    /// `ELFCLASS64`: 64-bit addresses and offsets.
    public static let elf64 = ELFClass(rawValue: 2)
}

/// The file's data encoding, `e_ident[EI_DATA]`: the byte order of every multi-byte field.
public struct ELFData: RawRepresentable, Hashable, Sendable {
    /// The byte of `e_ident[EI_DATA]`.
    public var rawValue: UInt8
    /// Wraps a raw value, known or not.
    /// - Parameter rawValue: The field as stored in the file.
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    /// `ELFDATA2LSB`: little-endian.
    public static let lsb = ELFData(rawValue: 1)
    /// `ELFDATA2MSB`: big-endian.
    public static let msb = ELFData(rawValue: 2)
    /// The encoding that stores integers in `order`.
    /// - Parameter order: The byte order of the file's fields.
    public init(_ order: ByteOrder) { self = order == .little ? .lsb : .msb }
    /// The byte order this encoding stands for, or nil for a value the spec does not define.
    public var byteOrder: ByteOrder? { self == .lsb ? .little : self == .msb ? .big : nil }
}

/// The kind of file, `e_type`.
public struct ELFType: RawRepresentable, Hashable, Sendable {
    /// The value of `e_type`.
    public var rawValue: UInt16
    /// Wraps a raw value, known or not.
    /// - Parameter rawValue: The field as stored in the file.
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    /// `ET_NONE`: no file type.
    public static let none = ELFType(rawValue: 0)
    /// `ET_REL`: a relocatable object (`.o`), what an assembler writes.
    public static let rel = ELFType(rawValue: 1)
    /// `ET_EXEC`: an executable at fixed addresses, such as `vmlinux`.
    public static let exec = ELFType(rawValue: 2)
    /// `ET_DYN`: a shared object or position-independent executable.
    public static let dyn = ELFType(rawValue: 3)
    /// `ET_CORE`: a core dump, such as `/proc/vmcore`.
    public static let core = ELFType(rawValue: 4)
}

/// The processor a file is for, `e_machine`. ``Architecture`` adds the word size and byte order that
/// tell apart the variants sharing one machine number.
public struct ELFMachine: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The value of `e_machine`.
    public var rawValue: UInt16
    /// Wraps a raw value, known or not.
    /// - Parameter rawValue: The field as stored in the file.
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    /// `EM_NONE`: no machine.
    public static let none = ELFMachine(rawValue: 0)
    /// `EM_SPARC`: 32-bit SPARC.
    public static let sparc = ELFMachine(rawValue: 2)
    /// `EM_386`: 32-bit x86.
    public static let i386 = ELFMachine(rawValue: 3)
    /// `EM_68K`: Motorola 68000 family.
    public static let m68k = ELFMachine(rawValue: 4)
    /// `EM_MIPS`: MIPS, 32- and 64-bit, either byte order.
    public static let mips = ELFMachine(rawValue: 8)
    /// `EM_MIPS_RS3_LE`: MIPS RS3000, little-endian.
    public static let mipsRS3LE = ELFMachine(rawValue: 10)
    /// `EM_PARISC`: HP PA-RISC.
    public static let parisc = ELFMachine(rawValue: 15)
    /// `EM_PPC`: 32-bit PowerPC.
    public static let ppc = ELFMachine(rawValue: 20)
    /// `EM_PPC64`: 64-bit PowerPC, either byte order.
    public static let ppc64 = ELFMachine(rawValue: 21)
    /// `EM_S390`: IBM S/390 and z/Architecture (31- and 64-bit).
    public static let s390 = ELFMachine(rawValue: 22)
    /// `EM_V800`: NEC V800.
    public static let v800 = ELFMachine(rawValue: 36)
    /// `EM_ARM`: 32-bit Arm.
    public static let arm = ELFMachine(rawValue: 40)
    /// `EM_SH`: Hitachi SuperH.
    public static let sh = ELFMachine(rawValue: 42)
    /// `EM_SPARCV9`: 64-bit SPARC.
    public static let sparcv9 = ELFMachine(rawValue: 43)
    /// `EM_IA_64`: Intel Itanium.
    public static let ia64 = ELFMachine(rawValue: 50)
    /// `EM_X86_64`: 64-bit x86.
    public static let x86_64 = ELFMachine(rawValue: 62)
    /// `EM_M32R`: Renesas M32R.
    public static let m32r = ELFMachine(rawValue: 88)
    /// `EM_AARCH64`: 64-bit Arm.
    public static let aarch64 = ELFMachine(rawValue: 183)
    /// `EM_RISCV`: RISC-V, 32- and 64-bit.
    public static let riscv = ELFMachine(rawValue: 243)
    /// `EM_LOONGARCH`: LoongArch.
    public static let loongarch = ELFMachine(rawValue: 258)

    /// "ELF machine N": the number, for messages about machines we do not name.
    public var description: String { "ELF machine \(rawValue)" }
}

/// What a section holds, `sh_type`.
public struct SectionType: RawRepresentable, Hashable, Sendable {
    /// The value of `sh_type`.
    public var rawValue: UInt32
    /// Wraps a raw value, known or not.
    /// - Parameter rawValue: The field as stored in the file.
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// `SHT_NULL`: an unused header (index 0 always is).
    public static let null = SectionType(rawValue: 0)
    /// `SHT_PROGBITS`: bytes whose meaning only the program knows (code, data).
    public static let progbits = SectionType(rawValue: 1)
    /// `SHT_SYMTAB`: the full symbol table (`.symtab`).
    public static let symtab = SectionType(rawValue: 2)
    /// `SHT_STRTAB`: NUL-terminated strings that names point into.
    public static let strtab = SectionType(rawValue: 3)
    /// `SHT_RELA`: relocations with explicit addends (`Elf_Rela`).
    public static let rela = SectionType(rawValue: 4)
    /// `SHT_HASH`: a symbol hash table.
    public static let hash = SectionType(rawValue: 5)
    /// `SHT_DYNAMIC`: dynamic linking information.
    public static let dynamic = SectionType(rawValue: 6)
    /// `SHT_NOTE`: notes (build ID, vmcoreinfo, …).
    public static let note = SectionType(rawValue: 7)
    /// `SHT_NOBITS`: occupies memory but no file bytes (`.bss`).
    public static let nobits = SectionType(rawValue: 8)
    /// `SHT_REL`: relocations whose addends are in the patched bytes (`Elf_Rel`).
    public static let rel = SectionType(rawValue: 9)
    /// `SHT_DYNSYM`: the dynamic linker's symbol table (`.dynsym`).
    public static let dynsym = SectionType(rawValue: 11)
    /// `SHT_SYMTAB_SHNDX`: section indexes of symbols whose `st_shndx` is `SHN_XINDEX`.
    public static let symtabShndx = SectionType(rawValue: 18)
}

/// A section's attributes, `sh_flags`.
public struct SectionFlags: OptionSet, Hashable, Sendable {
    /// The bits of `sh_flags`.
    public var rawValue: UInt64
    /// Wraps a raw value, known or not.
    /// - Parameter rawValue: The field as stored in the file.
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    /// `SHF_WRITE`: writable at run time.
    public static let write = SectionFlags(rawValue: 0x1)
    /// `SHF_ALLOC`: loaded into memory; sections without it (DWARF, symbols) are not.
    public static let alloc = SectionFlags(rawValue: 0x2)
    /// `SHF_EXECINSTR`: holds machine instructions.
    public static let execinstr = SectionFlags(rawValue: 0x4)
    /// `SHF_INFO_LINK`: `sh_info` holds a section index (the section a relocation section patches).
    public static let infoLink = SectionFlags(rawValue: 0x40)
}

/// A symbol's section, `st_shndx`: an index into the section headers, or one of the reserved
/// values at and above `SHN_LORESERVE`.
public struct SectionIndex: RawRepresentable, Hashable, Sendable {
    /// The value of `st_shndx`.
    public var rawValue: UInt16
    /// Wraps a raw value, known or not.
    /// - Parameter rawValue: The field as stored in the file.
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    /// `SHN_UNDEF`: the symbol is undefined (defined in another file).
    public static let undef = SectionIndex(rawValue: 0)
    /// `SHN_LORESERVE`: the first reserved index; processor-specific ones follow.
    public static let loReserve = SectionIndex(rawValue: 0xFF00)
    /// `SHN_MIPS_SCOMMON` (MIPS): a small common symbol.
    public static let mipsSCommon = SectionIndex(rawValue: 0xFF03)
    /// `SHN_X86_64_LCOMMON` (x86-64): a large common symbol.
    public static let x86_64LCommon = SectionIndex(rawValue: 0xFF02)
    /// `SHN_ABS`: an absolute value that relocation does not change.
    public static let abs = SectionIndex(rawValue: 0xFFF1)
    /// `SHN_COMMON`: a common block not yet allocated.
    public static let common = SectionIndex(rawValue: 0xFFF2)
    /// `SHN_XINDEX`: the real index is in the `SHT_SYMTAB_SHNDX` section (or, in `e_shstrndx`, in section header 0).
    public static let xindex = SectionIndex(rawValue: 0xFFFF)
    /// True at and above `SHN_LORESERVE`: the value is not a section header's index.
    public var isReserved: Bool { rawValue >= Self.loReserve.rawValue }
}

/// A symbol's linkage, `ELF_ST_BIND(st_info)`.
public struct SymbolBinding: RawRepresentable, Hashable, Sendable {
    /// The upper four bits of `st_info`.
    public var rawValue: UInt8
    /// Wraps a raw value, known or not.
    /// - Parameter rawValue: The field as stored in the file.
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    /// `STB_LOCAL`: visible only inside its object file (`static`).
    public static let local = SymbolBinding(rawValue: 0)
    /// `STB_GLOBAL`: visible to every object file of the link.
    public static let global = SymbolBinding(rawValue: 1)
    /// `STB_WEAK`: global, but a global definition elsewhere takes precedence.
    public static let weak = SymbolBinding(rawValue: 2)
    /// `STB_GNU_UNIQUE`: a GNU extension, one definition per process.
    public static let gnuUnique = SymbolBinding(rawValue: 10)
}

/// What a symbol names, `ELF_ST_TYPE(st_info)`.
public struct SymbolType: RawRepresentable, Hashable, Sendable {
    /// The lower four bits of `st_info`.
    public var rawValue: UInt8
    /// Wraps a raw value, known or not.
    /// - Parameter rawValue: The field as stored in the file.
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    /// `STT_NOTYPE`: unspecified (labels, most assembler symbols).
    public static let notype = SymbolType(rawValue: 0)
    /// `STT_OBJECT`: a data object (a variable, an array).
    public static let object = SymbolType(rawValue: 1)
    /// `STT_FUNC`: a function or other code.
    public static let function = SymbolType(rawValue: 2)
    /// `STT_SECTION`: the section itself, for relocations against it.
    public static let section = SymbolType(rawValue: 3)
    /// `STT_FILE`: the name of the source file.
    public static let file = SymbolType(rawValue: 4)
    /// `STT_COMMON`: an uninitialized common block.
    public static let common = SymbolType(rawValue: 5)
    /// `STT_TLS`: a thread-local variable.
    public static let tls = SymbolType(rawValue: 6)
    /// `STT_GNU_IFUNC`: a GNU indirect function, resolved at load time.
    public static let gnuIFunc = SymbolType(rawValue: 10)
}

/// How far a symbol is visible, `ELF_ST_VISIBILITY(st_other)`.
public struct SymbolVisibility: RawRepresentable, Hashable, Sendable {
    /// The lower two bits of `st_other`.
    public var rawValue: UInt8
    /// Wraps a raw `st_other`; only its visibility bits are kept.
    /// - Parameter rawValue: The whole `st_other` byte.
    public init(rawValue: UInt8) { self.rawValue = rawValue & 3 }
    /// `STV_DEFAULT`: as its binding says.
    public static let `default` = SymbolVisibility(rawValue: 0)
    /// `STV_INTERNAL`: hidden, with processor-specific extra meaning.
    public static let `internal` = SymbolVisibility(rawValue: 1)
    /// `STV_HIDDEN`: not visible outside its component (shared object or executable).
    public static let hidden = SymbolVisibility(rawValue: 2)
    /// `STV_PROTECTED`: visible outside, but references from inside are not preemptible.
    public static let protected = SymbolVisibility(rawValue: 3)
}

/// What a program header describes, `p_type`.
public struct SegmentType: RawRepresentable, Hashable, Sendable {
    /// The value of `p_type`.
    public var rawValue: UInt32
    /// Wraps a raw value, known or not.
    /// - Parameter rawValue: The field as stored in the file.
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// `PT_NULL`: an unused entry.
    public static let null = SegmentType(rawValue: 0)
    /// `PT_LOAD`: bytes loaded into memory at `p_vaddr`.
    public static let load = SegmentType(rawValue: 1)
    /// `PT_DYNAMIC`: dynamic linking information.
    public static let dynamic = SegmentType(rawValue: 2)
    /// `PT_NOTE`: notes (what core files and `/proc/vmcore` use instead of sections).
    public static let note = SegmentType(rawValue: 4)
}

/// A segment's permissions, `p_flags`.
public struct SegmentFlags: OptionSet, Hashable, Sendable {
    /// The bits of `p_flags`.
    public var rawValue: UInt32
    /// Wraps a raw value, known or not.
    /// - Parameter rawValue: The field as stored in the file.
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// `PF_X`: executable.
    public static let execute = SegmentFlags(rawValue: 1)
    /// `PF_W`: writable.
    public static let write = SegmentFlags(rawValue: 2)
    /// `PF_R`: readable.
    public static let read = SegmentFlags(rawValue: 4)
}

/// The type of a note, `n_type`: meaningful only together with the note's name (its owner).
public struct NoteType: RawRepresentable, Hashable, Sendable {
    /// The value of `n_type`.
    public var rawValue: UInt32
    /// Wraps a raw value, known or not.
    /// - Parameter rawValue: The field as stored in the file.
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// `NT_GNU_BUILD_ID` in a note named "GNU": the linker's unique build ID.
    public static let gnuBuildID = NoteType(rawValue: 3)
    /// `NT_PRSTATUS` in a note named "CORE": a CPU's registers at the crash ("VMCOREINFO" notes
    /// use 0).
    public static let prstatus = NoteType(rawValue: 1)
}

/// A relocation's type, `ELF_R_TYPE(r_info)`: a number whose meaning depends on the machine; the
/// names live in one namespace per architecture, as the processor supplements define them.
public struct RelocationType: RawRepresentable, Hashable, Sendable {
    /// The type bits of `r_info` (the low 32 bits in ELF64, the low 8 in ELF32).
    public var rawValue: UInt32
    /// Wraps a raw value, known or not.
    /// - Parameter rawValue: The type bits of `r_info`.
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// x86-64 relocations (`R_X86_64_*`).
    public enum X86_64 {
        /// `R_X86_64_64`: the symbol's value plus the addend, as 64 bits.
        public static let r64 = RelocationType(rawValue: 1)
        /// `R_X86_64_PC32`: the symbol's value plus the addend minus the place, as 32 bits.
        public static let pc32 = RelocationType(rawValue: 2)
        /// `R_X86_64_RELATIVE`: the load base plus the addend, applied at load time.
        public static let relative = RelocationType(rawValue: 8)
    }
    /// 32-bit x86 relocations (`R_386_*`).
    public enum I386 {
        /// `R_386_32`: the symbol's value plus the addend, as 32 bits.
        public static let r32 = RelocationType(rawValue: 1)
        /// `R_386_PC32`: the symbol's value plus the addend minus the place.
        public static let pc32 = RelocationType(rawValue: 2)
        /// `R_386_RELATIVE`: the load base plus the addend, applied at load time.
        public static let relative = RelocationType(rawValue: 8)
    }
    /// 64-bit Arm relocations (`R_AARCH64_*`).
    public enum AArch64 {
        /// `R_AARCH64_ABS64`: the symbol's value plus the addend, as 64 bits.
        public static let abs64 = RelocationType(rawValue: 257)
        /// `R_AARCH64_PREL32`: the symbol's value plus the addend minus the place, as 32 bits.
        public static let prel32 = RelocationType(rawValue: 261)
        /// `R_AARCH64_RELATIVE`: the load base plus the addend, applied at boot by relocatable
        /// kernels.
        public static let relative = RelocationType(rawValue: 1027)
    }
    /// 32-bit Arm relocations (`R_ARM_*`).
    public enum ARM {
        /// `R_ARM_ABS32`: the symbol's value plus the addend, as 32 bits.
        public static let abs32 = RelocationType(rawValue: 2)
        /// `R_ARM_REL32`: the symbol's value plus the addend minus the place.
        public static let rel32 = RelocationType(rawValue: 3)
        /// `R_ARM_RELATIVE`: the load base plus the addend, applied at load time.
        public static let relative = RelocationType(rawValue: 23)
    }
    /// 64-bit PowerPC relocations (`R_PPC64_*`).
    public enum PPC64 {
        /// `R_PPC64_ADDR64`: the symbol's value plus the addend, as 64 bits.
        public static let addr64 = RelocationType(rawValue: 38)
        /// `R_PPC64_RELATIVE`: the load base plus the addend, applied at boot by relocatable
        /// kernels.
        public static let relative = RelocationType(rawValue: 22)
        /// `R_PPC64_REL32`: the symbol's value plus the addend minus the place, as 32 bits.
        public static let rel32 = RelocationType(rawValue: 26)
    }
    /// RISC-V relocations (`R_RISCV_*`).
    public enum RISCV {
        /// `R_RISCV_64`: the symbol's value plus the addend, as 64 bits.
        public static let r64 = RelocationType(rawValue: 2)
        /// `R_RISCV_RELATIVE`: the load base plus the addend, applied at boot by relocatable
        /// kernels.
        public static let relative = RelocationType(rawValue: 3)
        /// `R_RISCV_ADD32`: adds the symbol's value plus the addend to the 32-bit word (paired
        /// with `sub32` for label differences).
        public static let add32 = RelocationType(rawValue: 35)
        /// `R_RISCV_SUB32`: subtracts the symbol's value plus the addend from the 32-bit word.
        public static let sub32 = RelocationType(rawValue: 39)
        /// `R_RISCV_32_PCREL`: the symbol's value plus the addend minus the place, as 32 bits.
        public static let pcrel32 = RelocationType(rawValue: 57)
    }
    /// IBM Z relocations (`R_390_*`).
    public enum S390 {
        /// `R_390_64`: the symbol's value plus the addend, as 64 bits.
        public static let r64 = RelocationType(rawValue: 22)
        /// `R_390_RELATIVE`: the load base plus the addend, applied at boot by relocatable kernels.
        public static let relative = RelocationType(rawValue: 12)
    }
    /// LoongArch relocations (`R_LARCH_*`).
    public enum LoongArch {
        /// `R_LARCH_64`: the symbol's value plus the addend, as 64 bits.
        public static let r64 = RelocationType(rawValue: 2)
        /// `R_LARCH_RELATIVE`: the load base plus the addend, applied at boot by relocatable
        /// kernels.
        public static let relative = RelocationType(rawValue: 3)
    }
}
