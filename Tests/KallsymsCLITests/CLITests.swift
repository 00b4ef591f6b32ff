import Foundation
import KallsymsCore
import KallsymsTestSupport
import Testing

final class ReadBox: @unchecked Sendable {
    var data: Data?
}

/// The `kallsyms` executable as a user (or a kernel build) runs it.
@Suite struct CLITests {
    /// The built executable, beside the test bundle.
    static var kallsyms: String {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: exe).deletingLastPathComponent().appendingPathComponent("kallsyms").path
    }

    static let sample = """
        0000000000000000 D __per_cpu_start
        0000000000000040 D pcpu_thing
        0000000000001000 D __per_cpu_end
        ffffffff81000000 T _stext
        ffffffff81000000 T _text
        ffffffff81000010 T start_kernel
        ffffffff81000020 t helper
        ffffffff81000030 W weak_alias
        ffffffff81000100 T _etext
        ffffffff82000000 D some_data

        """

    func withMap(_ text: String = sample, _ body: (String, String) throws -> Void) throws {
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/System.map"
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        try body(dir, path)
    }

    @Test func genWritesTheSameBytesAsTheLibraryAndTheReference() throws {
        try withMap { dir, map in
            let r = try runProcess(Self.kallsyms, ["gen", "--all-symbols", "--absolute-percpu", map])
            #expect(r.status == 0)
            let table = try KallsymsGenerator.generate(
                mapBytes: Array(Self.sample.utf8), options: GeneratorOptions(allSymbols: true, absolutePercpu: true))
            #expect(r.stdout == AssemblyWriter.write(table))
            let ref = try runProcess(ReferenceTool.path(.linux612), ["--all-symbols", "--absolute-percpu", map])
            #expect(ref.status == 0)
            #expect(r.stdout == ref.stdout)
            // `-` reads the map from standard input; errors then name `-` and the line.
            let piped = try runProcess(Self.kallsyms, ["gen", "--all-symbols", "--absolute-percpu", "-"], stdin: Array(Self.sample.utf8))
            #expect(piped.status == 0 && piped.stdout == ref.stdout)
            let bad = try runProcess(Self.kallsyms, ["gen", "-"], stdin: Array((Self.sample + "zz\n").utf8))
            #expect(bad.status == 2 && String(decoding: bad.stderr, as: UTF8.self).contains("-:11: line format error"))
        }
    }

    @Test(.tags(.offline)) func uniquePrefixesOfKernelOptionsWork() throws {
        try withMap { _, map in
            let full = try runProcess(Self.kallsyms, ["gen", "--all-symbols", "--absolute-percpu", map])
            let short = try runProcess(Self.kallsyms, ["gen", "--all", map, "--abs"])
            #expect(short.status == 0)
            #expect(short.stdout == full.stdout)
        }
    }

    @Test func flagsOfTheOtherFormatAreRejected() throws {
        try withMap { _, map in
            let r = try runProcess(Self.kallsyms, ["gen", "--base-relative", map])
            #expect(r.status == 2)
            #expect(String(decoding: r.stderr, as: UTF8.self).contains("linux-6.1"))
            #expect(r.stdout.isEmpty)
            let ok = try runProcess(Self.kallsyms, ["gen", "--format", "linux-6.1", "--base-relative", "--all", "--abs", map])
            #expect(ok.status == 0)
            let ref = try runProcess(ReferenceTool.path(.linux61), ["--base-relative", "--all-symbols", "--absolute-percpu", map])
            #expect(ok.stdout == ref.stdout)
        }
    }

    @Test(.tags(.offline)) func errorsNameTheFileAndLineAndLeaveNoOutputFile() throws {
        try withMap(Self.sample + "not a symbol line\n") { dir, map in
            let out = dir + "/out.S"
            let r = try runProcess(Self.kallsyms, ["gen", "-o", out, map])
            #expect(r.status == 2)
            let message = String(decoding: r.stderr, as: UTF8.self)
            #expect(message.contains("\(map):11: line format error"))
            #expect(!FileManager.default.fileExists(atPath: out))
            // No temporary file is left behind either.
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["System.map"])
        }
    }

    @Test(.tags(.offline)) func aFailedRunKeepsTheOldOutputFile() throws {
        try withMap { dir, map in
            let out = dir + "/out.S"
            let good = try runProcess(Self.kallsyms, ["gen", "--all-symbols", "--absolute-percpu", "-o", out, map])
            #expect(good.status == 0)
            let before = try Data(contentsOf: URL(fileURLWithPath: out))
            // Without --absolute-percpu the per-cpu symbols are out of range: the run fails.
            let bad = try runProcess(Self.kallsyms, ["gen", "--all-symbols", "-o", out, map])
            #expect(bad.status == 2)
            #expect(String(decoding: bad.stderr, as: UTF8.self).contains("out of range in relative mode"))
            #expect(try Data(contentsOf: URL(fileURLWithPath: out)) == before)
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir).sorted() == ["System.map", "out.S"])
        }
    }

    @Test(.tags(.offline)) func emitObjectAndRaw() throws {
        try withMap { dir, map in
            let obj = dir + "/t.o"
            let r = try runProcess(Self.kallsyms, ["gen", "--all", "--abs", "--emit", "object", "--arch", "aarch64", "-o", obj, map])
            #expect(r.status == 0)
            let table = try KallsymsGenerator.generate(
                mapBytes: Array(Self.sample.utf8), options: GeneratorOptions(allSymbols: true, absolutePercpu: true))
            #expect([UInt8](try Data(contentsOf: URL(fileURLWithPath: obj))) == ObjectEmitter.object(table, arch: .aarch64))
            let raw = dir + "/t.bin"
            let r2 = try runProcess(Self.kallsyms, ["gen", "--all", "--abs", "--emit", "raw", "--arch", "i386", "-o", raw, map])
            #expect(r2.status == 0)
            let layout = BinaryLayout(table, arch: .i386)
            #expect([UInt8](try Data(contentsOf: URL(fileURLWithPath: raw))) == layout.bytes)
            let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: raw + ".layout.json"))) as? [String: Any]
            #expect(json?["pointer_size"] as? Int == 4)
            #expect((json?["labels"] as? [[String: Any]])?.count == 8)
            #expect((json?["relocations"] as? [[String: Any]])?.first?["offset"] as? Int == layout.label(.relativeBase)?.offset)
            // Binary output needs a target and a file.
            let noArch = try runProcess(Self.kallsyms, ["gen", "--emit", "object", "-o", obj, map])
            #expect(noArch.status == 2)
            let noFile = try runProcess(Self.kallsyms, ["gen", "--emit", "object", "--arch", "x86_64", map])
            #expect(noFile.status == 2)
        }
    }

    @Test(.tags(.offline)) func aFIFOOutputIsWrittenInPlace() throws {
        try withMap { dir, map in
            let fifo = dir + "/pipe"
            #expect(mkfifo(fifo, 0o600) == 0)
            let box = ReadBox()
            let reader = Thread { box.data = FileHandle(forReadingAtPath: fifo)?.readDataToEndOfFile() ?? Data() }
            reader.start()
            let r = try runProcess(Self.kallsyms, ["gen", "--all", "--abs", "-o", fifo, map])
            while box.data == nil { usleep(1000) }
            #expect(r.status == 0)
            var st = stat()
            #expect(stat(fifo, &st) == 0 && (st.st_mode & S_IFMT) == S_IFIFO)
            let expected = try runProcess(Self.kallsyms, ["gen", "--all", "--abs", map]).stdout
            #expect([UInt8](box.data!) == expected)
        }
    }

    @Test(.tags(.offline)) func aMissingMapIsNamed() throws {
        let r = try runProcess(Self.kallsyms, ["gen", "/nonexistent/System.map"])
        #expect(r.status == 2)
        #expect(String(decoding: r.stderr, as: UTF8.self).contains("/nonexistent/System.map: No such file or directory"))
    }

    /// The drop-in wrapper behaves like the kernel's binary where link-vmlinux.sh looks: stdout
    /// and exit status (1 on failure).
    /// The kernel versions the installer maps to each format, and the flags each takes.
    static let dropInVersions: [(version: (Int, Int), format: KallsymsFormat, flags: [String], failing: [String])] = [
        ((6, 1), .linux61, ["--all-symbols", "--absolute-percpu", "--base-relative"], ["--all-symbols", "--base-relative"]),
        ((6, 12), .linux612, ["--all-symbols", "--absolute-percpu"], ["--all-symbols"]),
        ((6, 17), .linux615, ["--all-symbols"], ["--absolute-percpu"]),
        ((7, 1), .linux70, ["--all-symbols", "--pc-relative"], ["--no-such-option"]),
        ((7, 3), .linux73, ["--all-symbols", "--pc-relative"], ["--no-such-option"]),
    ]

    /// The installed wrapper against the reference binary of the version the tree says: same
    /// output, same success or failure (and for 7.3 the same .bin and System.map).
    @Test(arguments: 0 ..< dropInVersions.count)
    func dropInWrapperMatchesTheKernelsBinary(_ index: Int) throws {
        let (version, format, flags, failingFlags) = Self.dropInVersions[index]
        // 6.15 and later have no absolute per-cpu encoding: the sample without its per-cpu block.
        let text = format.era >= .v6_15 ? Self.sample.split(separator: "\n").filter { !$0.hasPrefix("0") }.joined(separator: "\n") + "\n" : Self.sample
        try withMap(text) { dir, map in
            let tree = dir + "/linux"
            try FileManager.default.createDirectory(atPath: tree + "/scripts", withIntermediateDirectories: true)
            try Data("VERSION = \(version.0)\nPATCHLEVEL = \(version.1)\nSUBLEVEL = 0\n".utf8).write(
                to: URL(fileURLWithPath: tree + "/Makefile"))
            let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().appendingPathComponent("scripts/install-dropin.sh").path
            let install = try runProcess("/bin/bash", [script, tree, Self.kallsyms])
            #expect(install.status == 0, "\(String(decoding: install.stderr, as: UTF8.self))")
            #expect(String(decoding: install.stdout, as: UTF8.self).contains("--format \(format.rawValue)"))
            let reference = try ReferenceTool.path(format)
            var input = map
            if format.readsELF {
                // 7.3 reads a linked ELF: a small program with text, data and weak symbols.
                try Data("int counter; static int hidden(void) { return 1; }\nint __attribute__((weak)) w(void) { return hidden(); }\nint f(void) { return counter + w(); }\n".utf8)
                    .write(to: URL(fileURLWithPath: dir + "/t.c"))
                let cc = try runProcess("/usr/bin/gcc", ["-static", "-nostdlib", "-e", "f", "-o", dir + "/t", dir + "/t.c"])
                #expect(cc.status == 0)
                input = dir + "/t"
            }
            func run(_ tool: String, _ args: [String], tag: String) throws -> (status: Int32, stdout: [UInt8], files: [[UInt8]]) {
                var a = args
                var files: [String] = []
                if format.readsELF {
                    files = [dir + "/\(tag).bin", dir + "/\(tag).map"]
                    a = ["--sysmap=" + files[1]] + a + [files[0]]
                }
                let r = try runProcess(tool, a)
                return (r.status, r.stdout, try files.map { (try? FileIO.read($0)) ?? [] })
            }
            let wrapped = try run(tree + "/scripts/kallsyms", flags + [input], tag: "ours")
            let ref = try run(reference, flags + [input], tag: "ref")
            #expect(ref.status == 0)
            #expect(wrapped.status == 0)
            // The .S names its .bin: compare with the names made equal.
            let renamed = String(decoding: wrapped.stdout, as: UTF8.self).replacingOccurrences(of: "/ours.bin", with: "/ref.bin")
            #expect(renamed == String(decoding: ref.stdout, as: UTF8.self))
            #expect(wrapped.files == ref.files)
            let failing = try run(tree + "/scripts/kallsyms", failingFlags + [input], tag: "ours-failing")
            let refFailing = try run(reference, failingFlags + [input], tag: "ref-failing")
            #expect(refFailing.status == 1)
            #expect(failing.status == 1)
        }
    }

}
