// The ELF numbers as typed values, named as in the System V ABI and the processor supplements
// (the way Go's debug/elf mirrors the spec). Each type is a thin wrapper over the raw field, so an
// unknown value from a file is kept, not rejected; only the names we use are listed.

/// `e_ident[EI_CLASS]`.
public struct ELFClass: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let none = ELFClass(rawValue: 0)
    public static let elf32 = ELFClass(rawValue: 1)
    public static let elf64 = ELFClass(rawValue: 2)
}

/// `e_ident[EI_DATA]`.
public struct ELFData: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let lsb = ELFData(rawValue: 1)
    public static let msb = ELFData(rawValue: 2)
    public init(_ order: ByteOrder) { self = order == .little ? .lsb : .msb }
    public var byteOrder: ByteOrder? { self == .lsb ? .little : self == .msb ? .big : nil }
}

/// `e_type`.
public struct ELFType: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    public static let none = ELFType(rawValue: 0)
    public static let rel = ELFType(rawValue: 1)
    public static let exec = ELFType(rawValue: 2)
    public static let dyn = ELFType(rawValue: 3)
    public static let core = ELFType(rawValue: 4)
}

/// `e_machine`.
public struct ELFMachine: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    public static let none = ELFMachine(rawValue: 0)
    public static let sparc = ELFMachine(rawValue: 2)
    public static let i386 = ELFMachine(rawValue: 3)
    public static let m68k = ELFMachine(rawValue: 4)
    public static let mips = ELFMachine(rawValue: 8)
    public static let mipsRS3LE = ELFMachine(rawValue: 10)
    public static let parisc = ELFMachine(rawValue: 15)
    public static let ppc = ELFMachine(rawValue: 20)
    public static let ppc64 = ELFMachine(rawValue: 21)
    public static let s390 = ELFMachine(rawValue: 22)
    public static let v800 = ELFMachine(rawValue: 36)
    public static let arm = ELFMachine(rawValue: 40)
    public static let sh = ELFMachine(rawValue: 42)
    public static let sparcv9 = ELFMachine(rawValue: 43)
    public static let ia64 = ELFMachine(rawValue: 50)
    public static let x86_64 = ELFMachine(rawValue: 62)
    public static let m32r = ELFMachine(rawValue: 88)
    public static let aarch64 = ELFMachine(rawValue: 183)
    public static let riscv = ELFMachine(rawValue: 243)
    public static let loongarch = ELFMachine(rawValue: 258)

    public var description: String { "ELF machine \(rawValue)" }
}

/// `sh_type`.
public struct SectionType: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let null = SectionType(rawValue: 0)
    public static let progbits = SectionType(rawValue: 1)
    public static let symtab = SectionType(rawValue: 2)
    public static let strtab = SectionType(rawValue: 3)
    public static let rela = SectionType(rawValue: 4)
    public static let hash = SectionType(rawValue: 5)
    public static let dynamic = SectionType(rawValue: 6)
    public static let note = SectionType(rawValue: 7)
    public static let nobits = SectionType(rawValue: 8)
    public static let rel = SectionType(rawValue: 9)
    public static let dynsym = SectionType(rawValue: 11)
    public static let symtabShndx = SectionType(rawValue: 18)
}

/// `sh_flags`.
public struct SectionFlags: OptionSet, Hashable, Sendable {
    public var rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    public static let write = SectionFlags(rawValue: 0x1)
    public static let alloc = SectionFlags(rawValue: 0x2)
    public static let execinstr = SectionFlags(rawValue: 0x4)
    public static let infoLink = SectionFlags(rawValue: 0x40)
}

/// `st_shndx` values with a meaning of their own, and the range they live in.
public struct SectionIndex: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    public static let undef = SectionIndex(rawValue: 0)
    /// The first reserved index (SHN_LORESERVE); processor-specific ones follow.
    public static let loReserve = SectionIndex(rawValue: 0xFF00)
    /// MIPS: SHN_MIPS_SCOMMON, small common symbols.
    public static let mipsSCommon = SectionIndex(rawValue: 0xFF03)
    /// x86-64: SHN_X86_64_LCOMMON, large common symbols.
    public static let x86_64LCommon = SectionIndex(rawValue: 0xFF02)
    public static let abs = SectionIndex(rawValue: 0xFFF1)
    public static let common = SectionIndex(rawValue: 0xFFF2)
    public static let xindex = SectionIndex(rawValue: 0xFFFF)
    public var isReserved: Bool { rawValue >= Self.loReserve.rawValue }
}

