#if canImport(Glibc)
import Glibc
#endif

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
        let written = fchmod(fd, Self.mode) == 0 && writeAll(fd, Array(text.utf8)) && fsync(fd) == 0
        let error = failure("cannot write \(path)")
        close(fd)
        guard written else {
            unlink(staged)
            throw error
        }
        guard rename(staged, path) == 0 else {
            let error = failure("cannot replace \(path)")
            unlink(staged)
            throw error
        }
    }

    private func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var rest = bytes[...]
        while !rest.isEmpty {
            let count = rest.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { return false }
            rest = rest.dropFirst(count)
        }
        return true
    }

    /// `what` and the reason errno gives; build it before anything else changes errno.
    private func failure(_ what: String) -> CLIFailure {
        CLIFailure(message: "\(what): \(String(cString: strerror(errno)))", exitCode: .cannotCreate)
    }
}
