import Foundation
import KallsymsCore
import KallsymsTestSupport
import Testing

/// `info`, `dump`, `lookup` and `symbolize` on Debian's real 6.12 amd64 bzImage, checked against
/// the System.map of the same build.
@Suite struct ReaderCLITests {
    static func run(_ args: [String], stdin: [UInt8]? = nil) throws -> (status: Int32, out: String, err: String) {
        let r = try runProcess(CLITests.kallsyms, args, stdin: stdin)
        return (r.status, String(decoding: r.stdout, as: UTF8.self), String(decoding: r.stderr, as: UTF8.self))
    }

    @Test func dumpEqualsTheSystemMapsTableEntries() throws {
        let (image, map) = try DebianData.kernel("6.12", "amd64", map: true)
        let r = try Self.run(["dump", image])
        #expect(r.status == 0)
        // The lines are the table generated from the same build's System.map (Debian's flags),
        // in table order, `%016x %c %s`.
        let table = try KallsymsGenerator.generate(
            mapBytes: FileIO.read(map!), options: GeneratorOptions(allSymbols: true, absolutePercpu: true))
        var expected = ""
        for i in 0 ..< table.symbols.count {
            let hex = String(table.symbols.addresses[i], radix: 16)
            expected += String(repeating: "0", count: 16 - hex.count) + hex + " "
            expected += String(Character(Unicode.Scalar(table.symbols.type(i)))) + " " + table.symbols.nameString(i) + "\n"
        }
        let same = r.out == expected
        #expect(same, "dump differs from the generated table")
        #expect(r.out.contains("0000000000000000 A fixed_percpu_data\n"))
        let json = try Self.run(["dump", "--format", "json", image])
        #expect(json.status == 0)
        let parsed = try JSONSerialization.jsonObject(with: Data(json.out.utf8)) as? [[String: String]]
        #expect(parsed?.count == 162_959)
        #expect(parsed?.first?["name"] != nil)
    }

    @Test func infoLookupAndSymbolize() throws {
        let (image, _) = try DebianData.kernel("6.12", "amd64")
        let info = try Self.run(["info", image])
        #expect(info.status == 0)
        #expect(info.out.contains("bzImage payload"))
        #expect(info.out.contains("zstd"))
        #expect(info.out.contains("array order 6.4+, absolute-percpu"))
        #expect(info.out.contains("symbols:       162959"))

        let l = try Self.run(["lookup", image, "start_kernel", "0xffffffff81000012", "ffffffff83338a90"])
        #expect(l.status == 0)
        #expect(
            l.out == """
                ffffffff83338a80 T start_kernel
                ffffffff81000012 sev_es_terminate+0x2/0x30
                ffffffff83338a90 start_kernel+0x10/0x890

                """)
        let slid = try Self.run(["lookup", "--slide", "0x20000000", image, "0xffffffffa1000012", "start_kernel"])
        #expect(slid.out == "ffffffffa1000012 sev_es_terminate+0x2/0x30\nffffffffa3338a80 T start_kernel\n")
        let missing = try Self.run(["lookup", image, "no_such_symbol", "0x10"])
        #expect(missing.status == 1)
        #expect(missing.out == "? ? no_such_symbol\n0000000000000010 ?\n")

