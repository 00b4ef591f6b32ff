import Foundation
import KallsymsCore
import KallsymsTestSupport
import Testing

/// `kallsyms kbuild` as a user runs it, and the patched link-vmlinux.sh of 6.1, 6.12 and 7.3 run
/// for real: the example firmware stands in for vmlinux.a in a fake object tree, the kernel's own
/// scripts/kallsyms and mksysmap are the tree's, and the script's own final comparison ("step a":
/// System.map against the map the table came from) must pass.
@Suite struct KbuildCLITests {
    static var kallsyms: String { CLITests.kallsyms }
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    /// Lays out an object tree as Kbuild leaves it before link-vmlinux.sh runs, installs, and
    /// runs the script as scripts/Makefile.vmlinux does. $1 tree, $2 the kernel's
    /// scripts/kallsyms, $3 mksysmap (or empty), $4 kallsyms, $5 the firmware sources; the
    /// environment carries the configuration and the make-time variables.
    static let harness = #"""
        set -eu
        tree=$1 reference=$2 mksysmap=$3 kallsyms=$4 src=$5
        cd "$tree"
        mkdir -p include/config include/asm init
        cp "$reference" scripts/kallsyms
        [ -z "$mksysmap" ] || cp "$mksysmap" scripts/mksysmap
        printf '#!/bin/sh\nstat -c %%s "$1"\n' > scripts/file-size.sh
        printf '%s\n' $CONFIGS > include/config/auto.conf
        printf '#define BITS_PER_LONG 64\n' > include/asm/bitsperlong.h
        for c in main kallsyms; do gcc $CFLAGS -c "$src/$c.c" -o $c.o; done
        gcc -c "$src/start.S" -o start.o
        ar rcs vmlinux.a start.o main.o kallsyms.o
        : > empty.c
        gcc -c empty.c -o init/version-timestamp.o
        cp init/version-timestamp.o .vmlinux.export.o
        cp "$src/firmware.lds" vmlinux.lds
        "$kallsyms" kbuild install .
        MAKE=true srctree=. objtree=. KBUILD_LDS=vmlinux.lds CC=gcc NM=nm LINUXINCLUDE="-I include" CONFIG_SHELL=sh \
            sh scripts/link-vmlinux.sh ld "-static -nostdlib --no-warn-rwx-segments -z noexecstack" "" vmlinux
        ./vmlinux
        """#

    static let cflags =
        "-O1 -fno-optimize-sibling-calls -fno-inline-functions-called-once -ffreestanding -fno-pic -fno-pie -fno-omit-frame-pointer -fno-stack-protector -fcf-protection=none -fno-asynchronous-unwind-tables"

    /// Runs the harness on a fresh tree of `version`; returns (status, stdout+stderr, tree).
    static func build(_ version: String, configs: [String], environment: [String] = []) throws -> (Int32, String, String) {
        let format = KallsymsFormat(rawValue: "linux-\(version)")!
        let tree = try makeTemporaryDirectory()
        try FileManager.default.createDirectory(atPath: "\(tree)/scripts", withIntermediateDirectories: true)
        let v = version.split(separator: ".")
        try Data("VERSION = \(v[0])\nPATCHLEVEL = \(v[1])\n".utf8).write(to: URL(fileURLWithPath: "\(tree)/Makefile"))
        try FileIO.writeAtomically(
            "\(tree)/scripts/link-vmlinux.sh", bytes: try FileIO.read(try ReferenceTool.linkVmlinuxScript(version)), mode: 0o755)
        let mksysmap = format.readsELF ? "" : try ReferenceTool.mksysmap(format)
        let cflags = Self.cflags + (format == .linux73 ? " -DKALLSYMS_PC_RELATIVE" : "")
        let r = try runProcess(
            "/usr/bin/env",
            ["CONFIGS=\(configs.map { "CONFIG_\($0)=y" }.joined(separator: " "))", "CFLAGS=\(cflags)"] + environment + [
                "bash", "-c", harness, "harness", tree, try ReferenceTool.path(format), mksysmap, kallsyms,
                "\(root)/examples/firmware",
            ])
        return (r.status, String(decoding: r.stdout + r.stderr, as: UTF8.self), tree)
    }

    static let configs: [(String, [String])] = [
        ("6.1", ["KALLSYMS", "KALLSYMS_ALL", "64BIT", "KALLSYMS_BASE_RELATIVE", "VMLINUX_MAP"]),
        ("6.12", ["KALLSYMS", "KALLSYMS_ALL", "64BIT", "VMLINUX_MAP"]),
        ("7.3", ["KALLSYMS", "KALLSYMS_ALL", "64BIT", "VMLINUX_MAP", "ARCH_VMLINUX_NEEDS_RELOCS"]),
    ]

    @Test(arguments: configs)
    func patchedScriptLinksThroughKallsymsLinkAndPassesTheKernelsOwnCheck(_ version: String, _ configs: [String]) throws {
        let (status, output, tree) = try Self.build(version, configs: configs)
        defer { try? FileManager.default.removeItem(atPath: tree) }
        #expect(status == 0, "\(output)")
        #expect(output.contains("installed: ./scripts/link-vmlinux.sh (Linux \(version), link-vmlinux.sh of \(version), format linux-\(version))"))
        #expect(output.contains("KSYMLINK vmlinux (linux-\(version) --all-symbols\(version == "6.1" ? " --base-relative" : version == "7.3" ? " --pc-relative" : ""); --reserve auto)"))
        #expect(output.contains("verified: the table decoded from vmlinux equals the table its own symbols give"))
        #expect(!output.contains("Inconsistent kallsyms data"))
        // The kernel's System.map (its own mksysmap or scripts/kallsyms --sysmap) is the map the
        // table was generated from: what the script's final comparison checked.
        let map = try FileIO.read("\(tree)/System.map")
        let generatedFrom = try FileIO.read("\(tree)/.tmp_vmlinux.kallsyms_link.syms")
        #expect(!map.isEmpty && map == generatedFrom)
        // CONFIG_VMLINUX_MAP: the linker's map of the image, with System.map's addresses.
        let address = String(decoding: map, as: UTF8.self).split(separator: "\n").first { $0.hasSuffix(" T process_request") }?
            .split(separator: " ")[0]
        let linkerMap = String(decoding: (try? FileIO.read("\(tree)/vmlinux.map")) ?? [], as: UTF8.self)
        #expect(address != nil && linkerMap.split(separator: "\n").contains { $0.hasPrefix("                0x\(address!) ") && $0.hasSuffix(" process_request") })
        // 7.3 gives the final link alone --emit-relocs: the recorded link is that one.
        let sections = try runProcess("/usr/bin/env", ["readelf", "-S", "\(tree)/vmlinux"])
        #expect(String(decoding: sections.stdout, as: UTF8.self).contains(".rela.text") == configs.contains("ARCH_VMLINUX_NEEDS_RELOCS"))
        // The firmware resolves its own backtrace through the table.
        #expect(output.contains("] handle_irq+0x") && output.contains("] main+0x"))
        // No link of the kernel's ran: not the first (only BTF needs it), not the passes; and no
        // pass files are left behind.
        let files = try FileManager.default.contentsOfDirectory(atPath: tree)
        let kernelLinks = [".tmp_vmlinux1", ".tmp_vmlinux2", ".tmp_vmlinux.kallsyms1", ".tmp_vmlinux.kallsyms2", ".vmlinux.kallsyms-link"]
        #expect(!files.contains { f in kernelLinks.contains { f.hasPrefix($0) } }, "\(files)")
        #expect(!output.contains("  LD "))
    }

    /// KALLSYMS_LINK=0 runs the kernel's own passes; KALLSYMS_EXTRA_PASS and KALLSYMS_LINK_FLAGS
    /// reach `kallsyms link`.
    @Test func makeTimeVariables() throws {
        let (status, output, tree) = try Self.build("6.12", configs: ["KALLSYMS"], environment: ["KALLSYMS_LINK=0"])
        defer { try? FileManager.default.removeItem(atPath: tree) }
        #expect(status == 0, "\(output)")
        #expect(!output.contains("KSYMLINK") && output.contains("LD      .tmp_vmlinux2") && output.contains("] handle_irq+0x"))

        let (status2, output2, tree2) = try Self.build(
            "6.12", configs: ["KALLSYMS"], environment: ["KALLSYMS_EXTRA_PASS=1", "KALLSYMS_LINK_FLAGS=--max-passes 6"])
        defer { try? FileManager.default.removeItem(atPath: tree2) }
        #expect(status2 == 0, "\(output2)")
        #expect(output2.contains("KSYMLINK vmlinux (linux-6.12; --max-passes 6 --plain-passes 1 --keep-temps)"))
        #expect(output2.contains("pass artifacts: ./.vmlinux.kallsyms-link-"))
        #expect(!output2.contains("patch "))

        // Alone it relinks, as the kernel's workaround does: the default --reserve auto links
        // once and patches, so an extra plain pass would never happen (seen on a real arm64 build).
        let (status4, output4, tree4) = try Self.build("6.12", configs: ["KALLSYMS"], environment: ["KALLSYMS_EXTRA_PASS=1"])
        defer { try? FileManager.default.removeItem(atPath: tree4) }
        #expect(status4 == 0, "\(output4)")
        #expect(output4.contains("KSYMLINK vmlinux (linux-6.12;  --plain-passes 1 --keep-temps)"))
        #expect(output4.contains("pass 1: link") && !output4.contains("room reserved") && !output4.contains("patch "), "\(output4)")
        #expect(output4.contains("pass artifacts: ./.vmlinux.kallsyms-link-"))

        // A link that does not converge stops the build: no vmlinux, no System.map, the passes'
        // files kept to send us.
        let (status3, output3, tree3) = try Self.build("6.12", configs: ["KALLSYMS"], environment: ["KALLSYMS_LINK_FLAGS=--max-passes 1"])
        defer { try? FileManager.default.removeItem(atPath: tree3) }
        #expect(status3 == 1)
        #expect(output3.contains("kallsyms: kallsyms data did not converge in 1 links (--max-passes)"))
        let files = try FileManager.default.contentsOfDirectory(atPath: tree3)
        #expect(!files.contains("vmlinux") && !files.contains("System.map"))
        #expect(files.contains { $0.hasPrefix(".vmlinux.kallsyms-link-") } && output3.contains("pass artifacts kept in ./.vmlinux.kallsyms-link-"))
    }

    /// With BTF the kernel's first link still runs (pahole reads it) and the BTF object it
    /// gives reaches every link of `kallsyms link` (pahole and resolve_btfids stubbed: the
    /// firmware has no DWARF types).
    @Test func btfKeepsItsFirstLinkAndItsObject() throws {
        let (status, output, tree) = try Self.build(
            "6.12", configs: ["KALLSYMS", "DEBUG_INFO_BTF"], environment: ["PAHOLE=true", "OBJCOPY=objcopy", "RESOLVE_BTFIDS=true"])
        defer { try? FileManager.default.removeItem(atPath: tree) }
        #expect(status == 0, "\(output)")
        #expect(output.contains("  LD      .tmp_vmlinux1\n  BTF     .tmp_vmlinux1.btf.o\n  KSYMLINK vmlinux"))
        #expect(output.contains("room reserved for the table of 82 input symbols (5 objects)"))
        #expect(output.contains("  BTFIDS  vmlinux\n"))
    }

    @Test func exitCodesAndMessages() throws {
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let none = try runProcess(Self.kallsyms, ["kbuild", "install", dir])
        #expect(none.status == 2)
        #expect(String(decoding: none.stderr, as: UTF8.self) == "kallsyms: \(dir)/Makefile: not a kernel tree: no Makefile\n")

        try FileManager.default.createDirectory(atPath: "\(dir)/scripts", withIntermediateDirectories: true)
        try Data("VERSION = 6\nPATCHLEVEL = 12\n".utf8).write(to: URL(fileURLWithPath: "\(dir)/Makefile"))
        let script = "\(dir)/scripts/link-vmlinux.sh"
        let mine = Array("#!/bin/sh\n# my own\n".utf8)
        try FileIO.writeAtomically(script, bytes: mine, mode: 0o755)
        let unknown = try runProcess(Self.kallsyms, ["kbuild", "install", dir])
        #expect(unknown.status == 2)
        #expect(String(decoding: unknown.stderr, as: UTF8.self).hasPrefix("kallsyms: \(script): left untouched: not a link-vmlinux.sh the installer knows"))
        #expect(try FileIO.read(script) == mine)
        let status = try runProcess(Self.kallsyms, ["kbuild", "status", dir])
        #expect(status.status == 2)
        #expect(String(decoding: status.stdout, as: UTF8.self).hasPrefix("unknown: \(script): not a link-vmlinux.sh"))

        let original = try FileIO.read(try ReferenceTool.linkVmlinuxScript("6.12"))
        try FileIO.writeAtomically(script, bytes: original, mode: 0o755)
        let notYet = try runProcess(Self.kallsyms, ["kbuild", "status", dir])
        #expect(notYet.status == 0)
        #expect(String(decoding: notYet.stdout, as: UTF8.self) == "not installed: \(script) (Linux 6.12, link-vmlinux.sh of 6.12, format linux-6.12)\n")
        #expect(try runProcess(Self.kallsyms, ["kbuild", "install", "--binary", "/bin/true", dir]).status == 0)
        let installed = try runProcess(Self.kallsyms, ["kbuild", "status", dir])
        #expect(String(decoding: installed.stdout, as: UTF8.self) == "installed: \(script) (Linux 6.12, link-vmlinux.sh of 6.12, format linux-6.12)\n")
        #expect(String(decoding: try FileIO.read(script), as: UTF8.self).contains("kallsyms_link_bin=${KALLSYMS_LINK_BIN:-'/bin/true'}\n"))
        let again = try runProcess(Self.kallsyms, ["kbuild", "install", dir])
        #expect(String(decoding: again.stdout, as: UTF8.self).hasPrefix("already installed: \(script)"))
        let removed = try runProcess(Self.kallsyms, ["kbuild", "uninstall", dir])
        #expect(removed.status == 0 && String(decoding: removed.stdout, as: UTF8.self) == "uninstalled: \(script)\n")
        #expect(try FileIO.read(script) == original)
        let bad = try runProcess(Self.kallsyms, ["kbuild", "install", "--binary", "\(dir)/nothing", dir])
        #expect(bad.status == 2 && String(decoding: bad.stderr, as: UTF8.self) == "kallsyms: \(dir)/nothing: not an executable\n")
    }
}
