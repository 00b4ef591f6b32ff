import ArgumentParser
import KallsymsCore
import KernelImage

struct Lookup: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Resolve addresses to name+0xoff/0xsize and names to addresses, as the kernel does.",
        discussion: """
            An address (hex, 0x optional) prints `ADDRESS name+0xoff/0xsize` for the first alias at \
            the symbol's start, the size running to the next higher address. A name prints \
            `ADDRESS TYPE name` for its lowest address. With --slide, addresses are run-time ones \
            (link address + slide). Exit status 1 when something was not found.
            """)

    @Argument(help: ArgumentHelp(imageHelp), completion: .file())
    var image: String

    @Argument(help: "Addresses (0xffffffff81000000, ffffffff81000000) or symbol names.")
    var queries: [String]

    @OptionGroup var memoryOptions: MemoryOptions

    @Option(help: "The KASLR slide (run-time minus link-time address; hex or decimal, may be negative).")
    var slide: String?

    func run() throws {
        let k = try memoryOptions.read(image)
        let s = try slide.map { try parseSigned($0, what: "--slide") } ?? 0
        let width = k.layout.pointerSize * 2
        var missing = 0
        var out = ""
        for q in queries {
            if let address = Self.address(q) {
                let link = address &- UInt64(bitPattern: s)
                if let m = k.table.lookup(address: link) {
                    out += "\(Self.hex(address, width)) \(m.formatted)\n"
                } else {
                    out += "\(Self.hex(address, width)) ?\n"
                    missing += 1
                }
            } else if let i = k.table.firstIndex(named: Array(q.utf8)) {
                let a = k.symbols.addresses[i] &+ UInt64(bitPattern: s)
                out += "\(Self.hex(a, width)) \(Character(Unicode.Scalar(k.symbols.type(i)))) \(q)\n"
            } else {
                out += "? ? \(q)\n"
                missing += 1
            }
        }
        writeStdout(out)
        if missing > 0 { throw ExitCode(1) }
    }

    /// A query is an address when it is hex with a 0x prefix, or 8+ hex digits.
    static func address(_ q: String) -> UInt64? {
        if q.hasPrefix("0x") || q.hasPrefix("0X") { return UInt64(q.dropFirst(2), radix: 16) }
        if q.count >= 8, q.allSatisfy(\.isHexDigit) { return UInt64(q, radix: 16) }
        return nil
    }

    static func hex(_ v: UInt64, _ width: Int) -> String {
        let s = String(v, radix: 16)
        return String(repeating: "0", count: max(0, width - s.count)) + s
    }
}
