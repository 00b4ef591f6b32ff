import ArgumentParser
import KallsymsCore

struct Gen: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generate the kallsyms tables from a symbol map, as the kernel's scripts/kallsyms does.",
        discussion: """
            MAP is `nm -n` output filtered by scripts/mksysmap (a System.map). The assembly written is \
            byte-identical to the chosen kernel version's scripts/kallsyms. Unique prefixes of the \
            kernel's long options (e.g. --all) are accepted, as the kernel's getopt_long does.
            """)

    @OptionGroup var flags: GeneratorFlags

    @Option(name: .shortAndLong, help: "Write to FILE (atomically) instead of standard output.")
    var output: String?

    @Option(help: "What to write: asm (the kernel's .S), object (an ELF relocatable object, no assembler needed) or raw (the bare .rodata blob, with FILE.layout.json describing it).")
    var emit: String = "asm"

    @Option(help: "Target of --emit object/raw: \(TargetArch.allCases.map(\.rawValue).joined(separator: ", ")).")
    var arch: String?

    @Argument(help: "The symbol map (`-`: standard input).")
    var map: String

    /// The kernel options whose unique prefixes `getopt_long` accepts.
    static let kernelLongOptions = ["--all-symbols", "--absolute-percpu", "--base-relative", "--lto-clang"]

    static func expandingKernelOptionPrefixes(_ args: [String]) -> [String] {
        guard args.first == "gen" else { return args }
        return args.map { a in
            guard a.hasPrefix("--"), a.count > 2, !kernelLongOptions.contains(a) else { return a }
            let matches = kernelLongOptions.filter { $0.hasPrefix(a) }
            return matches.count == 1 ? matches[0] : a
        }
    }

    func validate() throws {
        guard ["asm", "object", "raw"].contains(emit) else {
            throw ValidationError("unknown --emit '\(emit)' (expected asm, object or raw)")
        }
        if emit != "asm" {
            guard let arch, TargetArch(rawValue: arch) != nil else {
                throw ValidationError(
                    "--emit \(emit) needs --arch (\(TargetArch.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            guard output != nil else { throw ValidationError("--emit \(emit) writes binary data: give -o FILE") }
        }
    }

    func run() throws {
        let options = flags.options
        var clock = PhaseClock()
        // The map text is dropped as soon as it is parsed: at 650k symbols it is 29 MB.
        let collected = try KallsymsGenerator.collect(
            mapBytes: FileIO.read(map), file: map, options: options, warnings: { writeStderr($0) })
        clock.lap("read")
        let table = try KallsymsGenerator.generate(collected: collected, options: options, file: map)
        if emit != "asm", let output, let target = arch.flatMap(TargetArch.init(rawValue:)) {
            if emit == "object" {
                try FileIO.writeAtomically(output, bytes: ObjectEmitter.object(table, arch: target))
            } else {
                let layout = BinaryLayout(table, arch: target)
                try FileIO.writeAtomically(output, bytes: layout.bytes)
                try FileIO.writeAtomically(
                    output + ".layout.json", bytes: Array(RawEmitter.layoutDescription(layout, arch: target).utf8))
            }
        } else if let output {
            try FileIO.writeAtomically(output) { try AssemblyWriter.write(table, to: $0) }
        } else {
            try AssemblyWriter.write(table, to: FileIO.standardOutput())
        }
        clock.lap("total")
    }
}

/// The generator's flags, shared by `gen` and `link`: the kernel's own options of
/// `scripts/kallsyms`, plus the format.
struct GeneratorFlags: ParsableArguments {
    @Option(help: "Kernel format: linux-6.12 or linux-6.1.")
    var format: String = KallsymsFormat.linux612.rawValue

    @Flag(name: .customLong("all-symbols"), help: "Keep symbols outside the text ranges (CONFIG_KALLSYMS_ALL).")
    var allSymbols = false

    @Flag(name: .customLong("absolute-percpu"), help: "Store per-cpu symbols as absolute values.")
    var absolutePercpu = false

    @Flag(name: .customLong("base-relative"), help: "6.1 only: offsets from kallsyms_relative_base.")
    var baseRelative = false

    @Flag(name: .customLong("lto-clang"), help: "6.1 only: sort names as if cut at `.llvm.`.")
    var ltoClang = false

    func validate() throws {
        guard let f = KallsymsFormat(rawValue: format) else {
            throw ValidationError("unknown --format '\(format)' (expected linux-6.12 or linux-6.1)")
        }
        if f == .linux612 && (baseRelative || ltoClang) {
            throw ValidationError(
                "--\(baseRelative ? "base-relative" : "lto-clang") does not exist in linux-6.12 (6.12 always uses base-relative offsets); use --format linux-6.1")
        }
    }

    var options: GeneratorOptions {
        GeneratorOptions(
            format: KallsymsFormat(rawValue: format)!, allSymbols: allSymbols, absolutePercpu: absolutePercpu,
            baseRelative: baseRelative, ltoClang: ltoClang)
    }
}
