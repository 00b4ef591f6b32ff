// Measures lookups on a real table: address → name+off/size and name → address, as many as fit
// in about a second each, over addresses and names drawn from the table itself.
// Usage: kallsyms-bench IMAGE
import Foundation
import KallsymsCore
import KernelImage

let args = CommandLine.arguments
guard args.count == 2 else {
    FileHandle.standardError.write("usage: kallsyms-bench IMAGE\n".data(using: .utf8)!)
    exit(2)
}
let clock = ContinuousClock()
let t0 = clock.now
let image = try KernelImage.read(path: args[1])
let readTime = clock.now - t0
let table = image.table
let s = table.symbols

// Addresses inside the kernel, spread over the table; names in a scrambled order.
var addresses: [UInt64] = []
struct LCG {
    var state: UInt64 = 0x1234_5678
    mutating func next() -> UInt64 {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return state >> 11
    }
}
nonisolated(unsafe) var rng = LCG()
func next() -> UInt64 { rng.next() }
while addresses.count < 1 << 16 {
    let i = Int(next() % UInt64(s.count - 1))
    let a = s.addresses[i]
    let b = s.addresses[i + 1]
    addresses.append(b > a ? a + next() % (b - a) : a)
}
var names: [[UInt8]] = []
while names.count < 1 << 14 { names.append(Array(s.name(Int(next() % UInt64(s.count))))) }

func rate(_ label: String, _ body: () -> Int) {
    var done = 0
    var found = 0
    let start = clock.now
    while clock.now - start < .seconds(1) {
        found += body()
        done += 1
    }
    let seconds = Double((clock.now - start).components.attoseconds) / 1e18 + Double((clock.now - start).components.seconds)
    print("\(label): \(Int(Double(done) * 65536 / seconds / 1000)) thousand per second (\(found) found)")
}
print("read \(args[1]): \(s.count) symbols in \(readTime)")
nonisolated(unsafe) var sink = 0
rate("address lookups") {
    var f = 0
    for a in addresses where table.lookup(address: a) != nil { f += 1 }
    return f
}
rate("address positions (no name string)") {
    var f = 0
    for a in addresses { if let p = table.position(of: a) { f &+= p } }
    sink &+= f
    return 0
}
rate("name lookups") {
    var f = 0
    for _ in 0 ..< 4 { for n in names where table.firstIndex(named: n) != nil { f += 1 } }
    return f
}
if sink == 42 { print("") }
