import DmabufProtocol
import DmabufScanner

extension Watch {
    /// A name a call carried, as an entry to count: its text is already checked.
    public static func name(_ name: WatchName) -> Watch { .name(name.bytes) }
    public static func prefix(_ name: WatchName) -> Watch { .prefix(name.bytes) }

    /// The names and prefixes of one call, as entries.
    public static func all(names: [WatchName], prefixes: [WatchName]?) -> [Watch] {
        names.map(Watch.name) + (prefixes ?? []).map(Watch.prefix)
    }
}
