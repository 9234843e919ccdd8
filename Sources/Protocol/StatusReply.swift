/// The reply of `Status()`. `Status` takes no parameters: read them with `NoParameters`.
public struct StatusReply: MessageParameters {
    /// dmabufd's version.
    public var version: String
    /// The kernel release the service runs on.
    public var kernel: String
    /// Connected clients.
    public var clients: Int
    /// Names and prefixes in the kernel map (the union of every watch set).
    public var watched: Int
    /// How many names and prefixes the map can hold.
    public var capacity: Int
    /// Passes run since the service started.
    public var scans: Int
    /// Names and prefixes the kernel maps hold, counted as the service writes them.
    public var mapEntries: Int?
    /// The latest pass's exporters; nil before the first pass (or from a service that does not say).
    public var exporters: [Exporter]?

    public init(
        version: String, kernel: String, clients: Int, watched: Int, capacity: Int, scans: Int, mapEntries: Int? = nil,
        exporters: [Exporter]? = nil
    ) {
        self.version = version
        self.kernel = kernel
        self.clients = clients
        self.watched = watched
        self.capacity = capacity
        self.scans = scans
        self.mapEntries = mapEntries
        self.exporters = exporters
    }

    /// Reads a reply's parameters; fields it does not know are ignored.
    public init(parameters: [String: JSON]) throws(VarlinkError) {
        let reader = try ParameterReader(parameters, allowing: nil)
        self.init(
            version: try reader.string("version"), kernel: try reader.string("kernel"),
            clients: try reader.int("clients"), watched: try reader.int("watched"),
            capacity: try reader.int("capacity"), scans: try reader.int("scans"),
            mapEntries: try reader.optionalInt("map_entries"),
            exporters: try Exporter.list(reader, "exporters"))
    }

    /// `map_entries` and `exporters` are left out when nil.
    public var parameters: [String: JSON] {
        var parameters: [String: JSON] = [
            "version": .string(version), "kernel": .string(kernel), "clients": .integer(Int64(clients)),
            "watched": .integer(Int64(watched)), "capacity": .integer(Int64(capacity)),
            "scans": .integer(Int64(scans)),
        ]
        if let mapEntries { parameters["map_entries"] = .integer(Int64(mapEntries)) }
        if let exporters { parameters["exporters"] = .array(exporters.map(\.json)) }
        return parameters
    }
}
