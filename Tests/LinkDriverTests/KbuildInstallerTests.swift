import Foundation
import KallsymsCore
import KallsymsTestSupport
import LinkDriver
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `kallsyms kbuild` on the kernel's own link-vmlinux.sh of 6.1, 6.12 and 7.3, as files in fake
/// trees (a Makefile with VERSION/PATCHLEVEL and scripts/link-vmlinux.sh).
@Suite struct KbuildInstallerTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    /// A fake tree holding the kernel's script of `version`; returns (tree, original bytes).
    static func tree(_ version: String, makefileVersion: String? = nil, script: [UInt8]? = nil) throws -> (String, [UInt8]) {
        let dir = try makeTemporaryDirectory()
        try FileManager.default.createDirectory(atPath: "\(dir)/scripts", withIntermediateDirectories: true)
        let v = (makefileVersion ?? version).split(separator: ".")
        try Data("VERSION = \(v[0])\nPATCHLEVEL = \(v[1])\nSUBLEVEL = 0\nEXTRAVERSION =\nNAME = Test\n".utf8)
            .write(to: URL(fileURLWithPath: "\(dir)/Makefile"))
        let bytes = try script ?? FileIO.read(try ReferenceTool.linkVmlinuxScript(version))
        try FileIO.writeAtomically("\(dir)/scripts/link-vmlinux.sh", bytes: bytes, mode: 0o755)
        return (dir, bytes)
    }

    static func read(_ tree: String) throws -> [UInt8] { try FileIO.read("\(tree)/scripts/link-vmlinux.sh") }

    static func shellSyntax(_ shell: String, _ path: String) throws -> String? {
        let r = try runProcess("/usr/bin/env", [shell, "-n", path])
        return r.status == 0 ? nil : String(decoding: r.stderr, as: UTF8.self)
    }

    static let shapes: [(String, KbuildInstaller.Shape, KallsymsFormat)] = [
        ("6.1", .v6_1, .linux61), ("6.12", .v6_12, .linux612), ("7.3", .v7_3, .linux73),
    ]

    @Test(arguments: shapes)
    func installStatusUninstallRoundTrip(_ version: String, _ shape: KbuildInstaller.Shape, _ format: KallsymsFormat) throws {
        let (tree, original) = try Self.tree(version)
        defer { try? FileManager.default.removeItem(atPath: tree) }
        let script = "\(tree)/scripts/link-vmlinux.sh"
        #expect(try KbuildInstaller.status(tree: tree).0 == .notInstalled(shape, format))

        let (outcome, _, got) = try KbuildInstaller.install(tree: tree, binary: "/opt/it's here/kallsyms")
        #expect(outcome == .installed && got == shape)
        let patched = try Self.read(tree)
        #expect(patched != original)
        #expect(try KbuildInstaller.status(tree: tree).0 == .installed(shape, format))
        // The kernel runs it with /bin/sh (dash here); bash for good measure.
        #expect(try Self.shellSyntax("sh", script) == nil)
        #expect(try Self.shellSyntax("bash", script) == nil)
        let text = String(decoding: patched, as: UTF8.self)
        #expect(text.contains("kallsyms_link_format=\(format)\n"))
        #expect(text.contains("kallsyms_link_bin=${KALLSYMS_LINK_BIN:-'/opt/it'\\''s here/kallsyms'}\n"))
        // Everything of the original is still there, in order: the patch only adds, and guards
        // the kernel's passes.
        var rest = Substring(text)
        let guarded = String(decoding: original, as: UTF8.self).replacingOccurrences(
            of: "if is_enabled CONFIG_KALLSYMS; then\n\n\t# kallsyms support\n",
            with: "if is_enabled CONFIG_KALLSYMS && [ -z \"${kallsyms_link}\" ]; then\n\n\t# kallsyms support\n"
        ).replacingOccurrences(
            of: "\tvmlinux_link .tmp_vmlinux1\n",
            with: "\tif [ -z \"${kallsyms_link}\" ] || is_enabled CONFIG_DEBUG_INFO_BTF; then\n\t\tvmlinux_link .tmp_vmlinux1\n\tfi\n")
        #expect(guarded != String(decoding: original, as: UTF8.self))
        for line in guarded.split(separator: "\n") {
            guard let r = rest.range(of: line) else {
                Issue.record("line lost: \(line)")
                break
            }
            rest = rest[r.upperBound...]
        }

        // Twice is a no-op, to the byte and the mode.
        #expect(try KbuildInstaller.install(tree: tree, binary: "/elsewhere/kallsyms").0 == .alreadyInstalled)
        #expect(try Self.read(tree) == patched)
        var st = stat()
        stat(script, &st)
        #expect(st.st_mode & 0o7777 == 0o755)

        #expect(try KbuildInstaller.uninstall(tree: tree).0 == .uninstalled)
        #expect(try Self.read(tree) == original)
        stat(script, &st)
        #expect(st.st_mode & 0o7777 == 0o755)
        #expect(try KbuildInstaller.uninstall(tree: tree).0 == .notInstalled)
        #expect(try Self.read(tree) == original)
        #expect(try FileManager.default.contentsOfDirectory(atPath: "\(tree)/scripts") == ["link-vmlinux.sh"])
    }

    /// The flags the script hands `kallsyms link` are the ones the version's own `kallsyms()`
    /// function passes to scripts/kallsyms.
    @Test(arguments: shapes)
    func generatorFlagsFollowTheVersion(_ version: String, _ shape: KbuildInstaller.Shape, _ format: KallsymsFormat) throws {
        let (tree, original) = try Self.tree(version)
        defer { try? FileManager.default.removeItem(atPath: tree) }
        _ = try KbuildInstaller.install(tree: tree, binary: "/bin/kallsyms")
        let block = String(decoding: try Self.read(tree), as: UTF8.self)
        let kernel = String(decoding: original, as: UTF8.self)
        let configs = ["CONFIG_KALLSYMS_ALL", "CONFIG_KALLSYMS_ABSOLUTE_PERCPU", "CONFIG_KALLSYMS_BASE_RELATIVE", "CONFIG_LTO_CLANG", "CONFIG_64BIT"]
        for flag in ["--all-symbols", "--absolute-percpu", "--base-relative", "--lto-clang", "--pc-relative"] {
            let kernelPasses = kernel.contains("kallsymopt=\"${kallsymopt} \(flag)\"")
            let ours = block.contains("genopt=\"${genopt} \(flag)\"")
            #expect(kernelPasses == ours, "\(version) \(flag): kernel \(kernelPasses), ours \(ours)")
        }
        // Each under the same configuration test as the kernel's.
        for c in configs where block.contains("is_enabled \(c);") || block.contains("is_enabled \(c) ") {
            #expect(kernel.contains("is_enabled \(c)"), "\(version): \(c)")
        }
    }

    /// The format follows the Makefile's version exactly as scripts/install-dropin.sh maps it.
    @Test func formatOfAVersionMatchesTheDropIn() throws {
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let versions = [(5, 15), (6, 0), (6, 1), (6, 2), (6, 12), (6, 14), (6, 15), (6, 19), (7, 0), (7, 2), (7, 3), (7, 9), (8, 0)]
        for (major, minor) in versions {
            try FileManager.default.createDirectory(atPath: "\(dir)/scripts", withIntermediateDirectories: true)
            try Data("VERSION = \(major)\nPATCHLEVEL = \(minor)\n".utf8).write(to: URL(fileURLWithPath: "\(dir)/Makefile"))
            let r = try runProcess("/bin/bash", ["\(Self.root)/scripts/install-dropin.sh", dir, "/bin/true"])
            let ours = KbuildInstaller.format(major: major, minor: minor)
            if r.status == 0 {
                let wrapper = String(decoding: try FileIO.read("\(dir)/scripts/kallsyms"), as: UTF8.self)
                #expect(ours.map { wrapper.contains("gen --format \($0.rawValue) ") } == true, "\(major).\(minor)")
            } else {
                #expect(ours == nil, "\(major).\(minor): the drop-in refuses it, we give \(String(describing: ours))")
            }
        }
    }

    /// Scripts it does not know are refused, naming the file, and left as they were.
    @Test func unknownScriptsAreRefusedAndUntouched() throws {
        let original = try FileIO.read(try ReferenceTool.linkVmlinuxScript("6.12"))
        let text = String(decoding: original, as: UTF8.self)
        let edits: [(String, String)] = [
            ("a final link edited by hand", text.replacingOccurrences(of: "\nvmlinux_link vmlinux\n", with: "\nvmlinux_link vmlinux # mine\n")),
            ("the passes' comment gone", text.replacingOccurrences(of: "\t# kallsyms support\n", with: "")),
            ("the final check changed", text.replacingOccurrences(of: "System.map \"${kallsyms_sysmap}\"", with: "System.map \"$x\"")),
            ("System.map made another way",
             text.replacingOccurrences(of: "${NM} -n \"${1}\" | sed -f \"${srctree}/scripts/mksysmap\" > \"${2}\"", with: "scripts/kallsyms --sysmap=\"${2}\" \"${1}\"")),
            ("not link-vmlinux.sh at all", "#!/bin/sh\necho hello\n"),
            ("not text", "\u{0}\u{1}"),
        ]
        for (what, edited) in edits {
            #expect(edited != text || what == "not text", "\(what): the edit did not apply")
            var bytes = Array(edited.utf8)
            if what == "not text" { bytes = [0xff, 0xfe, 0x00, 0x41] }
            let (tree, _) = try Self.tree("6.12", script: bytes)
            defer { try? FileManager.default.removeItem(atPath: tree) }
            guard case .unknown = try KbuildInstaller.status(tree: tree).0 else {
                Issue.record("\(what): not reported unknown")
                continue
            }
            do {
                _ = try KbuildInstaller.install(tree: tree, binary: "/bin/kallsyms")
                Issue.record("\(what): installed")
            } catch let e as KallsymsError {
                #expect(e.description.hasPrefix("\(tree)/scripts/link-vmlinux.sh: left untouched"), "\(what): \(e)")
            }
            #expect(try Self.read(tree) == bytes, "\(what)")
        }
        // A 6.12 script in a tree that says 7.3 is not what 7.3's patch expects.
        let (tree, _) = try Self.tree("6.12", makefileVersion: "7.3")
        defer { try? FileManager.default.removeItem(atPath: tree) }
        #expect(throws: KallsymsError.self) { try KbuildInstaller.install(tree: tree, binary: "/bin/kallsyms") }
        #expect(try Self.read(tree) == original)
    }

    @Test func notAKernelTree() throws {
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        func message(_ body: () throws -> Void) -> String {
            do { try body() } catch { return "\(error)" }
            return "no error"
        }
        #expect(message { _ = try KbuildInstaller.install(tree: dir, binary: "/bin/k") } == "\(dir)/Makefile: not a kernel tree: no Makefile")
        try Data("all:\n\ttrue\n".utf8).write(to: URL(fileURLWithPath: "\(dir)/Makefile"))
        #expect(message { _ = try KbuildInstaller.status(tree: dir) }.hasPrefix("\(dir)/Makefile: not a kernel tree: no VERSION and PATCHLEVEL"))
        try Data("VERSION = 4\nPATCHLEVEL = 19\n".utf8).write(to: URL(fileURLWithPath: "\(dir)/Makefile"))
        #expect(message { _ = try KbuildInstaller.status(tree: dir) }.hasPrefix("\(dir)/Makefile: Linux 4.19: no kallsyms format"))
        try Data("VERSION = 6\nPATCHLEVEL = 12\n".utf8).write(to: URL(fileURLWithPath: "\(dir)/Makefile"))
        #expect(message { _ = try KbuildInstaller.uninstall(tree: dir + "/") } == "\(dir)/scripts/link-vmlinux.sh: not a kernel tree: no scripts/link-vmlinux.sh")
    }

    /// A read-only tree (even for root, who could write it) is refused and left as it was, for
    /// install and for uninstall.
    @Test func readOnlyTree() throws {
        let (tree, original) = try Self.tree("6.12")
        defer {
            chmod("\(tree)/scripts", 0o755)
            try? FileManager.default.removeItem(atPath: tree)
        }
        chmod("\(tree)/scripts", 0o555)
        #expect(throws: KallsymsError.self) { try KbuildInstaller.install(tree: tree, binary: "/bin/kallsyms") }
        #expect(try Self.read(tree) == original)
        chmod("\(tree)/scripts", 0o755)
        _ = try KbuildInstaller.install(tree: tree, binary: "/bin/kallsyms")
        let patched = try Self.read(tree)
        chmod("\(tree)/scripts/link-vmlinux.sh", 0o555)
        do {
            _ = try KbuildInstaller.uninstall(tree: tree)
            Issue.record("uninstalled from a read-only file")
        } catch let e as KallsymsError {
            #expect(e.description == "\(tree)/scripts/link-vmlinux.sh: read-only: cannot patch the tree (left untouched)")
        }
        #expect(try Self.read(tree) == patched)
        #expect(try FileManager.default.contentsOfDirectory(atPath: "\(tree)/scripts") == ["link-vmlinux.sh"])
    }

    /// A patched script edited afterwards is not "restored" into something that was never the
    /// original: uninstall refuses and leaves it.
    @Test func uninstallRefusesAScriptEditedAfterInstall() throws {
        let (tree, _) = try Self.tree("7.3")
        defer { try? FileManager.default.removeItem(atPath: tree) }
        _ = try KbuildInstaller.install(tree: tree, binary: "/bin/kallsyms")
        let patched = String(decoding: try Self.read(tree), as: UTF8.self)
        let edits = [
            patched.replacingOccurrences(of: "mksysmap \"${VMLINUX}\" System.map", with: "mksysmap \"${VMLINUX}\" System.map # x"),
            patched.replacingOccurrences(of: "\tkallsyms_link_run\nelse\n", with: "\tkallsyms_link_run\nelse\n\ttrue\n"),
            patched.replacingOccurrences(of: "fnv1a-64 0x", with: "fnv1a-64 1x"),
        ]
        for edited in edits {
            try FileIO.writeAtomically("\(tree)/scripts/link-vmlinux.sh", bytes: Array(edited.utf8), mode: 0o755)
            #expect(edited != patched)
            #expect(throws: KallsymsError.self) { try KbuildInstaller.uninstall(tree: tree) }
            #expect(throws: KallsymsError.self) { try KbuildInstaller.install(tree: tree, binary: "/bin/kallsyms") }
            guard case .unknown(let why) = try KbuildInstaller.status(tree: tree).0 else {
                Issue.record("an edited patched script is reported installed")
                continue
            }
            #expect(why.hasPrefix("patched by `kallsyms kbuild install`, then edited: "))
            #expect(try Self.read(tree) == Array(edited.utf8))
        }
    }
}
