import Foundation
import KallsymsCore

/// Where the tests find the kernel's reference tools and Debian's real data. Everything lives in
/// a cache outside the repository and is built or fetched on first use by the repository's
/// scripts; if that fails the error carries the script's output, so a test fails loudly instead
/// of passing without its oracle.
public enum ReferenceTool {
    /// The versions scripts/fetch-reference.sh builds: 6.12 and 6.1 from Debian's sources, the
    /// newer ones from the kernel sources beside the checkout (`../shared/reference`).
    public static let versions = ["6.1", "6.12", "6.15", "7.0", "7.3"]

    /// The kernel's `scripts/kallsyms` for `format`, built by scripts/fetch-reference.sh.
    public static func path(_ format: KallsymsFormat) throws -> String {
        try path(version: version(format))
    }

    /// The kernel's `scripts/kallsyms` of a version in `versions` ("7.3"), built on first use.
    public static func path(version v: String) throws -> String {
        guard versions.contains(v) else { throw SupportError("no reference kallsyms for version '\(v)'") }
        let path = "\(Cache.directory)/bin/kallsyms-\(v)"
        if FileManager.default.isExecutableFile(atPath: path) { return path }
        try Cache.runScript("fetch-reference.sh", [v])
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw SupportError("scripts/fetch-reference.sh ran but \(path) is missing")
        }
        return path
    }
}

extension ReferenceTool {
    /// "6.12" for linux-6.12: the suffix of the reference binary's name.
    public static func version(_ format: KallsymsFormat) -> String {
        String(format.rawValue.dropFirst("linux-".count))
    }
}

public enum DebianData {
    /// The System.map of Debian's 6.12 amd64 kernel (from the -dbg package).
    public static func systemMap612() throws -> String {
        let path = "\(Cache.directory)/data/System.map-6.12"
        if FileManager.default.fileExists(atPath: path) { return path }
        try Cache.runScript("fetch-debian-data.sh", [])
        guard FileManager.default.fileExists(atPath: path) else {
            throw SupportError("scripts/fetch-debian-data.sh ran but \(path) is missing")
        }
        return path
    }

    /// Debian's 6.12 System.map without the per-cpu block (the lines whose address starts with
    /// a 0 digit): every address in the kernel's range, as 6.15 and later generators need.
    public static func systemMap612WithoutPercpu() throws -> String {
        let path = "\(Cache.directory)/data/System.map-6.12-nopercpu"
        if FileManager.default.fileExists(atPath: path) { return path }
        let full = try FileIO.read(systemMap612())
        var kept: [UInt8] = []
        kept.reserveCapacity(full.count)
        for line in full.split(separator: 0x0A) where line.first != UInt8(ascii: "0") {
            kept += line
            kept.append(0x0A)
        }
        try FileIO.writeAtomically(path, bytes: kept)
        return path
    }

    /// One of Debian's real kernels (scripts/fetch-kernel.sh): the boot image as shipped and,
    /// with `map`, the System.map of the same build from its -dbg package. `arch` is
    /// fetch-kernel.sh's ARCH or ARCH:FLAVOUR.
    public static func kernel(_ version: String, _ arch: String, map: Bool = false) throws -> (image: String, map: String?) {
        let dir = "\(Cache.directory)/kernels/\(version)-\(arch.replacingOccurrences(of: ":", with: "-"))"
        let image = "\(dir)/image"
        let systemMap = "\(dir)/System.map"
        let have = FileManager.default.fileExists(atPath: image) && (!map || FileManager.default.fileExists(atPath: systemMap))
        if !have { try Cache.runScript("fetch-kernel.sh", [version, arch] + (map ? ["--map"] : [])) }
        guard FileManager.default.fileExists(atPath: image) else {
            throw SupportError("scripts/fetch-kernel.sh ran but \(image) is missing")
        }
        return (image, map ? systemMap : nil)
    }

    /// The unstripped vmlinux (ELF with its full symbol table) of one of Debian's kernels, from
    /// its -dbg package.
    public static func vmlinux(_ version: String, _ arch: String) throws -> String {
        let path = "\(Cache.directory)/kernels/\(version)-\(arch)/vmlinux"
        if !FileManager.default.fileExists(atPath: path) { try Cache.runScript("fetch-kernel.sh", [version, arch, "--vmlinux"]) }
        guard FileManager.default.fileExists(atPath: path) else {
            throw SupportError("scripts/fetch-kernel.sh ran but \(path) is missing")
        }
        return path
    }

