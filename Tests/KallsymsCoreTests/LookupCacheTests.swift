import Foundation
import KallsymsCore
import KallsymsTestSupport
import Testing

/// Lookups need no preparation and hold no hidden state: the first lookup builds the index once
/// (also when several threads look up at once), copies share it, and a changed copy gets its own.
@Suite struct LookupCacheTests {
    static func table() throws -> KallsymsTable {
        var map = "ffffffff81000000 T _text\nffffffff81000000 T _stext\n"
        let first: UInt64 = 0xFFFF_FFFF_8100_0010
        for i in 0 ..< 5000 { map += String(first + UInt64(i) * 16, radix: 16) + " T fn_\(i)\n" }
        map += String(first + 5000 * 16, radix: 16) + " T _etext\n"
        return try KallsymsGenerator.generate(mapBytes: Array(map.utf8), options: GeneratorOptions(allSymbols: true))
    }

    @Test func concurrentLookupsOnAnUnpreparedTableAgree() throws {
        let t = try Self.table()
        let results = ResultGrid(count: 8)
        DispatchQueue.concurrentPerform(iterations: 8) { k in
            var ok = true
            for i in stride(from: k, to: 5000, by: 8) {
                let a: UInt64 = 0xFFFF_FFFF_8100_0010 + UInt64(i) * 16 + 3
                ok = ok && t.lookup(address: a)?.formatted == "fn_\(i)+0x3/0x10" && t.address(of: "fn_\(i)") == a - 3
            }
            results.set(k, ok)
        }
        #expect(results.all)
    }

    @Test func aChangedCopyDoesNotUseTheOriginalsIndex() throws {
        let t = try Self.table()
        #expect(t.address(of: "fn_7") == 0xFFFF_FFFF_8100_0080)
        var moved = t
        moved.symbols = t.symbols.withAddresses(t.symbols.addresses.map { $0 + 0x1000 })
        #expect(moved.address(of: "fn_7") == 0xFFFF_FFFF_8100_1080)
        #expect(t.address(of: "fn_7") == 0xFFFF_FFFF_8100_0080)
    }
}

/// Per-thread verdicts, written once each.
final class ResultGrid: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [Bool]
    init(count: Int) { values = [Bool](repeating: false, count: count) }
    func set(_ k: Int, _ v: Bool) { lock.lock(); values[k] = v; lock.unlock() }
    var all: Bool { lock.lock(); defer { lock.unlock() }; return values.allSatisfy { $0 } }
}
