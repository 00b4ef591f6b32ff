import ELFKit
import KallsymsCore
import KallsymsTestSupport
@_spi(TableScan) import KernelImage
import Testing

/// Every layout the reader must know, built from one generated table: the arrays placed in each
/// kernel era's order and encoding inside surrounding noise, then found and decoded again.
@Suite(.tags(.offline)) struct LayoutTests {
    struct Case: CustomStringConvertible, Sendable {
        var order: TableLayout.ArrayOrder
        var kind: TableLayout.AddressKind
        var pointerSize: Int
        var byteOrder: ByteOrder
        /// Pre-4.20 kernels used pointer-sized markers and num_syms.
        var wideMarkers = false
        var description: String {
            "\(order.rawValue) \(kind.rawValue) \(pointerSize * 8)-bit \(byteOrder == .little ? "LE" : "BE")\(wideMarkers ? " wide markers" : "")"
        }
    }

    static let cases: [Case] = [
        Case(order: .before6_2, kind: .absolute, pointerSize: 8, byteOrder: .little, wideMarkers: true),  // 2.6 ... 4.19
        Case(order: .before6_2, kind: .absolute, pointerSize: 4, byteOrder: .big, wideMarkers: true),
        Case(order: .before6_2, kind: .baseRelative, pointerSize: 8, byteOrder: .little),  // 4.20 ... 6.1
        Case(order: .before6_2, kind: .absolutePercpu, pointerSize: 8, byteOrder: .little),
        Case(order: .before6_2, kind: .absolute, pointerSize: 4, byteOrder: .little),  // 32-bit absolute
        Case(order: .v6_2, kind: .baseRelative, pointerSize: 8, byteOrder: .big),  // 6.2-6.3, s390x-like
        Case(order: .v6_2, kind: .absolutePercpu, pointerSize: 8, byteOrder: .little),
        Case(order: .v6_2, kind: .baseRelative, pointerSize: 4, byteOrder: .little),
        Case(order: .v6_4, kind: .baseRelative, pointerSize: 8, byteOrder: .little),  // 6.4+
        Case(order: .v6_4, kind: .absolutePercpu, pointerSize: 8, byteOrder: .little),
        Case(order: .v6_4, kind: .baseRelative, pointerSize: 8, byteOrder: .big),
        Case(order: .v6_4, kind: .absolute, pointerSize: 8, byteOrder: .little),  // 6.4-6.10 !BASE_RELATIVE
        Case(order: .v6_4, kind: .placeRelative, pointerSize: 8, byteOrder: .little),  // 7.0
        Case(order: .v6_4, kind: .placeRelative, pointerSize: 4, byteOrder: .big),
        Case(order: .v6_4, kind: .absolute, pointerSize: 4, byteOrder: .little),  // 7.0 non-relocatable 32-bit
    ]

    static func base(_ c: Case) -> UInt64 { c.pointerSize == 8 ? 0xFFFF_8000_8000_0000 : 0xC000_0000 }

    /// A map with everything that shapes the arrays: 600 symbols (three marker groups), equal
    /// addresses, names long enough for 2-byte lengths, per-cpu symbols at low addresses.
    static func sourceTable(_ c: Case) throws -> KallsymsTable {
        let text = base(c)
        var map = ""
        func hex(_ v: UInt64) -> String {
            let s = String(v, radix: 16)
            return String(repeating: "0", count: max(0, c.pointerSize * 2 - s.count)) + s
        }
        if c.kind == .absolutePercpu {
            map += "\(hex(0)) D __per_cpu_start\n\(hex(0x40)) D cpu_number\n\(hex(0x1000)) D __per_cpu_end\n"
        }
        map += "\(hex(text)) T _text\n\(hex(text)) T _stext\n"
        var rng = SplitMix(seed: 42)
        var address = text + 0x100
        for i in 0 ..< 600 {
            address += UInt64(rng.next() % 3 == 0 ? 0 : 16 + Int(rng.next() % 200))
            // Random letters barely compress: these need 2-byte lengths.
            let long = i % 97 == 5 ? String((0 ..< 300).map { _ in Character(Unicode.Scalar(UInt8(97 + rng.next() % 26))) }) : ""
            map += "\(hex(address)) \(i % 5 == 0 ? "t" : "T") fn_\(long)\(i)_\(rng.next() % 1000)\n"
        }
        map += "\(hex(address + 64)) T _etext\n"
        let options = GeneratorOptions(
            format: .linux612, allSymbols: true, absolutePercpu: c.kind == .absolutePercpu)
        return try KallsymsGenerator.generate(mapBytes: Array(map.utf8), options: options)
    }

    /// Lays the arrays out as the kernel of that era links them.
    static func encode(_ t: KallsymsTable, _ c: Case) -> (bytes: [UInt8], textOffset: Int) {
        var out: [UInt8] = []
        var rng = SplitMix(seed: 7)
        // Surrounding data that is not a table.
        for _ in 0 ..< 4099 { out.append(UInt8(truncatingIfNeeded: rng.next() | 1)) }
        let align = c.kind == .placeRelative ? 4 : c.pointerSize
        func pad() { while out.count % align != 0 { out.append(0) } }
        func word(_ v: UInt64, _ size: Int) {
            for k in 0 ..< size {
                let shift = c.byteOrder == .little ? k * 8 : (size - 1 - k) * 8
                out.append(UInt8(truncatingIfNeeded: v >> UInt64(shift)))
            }
        }
        let n = t.numSyms
        let addresses = t.symbols.addresses
        func addressArrays() {
            pad()
            switch c.kind {
            case .absolute:
                for a in addresses { word(a, c.pointerSize) }
            case .baseRelative, .absolutePercpu:
                guard case .offsets(let w, let base, _) = t.addressEncoding else { fatalError() }
                for x in w { word(UInt64(x), 4) }
                pad()
                word(base, c.pointerSize)
            case .placeRelative:
                let start = out.count
                for (i, a) in addresses.enumerated() {
                    let at = base(c) &+ UInt64(start + 4 * i)
                    word(UInt64(UInt32(truncatingIfNeeded: a &- at)), 4)
                }
            case .absolute32:
                for a in addresses { word(a & 0xFFFF_FFFF, 4) }
            }
        }
        func seqs() {
            pad()
            for s in t.seqsOfNames { out += [UInt8(s >> 16 & 0xFF), UInt8(s >> 8 & 0xFF), UInt8(s & 0xFF)] }
        }
        let markerWidth = c.wideMarkers ? c.pointerSize : 4
        if c.order != .v6_4 { addressArrays() }
        pad()
        word(UInt64(n), markerWidth)
        pad()
        out += t.names
        pad()
        for m in t.markers { word(UInt64(m), markerWidth) }
        if c.order == .v6_2 { seqs() }
        pad()
        out += t.tokenTable
        pad()
        for x in t.tokenIndex { word(UInt64(x), 2) }
        if c.order == .v6_4 {
            addressArrays()
            seqs()
        }
        for _ in 0 ..< 333 { out.append(UInt8(truncatingIfNeeded: rng.next() | 1)) }
        return (out, 0)
    }

    @Test(arguments: cases)
    func everyLayoutIsFoundAndDecoded(_ c: Case) throws {
        let source = try Self.sourceTable(c)
        let (bytes, _) = Self.encode(source, c)
        let hints = ScanHints(imageBase: Self.base(c))
        let found = try bytes.withUnsafeBufferPointer { try TableLocator.locate(in: $0, hints: hints) }
        #expect(found.layout.order == c.order)
        #expect(found.layout.addressKind == c.kind)
        #expect(found.layout.pointerSize == c.pointerSize)
        #expect(found.layout.byteOrder == c.byteOrder)
        #expect(found.layout.markerSize == (c.wideMarkers ? c.pointerSize : 4))
        #expect(found.layout.twoByteLengthsSeen)
        #expect(found.layout.hasSeqsOfNames == (c.order != .before6_2))
        let same = found.table.symbols == source.symbols
        #expect(same, "decoded symbols differ")
        #expect(found.table.seqsOfNames == source.seqsOfNames)
        #expect(found.table.names == source.names)
    }

    /// Lookups behave as the kernel's: first alias, offset, size up to the next address.
    @Test func lookupsFollowTheKernel() throws {
        let c = Case(order: .v6_4, kind: .baseRelative, pointerSize: 8, byteOrder: .little)
        let t = try Self.sourceTable(c)
        let s = t.symbols
        // Every address inside a symbol maps back to the first alias at its start.
        for i in 0 ..< s.count {
            let a = s.addresses[i]
            var first = i
            while first > 0 && s.addresses[first - 1] == a { first -= 1 }
            var next = i + 1
            while next < s.count && s.addresses[next] == a { next += 1 }
            // At or past the last address (_etext) there is no symbol to be inside of.
            if next == s.count {
                #expect(t.lookup(address: a) == nil)
                continue
            }
            let m = t.lookup(address: a)
            #expect(m?.index == first)
            #expect(m?.offset == 0)
            #expect(m?.size == s.addresses[next] - a)
            #expect(t.lookup(address: s.addresses[next] - 1)?.index == first)
        }
        #expect(t.lookup(address: s.addresses[0] - 1) == nil)
        #expect(t.lookup(address: s.addresses[s.count - 1] + 0x1000) == nil)
        // Name lookups give the lowest address; every name is found.
        for i in 0 ..< s.count {
            let idx = t.firstIndex(named: Array(s.name(i)))
            #expect(idx != nil && s.name(idx!).elementsEqual(s.name(i)) && idx! <= i)
        }
        #expect(t.address(of: "no_such_symbol") == nil)
        #expect(t.address(of: "_text") == Self.base(c))
    }
}
