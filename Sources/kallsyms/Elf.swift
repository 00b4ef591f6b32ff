import ArgumentParser
import ELFKit
import KallsymsCore
import KernelImage

struct Elf: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write an ELF file with the kernel's code and its recovered symbols (for nm, objdump, gdb).")

    @Argument(help: ArgumentHelp(imageHelp), completion: .file())
    var image: String

    @Option(name: .shortAndLong, help: ArgumentHelp("The ELF file to write (written to a temporary name, then renamed).", valueName: "out"), completion: .file())
    var output: String

    @Option(help: "Load address of the kernel's first byte (overrides what the image says: _text, exported symbols).")
    var base: String?

    @Option(help: "Architecture (overrides what the image says): \(Architecture.allCases.map(\.rawValue).joined(separator: ", ")).")
    var arch: String?

    func run() throws {
        var k = try KernelImage.read(path: image)
        if k.memory != nil {
            throw KallsymsError(.usage, "elf: \(image) is a memory dump; use dump, lookup or symbolize on it", file: image)
        }
        if let arch {
            guard let a = Architecture(name: arch) else {
                let known = Architecture.allCases.map(\.rawValue).joined(separator: ", ")
                throw KallsymsError(.usage, "--arch: unknown architecture '\(arch)' (\(known))")
            }
            k.architecture = a
            k.elfMachine = nil
        }
        let b = try base.map { UInt64(bitPattern: try parseSigned($0, what: "--base")) }
        let bytes = try RecoveredELF.make(k, base: b)
        try FileIO.writeAtomically(output, bytes: bytes, mode: 0o755)
    }
}
