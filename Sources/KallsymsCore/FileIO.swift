#if canImport(Glibc)
    import Glibc
#endif

/// Whole-file reads and atomic writes with POSIX calls, errors naming the file.
package enum FileIO {
    static func errnoMessage(_ e: Int32 = errno) -> String { String(cString: strerror(e)) }

    /// Reads a whole file; `-` is standard input. `maxSize` guards against reading something
    /// absurd by mistake.
    package static func read(_ path: String, maxSize: Int = 1 << 36) throws -> [UInt8] {
        let fd = path == "-" ? dup(STDIN_FILENO) : open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw KallsymsError(.io, errnoMessage(), file: path) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw KallsymsError(.io, errnoMessage(), file: path) }
        if (st.st_mode & S_IFMT) == S_IFDIR { throw KallsymsError(.io, "is a directory", file: path) }
        let size = Int(st.st_size)
        if size > maxSize { throw KallsymsError(.io, "file too large (\(size) bytes)", file: path) }
        // Regular files: read straight into an array of the right size (no zero fill, no
        // chunk copies). Pipes and /proc files report 0 or a wrong size: read them in chunks.
        var result = [UInt8]()
        if (st.st_mode & S_IFMT) == S_IFREG && size > 0 {
            var failure: Int32 = 0
            result = [UInt8](unsafeUninitializedCapacity: size) { buf, count in
                var got = 0
                while got < size {
                    let n = Glibc.read(fd, buf.baseAddress! + got, size - got)
                    if n < 0 {
                        if errno == EINTR { continue }
                        failure = errno
                        break
                    }
                    if n == 0 { break }
                    got += n
                }
                count = got
            }
            if failure != 0 { throw KallsymsError(.io, errnoMessage(failure), file: path) }
            if result.count < size { return result }  // the file shrank while we read it
        }
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw KallsymsError(.io, errnoMessage(), file: path)
            }
            if n == 0 { break }
            result.append(contentsOf: chunk[0 ..< n])
            if result.count > maxSize { throw KallsymsError(.io, "file too large", file: path) }
        }
        return result
    }

    /// The directory (`.` when there is none, `/` at the root) and the last component of a path.
    /// (Not NSString's path methods: on this toolchain they trap on some one-character paths.)
    package static func splitPath(_ path: String) -> (directory: String, base: String) {
        guard let slash = path.lastIndex(of: "/") else { return (".", path) }
        let dir = String(path[..<slash])
        return (dir.isEmpty ? "/" : dir, String(path[path.index(after: slash)...]))
    }

    /// Writes `path` through a temporary file in the same directory that is renamed over it
    /// only after everything was written: a failure or a kill leaves the old file or the new one,
    /// never a mix. (No fsync: like compilers and linkers, we guard against dying processes, not
    /// power loss; a sync would triple the time of writing a large table.) `body` gets a `ByteOutput` streaming into the temporary file.
    ///
    /// An existing path that is not a regular file (`/dev/null`, `/dev/stdout`, a FIFO) is written
    /// in place: renaming over it would replace the device.
    package static func writeAtomically(
        _ path: String, mode: mode_t = 0o644, _ body: (ByteOutput) throws -> Void
    ) throws {
        var st = stat()
        if stat(path, &st) == 0 && (st.st_mode & S_IFMT) != S_IFREG {
            let fd = open(path, O_WRONLY | O_CLOEXEC)
            guard fd >= 0 else { throw KallsymsError(.io, errnoMessage(), file: path) }
            defer { close(fd) }
            let out = ByteOutput { chunk in try writeAll(fd, chunk, path: path) }
            try body(out)
            try out.flush()
            return
        }
        let (dir, base) = splitPath(path)
        var template = Array("\(dir)/.\(base).tmp-XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw KallsymsError(.io, "cannot create a temporary file: \(errnoMessage())", file: path) }
        let tmp = String(cString: template)
        var committed = false
        defer {
            if !committed { unlink(tmp) }
        }
        do {
            defer { close(fd) }
            let out = ByteOutput { chunk in try writeAll(fd, chunk, path: path) }
            try body(out)
            try out.flush()
            fchmod(fd, mode & ~currentUmask())
        }
        guard rename(tmp, path) == 0 else { throw KallsymsError(.io, errnoMessage(), file: path) }
        committed = true
    }

    package static func writeAtomically(_ path: String, bytes: [UInt8], mode: mode_t = 0o644) throws {
        try writeAtomically(path, mode: mode) { try $0.write(bytes) }
    }

    static func currentUmask() -> mode_t {
        let m = umask(0)
        umask(m)
        return m
    }

    /// Writes to an open descriptor (stdout, a pipe, a file), retrying short writes.
    package static func writeAll(_ fd: Int32, _ chunk: UnsafeRawBufferPointer, path: String) throws {
        var off = 0
        while off < chunk.count {
            let n = Glibc.write(fd, chunk.baseAddress! + off, chunk.count - off)
            if n < 0 {
                if errno == EINTR { continue }
                throw KallsymsError(.io, errnoMessage(), file: path)
            }
            off += n
        }
    }

    /// Streams into standard output.
    package static func standardOutput() -> ByteOutput {
        ByteOutput { try writeAll(1, $0, path: "<stdout>") }
    }
}
