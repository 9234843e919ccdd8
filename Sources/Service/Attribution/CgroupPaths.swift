import DmabufSystem
import Synchronization

/// The cgroup v2 hierarchy's paths by cgroup id. On cgroup2 a cgroup's id is the inode
/// number of its directory, so one walk of the mounted tree names every cgroup; a walk
/// runs again when an id it has not seen turns up (a cgroup made since).
final class CgroupPaths: Sendable {
    /// Where the cgroup2 hierarchy is mounted; nil when it is not.
    let root: String?
    private let known = Mutex<[UInt64: String]>([:])

    /// - Parameter root: where the hierarchy is (a container's view of the host's, say);
    ///   by default where /proc/self/mountinfo says cgroup2 is mounted.
    init(root: String? = nil, mountInfo: String? = readTextFile("/proc/self/mountinfo", limit: 1 << 20)) {
        self.root = root ?? mountInfo.flatMap(Self.cgroup2Root)
    }

    /// The path of the cgroup with `id` from the hierarchy's root (`/` for the root
    /// itself); "" when no cgroup has it (gone since, or no cgroup2 mounted).
    func path(of id: UInt64) -> String {
        if let path = known.withLock({ $0[id] }) { return path }
        let walked = walk()
        known.withLock { $0 = walked }
        return walked[id] ?? ""
    }

    /// id → path of every cgroup under the root.
    private func walk() -> [UInt64: String] {
        guard let root else { return [:] }
        var paths: [UInt64: String] = [:]
        var pending = [(folder: root, path: "/")]
        while let (folder, path) = pending.popLast() {
            var status = stat()
            guard lstat(folder, &status) == 0 else { continue }
            paths[UInt64(status.st_ino)] = path
            guard let directory = opendir(folder) else { continue }
            defer { closedir(directory) }
            while let entry = readdir(directory) {
                guard entry.pointee.d_type == UInt8(DT_DIR) else { continue }
                let name = withUnsafeBytes(of: entry.pointee.d_name) {
                    String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self)
                }
                if name == "." || name == ".." { continue }
                pending.append((folder + "/" + name, path == "/" ? "/" + name : path + "/" + name))
            }
        }
        return paths
    }

    /// The mount point of the cgroup2 filesystem in a mountinfo text: the fifth field of
    /// the line whose filesystem type (after " - ") is cgroup2.
    static func cgroup2Root(in mountInfo: String) -> String? {
        for line in mountInfo.split(separator: "\n") {
            guard let dash = line.firstRange(of: " - ") else { continue }
            guard line[dash.upperBound...].split(separator: " ").first == "cgroup2" else { continue }
            let fields = line[..<dash.lowerBound].split(separator: " ")
            if fields.count >= 5 { return unescaped(fields[4]) }
        }
        return nil
    }

    /// mountinfo writes space, tab, newline and backslash in paths as octal escapes (\040).
    private static func unescaped(_ field: Substring) -> String {
        var bytes: [UInt8] = []
        var rest = field.utf8[...]
        while let byte = rest.first {
            if byte == UInt8(ascii: "\\"), rest.count >= 4, let code = UInt8(String(decoding: rest.dropFirst().prefix(3), as: UTF8.self), radix: 8) {
                bytes.append(code)
                rest = rest.dropFirst(4)
            } else {
                bytes.append(byte)
                rest = rest.dropFirst()
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
