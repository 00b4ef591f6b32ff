/// The one architecture vocabulary of the project: what `gen --arch` takes, what `info` prints and
/// what the reader's API returns. Names are the toolchain's (the CPU part of the GNU triplet), so
/// byte order and word size are part of the name; the kernel's `ARCH=` names are accepted as
/// aliases where they are unambiguous.
public enum Architecture: String, CaseIterable, Sendable, Hashable, Codable, CustomStringConvertible {
    /// 64-bit x86 (`ARCH=x86`, `EM_X86_64`), little-endian.
    case x86_64
    /// 32-bit x86 (`ARCH=x86`, `EM_386`), little-endian.
    case i386
    /// 64-bit Arm (`ARCH=arm64`, `EM_AARCH64`), little-endian.
    case aarch64
    /// 32-bit Arm (`EM_ARM`), little-endian.
    case arm
    /// 32-bit Arm (`EM_ARM`), big-endian.
    case armeb
    /// 64-bit PowerPC (`EM_PPC64`), little-endian.
    case ppc64le
    /// 64-bit PowerPC (`EM_PPC64`), big-endian.
    case ppc64
    /// 32-bit PowerPC (`EM_PPC`), big-endian.
    case ppc
    /// 64-bit RISC-V (`EM_RISCV`), little-endian.
    case riscv64
    /// 32-bit RISC-V (`EM_RISCV`), little-endian.
    case riscv32
    /// 64-bit IBM Z (`ARCH=s390`, `EM_S390`), big-endian.
    case s390x
    /// 31-bit IBM S/390 (`EM_S390`, 4-byte pointers), big-endian.
    case s390
    /// 32-bit MIPS (`EM_MIPS`), big-endian.
    case mips
    /// 32-bit MIPS (`EM_MIPS`), little-endian.
    case mipsel
    /// 64-bit MIPS (`EM_MIPS`), big-endian.
    case mips64
    /// 64-bit MIPS (`EM_MIPS`), little-endian.
    case mips64el
    /// 64-bit LoongArch (`EM_LOONGARCH`), little-endian.
    case loongarch64
    /// 64-bit SPARC (`ARCH=sparc`, `EM_SPARCV9`), big-endian.
    case sparc64
    /// 32-bit PA-RISC (`EM_PARISC`), big-endian.
    case parisc
    /// Motorola 68000 family (`EM_68K`), big-endian.
    case m68k

    /// The toolchain's name, as `gen --arch` takes it and `info` prints it.
    public var description: String { rawValue }

    /// The `e_machine` of this architecture's ELF files (shared by its word sizes and byte orders).
    public var machine: ELFMachine {
        switch self {
        case .x86_64: .x86_64
        case .i386: .i386
        case .aarch64: .aarch64
        case .arm, .armeb: .arm
        case .ppc64le, .ppc64: .ppc64
        case .ppc: .ppc
        case .riscv64, .riscv32: .riscv
        case .s390x, .s390: .s390
        case .mips, .mipsel, .mips64, .mips64el: .mips
        case .loongarch64: .loongarch
        case .sparc64: .sparcv9
        case .parisc: .parisc
        case .m68k: .m68k
        }
    }

    /// The order of multi-byte integers in this architecture's kernel images.
    public var byteOrder: ByteOrder {
        switch self {
        case .armeb, .ppc64, .ppc, .s390x, .s390, .mips, .mips64, .sparc64, .parisc, .m68k: .big
        default: .little
        }
    }

    /// The width of a pointer in bytes (4 or 8): the width of `kallsyms_addresses` entries and,
    /// before 4.20, of `kallsyms_markers` entries.
    public var pointerSize: Int {
        switch self {
        case .i386, .arm, .armeb, .ppc, .riscv32, .s390, .mips, .mipsel, .parisc, .m68k: 4
        default: 8
        }
    }

    /// The kernel's `ARCH=` directory for this architecture.
    public var kernelName: String {
        switch self {
        case .x86_64, .i386: "x86"
        case .aarch64: "arm64"
        case .arm, .armeb: "arm"
        case .ppc64le, .ppc64, .ppc: "powerpc"
        case .riscv64, .riscv32: "riscv"
        case .s390x, .s390: "s390"
        case .mips, .mipsel, .mips64, .mips64el: "mips"
        case .loongarch64: "loongarch"
        case .sparc64: "sparc"
        case .parisc: "parisc"
        case .m68k: "m68k"
        }
    }

    /// The architecture an ELF header describes, or nil for a machine we do not name.
    /// - Parameters:
    ///   - machine: The header's `e_machine`.
    ///   - is64: True for `ELFCLASS64`.
    ///   - order: The header's data encoding (`EI_DATA`).
    public init?(machine: ELFMachine, is64: Bool, order: ByteOrder) {
        let found = Architecture.allCases.first {
            $0.machine == machine && ($0.pointerSize == 8) == is64 && $0.byteOrder == order
        }
        guard let found else { return nil }
        self = found
    }

    /// A name as a user types it: ours, or an unambiguous alias (`arm64`, `amd64`, `x86-64`,
    /// `powerpc64le`, `ppc64el`, …).
    /// - Parameter name: The name as given, e.g. on the command line. Nil when it is neither one
    ///   of ours nor an alias.
    public init?(name: String) {
        if let a = Architecture(rawValue: name) {
            self = a
            return
        }
        let aliases: [String: Architecture] = [
            "arm64": .aarch64, "amd64": .x86_64, "x86-64": .x86_64, "x64": .x86_64, "i686": .i386,
            "armhf": .arm, "armel": .arm, "powerpc64le": .ppc64le, "ppc64el": .ppc64le, "powerpc64": .ppc64,
            "powerpc": .ppc, "riscv": .riscv64, "loongarch": .loongarch64, "sparc": .sparc64,
        ]
        guard let a = aliases[name] else { return nil }
        self = a
    }
}