/// `ELF_ST_BIND(st_info)`.
public struct SymbolBinding: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let local = SymbolBinding(rawValue: 0)
    public static let global = SymbolBinding(rawValue: 1)
    public static let weak = SymbolBinding(rawValue: 2)
    public static let gnuUnique = SymbolBinding(rawValue: 10)
}

/// `ELF_ST_TYPE(st_info)`.
public struct SymbolType: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let notype = SymbolType(rawValue: 0)
    public static let object = SymbolType(rawValue: 1)
    public static let function = SymbolType(rawValue: 2)
    public static let section = SymbolType(rawValue: 3)
    public static let file = SymbolType(rawValue: 4)
    public static let common = SymbolType(rawValue: 5)
    public static let tls = SymbolType(rawValue: 6)
    public static let gnuIFunc = SymbolType(rawValue: 10)
}

/// `ELF_ST_VISIBILITY(st_other)`.
public struct SymbolVisibility: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue & 3 }
    public static let `default` = SymbolVisibility(rawValue: 0)
    public static let `internal` = SymbolVisibility(rawValue: 1)
    public static let hidden = SymbolVisibility(rawValue: 2)
    public static let protected = SymbolVisibility(rawValue: 3)
}

/// `p_type`.
public struct SegmentType: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let null = SegmentType(rawValue: 0)
    public static let load = SegmentType(rawValue: 1)
    public static let dynamic = SegmentType(rawValue: 2)
    public static let note = SegmentType(rawValue: 4)
}

/// `p_flags`.
public struct SegmentFlags: OptionSet, Hashable, Sendable {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let execute = SegmentFlags(rawValue: 1)
    public static let write = SegmentFlags(rawValue: 2)
    public static let read = SegmentFlags(rawValue: 4)
}

/// `n_type` of the notes we read (meaningful together with the note's name).
public struct NoteType: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// "GNU": NT_GNU_BUILD_ID.
    public static let gnuBuildID = NoteType(rawValue: 3)
    /// "CORE": NT_PRSTATUS; "VMCOREINFO" notes use 0.
    public static let prstatus = NoteType(rawValue: 1)
}

/// `ELF_R_TYPE(r_info)`: a number whose meaning depends on the machine; the names live in one
/// namespace per architecture.
public struct RelocationType: RawRepresentable, Hashable, Sendable {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public enum X86_64 {
        public static let r64 = RelocationType(rawValue: 1)
        public static let pc32 = RelocationType(rawValue: 2)
        public static let relative = RelocationType(rawValue: 8)
    }
    public enum I386 {
        public static let r32 = RelocationType(rawValue: 1)
        public static let pc32 = RelocationType(rawValue: 2)
        public static let relative = RelocationType(rawValue: 8)
    }
    public enum AArch64 {
        public static let abs64 = RelocationType(rawValue: 257)
        public static let prel32 = RelocationType(rawValue: 261)
        public static let relative = RelocationType(rawValue: 1027)
    }
    public enum ARM {
        public static let abs32 = RelocationType(rawValue: 2)
        public static let rel32 = RelocationType(rawValue: 3)
        public static let relative = RelocationType(rawValue: 23)
    }
    public enum PPC64 {
        public static let addr64 = RelocationType(rawValue: 38)
        public static let relative = RelocationType(rawValue: 22)
        public static let rel32 = RelocationType(rawValue: 26)
    }
    public enum RISCV {
        public static let r64 = RelocationType(rawValue: 2)
        public static let relative = RelocationType(rawValue: 3)
        public static let add32 = RelocationType(rawValue: 35)
        public static let sub32 = RelocationType(rawValue: 39)
        public static let pcrel32 = RelocationType(rawValue: 57)
    }
    public enum S390 {
        public static let r64 = RelocationType(rawValue: 22)
        public static let relative = RelocationType(rawValue: 12)
    }
    public enum LoongArch {
        public static let r64 = RelocationType(rawValue: 2)
        public static let relative = RelocationType(rawValue: 3)
    }
}
