import ArgumentParser
import ELFKit
import KallsymsCore

struct Gen: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generate the kallsyms tables, as the kernel's scripts/kallsyms of the chosen version does.",
        discussion: """
            Up to linux-7.0, INPUT is `nm -n` output filtered by scripts/mksysmap (a System.map) \
            and the assembly goes to standard output (or -o). linux-7.3 reads the vmlinux ELF \
            itself (an empty file gives the first link's empty table): `gen --format linux-7.3 \
            [--sysmap=System.map] vmlinux OUT.bin` writes the byte arrays to OUT.bin and the .S \
            that pulls them in with .incbin; `--sysmap=FILE vmlinux` alone writes only System.map. \
            The output is byte-identical to that version's scripts/kallsyms. Unique prefixes of the \
            kernel's long options (e.g. --all) are accepted, as the kernel's getopt_long does.
            """)

    @OptionGroup var flags: GeneratorFlags

    @Option(name: .shortAndLong, help: ArgumentHelp("Write the .S to FILE (atomically) instead of standard output.", valueName: "file"), completion: .file())
    var output: String?

    @Option(help: "What to write: asm (the kernel's .S), object (an ELF relocatable object, no assembler needed) or raw (the bare .rodata blob, with FILE.layout.json describing it).")
    var emit: Emit = .asm

    @Option(help: "Target of --emit object/raw.")
    var arch: TableTarget?

    @Option(help: "linux-7.3: also write the symbols read from the ELF, in System.map format, to FILE.", completion: .file())
    var sysmap: String?

    @Argument(help: "The symbol map (`-`: standard input); for linux-7.3 the vmlinux ELF, then OUT.bin.", completion: .file())
    var inputs: [String]

    /// The kernel options whose unique prefixes `getopt_long` accepts.
    static let kernelLongOptions = GeneratorFlag.allCases.map(\.rawValue) + ["--sysmap"]

    static func expandingKernelOptionPrefixes(_ args: [String]) -> [String] {
        guard args.first == "gen" else { return args }
        return args.map { a in
            let (option, value) = a.firstIndex(of: "=").map { (String(a[..<$0]), String(a[$0...])) } ?? (a, "")
            guard option.hasPrefix("--"), option.count > 2, !kernelLongOptions.contains(option) else { return a }
            let matches = kernelLongOptions.filter { $0.hasPrefix(option) }
            return matches.count == 1 ? matches[0] + value : a
        }
    }

    var targetArch: Architecture? { arch?.architecture }

    func validate() throws {
        let format = flags.format
        if format.readsELF {
            let wanted = emit == .asm ? (sysmap == nil ? [2] : [1, 2]) : [1]
            guard wanted.contains(inputs.count) else {
                throw ValidationError(
                    emit == .asm
                        ? "linux-7.3 takes the vmlinux ELF and OUT.bin (or --sysmap=FILE and the ELF alone)"
                        : "--emit \(emit) takes the vmlinux ELF alone")
            }
        } else {
            guard inputs.count == 1 else { throw ValidationError("give exactly one symbol map") }
            guard sysmap == nil else { throw ValidationError("--sysmap exists in linux-7.3 only") }
        }
        if emit != .asm {
            guard targetArch != nil else {
                throw ValidationError(
                    "--emit \(emit) needs --arch (\(Architecture.tableObjectTargets.map(\.rawValue).joined(separator: ", ")))")
            }
            guard output != nil else { throw ValidationError("--emit \(emit) writes binary data: give -o FILE") }
        }
    }

    func run() throws {
        let options = flags.options
        var clock = PhaseClock()
        let input = inputs[0]
        let table: KallsymsTable
        if options.format.readsELF {
            let symbols = try ELFInput.symbols(path: input, sysmap: sysmap)
            clock.lap("read")
            if inputs.count == 1 && emit == .asm {
                // `--sysmap=FILE vmlinux`: the map only, with the warnings the symbols give.
                writeStderr(ELFSysmap(symbols: symbols, addressWidth: 16).warnings())
                return
            }
            table = try KallsymsGenerator.generate(symbols: symbols, options: options, warnings: { writeStderr($0) })
        } else {
            // The map text is dropped as soon as it is parsed: at 650k symbols it is 29 MB.
            let collected = try KallsymsGenerator.collect(
                mapBytes: FileIO.read(input), file: input, options: options, warnings: { writeStderr($0) })
            clock.lap("read")
            table = try KallsymsGenerator.generate(collected: collected, options: options, file: input)
        }
        if emit != .asm, let output, let target = targetArch {
            if emit == .object {
                try FileIO.writeAtomically(output, bytes: ObjectEmitter.object(table, arch: target))
            } else {
                let layout = BinaryLayout(table, arch: target)
                try FileIO.writeAtomically(output, bytes: layout.bytes)
                try FileIO.writeAtomically(
                    output + ".layout.json", bytes: Array(RawEmitter.layoutDescription(layout, arch: target).utf8))
            }
        } else if options.format.readsELF {
            let binName = inputs[1]
            try FileIO.writeAtomically(binName) { bin in
                if let output {
                    try FileIO.writeAtomically(output) { try AssemblyWriter.write(table, to: $0, bin: bin, binName: binName) }
                } else {
                    try AssemblyWriter.write(table, to: FileIO.standardOutput(), bin: bin, binName: binName)
                }
            }
        } else if let output {
            try FileIO.writeAtomically(output) { try AssemblyWriter.write(table, to: $0) }
        } else {
            try AssemblyWriter.write(table, to: FileIO.standardOutput())
        }
        clock.lap("total")
    }
}

/// 7.3's input: the symbols of a vmlinux ELF as its `kallsyms --sysmap` lists them, written to
/// `sysmap` when asked. An empty file is the first link's: no symbols.
enum ELFInput {
    static func symbols(path: String, sysmap: String?) throws -> SymbolList {
        let map = try ELFSysmap.read(path: path)
        if let sysmap { try FileIO.writeAtomically(sysmap, bytes: map.text()) }
        return map.symbols
    }
}

/// The generator's flags, shared by `gen` and `link`: the kernel's own options of
/// `scripts/kallsyms`, plus the format.
struct GeneratorFlags: ParsableArguments {
    @Option(help: "The kernel version whose scripts/kallsyms output to reproduce.")
    var format: KallsymsFormat = .linux612

    @Flag(name: .customLong("all-symbols"), help: "Keep symbols outside the text ranges (CONFIG_KALLSYMS_ALL).")
    var allSymbols = false

    @Flag(name: .customLong("absolute-percpu"), help: "6.1 and 6.12: store per-cpu symbols as absolute values.")
    var absolutePercpu = false

    @Flag(name: .customLong("base-relative"), help: "6.1 only: offsets from kallsyms_relative_base.")
    var baseRelative = false

    @Flag(name: .customLong("lto-clang"), help: "6.1 only: sort names as if cut at `.llvm.`.")
    var ltoClang = false

    @Flag(name: .customLong("pc-relative"), help: "7.0 and later: place-relative offsets (CONFIG_64BIT or CONFIG_RELOCATABLE).")
    var pcRelative = false

    func validate() throws {
        if let flag = options.unsupportedFlags.first {
            let takers = flag.formats.map(\.rawValue).joined(separator: ", ")
            throw ValidationError("\(flag.rawValue) does not exist in \(format.rawValue) (it belongs to \(takers))")
        }
    }

    var options: GeneratorOptions {
        GeneratorOptions(
            format: format, allSymbols: allSymbols, absolutePercpu: absolutePercpu, baseRelative: baseRelative,
            ltoClang: ltoClang, pcRelative: pcRelative)
    }
}
