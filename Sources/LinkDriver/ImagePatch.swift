import ELFKit
import Foundation
import KallsymsCore
import KernelImage

/// Writing a table into a linked image in place, when its layout is the one linked in.
enum ImagePatch {
    /// Writes `layout` over the table linked into `linked.image`, after checking that the bytes
    /// there are exactly the table that was linked (so nothing else is ever overwritten); returns
    /// the patched copy's path.
    static func write(_ layout: BinaryLayout, over linked: LinkRun.Linked, listing: NMListing) throws -> String {
        var bytes = try FileIO.read(linked.image)
        let elf: ELFFile
        do { elf = try ELFFile(bytes) } catch let e as ELFError {
            throw KallsymsError(.malformed, e.message, file: linked.image, offset: e.offset)
        }
        let first = linked.layout.labels.min { $0.offset < $1.offset }!
        guard let start = address(of: first.name, in: listing), let text = address(of: "_text", in: listing) else {
            throw LinkFailure(message: "cannot patch: \(first.name) or _text is missing from the image", exitCode: 2)
        }
        guard let offset = fileOffset(of: start, size: layout.bytes.count, in: elf) else {
            throw LinkFailure(message: "cannot patch: the table at 0x\(String(start, radix: 16)) is not in the file", exitCode: 2)
        }
        let old = linked.layout.resolvedBytes(textAddress: text, at: start)
        guard Array(bytes[offset ..< offset + old.count]) == old else {
            throw LinkFailure(
                message: "cannot patch: the bytes at file offset \(offset) are not the table that was linked", exitCode: 2)
        }
        let new = layout.resolvedBytes(textAddress: text, at: start)
        bytes.replaceSubrange(offset ..< offset + new.count, with: new)
        let path = linked.image + ".patched"
        try FileIO.writeAtomically(path, bytes: bytes, mode: mode(of: linked.image))
        return path
    }

    static func address(of name: String, in listing: NMListing) -> UInt64? {
        let wanted = Array(name.utf8)
        let s = listing.symbols
        for i in 0 ..< s.count where s.nameLength(i) == wanted.count && s.name(i).elementsEqual(wanted) {
            if !NMListing.isUndefined(s.type(i)) { return s.addresses[i] }
        }
        return nil
    }

    static func fileOffset(of address: UInt64, size: Int, in elf: ELFFile) -> Int? {
        for s in elf.sections where s.type != .nobits && s.flags.contains(.alloc) {
            if address >= s.address, address - s.address + UInt64(size) <= s.size {
                return Int(s.offset + (address - s.address))
            }
        }
        return nil
    }

    static func mode(of path: String) -> mode_t {
        var st = stat()
        return stat(path, &st) == 0 ? st.st_mode & 0o7777 : 0o755
    }
}

/// The check after the loop: the table inside the final image, decoded by the reader, against
/// the table the image's own symbols give.
enum Verification {
    /// Compares entry by entry and array by array. Anything that keeps the table from being read
    /// back — a malformed image, an ELF error, whatever the reader throws — is an inconsistency
    /// too: the image is not one whose kallsyms data can be trusted.
    static func check(_ bytes: [UInt8], expected: KallsymsTable) throws {
        let image: KernelImage
        do {
            image = try KernelImage.read(bytes: bytes)
        } catch {
            let why = (error as? KallsymsError)?.message ?? String(describing: error)
            throw LinkFailure(
                message: "Inconsistent kallsyms data: the final image's table cannot be read back (\(why))", exitCode: 1)
        }
        let found = image.table
        var problems: [String] = []
        if found.names != expected.names { problems.append("\(KallsymsArray.names) differ") }
        if found.markers != expected.markers { problems.append("\(KallsymsArray.markers) differ") }
        if found.tokenTable != expected.tokenTable { problems.append("\(KallsymsArray.tokenTable) differs") }
        if found.tokenIndex != expected.tokenIndex { problems.append("\(KallsymsArray.tokenIndex) differs") }
        if found.seqsOfNames != expected.seqsOfNames { problems.append("\(KallsymsArray.seqsOfNames) differs") }
        if TableDecoder.addresses(found.addressEncoding, textAddress: found.textAddress)
            != TableDecoder.addresses(expected.addressEncoding, textAddress: expected.textAddress)
        {
            problems.append("addresses differ")
        }
        if found.symbols != expected.symbols { problems.append("decoded entries differ") }
        guard problems.isEmpty else {
            throw LinkFailure(
                message: "Inconsistent kallsyms data: " + problems.joined(separator: ", "),
                explanation: MapExplainer.explain(found.symbols, expected.symbols), exitCode: 1)
        }
    }
}
