import ELFKit
import Foundation
import KallsymsCore
import MapDiff

/// What the link command's input files say before anything is linked.
enum LinkInputs {
    /// The ELF files among the command's arguments (objects, and the members of archives,
    /// thin ones included), `{…}` placeholders and options skipped.
    static func objects(in command: [String]) -> [(path: String, bytes: [UInt8])] {
        var out: [(String, [UInt8])] = []
        for arg in command.dropFirst() where !arg.hasPrefix("-") && !arg.contains("{") {
            guard let bytes = try? FileIO.read(arg), bytes.count >= 8 else { continue }
            if bytes.starts(with: [0x7F, 0x45, 0x4C, 0x46]) {
                if let elf = try? ELFFile(bytes), elf.type == .rel { out.append((arg, bytes)) }
            } else if let members = Archive.members(bytes, path: arg) {
                out += members
            }
        }
        return out
    }

    static func architecture(of command: [String]) throws -> Architecture {
        for (_, bytes) in objects(in: command) {
            guard let elf = try? ELFFile(bytes) else { continue }
            if let a = Architecture.tableObjectTargets.first(where: { $0.machine == elf.machine && ($0.pointerSize == 8) == elf.is64 }) {
                return a
            }
        }
        throw KallsymsError(.usage, "cannot tell the target from the link command's inputs: give --arch")
    }

    struct Estimate {
        var reservation: TableReservation
        var symbols: Int
        var objects: Int
    }

    /// Room for the table the image will need, from the input objects' own symbols: the table
    /// generated from them (every defined symbol that survives the filter, as if all were in
    /// range), plus a margin for what the linker adds (script symbols, stubs) and for the
    /// compression of the real set coming out a little differently.
    static func estimateReservation(
        command: [String], options: GeneratorOptions, filter: SymbolFilter, arch: Architecture
    ) throws -> Estimate? {
        let inputs = objects(in: command)
        guard !inputs.isEmpty else { return nil }
        var all = SymbolList()
        for (_, bytes) in inputs {
            guard let elf = try? ELFFile(bytes), let listing = try? NMListing.read(elf) else { continue }
            let kept = filter.apply(listing.symbols, addressWidth: listing.addressWidth)
            for i in 0 ..< kept.count where !NMListing.isUndefined(kept.type(i)) {
                all.append(address: 0, type: kept.type(i), name: kept.name(i))
            }
        }
        // The linker script's symbols and the table's own labels, about 64 of them.
        for k in 0 ..< 64 { all.append(address: 0, type: UInt8(ascii: "T"), name: Array("__linker_defined_\(k)".utf8)) }
        var o = options
        o.allSymbols = true
        o.absolutePercpu = false
        let table = try KallsymsGenerator.generate(symbols: all, options: o)
        let layout = BinaryLayout(table, arch: arch)
        return Estimate(
            reservation: Reservations.spread(layout.bytes.count / 16 + 1024, over: layout), symbols: all.count,
            objects: inputs.count)
    }
}

/// `ar` archives, regular and thin (the kernel links `vmlinux.a`, a thin archive).
enum Archive {
    static func members(_ b: [UInt8], path: String) -> [(path: String, bytes: [UInt8])]? {
        let thin = b.starts(with: Array("!<thin>\n".utf8))
        guard thin || b.starts(with: Array("!<arch>\n".utf8)) else { return nil }
        var out: [(String, [UInt8])] = []
        var longNames: [UInt8] = []
        var o = 8
        let dir = FileIO.splitPath(path).directory
        while o + 60 <= b.count {
            let name = String(decoding: b[o ..< o + 16], as: UTF8.self).trimmingCharacters(in: .whitespaces)
            let sizeText = String(decoding: b[o + 48 ..< o + 58], as: UTF8.self).trimmingCharacters(in: .whitespaces)
            guard let size = Int(sizeText), size >= 0 else { return out }
            let data = o + 60
            var memberName = name
            if name == "//" {
                guard data + size <= b.count else { return out }
                longNames = Array(b[data ..< data + size])
            } else if name.hasPrefix("/"), let at = Int(name.dropFirst()), at < longNames.count {
                let end = longNames[at...].firstIndex(of: 0x0A) ?? longNames.count
                memberName = String(decoding: longNames[at ..< end], as: UTF8.self)
            }
            if memberName.hasSuffix("/") { memberName.removeLast() }
            let special = name == "/" || name == "//" || name == "/SYM64/"
            // Thin archives store only headers; the members are files named relative to it.
            let stored = thin && !special ? 0 : size
            if !special {
                if thin {
                    let p = memberName.hasPrefix("/") ? memberName : "\(dir.isEmpty ? "." : dir)/\(memberName)"
                    if let bytes = try? FileIO.read(p), bytes.starts(with: [0x7F, 0x45, 0x4C, 0x46]) { out.append((p, bytes)) }
                } else if data + size <= b.count, b[data ..< data + size].starts(with: [0x7F, 0x45, 0x4C, 0x46]) {
                    out.append(("\(path)(\(memberName))", Array(b[data ..< data + size])))
                }
            }
            o = data + stored + (stored & 1)
        }
        return out
    }
}

/// Runs a command (found on PATH) and collects its status and output.
enum Subprocess {
    static func run(_ args: [String]) throws -> (status: Int32, stdout: [UInt8], stderr: [UInt8]) {
        guard !args.isEmpty else { throw KallsymsError(.usage, "empty link command") }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = args
        let out = Pipe()
        let err = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = FileHandle.nullDevice
        do { try p.run() } catch { throw KallsymsError(.io, "cannot run \(args[0]): \(error)") }
        final class Box: @unchecked Sendable {
            var out = Data()
            var err = Data()
        }
        let box = Box()
        let group = DispatchGroup()
        DispatchQueue.global().async(group: group) { box.out = out.fileHandleForReading.readDataToEndOfFile() }
        DispatchQueue.global().async(group: group) { box.err = err.fileHandleForReading.readDataToEndOfFile() }
        group.wait()
        p.waitUntilExit()
        return (p.terminationStatus, [UInt8](box.out), [UInt8](box.err))
    }
}

/// Explains the difference between two symbol lists (the table linked in and the one the image
/// gives) with the map-diff report, as `kallsyms diff` prints it.
enum MapExplainer {
    static func explain(_ a: SymbolList, _ b: SymbolList) -> String {
        MapDiff.compare(a, b).text(limit: 12, sourceA: "table in the image", sourceB: "the image's symbols")
    }
}
