import KallsymsCore
import Foundation

/// The words `kallsyms link` prints.
package enum LinkReport {
    static func grouped(_ n: Int) -> String {
        let s = String(n.magnitude)
        var out = ""
        for (i, c) in s.enumerated() {
            if i > 0 && (s.count - i) % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return (n < 0 ? "-" : "") + out
    }

    static func pad(_ s: String, _ width: Int) -> String { String(repeating: " ", count: max(0, width - s.count)) + s }

    /// One line per pass: what was done, the table, how the symbols changed, the link's time.
    package static func line(_ p: PassReport) -> String {
        var s = "pass \(p.pass): \(p.action.padding(toLength: 11, withPad: " ", startingAt: 0))"
        s += " \(pad(grouped(p.symbols), 9)) symbols, table \(pad(grouped(p.tableBytes), 11)) B"
        if p.sectionBytes != p.tableBytes { s += " (section \(grouped(p.sectionBytes)) B)" }
        if p.pass > 1 || p.newSymbols + p.removedSymbols > 0 { s += ", +\(grouped(p.newSymbols))/-\(grouped(p.removedSymbols)) names" }
        if p.stubSymbols > 0 { s += ", \(grouped(p.stubSymbols)) linker stubs" }
        if p.action == "link" { s += String(format: ", link %.2f s", p.linkSeconds) }
        if let note = p.note { s += "\n        \(note)" }
        return s + "\n"
    }

    package static func summary(_ s: LinkSummary) -> String {
        var out = "converged after \(s.links) link\(s.links == 1 ? "" : "s")"
        if s.patches > 0 { out += " + \(s.patches) patch" }
        out += ": \(grouped(s.symbols)) symbols, table \(grouped(s.tableBytes)) B"
        if s.unusedReservedBytes > 0 { out += ", \(grouped(s.unusedReservedBytes)) B of reserved room unused" }
        out += "\nverified: the table decoded from \(s.output) equals the table its own symbols give\n"
        out += String(format: "time: links %.2f s, kallsyms %.2f s, total %.2f s\n", s.linkSeconds, s.kallsymsSeconds, s.totalSeconds)
        for n in s.notes where !s.passes.contains(where: { $0.note == n }) { out += "note: \(n)\n" }
        if let a = s.artifacts { out += "pass artifacts: \(a)\n" }
        return out
    }

    package static func json(_ s: LinkSummary) -> String { JSONOutput.string(s) }
}
