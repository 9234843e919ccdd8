import DmabufProtocol
import DmabufScanner

/// One entry of a watch set: an exact name, or a prefix that every name starting with
/// it matches. A name and a prefix with the same bytes are two entries.
public struct Watch: Hashable, Sendable, Comparable {
    public var kind: WatchKey.Kind
    public var name: WatchName

    public static func name(_ name: WatchName) -> Watch { Watch(kind: .name, name: name) }
    public static func prefix(_ name: WatchName) -> Watch { Watch(kind: .prefix, name: name) }

    /// The names and prefixes of one call, as watch entries.
    public static func all(names: [WatchName], prefixes: [WatchName]?) -> [Watch] {
        names.map(Watch.name) + (prefixes ?? []).map(Watch.prefix)
    }

    /// What the BPF program is given for this entry.
    public var key: WatchKey { WatchKey(kind: kind, bytes: name.bytes) }

    /// Whether a buffer named `bytes` (as the kernel holds it) counts for this entry.
    public func matches(_ bytes: [UInt8]) -> Bool {
        kind == .name ? bytes == name.bytes : bytes.starts(with: name.bytes)
    }

    /// By name; for equal bytes the name before the prefix.
    public static func < (lhs: Watch, rhs: Watch) -> Bool {
        if lhs.name != rhs.name { return lhs.name < rhs.name }
        return lhs.kind == .name && rhs.kind == .prefix
    }
}
