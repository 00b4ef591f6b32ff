import Foundation
import KallsymsCore

#if canImport(Glibc)
    import Glibc
#endif

/// `kallsyms kbuild`: puts `kallsyms link` into a kernel tree's `scripts/link-vmlinux.sh`.
///
/// The patch is a block of shell (the recorded format and binary, two functions) inserted before
/// the kernel's first link, and line edits the installer can take back exactly (`Shape.edits`):
/// the kernel's passes guarded, the final `vmlinux_link` wrapped so that, with CONFIG_KALLSYMS,
/// one `kallsyms link` does the passes and the final link, and the first link kept for BTF only.
/// The link command it runs is the script's own `vmlinux_link`, recorded rather than run, so the
/// tree's `${LD}`, flags, linker script and BTF object are used as the kernel would use them. Everything else (the empty table and the
/// first link when BTF needs them, BTF ids, System.map, sorttable, the kernel's own "Inconsistent
/// kallsyms data" comparison) runs unchanged: the comparison now checks the map `kallsyms link`
/// generated the table from.
///
/// The block records the original's size and FNV-1a hash; uninstall removes the edits and
/// writes the result only if it is that original, byte for byte.
///
/// `package`, not public: patching a kernel tree is the `kallsyms kbuild` command's job, not a
/// library call; its members' `public` goes no further than this.
package enum KbuildInstaller {
    /// The link-vmlinux.sh layouts known, named after the first kernel with each.
    public enum Shape: String, CaseIterable, Sendable {
        /// 6.1: `kallsyms_step`, extra objects passed to `vmlinux_link`.
        case v6_1 = "6.1"
        /// 6.12 (6.2 to 6.14 and probably later up to 7.2): `sysmap_and_kallsyms`, `kallsyms_sysmap`.
        case v6_12 = "6.12"
        /// 7.3: `${VMLINUX}`, `scripts/kallsyms --sysmap`.
        case v7_3 = "7.3"

        /// The kernel's final link, as a whole line.
        var finalLink: String {
            switch self {
            case .v6_1: "vmlinux_link vmlinux \"${kallsymso}\" ${btf_vmlinux_bin_o}\n"
            case .v6_12: "vmlinux_link vmlinux\n"
            case .v7_3: "vmlinux_link \"${VMLINUX}\"\n"
            }
        }

        /// The block goes right before this line: early enough for the first link to see
        /// `kallsyms_link`.
        var insertionPoint: String {
            self == .v6_1 ? KbuildInstaller.passesHead : "if is_enabled CONFIG_KALLSYMS || is_enabled CONFIG_DEBUG_INFO_BTF; then\n"
        }

        /// The kernel's lines the patch replaces, with their replacements: the passes guarded,
        /// the final link wrapped, and (6.12 and later) the first link, which only BTF still
        /// needs, skipped without BTF.
        var edits: [(kernel: String, patched: String)] {
            var e = [
                (KbuildInstaller.passesHead, KbuildInstaller.guardedHead),
                ("\n" + finalLink, "\nif [ -n \"${kallsyms_link}\" ]; then\n\tkallsyms_link_run\nelse\n" + finalLink + "fi\n"),
            ]
            if self != .v6_1 {
                e.append(
                    ("\tvmlinux_link .tmp_vmlinux1\n",
                     "\tif [ -z \"${kallsyms_link}\" ] || is_enabled CONFIG_DEBUG_INFO_BTF; then\n\t\tvmlinux_link .tmp_vmlinux1\n\tfi\n"))
            }
            return e
        }

        /// Lines the patch relies on; each must occur exactly once.
        var anchors: [String] {
            // How System.map is made decides which map `kallsyms link` must write for the final
            // comparison: nm through the mksysmap script, or 7.3's reader of the ELF.
            let check: String
            let linkLine: String
            let sysmap: String
            switch self {
            case .v6_1:
                check = "\tif ! cmp -s System.map ${kallsyms_vmlinux}.syms; then\n"
                linkLine = "\t\t$@ ${ldlibs}\n"
                sysmap = "\t${CONFIG_SHELL} \"${srctree}/scripts/mksysmap\" ${1} ${2}\n"
            case .v6_12:
                check = "\tif ! cmp -s System.map \"${kallsyms_sysmap}\"; then\n"
                linkLine = "\t\t${kallsymso} ${btf_vmlinux_bin_o} ${ldlibs}\n"
                sysmap = "\t${NM} -n \"${1}\" | sed -f \"${srctree}/scripts/mksysmap\" > \"${2}\"\n"
            case .v7_3:
                check = "\tif ! cmp -s System.map \"${kallsyms_sysmap}\"; then\n"
                linkLine = "\t\t${kallsymso} ${btf_vmlinux_bin_o} ${arch_vmlinux_o} ${ldlibs}\n"
                sysmap = "\tscripts/kallsyms --sysmap=\"${2}\" \"${1}\"\n"
            }
            return edits.map(\.kernel) + [
                "\n" + insertionPoint, check, linkLine, sysmap, "\t\tld=\"${LD}\"\n", "\t${ld} ${ldflags} -o ${output}", "\nvmlinux_link()\n",
            ]
        }

        /// The formats whose link-vmlinux.sh has this layout.
        func accepts(_ format: KallsymsFormat) -> Bool {
            switch self {
            case .v6_1: format == .linux61
            case .v6_12: [.linux612, .linux615, .linux70].contains(format)
            case .v7_3: format == .linux73
            }
        }
    }

    public enum State: Equatable, Sendable {
        case installed(Shape, KallsymsFormat)
        case notInstalled(Shape, KallsymsFormat)
        /// Why the script is not one the installer can patch.
        case unknown(String)
    }

    /// A kernel tree: its version (from the top Makefile) and its link-vmlinux.sh.
    public struct Tree: Sendable {
        public var root: String
        public var version: (major: Int, minor: Int)
        public var format: KallsymsFormat
        public var script: String { root + "/scripts/link-vmlinux.sh" }
        public var makefile: String { root + "/Makefile" }

        /// Reads the tree's Makefile; throws, naming the file, when it is not a kernel tree.
        public init(_ root: String) throws {
            self.root = root.count > 1 && root.hasSuffix("/") ? String(root.dropLast()) : root
            let makefile = self.root + "/Makefile"
            guard FileManager.default.fileExists(atPath: makefile) else {
                throw KallsymsError(.io, "not a kernel tree: no Makefile", file: makefile)
            }
            let text = String(decoding: try FileIO.read(makefile, maxSize: 1 << 24), as: UTF8.self)
            func field(_ name: String) -> Int? {
                for line in text.split(separator: "\n", omittingEmptySubsequences: false).prefix(20) {
                    let parts = line.split(separator: "=", maxSplits: 1)
                    if parts.count == 2, parts[0].trimmingCharacters(in: .whitespaces) == name {
                        return Int(parts[1].trimmingCharacters(in: .whitespaces))
                    }
                }
                return nil
            }
            guard let major = field("VERSION"), let minor = field("PATCHLEVEL") else {
                throw KallsymsError(.io, "not a kernel tree: no VERSION and PATCHLEVEL in its first lines", file: makefile)
            }
            guard let format = KbuildInstaller.format(major: major, minor: minor) else {
                throw KallsymsError(.usage, "Linux \(major).\(minor): no kallsyms format known for it (6.1 and later)", file: makefile)
            }
            version = (major, minor)
            self.format = format
            guard FileManager.default.fileExists(atPath: script) else {
                throw KallsymsError(.io, "not a kernel tree: no scripts/link-vmlinux.sh", file: script)
            }
        }
    }

    /// The table format of a kernel version, as scripts/install-dropin.sh maps it.
    public static func format(major: Int, minor: Int) -> KallsymsFormat? {
        switch (major, minor) {
        case (6, 1): .linux61
        case (6, 2 ... 14): .linux612
        case (6, 15...): .linux615
        case (7, 0 ... 2): .linux70
        case (7, 3...), (8..., _): .linux73
        default: nil
        }
    }

    /// The first lines of the kernel's kallsyms passes (unique: the other `if` on
    /// CONFIG_KALLSYMS are followed by code, not a blank line and this comment).
    static let passesHead = "if is_enabled CONFIG_KALLSYMS; then\n\n\t# kallsyms support\n"
    static let guardedHead = "if is_enabled CONFIG_KALLSYMS && [ -z \"${kallsyms_link}\" ]; then\n\n\t# kallsyms support\n"
    static let blockBegin = "# swift-kallsyms kbuild begin"
    static let blockEnd = "# swift-kallsyms kbuild end\n"

    // MARK: - Recognition

    /// What `text` (a link-vmlinux.sh) is, for a tree of `format`.
    public static func state(of bytes: [UInt8], format: KallsymsFormat) -> State {
        guard let text = String(validatingUTF8Bytes: bytes) else { return .unknown("not UTF-8 text") }
        if text.contains(blockBegin) {
            // Installed means uninstallable: the edits and the recorded original still agree.
            do {
                _ = try original(of: bytes, path: "")
            } catch let e as KallsymsError {
                return .unknown("patched by `kallsyms kbuild install`, then edited: \(e.message)")
            } catch { return .unknown("\(error)") }
            return parseBlock(text).map { .installed($0.shape, $0.format) } ?? .unknown("damaged swift-kallsyms block")
        }
        var closest: (shape: Shape, missing: [String])?
        for shape in Shape.allCases {
            let missing = shape.anchors.filter { occurrences($0, in: text) != 1 }
            if missing.isEmpty {
                guard shape.accepts(format) else {
                    return .unknown(
                        "its layout is the \(shape.rawValue) one, which the Makefile's version (format \(format)) does not have")
                }
                return .notInstalled(shape, format)
            }
            if missing.count < closest?.missing.count ?? .max { closest = (shape, missing) }
        }
        let line = closest!.missing[0].trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\n")[0]
        return .unknown(
            "not a link-vmlinux.sh the installer knows (edited by hand, or a layout other than 6.1, 6.12 and 7.3):"
                + " closest is \(closest!.shape.rawValue), but \(closest!.missing.count) of its lines are missing or"
                + " repeated, the first: '\(line)'")
    }

    static func occurrences(_ needle: String, in text: String) -> Int {
        var count = 0
        var range = text.startIndex ..< text.endIndex
        while let r = text.range(of: needle, range: range) {
            count += 1
            range = r.upperBound ..< text.endIndex
        }
        return count
    }

    // MARK: - The patch

    /// `original` with the patch applied; `binary` is the `kallsyms` the script runs by default.
    public static func patched(_ original: [UInt8], shape: Shape, format: KallsymsFormat, binary: String) -> [UInt8] {
        var text = String(decoding: original, as: UTF8.self)
        let at = text.range(of: "\n" + shape.insertionPoint)!.lowerBound
        text.insert(contentsOf: "\n" + block(shape: shape, format: format, binary: binary, original: original), at: at)
        for edit in shape.edits { text = text.replacingOccurrences(of: edit.kernel, with: edit.patched) }
        return Array(text.utf8)
    }

    /// `patched` with the edits taken out, checked against the size and hash recorded.
    public static func original(of patched: [UInt8], path: String) throws -> [UInt8] {
        let text = String(decoding: patched, as: UTF8.self)
        guard let parsed = parseBlock(text), let begin = text.range(of: "\n" + blockBegin),
            let end = text.range(of: blockEnd, range: begin.upperBound ..< text.endIndex)
        else { throw KallsymsError(.malformed, "the swift-kallsyms block is damaged; restore the file from your kernel sources", file: path) }
        var out = String(text[..<begin.lowerBound]) + String(text[end.upperBound...])
        for edit in parsed.shape.edits {
            guard occurrences(edit.patched, in: out) == 1 else {
                throw KallsymsError(
                    .malformed, "a line the installer changed was edited since: \(edit.kernel.debugDescription)", file: path)
            }
            out = out.replacingOccurrences(of: edit.patched, with: edit.kernel)
        }
        let bytes = Array(out.utf8)
        guard bytes.count == parsed.size, fnv1a(bytes) == parsed.hash else {
            throw KallsymsError(
                .malformed,
                "edited since `kallsyms kbuild install`: without the patch it is not the original it recorded"
                    + " (\(parsed.size) bytes, fnv1a-64 \(hex(parsed.hash))); restore it from your kernel sources", file: path)
        }
        return bytes
    }

    /// The shell inserted before the kernel's passes. POSIX sh, like the rest of the script.
    static func block(shape: Shape, format: KallsymsFormat, binary: String, original: [UInt8]) -> String {
        // The kernel's own choice of scripts/kallsyms options, per version.
        var genopt = ["\tif is_enabled CONFIG_KALLSYMS_ALL; then genopt=\"${genopt} --all-symbols\"; fi"]
        if format.flags.contains(.absolutePercpu) {
            genopt.append("\tif is_enabled CONFIG_KALLSYMS_ABSOLUTE_PERCPU; then genopt=\"${genopt} --absolute-percpu\"; fi")
        }
        if format.flags.contains(.baseRelative) {
            genopt.append("\tif is_enabled CONFIG_KALLSYMS_BASE_RELATIVE; then genopt=\"${genopt} --base-relative\"; fi")
        }
        if format.flags.contains(.ltoClang) {
            genopt.append("\tif is_enabled CONFIG_LTO_CLANG; then genopt=\"${genopt} --lto-clang\"; fi")
        }
        if format.flags.contains(.pcRelative) {
            genopt.append(
                "\tif is_enabled CONFIG_64BIT || is_enabled CONFIG_RELOCATABLE; then genopt=\"${genopt} --pc-relative\"; fi")
        }
        let filter = format == .linux61 ? " --filter linux-6.1" : ""
        // The recorded link must be the final one: 7.3 adds --emit-relocs only when the output
        // is ${VMLINUX}, 6.1 passes the table object as an argument.
        let output = shape == .v7_3 ? "\"${VMLINUX}\"" : "vmlinux"
        let capture: String
        switch shape {
        case .v6_1: capture = "\tvmlinux_link \"{out}\" \"{kallsyms}\" ${btf_vmlinux_bin_o} > /dev/null\n"
        case .v6_12: capture = "\tvmlinux_link \"{out}\" > /dev/null\n"
        case .v7_3:
            capture = "\tVMLINUX=\"{out}\"\n\tvmlinux_link \"{out}\" > /dev/null\n\tVMLINUX=${kallsyms_link_saved_vmlinux}\n"
        }
        // Before 7.3 CONFIG_VMLINUX_MAP names the map after the output, here the pass's file in
        // a directory that goes away: every pass writes vmlinux.map instead, the last one the
        // image's (a patch moves nothing).
        let mapFix =
            shape == .v7_3
            ? ""
            : "\tkallsyms_link_cmd=$(printf '%s\\n' \"${kallsyms_link_cmd}\" | sed 's/-Map={out}\\.map/-Map=vmlinux.map/')\n"
        return """
            \(blockBegin): `kallsyms kbuild uninstall` restores the original
            # (\(original.count) bytes, fnv1a-64 \(hex(fnv1a(original)))); layout \(shape.rawValue); format \(format).
            # With CONFIG_KALLSYMS the kallsyms passes and the final link are one `kallsyms link`
            # (a fixed point, verified) unless KALLSYMS_LINK=0. KALLSYMS_LINK_FLAGS: its flags
            # (default --reserve auto); KALLSYMS_LINK_BIN: the kallsyms binary; KALLSYMS_EXTRA_PASS:
            # relinks (by default without --reserve auto), one plain relink more before reserving
            # room, every pass's files kept.
            kallsyms_link_format=\(format)
            kallsyms_link_bin=${KALLSYMS_LINK_BIN:-\(shellQuoted(binary))}
            kallsyms_link=
            if is_enabled CONFIG_KALLSYMS && [ "${KALLSYMS_LINK:-1}" != 0 ]; then
            \tkallsyms_link=1
            fi

            kallsyms_link_capture()
            {
            \tkallsyms_link_cmd="$*"
            }

            kallsyms_link_run()
            {
            \tlocal genopt linkopt

            \tgenopt=
            \(genopt.joined(separator: "\n"))
            \tif [ -n "${KALLSYMS_LINK_FLAGS+set}" ]; then
            \t\tlinkopt=${KALLSYMS_LINK_FLAGS}
            \telif [ -n "${KALLSYMS_EXTRA_PASS}" ]; then
            \t\t# --reserve auto never relinks: the extra pass needs plain iteration.
            \t\tlinkopt=
            \telse
            \t\tlinkopt="--reserve auto"
            \tfi
            \tif [ -n "${KALLSYMS_EXTRA_PASS}" ]; then
            \t\tlinkopt="${linkopt} --plain-passes 1 --keep-temps"
            \tfi

            \t# The link command is the script's own final vmlinux_link, recorded instead of run
            \t# (um links with ${CC}).
            \tkallsyms_link_saved_ld=${LD}
            \tkallsyms_link_saved_cc=${CC}
            \tkallsyms_link_saved_o=${kallsymso}
            \tkallsyms_link_saved_vmlinux=${VMLINUX}
            \tLD="kallsyms_link_capture ${LD}"
            \tCC="kallsyms_link_capture ${CC}"
            \tkallsymso="{kallsyms}"
            \(capture)\tLD=${kallsyms_link_saved_ld}
            \tCC=${kallsyms_link_saved_cc}
            \tkallsymso=${kallsyms_link_saved_o}
            \(mapFix)
            \tinfo KSYMLINK "\(shape == .v7_3 ? "${VMLINUX}" : "vmlinux") (${kallsyms_link_format}${genopt}; ${linkopt})"
            \t"${kallsyms_link_bin}" link --format ${kallsyms_link_format}\(filter) ${genopt} ${linkopt} \\
            \t\t--map .tmp_vmlinux.kallsyms_link.syms -o \(output) -- ${kallsyms_link_cmd}
            \t# What the kernel's final comparison reads.
            \tkallsyms_vmlinux=.tmp_vmlinux.kallsyms_link
            \tkallsyms_sysmap=.tmp_vmlinux.kallsyms_link.syms
            }
            \(blockEnd)
            """
    }

    static func shellQuoted(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" }

    /// Shape, format, size and hash from the block's first two lines.
    static func parseBlock(_ text: String) -> (shape: Shape, format: KallsymsFormat, size: Int, hash: UInt64)? {
        guard let begin = text.range(of: blockBegin) else { return nil }
        let lines = text[begin.upperBound...].split(separator: "\n", maxSplits: 2, omittingEmptySubsequences: false)
        guard lines.count == 3 else { return nil }
        // "# (8295 bytes, fnv1a-64 0x...); layout 6.12; format linux-6.12."
        let words = lines[1].split(separator: " ")
        guard words.count == 9, words[0] == "#", words[1].hasPrefix("("), words[2] == "bytes,", words[3] == "fnv1a-64",
            let size = Int(words[1].dropFirst()), words[4].hasPrefix("0x"), words[4].hasSuffix(");"),
            let hash = UInt64(words[4].dropFirst(2).dropLast(2), radix: 16), words[5] == "layout",
            let shape = Shape(rawValue: String(words[6].dropLast())), words[7] == "format", words[8].hasSuffix("."),
            let format = KallsymsFormat(rawValue: String(words[8].dropLast()))
        else { return nil }
        return (shape, format, size, hash)
    }

    static func fnv1a(_ bytes: [UInt8]) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in bytes { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return h
    }

    static func hex(_ v: UInt64) -> String {
        let s = String(v, radix: 16)
        return "0x" + String(repeating: "0", count: 16 - s.count) + s
    }

    // MARK: - Commands

    public enum Outcome: Equatable, Sendable {
        case installed, alreadyInstalled, uninstalled, notInstalled
    }

    /// Patches the tree's link-vmlinux.sh; a no-op when it is already patched.
    public static func install(tree root: String, binary: String) throws -> (Outcome, Tree, Shape) {
        let tree = try Tree(root)
        let bytes = try FileIO.read(tree.script, maxSize: 1 << 24)
        switch state(of: bytes, format: tree.format) {
        case .installed(let shape, _): return (.alreadyInstalled, tree, shape)
        case .unknown(let why): throw KallsymsError(.usage, "left untouched: \(why)", file: tree.script)
        case .notInstalled(let shape, let format):
            try write(patched(bytes, shape: shape, format: format, binary: binary), over: tree.script)
            return (.installed, tree, shape)
        }
    }

    /// Restores the original link-vmlinux.sh byte for byte; a no-op when it is not patched.
    public static func uninstall(tree root: String) throws -> (Outcome, Tree) {
        let tree = try Tree(root)
        let bytes = try FileIO.read(tree.script, maxSize: 1 << 24)
        guard String(decoding: bytes, as: UTF8.self).contains(blockBegin) else { return (.notInstalled, tree) }
        try write(try original(of: bytes, path: tree.script), over: tree.script)
        return (.uninstalled, tree)
    }

    public static func status(tree root: String) throws -> (State, Tree) {
        let tree = try Tree(root)
        return (state(of: try FileIO.read(tree.script, maxSize: 1 << 24), format: tree.format), tree)
    }

    /// Replaces `path` atomically, keeping its permissions. A file or folder without write
    /// permission is refused even for root: the tree's owner made it read-only on purpose.
    static func write(_ bytes: [UInt8], over path: String) throws {
        var st = stat()
        guard stat(path, &st) == 0 else { throw KallsymsError(.io, String(cString: strerror(errno)), file: path) }
        let directory = FileIO.splitPath(path).directory
        var dst = stat()
        guard stat(directory, &dst) == 0 else { throw KallsymsError(.io, String(cString: strerror(errno)), file: directory) }
        for (p, s) in [(path, st), (directory, dst)] where s.st_mode & 0o222 == 0 || access(p, W_OK) != 0 {
            throw KallsymsError(.io, "read-only: cannot patch the tree (left untouched)", file: p)
        }
        let mode = st.st_mode & 0o7777
        try FileIO.writeAtomically(path, bytes: bytes, mode: mode)
        chmod(path, mode)
    }
}

extension String {
    /// The bytes as a string if they are valid UTF-8 (no replacement characters).
    init?(validatingUTF8Bytes bytes: [UInt8]) {
        let s = String(decoding: bytes, as: UTF8.self)
        guard s.utf8.elementsEqual(bytes) else { return nil }
        self = s
    }
}
