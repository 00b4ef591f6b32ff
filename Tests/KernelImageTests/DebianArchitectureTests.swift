import KallsymsCore
import KallsymsTestSupport
import KernelImage
import Testing

/// Every Debian architecture's 6.1 kernel, and amd64's 6.12, decode completely from the boot
/// image as shipped.
@Suite struct DebianArchitectureTests {
    struct Kernel: CustomStringConvertible, Sendable {
        var version: String
        var arch: String
        var expectArch: String
        var littleEndian: Bool
        var pointerSize: Int
        var container: String
        var description: String { "\(version)-\(arch)" }
    }

    static let kernels: [Kernel] = [
        Kernel(version: "6.12", arch: "amd64", expectArch: "x86_64", littleEndian: true, pointerSize: 8, container: "bzImage"),
        Kernel(version: "6.1", arch: "amd64", expectArch: "x86_64", littleEndian: true, pointerSize: 8, container: "bzImage"),
        Kernel(version: "6.1", arch: "i386", expectArch: "i386", littleEndian: true, pointerSize: 4, container: "bzImage"),
        Kernel(version: "6.1", arch: "arm64", expectArch: "arm64", littleEndian: true, pointerSize: 8, container: "arm64 Image"),
        Kernel(version: "6.1", arch: "armhf", expectArch: "arm", littleEndian: true, pointerSize: 4, container: "arm zImage"),
        Kernel(version: "6.1", arch: "ppc64el", expectArch: "ppc64le", littleEndian: true, pointerSize: 8, container: "ELF64"),
        Kernel(version: "6.1", arch: "s390x", expectArch: "s390x", littleEndian: false, pointerSize: 8, container: "embedded"),
    ]

    @Test(arguments: kernels)
    func decodesCompletely(_ k: Kernel) throws {
        let (path, _) = try DebianData.kernel(k.version, k.arch)
        let image = try KernelImage.read(path: path)
        #expect(image.architecture == k.expectArch)
        #expect(image.layout.littleEndian == k.littleEndian)
        #expect(image.layout.pointerSize == k.pointerSize)
        #expect(image.steps.first?.hasPrefix(k.container) == true, "\(image.steps)")
        #expect(image.banner?.hasPrefix("Linux version \(k.version)") == true)
        #expect(image.layout.order == (k.version == "6.12" ? .v64 : .v62))
        let s = image.symbols
        #expect(s.count > 30000)
        // Sorted, every name non-empty with a type letter, and the kernel's landmarks present
        // in the order the linker script puts them.
        var sorted = true
        for i in 1 ..< s.count where s.addresses[i - 1] > s.addresses[i] { sorted = false }
        #expect(sorted)
        let start = image.table.address(of: "start_kernel")
        let stext = image.table.address(of: "_stext")
        #expect(start != nil && stext != nil && stext! <= start!)
        #expect(image.table.address(of: "printk") != nil || image.table.address(of: "_printk") != nil)
        // Looking up a symbol's own address gives it (or its first alias) back.
        if let a = start { #expect(image.table.lookup(address: a)?.name != nil) }
        #expect(image.table.lookup(address: start!)?.address == start)
    }
}
