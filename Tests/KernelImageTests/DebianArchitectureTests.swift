import ELFKit
import KallsymsCore
import KallsymsTestSupport
import KernelImage
import Testing

/// Every Debian architecture's 6.1 kernel, and amd64's 6.12, read from the boot image as shipped
/// and compared entry by entry with the table the same build's System.map gives.
@Suite struct DebianArchitectureTests {
    struct Kernel: CustomStringConvertible, Sendable {
        var version: String
        /// fetch-kernel.sh's ARCH[:FLAVOUR].
        var arch: String
        var expectArch: Architecture
        var byteOrder: ByteOrder
        var pointerSize: Int
        /// How the first container step starts.
        var container: String
        /// The generator flags of the build's config (CONFIG_KALLSYMS_ALL, _ABSOLUTE_PERCPU,
        /// _BASE_RELATIVE).
        var options: GeneratorOptions
        var description: String { "\(version)-\(arch)" }
    }

    static let v61 = GeneratorOptions(format: .linux61, baseRelative: true)

    static let kernels: [Kernel] = [
        Kernel(
            version: "6.12", arch: "amd64", expectArch: .x86_64, byteOrder: .little, pointerSize: 8, container: "bzImage",
            options: GeneratorOptions(format: .linux612, allSymbols: true, absolutePercpu: true)),
        Kernel(
            version: "6.1", arch: "amd64", expectArch: .x86_64, byteOrder: .little, pointerSize: 8, container: "bzImage",
            options: GeneratorOptions(format: .linux61, allSymbols: true, absolutePercpu: true, baseRelative: true)),
        Kernel(
            version: "6.1", arch: "i386", expectArch: .i386, byteOrder: .little, pointerSize: 4, container: "bzImage",
            options: v61),
        Kernel(
            version: "6.1", arch: "arm64", expectArch: .aarch64, byteOrder: .little, pointerSize: 8, container: "arm64 Image",
            options: v61),
        Kernel(
            version: "6.1", arch: "armhf", expectArch: .arm, byteOrder: .little, pointerSize: 4, container: "arm zImage",
            options: v61),
        Kernel(
            version: "6.1", arch: "armel", expectArch: .arm, byteOrder: .little, pointerSize: 4, container: "arm zImage",
            options: v61),
        Kernel(
            version: "6.1", arch: "ppc64el", expectArch: .ppc64le, byteOrder: .little, pointerSize: 8, container: "ELF64",
            options: v61),
        Kernel(
            version: "6.1", arch: "s390x", expectArch: .s390x, byteOrder: .big, pointerSize: 8, container: "embedded",
            options: v61),
        Kernel(
            version: "6.1", arch: "mipsel", expectArch: .mipsel, byteOrder: .little, pointerSize: 4, container: "ELF32",
            options: v61),
        Kernel(
            version: "6.1", arch: "mipsel:octeon", expectArch: .mips64el, byteOrder: .little, pointerSize: 8, container: "ELF64",
            options: v61),
        Kernel(
            version: "6.1", arch: "mips64el", expectArch: .mips64el, byteOrder: .little, pointerSize: 8, container: "ELF",
            options: v61),
        Kernel(
            version: "6.1", arch: "mips64el:loongson-3", expectArch: .mips64el, byteOrder: .little, pointerSize: 8,
            container: "ELF", options: v61),
    ]

    @Test(arguments: kernels)
    func decodesExactlyAgainstSystemMap(_ k: Kernel) throws {
        let (path, mapPath) = try DebianData.kernel(k.version, k.arch, map: true)
        let image = try KernelImage.read(path: path)
        #expect(image.architecture == k.expectArch)
        #expect(image.layout.byteOrder == k.byteOrder)
        #expect(image.layout.pointerSize == k.pointerSize)
        #expect(image.steps.first?.hasPrefix(k.container) == true, "\(image.steps)")
        #expect(image.banner?.hasPrefix("Linux version \(k.version)") == true)
        #expect(image.layout.order == (k.version == "6.12" ? .v6_4 : .v6_2))
        let truth = try KallsymsGenerator.generate(mapBytes: FileIO.read(mapPath!), file: mapPath!, options: k.options)
        let a = image.symbols
        let b = truth.symbols
        #expect(a.count == b.count)
        #expect(a.count > 30000)
        // 32-bit kernels' System.map prints addresses sign-extended to 64 bits.
        let mask: UInt64 = k.pointerSize == 8 ? .max : 0xFFFF_FFFF
        var first: String?
        for i in 0 ..< min(a.count, b.count)
        where a.addresses[i] != b.addresses[i] & mask || a.typeAndName(i) != b.typeAndName(i) {
            first =
                "entry \(i): decoded 0x\(String(a.addresses[i], radix: 16)) \(a.nameString(i)), System.map "
                + "0x\(String(b.addresses[i] & mask, radix: 16)) \(b.nameString(i))"
            break
        }
        #expect(first == nil, "\(first ?? "")")
    }
}