        let log = """
            RIP: 0010:x86_pmu_enable+0x2bf/0x350
            RSP: 0018:ffffc90000013e38 EFLAGS: 00010246
             [<ffffffffa1162d70>] ? _printk+0x10/0x60
             ffffffffa1000012
            Kernel Offset: 0x20000000 from 0xffffffff81000000 (relocation range: 0xffffffff80000000-0xffffffffbfffffff)
            """
        let s = try Self.run(["symbolize", image], stdin: Array(log.utf8))
        #expect(s.status == 0)
        #expect(s.err.contains("slide 0x20000000"))
        #expect(
            s.out == """
                RIP: 0010:x86_pmu_enable+0x2bf/0x350 (0xffffffff8100ffff)
                RSP: 0018:ffffc90000013e38 EFLAGS: 00010246
                 [<ffffffffa1162d70>] ? _printk+0x10/0x60 (0xffffffff81162d70; this image says size 0x80)
                 ffffffffa1000012 sev_es_terminate+0x2/0x30
                Kernel Offset: 0x20000000 from 0xffffffff81000000 (relocation range: 0xffffffff80000000-0xffffffffbfffffff)
                """)
        // Without the Kernel Offset line the slide comes from the address/symbol pair.
        let noOffset = log.split(separator: "\n").dropLast().joined(separator: "\n")
        let s2 = try Self.run(["symbolize", image], stdin: Array(noOffset.utf8))
        #expect(s2.err.contains("slide 0x20000000 from 1 address/symbol pair"))
        // `-` is standard input, for the image or the log but not both.
        let piped = try Self.run(["symbolize", "-", "/dev/null"], stdin: Array(try Data(contentsOf: URL(fileURLWithPath: image))))
        #expect(piped.status == 0 && piped.err.contains("slide 0x0"))
        let both = try Self.run(["symbolize", "-"], stdin: Array(log.utf8))
        #expect(both.status == 2 && both.err.contains("cannot both come from standard input"))
        // A file that is not a kernel: exit 2 and the file named.
        let bad = try Self.run(["info", "/etc/hostname"])
        #expect(bad.status == 2)
        #expect(bad.err.contains("/etc/hostname: no kallsyms table found: expected an ELF vmlinux"))
    }

    /// `kallsyms elf` output is accepted by nm, objdump and gdb, with every recovered symbol.
    @Test(arguments: ["6.12-amd64", "6.1-arm64", "6.1-s390x"])
    func recoveredELFWorksWithBinutilsAndGdb(_ which: String) throws {
        let parts = which.split(separator: "-").map(String.init)
        let (image, _) = try DebianData.kernel(parts[0], parts[1])
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let out = dir + "/kernel.elf"
        let r = try Self.run(["elf", image, "-o", out])
        #expect(r.status == 0, "\(r.err)")
        let dump = try Self.run(["dump", image]).out.split(separator: "\n")
        // nm lists every symbol that is not absolute, at its address, with its name.
        let nm = try runProcess("/usr/bin/nm", ["-n", out])
        #expect(nm.status == 0)
        var fromNm = Set<String>()
        for line in String(decoding: nm.stdout, as: UTF8.self).split(separator: "\n") {
            let f = line.split(separator: " ", maxSplits: 2)
            if f.count == 3 { fromNm.insert("\(f[0]) \(f[2])") }
        }
        var missing = 0
        for line in dump {
            let f = line.split(separator: " ", maxSplits: 2)
            if f[1] == "A" || f[1] == "a" { continue }
            if !fromNm.contains("\(f[0]) \(f[2])") { missing += 1 }
        }
        #expect(missing == 0)
        let gdb = try runProcess("/usr/bin/gdb", ["-batch", "-nx", "-ex", "info address start_kernel", out])
        #expect(String(decoding: gdb.stdout, as: UTF8.self).contains("Symbol \"start_kernel\" is at 0x"))
        let objdump = try runProcess("/usr/bin/objdump", ["-h", out])
        #expect(objdump.status == 0)
    }

    /// `info` and `elf` need no hints on any Debian image: the architecture and the load address
    /// come from the image, and nm of `elf`'s output lists exactly the (address, name) pairs
    /// `dump` prints (nm's type letters follow the regions' flags: data in an executable
    /// segment shows as text).
    @Test(arguments: [
        "6.12-amd64", "6.1-amd64", "6.1-i386", "6.1-arm64", "6.1-armhf", "6.1-armel", "6.1-ppc64el", "6.1-s390x",
        "6.1-mipsel", "6.1-mipsel:octeon", "6.1-mips64el", "6.1-mips64el:loongson-3",
    ])
    func elfNeedsNoHints(_ which: String) throws {
        let parts = which.split(separator: "-", maxSplits: 1).map(String.init)
        let (image, map) = try DebianData.kernel(parts[0], parts[1], map: true)
        let info = try Self.run(["info", image])
        #expect(info.status == 0)
        #expect(!info.out.contains("architecture:  unknown"))
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let out = dir + "/kernel.elf"
        let r = try Self.run(["elf", image, "-o", out])
        #expect(r.status == 0, "\(r.err)")
        func pairs(_ text: [UInt8]) -> [String] {
            String(decoding: text, as: UTF8.self).split(separator: "\n").map { line in
                let f = line.split(separator: " ", maxSplits: 2)
                return "\(f[0]) \(f[2])"
            }.sorted()
        }
        let dump = try runProcess(CLITests.kallsyms, ["dump", image])
        let nm = try runProcess("/usr/bin/nm", [out])
        #expect(nm.status == 0)
        let same = pairs(dump.stdout) == pairs(nm.stdout)
        #expect(same, "nm of the ELF and dump differ")
        // A raw image's load address is the build's own _text (System.map; 32-bit maps print
        // it sign-extended).
        if info.out.contains("load address:") {
            let text = try String(contentsOfFile: map!, encoding: .utf8).split(separator: "\n")
                .first { $0.hasSuffix(" T _text") }.map { String($0.prefix { $0 != " " }) }
            let digits = String(text!.suffix(info.out.contains("32-bit") ? 8 : 16))
            let stripped = String(digits.drop { $0 == "0" })
            #expect(info.out.contains("load address:  0x\(stripped) ("), "\(info.out)")
        }
    }
}
