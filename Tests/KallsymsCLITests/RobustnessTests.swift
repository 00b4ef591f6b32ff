import Foundation
import KallsymsCore
import KallsymsTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Files are replaced whole or not at all, even when the process is killed; every command gives
/// the same bytes every time.
@Suite(.serialized) struct RobustnessTests {
    static var kallsyms: String { CLITests.kallsyms }

    /// Starts the command, kills it with SIGKILL after `delay` seconds (if still running).
    func runAndKill(_ args: [String], after delay: Double) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Self.kallsyms)
        p.arguments = args
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        Thread.sleep(forTimeInterval: delay)
        if p.isRunning { kill(p.processIdentifier, SIGKILL) }
        p.waitUntilExit()
    }

    @Test func aKilledWriterLeavesTheOldFileOrTheNewOneNeverAMix() throws {
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let map = try DebianData.synthetic(4)
        // The complete output, for comparison.
        let full = try runProcess(Self.kallsyms, ["gen", "--all-symbols", "--absolute-percpu", "-o", "\(dir)/full.S", map])
        #expect(full.status == 0)
        let expected = try Data(contentsOf: URL(fileURLWithPath: "\(dir)/full.S"))
        #expect(expected.count > 30 << 20)
        let old = Data("old contents\n".utf8)
        var sawOld = false
        var sawNew = false
        var rng = SplitMix(seed: 7)
        for round in 0 ..< 12 {
            let out = "\(dir)/out.S"
            try old.write(to: URL(fileURLWithPath: out))
            // Spread the kills over the run (it takes about a second): parse, compress, write.
            let delay = round == 11 ? 30 : 0.05 + Double(rng.next() % 1500) / 1000
            try runAndKill(["gen", "--all-symbols", "--absolute-percpu", "-o", out, map], after: delay)
            let now = try Data(contentsOf: URL(fileURLWithPath: out))
            #expect(now == old || now == expected, "round \(round): \(now.count) bytes after a kill at \(delay) s")
            if now == old { sawOld = true }
            if now == expected { sawNew = true }
        }
        // Both outcomes happened, so kills landed before and after the rename.
        #expect(sawOld && sawNew)
    }

    /// Each command twice on the same input: the same bytes.
    @Test func everyCommandIsDeterministic() throws {
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let map = try DebianData.systemMap612()
        let image = try DebianData.kernel("6.12", "amd64").image
        let commands: [(String, [String])] = [
            ("gen.S", ["gen", "--all-symbols", "--absolute-percpu", "-o", "{o}", map]),
            ("gen.o", ["gen", "--all-symbols", "--absolute-percpu", "--emit", "object", "--arch", "x86_64", "-o", "{o}", map]),
            ("gen.raw", ["gen", "--all-symbols", "--absolute-percpu", "--emit", "raw", "--arch", "aarch64", "-o", "{o}", map]),
            ("gen61.S", ["gen", "--format", "linux-6.1", "--all-symbols", "-o", "{o}", map]),
            ("syms", ["syms", "-o", "{o}", Self.kallsyms]),
            ("dump.json", ["dump", "--format", "json", image]),
            ("info.json", ["info", "--json", image]),
            ("diff.json", ["diff", "--json", map, image]),
            ("elf", ["elf", "-o", "{o}", image]),
            ("dump", ["dump", image]),
            ("lookup", ["lookup", image, "start_kernel", "0xffffffff81000012", "no_such_symbol"]),
        ]
        // The second run stands in for another machine: one compression thread instead of all of
        // them, another locale and time zone, another working directory.
        let elsewhere = ["KALLSYMS_THREADS=1", "LC_ALL=C.UTF-8", "LANG=de_DE.UTF-8", "TZ=Pacific/Chatham"]
        for (name, args) in commands {
            var outputs: [Data] = []
            for k in 0 ..< 2 {
                let o = "\(dir)/\(name).\(k)"
                let argv = args.map { $0 == "{o}" ? o : $0 }
                let r =
                    k == 0
                    ? try runProcess(Self.kallsyms, argv)
                    : try runProcess("/usr/bin/env", ["-C", "/"] + elsewhere + [Self.kallsyms] + argv)
                let okStatus: Set<Int32> = name == "diff.json" || name == "lookup" ? [0, 1] : [0]
                #expect(okStatus.contains(r.status), "\(name) exited \(r.status): \(String(decoding: r.stderr, as: UTF8.self))")
                var bytes = Data(r.stdout)
                if let file = try? Data(contentsOf: URL(fileURLWithPath: o)) { bytes += file }
                if let layout = try? Data(contentsOf: URL(fileURLWithPath: o + ".layout.json")) { bytes += layout }
                outputs.append(bytes)
            }
            #expect(!outputs[0].isEmpty, "\(name)")
            #expect(outputs[0] == outputs[1], "\(name) differs between runs")
        }

        // symbolize reads its log from standard input.
        let log = Array(" [<ffffffffa1162d70>] ? _printk+0x10/0x60\n ffffffffa1000012\nKernel Offset: 0x20000000 from 0xffffffff81000000\n".utf8)
        let s1 = try runProcess(Self.kallsyms, ["symbolize", image], stdin: log)
        let s2 = try runProcess("/usr/bin/env", elsewhere + [Self.kallsyms, "symbolize", image], stdin: log)
        #expect(s1.status == 0 && s1.stdout.count > log.count)
        #expect(s1.stdout == s2.stdout && s1.stderr == s2.stderr)

        // link: the same objects give the same image and map.
        let fw = "\(dir)/fw"
        let build = try runProcess(
            "/usr/bin/env", ["FIRMWARE_OUT=\(fw)", "bash", "\(LinkCLITests.root)/examples/firmware/build.sh", Self.kallsyms])
        #expect(build.status == 0, "\(String(decoding: build.stderr, as: UTF8.self))")
        var images: [Data] = []
        for k in 0 ..< 2 {
            let args =
                ["link", "--all-symbols", "--map", "\(dir)/link.map.\(k)", "-o", "\(dir)/link.\(k)", "--"]
                + LinkCLITests.firmwareLink(fw)
            let r =
                k == 0
                ? try runProcess(Self.kallsyms, args) : try runProcess("/usr/bin/env", elsewhere + [Self.kallsyms] + args)
            #expect(r.status == 0, "\(String(decoding: r.stderr, as: UTF8.self))")
            images.append(
                try Data(contentsOf: URL(fileURLWithPath: "\(dir)/link.\(k)"))
                    + Data(contentsOf: URL(fileURLWithPath: "\(dir)/link.map.\(k)")))
        }
        #expect(images[0] == images[1], "link differs between runs")
    }
}
