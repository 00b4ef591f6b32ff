import Foundation
import KallsymsCore

extension ReferenceTool {
    /// The kernel's own scripts/link-vmlinux.sh of `version`: 6.1 and 6.12 unpacked by
    /// scripts/fetch-reference.sh next to their mksysmap, 7.3 from the kernel sources beside the
    /// checkout (`../shared/reference`, or $KALLSYMS_REFERENCE_SRC), where fetch-reference.sh
    /// finds them. Throws, saying where it looked, when it is missing.
    public static func linkVmlinuxScript(_ version: String) throws -> String {
        switch version {
        case "6.1", "6.12":
            let format: KallsymsFormat = version == "6.1" ? .linux61 : .linux612
            let dir = URL(fileURLWithPath: try mksysmap(format)).deletingLastPathComponent()
            return dir.appendingPathComponent("link-vmlinux.sh").path
        default:
            let env = ProcessInfo.processInfo.environment["KALLSYMS_REFERENCE_SRC"] ?? ""
            let base = env.isEmpty ? "\(Cache.repositoryRoot)/../shared/reference" : env
            let p = "\(base)/linux-\(version)/scripts/link-vmlinux.sh"
            guard FileManager.default.fileExists(atPath: p) else {
                throw SupportError(
                    "\(p) is missing: the kernel \(version) sources are expected in ../shared/reference beside the checkout (or in $KALLSYMS_REFERENCE_SRC)")
            }
            return p
        }
    }
}
