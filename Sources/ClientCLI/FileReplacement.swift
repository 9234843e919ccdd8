import DmabufSystem

/// Replaces a file's contents all at once: the text goes to a new file beside it, which is
/// flushed and renamed over it, so a reader sees the old text or the new, never part.
struct FileReplacement {
    let path: String

    /// Mode of the new file: readable by every collector, whoever runs it.
    static let mode: mode_t = 0o644

    func replace(with text: String) throws(CLIFailure) {
        let slash = path.lastIndex(of: "/")
        let folder = slash.map { path[..<$0].isEmpty ? "/" : String(path[..<$0]) } ?? "."
        let base = slash.map { String(path[path.index(after: $0)...]) } ?? path
        // A dot name without the .prom suffix: the textfile collector skips it.
        var template = Array("\(folder)/.\(base).XXXXXX".utf8CString)
        let fd = mkstemp(&template)
        guard fd >= 0 else { throw failure("cannot create a file in \(folder)") }
        let staged = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
        defer { Descriptor.close(fd) }
        do throws(Errno) {
            if fchmod(fd, Self.mode) != 0 { throw .current }
            try Descriptor.writeAll(fd, text)
            if fsync(fd) != 0 { throw .current }
        } catch {
            unlink(staged)
            throw failure("cannot write \(path)", error)
        }
        guard rename(staged, path) == 0 else {
            let error = failure("cannot replace \(path)")
            unlink(staged)
            throw error
        }
    }

    /// `what` and the reason errno gives; build it before anything else changes errno.
    private func failure(_ what: String, _ error: Errno = .current) -> CLIFailure {
        CLIFailure(message: "\(what): \(error)", exitCode: .cannotCreate)
    }
}
