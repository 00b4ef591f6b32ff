import ELFKit
import Foundation
import KallsymsCore
import KallsymsTestSupport
import Testing

@testable import LinkDriver

/// The parts of the reservation policy one can state exactly: the branch encodings the cascade
/// model reads, the fixed point of its room, the doubling on overflow, and what verification
/// makes of an image it cannot read.
struct ReservationTests {
    /// The words the targets' GNU assemblers write for `b .+256`, `bl .-4` and `nop`, decoded.
    @Test(arguments: [("powerpc64le-linux-gnu-as", Architecture.ppc64le), ("aarch64-linux-gnu-as", .aarch64)])
    func branchDecodersReadWhatTheAssemblerWrote(_ assembler: String, _ arch: Architecture) throws {
        let dir = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "\t.text\n\tb .+256\n\tbl .-4\n\tnop\n".write(toFile: "\(dir)/b.s", atomically: true, encoding: .utf8)
        let r = try runProcess("/usr/bin/env", [assembler, "-o", "\(dir)/b.o", "\(dir)/b.s"])
        #expect(r.status == 0, "\(String(decoding: r.stderr, as: UTF8.self))")
        let elf = try ELFFile(try FileIO.read("\(dir)/b.o"))
        let text = Array(try elf.contents(try #require(elf.section(named: ".text"))))
        let reader = ByteReader(text, order: arch.byteOrder)
        let words = try stride(from: 0, to: text.count, by: 4).map { try reader.u32($0) }
        let (decode, range) = try #require(BranchReach.decoder(arch))
        #expect(words.map(decode) == [256, -4, nil])
        #expect(range == (arch == .ppc64le ? 32 << 20 : 128 << 20))
        #expect(BranchReach.decoder(.x86_64) == nil)
    }

    func generate(_ n: Int) throws -> KallsymsTable {
        var symbols = SymbolList()
        for k in 0 ..< n {
            symbols.append(address: 0x1000_0000 + UInt64(64 * k), type: UInt8(ascii: "T"), name: Array("function_\(k)".utf8))
        }
        return try KallsymsGenerator.generate(symbols: symbols, options: GeneratorOptions(format: .linux612, allSymbols: true))
    }

    func table(_ n: Int) throws -> BinaryLayout { BinaryLayout(try generate(n), arch: .ppc64le) }

    /// Calls spaced `spacing` bytes of slack apart, each costing 4 + 3 + 6 bytes of table: the
    /// room must hold every call it pushes out itself, at the cost measured, in every array —
    /// whether the series converges (spacing above the cost) or runs until every call is out.
    @Test(arguments: [8, 12, 16, 24, 48, 200])
    func roomFromBranchesHoldsTheCallsItPushesOut(_ spacing: Int) throws {
        let full = try generate(3000)
        let bare = BinaryLayout(full, arch: .ppc64le)
        let linkedSection = bare.bytes.count - 2600
        let cost: [KallsymsArray: Int] = [.names: 6, .offsets: 4, .seqsOfNames: 3]
        // 200 calls went out in the last move; 4000 more wait, `spacing` bytes of slack apart.
        let before = BranchReach(slack: (0 ..< 4200).map { $0 * 13 })
        let moved = 200 * 13
        let now = BranchReach(slack: (0 ..< 4000).map { 1 + $0 * spacing })
        let g = Reservations.Growth(table: bare, growth: cost.mapValues { $0 * 200 }, moved: moved)
        let r = try #require(Reservations.fromBranches(g, before: before, now: now, linkedSection: linkedSection))
        let padded = BinaryLayout(full, arch: .ppc64le, reservation: r)
        let calls = now.pushedOut(by: padded.bytes.count - linkedSection)
        for l in Reservations.variableArrays(bare) {
            let room = try #require(r.room[l.array])
            #expect(room - l.size >= (cost[l.array] ?? 0) * calls, "\(l.array): room \(room), size \(l.size), \(calls) calls")
        }
        if spacing <= 12 { #expect(calls == 4000) }
        // Not wildly more than the cascade and the margin need: the measured cost is doubled,
        // and no array gets less than its share by size, so under three times.
        let need = calls * 13 + Reservations.defaultMargin(bare)
        #expect(padded.bytes.count - bare.bytes.count <= 3 * need)
    }

    @Test func everyOverflowAtLeastDoublesEachArraysMargin() throws {
        let linked = try table(2000)
        let r = Reservations.spread(1000, over: linked)
        let bigger = try table(2200)
        let grown = Reservations.grow(r, toFit: bigger, linked: linked, anticipated: TableReservation())
        let old = Dictionary(uniqueKeysWithValues: Reservations.variableArrays(linked).map { ($0.array, $0.size) })
        for l in Reservations.variableArrays(bigger) {
            let margin = try #require(r.room[l.array]) - old[l.array]!
            #expect(try #require(grown.room[l.array]) - l.size >= 2 * margin, "\(l.array)")
        }
    }

    /// A final image the reader cannot take — not ELF, a truncated header, section headers past
    /// the end — is "Inconsistent kallsyms data", exit 1, whatever the reader threw.
    @Test func anUnreadableFinalImageIsAnInconsistency() throws {
        var header = [UInt8](repeating: 0, count: 64)
        header[0 ..< 7] = [0x7F, 0x45, 0x4C, 0x46, 2, 1, 1]
        header[40] = 0xFF  // e_shoff far beyond the file
        header[60] = 3  // e_shnum
        for bytes in [[], [0x7F, 0x45, 0x4C, 0x46], header, Array("not an image".utf8)] {
            #expect {
                try Verification.check(bytes, expected: try generate(10))
            } throws: { e in
                guard let f = e as? LinkFailure else { return false }
                return f.exitCode == 1 && f.message.hasPrefix("Inconsistent kallsyms data: the final image's table cannot be read back")
            }
        }
    }
}
