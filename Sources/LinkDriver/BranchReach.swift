import ELFKit
import Foundation
import KallsymsCore

/// The direct branches of a linked image that cross the kallsyms table, and how far the code
/// after the table can move before each one leaves its instruction's range (and the linker has
/// to give it a stub, veneer or thunk). This is what feeds a stub cascade: a table that grows by
/// `d` bytes pushes out every crossing branch whose slack is under `d`.
///
/// Only the architectures whose relative calls can be outrun by a kernel image are read:
/// ppc64 `b`/`bl` (±32 MiB) and aarch64 `b`/`bl` (±128 MiB). Conditional branches reach less
/// but stay inside a function, so they never cross the table.
struct BranchReach {
    /// Slack of every crossing branch, in bytes, ascending.
    var slack: [Int]

    /// Branches pushed out of range when everything after the table moves by `shift` bytes.
    func pushedOut(by shift: Int) -> Int {
        var lo = 0
        var hi = slack.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if slack[mid] < shift { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    /// The branch encodings of `arch`: nil when its calls cannot be outrun by a table.
    static func decoder(_ arch: Architecture) -> ((UInt32) -> Int64?, range: Int64)? {
        switch arch {
        case .ppc64le:
            // I-form: primary opcode 18, 24-bit word displacement, AA (absolute) clear.
            return ({ w in
                guard w >> 26 == 18, w & 2 == 0 else { return nil }
                return Int64(Int32(bitPattern: (w & 0x03FF_FFFC) << 6) >> 6)
            }, 1 << 25)
        case .aarch64:
            // B and BL: 26-bit word displacement.
            return ({ w in
                guard w & 0x7C00_0000 == 0x1400_0000 else { return nil }
                return Int64(Int32(bitPattern: (w & 0x03FF_FFFF) << 6) >> 6) * 4
            }, 1 << 27)
        default:
            return nil
        }
    }

    /// Reads the executable sections of `image`; the table occupies `[tableStart, tableEnd)`.
    /// Nil when the architecture has no branch that a table can outrun, or the file is not ELF.
    static func scan(image path: String, arch: Architecture, tableStart: UInt64, tableEnd: UInt64) -> BranchReach? {
        guard let (decode, range) = decoder(arch), let bytes = try? FileIO.read(path), let elf = try? ELFFile(bytes)
        else { return nil }
        var slack: [Int] = []
        for s in elf.sections where s.type == .progbits && s.flags.contains(.execinstr) {
            // Only code wholly on one side of the table can have a branch across it.
            let before = s.address + s.size <= tableStart
            guard before || s.address >= tableEnd, let code = try? elf.contents(s) else { continue }
            let words = ByteReader(code, order: arch.byteOrder)
            for k in stride(from: 0, to: code.count - 3, by: 4) {
                guard let w = try? words.u32(code.startIndex + k), let d = decode(w) else { continue }
                let pc = Int64(bitPattern: s.address) + Int64(k)
                let target = pc + d
                // A forward branch over the table lengthens as the table grows, and so does a
                // backward one from after it.
                if before && target >= Int64(bitPattern: tableEnd) {
                    slack.append(Int(range - 4 - d))
                } else if !before && target < Int64(bitPattern: tableStart) {
                    slack.append(Int(range + d))
                }
            }
        }
        return BranchReach(slack: slack.sorted())
    }
}
