import ArgumentParser
import Foundation
import KallsymsCore
import LinkDriver

struct Kbuild: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Put `kallsyms link` into a kernel tree's build (scripts/link-vmlinux.sh).",
        discussion: """
            install patches TREE/scripts/link-vmlinux.sh (6.1, 6.2 to 6.14 and 7.3 layouts) so that \
            with CONFIG_KALLSYMS the kallsyms passes and the final link are one `kallsyms link`; the \
            rest of the script runs as before. uninstall restores the original byte for byte. At make \
            time: KALLSYMS_LINK_FLAGS (flags of `kallsyms link`, default --reserve auto), \
            KALLSYMS_LINK=0 (the kernel's own passes), KALLSYMS_LINK_BIN (the binary). Exit 2 on a \
            tree or script the installer does not know, which it leaves untouched.
            """,
        subcommands: [Install.self, Uninstall.self, Status.self])

    static func describe(_ tree: KbuildInstaller.Tree, _ shape: KbuildInstaller.Shape, _ format: KallsymsFormat) -> String {
        "(Linux \(tree.version.major).\(tree.version.minor), link-vmlinux.sh of \(shape.rawValue), format \(format))"
    }

    struct Install: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Patch TREE/scripts/link-vmlinux.sh (a no-op when patched).")
        @Option(help: "The kallsyms binary the build runs (default: this one).")
        var binary: String?
        @Argument(help: "The kernel source tree.") var tree: String

        func run() throws {
            let binary = try self.binary.map(Self.absolute) ?? Self.absolute(
                (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0])
            let (outcome, tree, shape) = try KbuildInstaller.install(tree: tree, binary: binary)
            let what = outcome == .installed ? "installed" : "already installed"
            writeStdout("\(what): \(tree.script) \(Kbuild.describe(tree, shape, tree.format)) -> \(binary) link\n")
        }

        static func absolute(_ path: String) throws -> String {
            let p = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
            guard FileManager.default.isExecutableFile(atPath: p) else {
                throw KallsymsError(.usage, "not an executable", file: p)
            }
            return URL(fileURLWithPath: p).standardizedFileURL.path
        }
    }

    struct Uninstall: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Restore TREE/scripts/link-vmlinux.sh byte for byte.")
        @Argument(help: "The kernel source tree.") var tree: String

        func run() throws {
            let (outcome, tree) = try KbuildInstaller.uninstall(tree: tree)
            writeStdout("\(outcome == .uninstalled ? "uninstalled" : "not installed"): \(tree.script)\n")
        }
    }

    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Say whether TREE/scripts/link-vmlinux.sh is patched: installed, not installed or unknown (exit 2).")
        @Argument(help: "The kernel source tree.") var tree: String

        func run() throws {
            let (state, tree) = try KbuildInstaller.status(tree: tree)
            switch state {
            case .installed(let shape, let format):
                writeStdout("installed: \(tree.script) \(Kbuild.describe(tree, shape, format))\n")
            case .notInstalled(let shape, let format):
                writeStdout("not installed: \(tree.script) \(Kbuild.describe(tree, shape, format))\n")
            case .unknown(let why):
                writeStdout("unknown: \(tree.script): \(why)\n")
                throw ExitCode(2)
            }
        }
    }
}
