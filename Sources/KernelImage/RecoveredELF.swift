import ELFKit
import KallsymsCore

/// An ELF file carrying a kernel's code and the symbols recovered from its kallsyms table, as
/// vmlinux-to-elf makes: for `nm`, `objdump -d` and gdb.
public enum RecoveredELF {
    /// The address of the kernel's first byte for raw images: `base` when given, else what the
    /// image says (LoadAddress).
    /// - Parameters:
    ///   - k: A raw kernel (not an ELF, whose segments carry their addresses).
    ///   - base: The address the user gave, if any.
    /// - Returns: The load address of `k.kernelBytes[0]`.
    /// - Throws: `KallsymsError` (usage) when no base is given and the image does not say: no
    ///   `_text` in its table, no exported-symbol records to vote with.
    public static func imageBase(_ k: KernelImage, base: UInt64?) throws -> UInt64 {
        if let base { return base }
        if let found = LoadAddress.of(k) { return found.address }
        throw KallsymsError(
            .usage,
            "the image does not say where it is loaded (no _text symbol, no exported-symbol records); give the address of its first byte with --base"
        )
    }

    /// The ELF file's bytes: an `ET_EXEC` of the kernel's `e_machine`, one `PT_LOAD` per loaded
    /// segment of an ELF kernel (or one region at the image base for a raw kernel), and a
    /// `.symtab` with every table symbol. Type letters become ELF types and bindings (`t`/`T`:
    /// function, `d`/`b`/`r`/…: object, lower case: local, `w`/`v`: weak); each symbol's size
    /// runs to the next higher address.
    /// - Parameters:
    ///   - k: The kernel read by ``KernelImage/read(path:limit:)``.
    ///   - base: For raw kernels: the load address of the first byte, when known better than
    ///     the image says (see ``imageBase(_:base:)``).
    /// - Returns: The whole ELF file.
    /// - Throws: `KallsymsError` (usage) when the architecture is unknown or a raw kernel's load
    ///   address cannot be found.
    public static func make(_ k: KernelImage, base: UInt64? = nil) throws -> [UInt8] {
        guard let machine = k.elfMachine ?? k.architecture?.machine else {
            throw KallsymsError(.usage, "unknown architecture: cannot choose an ELF machine")
        }
        var w = ELFImageWriter(
            is64: k.layout.pointerSize == 8, byteOrder: k.layout.byteOrder, machine: machine)
        if !k.segments.isEmpty {
            for (i, s) in k.segments.enumerated() {
                w.regions.append(
                    .init(
                        name: s.executable ? ".text.\(i)" : ".data.\(i)", address: s.address,
                        bytes: Array(k.kernelBytes[s.offset ..< s.offset + s.size]), executable: s.executable))
            }
        } else {
            let start = try imageBase(k, base: base)
            w.regions.append(.init(name: ".kernel", address: start, bytes: k.kernelBytes, executable: true))
        }
        let t = k.table
        let s = t.symbols
        w.symbols.reserveCapacity(s.count)
        for i in 0 ..< s.count {
            let a = s.addresses[i]
            let type = s.type(i)
            var size: UInt64 = 0
            var j = i + 1
            while j < s.count && s.addresses[j] == a { j += 1 }
            if j < s.count { size = s.addresses[j] - a }
            let region = w.regions.firstIndex { a >= $0.address && a - $0.address < UInt64($0.bytes.count) }
            let lower = type | 0x20
            let elfType: SymbolType =
                switch lower {
                case UInt8(ascii: "t"), UInt8(ascii: "w"): .function
                case UInt8(ascii: "d"), UInt8(ascii: "b"), UInt8(ascii: "r"), UInt8(ascii: "g"), UInt8(ascii: "s"),
                    UInt8(ascii: "v"):
                    .object
                default: .notype
                }
            let binding: SymbolBinding =
                lower == UInt8(ascii: "w") || lower == UInt8(ascii: "v")
                ? .weak : (type == lower ? .local : .global)
            w.symbols.append(
                .init(
                    name: Array(s.name(i)), value: a, size: region == nil ? 0 : size, binding: binding, type: elfType,
                    region: lower == UInt8(ascii: "a") ? nil : region))
        }
        return w.write()
    }
}