    /// The spec's synthetic k-times map built from the Debian map.
    public static func synthetic(_ k: Int) throws -> String {
        let path = "\(Cache.directory)/data/synth-\(k)x.map"
        if FileManager.default.fileExists(atPath: path) { return path }
        let source = try systemMap612()
        try Cache.runScript("make-synthetic-map", [source, String(k), path], shell: false)
        return path
    }
}

extension ReferenceTool {
    /// The kernel's own `scripts/mksysmap` of a version (a sed script in 6.12, a shell script
    /// in 6.1), unpacked by scripts/fetch-reference.sh next to the reference binaries' sources.
    /// Only 6.12 and 6.1 have one here; 7.3 builds the rules into `kallsyms --sysmap`.
    public static func mksysmap(_ format: KallsymsFormat) throws -> String {
        _ = try path(format)
        let v = version(format)
        let p = "\(Cache.directory)/src-\(v)/scripts/mksysmap"
        guard FileManager.default.fileExists(atPath: p) else { throw SupportError("\(p) is missing") }
        return p
    }
}

public struct SupportError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

enum Cache {
    /// `KALLSYMS_OFFLINE=1`: the cache is out of reach, so a test tagged `.offline` that needs
    /// downloaded data fails instead of passing on what an earlier run left there.
    static var offline: Bool { ProcessInfo.processInfo.environment["KALLSYMS_OFFLINE"] == "1" }

    static var directory: String {
        let env = ProcessInfo.processInfo.environment
        if offline { return "/nonexistent/kallsyms-offline-cache" }
        if let c = env["KALLSYMS_CACHE"], !c.isEmpty { return c }
        return (env["HOME"] ?? NSHomeDirectory()) + "/.cache/swift-kallsyms"
    }

    /// The repository root, found from this source file's location.
    static var repositoryRoot: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
    }

    /// Runs one of the repository's scripts; throws with its output if it fails.
    static func runScript(_ name: String, _ args: [String], shell: Bool = true) throws {
        if offline { throw SupportError("KALLSYMS_OFFLINE=1, but this test needs scripts/\(name) (a download)") }
        let script = "\(repositoryRoot)/scripts/\(name)"
        let r = shell ? try runProcess("/bin/bash", [script] + args) : try runProcess(script, args)
        guard r.status == 0 else {
            throw SupportError(
                "\(name) \(args.joined(separator: " ")) failed with status \(r.status):\n"
                    + String(decoding: r.stdout + r.stderr, as: UTF8.self))
        }
    }
}

/// Runs a program to completion and returns its status and both outputs. Both pipes are read
/// while it runs, so outputs of any size (a 40 MB table) cannot deadlock it.
public func runProcess(_ path: String, _ args: [String], stdin: [UInt8]? = nil) throws -> (
    status: Int32, stdout: [UInt8], stderr: [UInt8]
) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: path)
    p.arguments = args
    let out = Pipe()
    let err = Pipe()
    let input = Pipe()
    p.standardOutput = out
    p.standardError = err
    p.standardInput = stdin == nil ? FileHandle.nullDevice : input
    try p.run()
    let group = DispatchGroup()
    let box = OutputBox()
    DispatchQueue.global().async(group: group) { box.stdout = out.fileHandleForReading.readDataToEndOfFile() }
    DispatchQueue.global().async(group: group) { box.stderr = err.fileHandleForReading.readDataToEndOfFile() }
    if let stdin {
        input.fileHandleForWriting.write(Data(stdin))
        try? input.fileHandleForWriting.close()
    }
    group.wait()
    p.waitUntilExit()
    return (p.terminationStatus, [UInt8](box.stdout), [UInt8](box.stderr))
}

private final class OutputBox: @unchecked Sendable {
    var stdout = Data()
    var stderr = Data()
}

public func makeTemporaryDirectory() throws -> String {
    let path = NSTemporaryDirectory() + "kallsyms-test-" + UUID().uuidString
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// A small deterministic generator (SplitMix64), so generated test inputs and failures reproduce.
public struct SplitMix {
    public var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
