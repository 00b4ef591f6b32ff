/// An error in the user's input or in a table: says where (file, line or byte offset) and what.
///
/// Every reader and the generator throw this for bad input, before writing anything; the command
/// prints ``description`` and exits with status 2.
public struct KallsymsError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong, for callers that react differently to bad input and to failed I/O.
    public enum Kind: Sendable, Equatable {
        /// A line of a symbol map does not have the form `ADDRESS TYPE NAME`.
        case lineFormat
        /// A value does not fit the table (the kernel's "out of range in relative mode").
        case outOfRange
        /// The input has no symbol the table can hold (6.1's "No valid symbol.").
        case noValidSymbol
        /// A flag the chosen format does not have, or a bad combination of flags.
        case usage
        /// Reading or writing a file failed.
        case io
        /// Bytes that claim to be a table or an image and are not.
        case malformed
    }

    /// What went wrong.
    public var kind: Kind
    /// The file at fault, when known (readers of bytes in memory leave it to their caller).
    public var file: String?
    /// The 1-based line of a text input (a symbol map).
    public var line: Int?
    /// The byte offset in a binary input (an ELF file, a kernel image, a table array).
    public var offset: Int?
    /// What is wrong, in words; for the kernel's own messages, the kernel's words.
    public var message: String

    package init(_ kind: Kind, _ message: String, file: String? = nil, line: Int? = nil, offset: Int? = nil) {
        self.kind = kind
        self.message = message
        self.file = file
        self.line = line
        self.offset = offset
    }

    /// The message after its place: `FILE:LINE: message`, or `FILE: byte offset N (0xN): message`.
    public var description: String {
        var place = ""
        if let file { place = file }
        if let line { place += place.isEmpty ? "line \(line)" : ":\(line)" }
        if let offset { place += (place.isEmpty ? "" : ": ") + "byte offset \(offset) (0x\(String(offset, radix: 16)))" }
        return place.isEmpty ? message : "\(place): \(message)"
    }

    /// The same error, attributed to `file` if it names no file yet.
    package func inFile(_ file: String) -> KallsymsError {
        var copy = self
        if copy.file == nil { copy.file = file }
        return copy
    }
}
