/// The one architecture vocabulary of the project: what `gen --arch` takes, what `info` prints and
/// what the reader's API returns. Names are the toolchain's (the CPU part of the GNU triplet), so
/// byte order and word size are part of the name; the kernel's `ARCH=` names are accepted as
/// aliases where they are unambiguous.
public enum Architecture: String, CaseIterable, Sendable, Hashable, Codable, CustomStringConvertible {
    case x86_64
    case i386
    case aarch64
    case arm
    case armeb
    case ppc64le
    case ppc64
    case ppc
    case riscv64
    case riscv32
    case s390x
    case s390
    case mips
    case mipsel
    case mips64
    case mips64el
    case loongarch64
    case sparc64
    case parisc
    case m68k

    public var description: String { rawValue }

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

    public var byteOrder: ByteOrder {
        switch self {
        case .armeb, .ppc64, .ppc, .s390x, .s390, .mips, .mips64, .sparc64, .parisc, .m68k: .big
        default: .little
        }
    }

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
    public init?(machine: ELFMachine, is64: Bool, order: ByteOrder) {
        let found = Architecture.allCases.first {
            $0.machine == machine && ($0.pointerSize == 8) == is64 && $0.byteOrder == order
        }
        guard let found else { return nil }
        self = found
    }

    /// A name as a user types it: ours, or an unambiguous alias (`arm64`, `amd64`, `x86-64`,
    /// `powerpc64le`, `ppc64el`, …).
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
