import KallsymsCore
import KallsymsTestSupport
import KernelImage
import Testing

/// Debian's real kernels, read from the boot images as shipped.
@Suite struct DebianImageTests {
    /// A kernel whose -dbg System.map we have, and the generator flags of its config.
    struct Exact: CustomStringConvertible, Sendable {
        var version: String
        var arch: String
        var options: GeneratorOptions
        var description: String { "\(version)-\(arch)" }
    }

    static let exact: [Exact] = [
        Exact(version: "6.12", arch: "amd64", options: GeneratorOptions(format: .linux612, allSymbols: true, absolutePercpu: true)),
        Exact(
            version: "6.1", arch: "amd64",
            options: GeneratorOptions(format: .linux61, allSymbols: true, absolutePercpu: true, baseRelative: true)),
        Exact(
            version: "6.1", arch: "arm64",
            options: GeneratorOptions(format: .linux61, baseRelative: true)),
    ]

    /// The decoded table equals, array by array and entry by entry, the table our generator
    /// makes from the same build's System.map.
    @Test(arguments: exact)
    func decodedTableEqualsTheGeneratedOne(_ k: Exact) throws {
        let (imagePath, mapPath) = try DebianData.kernel(k.version, k.arch, map: true)
        let image = try KernelImage.read(path: imagePath)
        let generated = try KallsymsGenerator.generate(mapBytes: FileIO.read(mapPath!), file: mapPath!, options: k.options)
        let got = image.table
        #expect(got.numSyms == generated.numSyms)
        // Compared as booleans: the arrays are megabytes, too big to print on failure.
        let arrays: [(String, Bool)] = [
            ("token table", got.tokenTable == generated.tokenTable),
            ("token index", got.tokenIndex == generated.tokenIndex),
            ("markers", got.markers == generated.markers),
            ("names", got.names == generated.names),
            ("seqs_of_names", got.seqsOfNames == generated.seqsOfNames),
            ("offsets and relative base", got.addressEncoding == generated.addressEncoding),
        ]
        for (name, same) in arrays { #expect(same, "\(name) differ") }
        // Entry by entry, so a failure names the first difference.
        let a = got.symbols
        let b = generated.symbols
        var firstDifference: Int?
        for i in 0 ..< min(a.count, b.count)
        where a.addresses[i] != b.addresses[i] || a.typeAndName(i) != b.typeAndName(i) {
            firstDifference = i
            break
        }
        #expect(firstDifference == nil, "first difference at entry \(firstDifference ?? -1)")
        let same = a == b
        #expect(same, "decoded symbols differ from the generated ones")
    }
}
