/// `type ScanInfo`: one pass over the kernel's buffer list.
public struct ScanInfo: Sendable, Equatable {
    /// Increases by one with every pass.
    public var id: Int
    /// Wall clock at the start, microseconds since the epoch.
    public var startedUsec: Int
    public var durationNsec: Int
    /// Every buffer the pass saw, named or not.
    public var buffers: Int
    /// Their total size.
    public var bytes: Int
    /// Buffers whose details did not fit in the ring buffer; nil when none.
    public var detailsDropped: Int?
    /// Every exporter the pass saw, by name; nil from a service that does not say.
    public var exporters: [Exporter]?

    /// A `detailsDropped` of 0 is stored as nil: the field is absent when nothing was dropped.
    public init(
        id: Int, startedUsec: Int, durationNsec: Int, buffers: Int, bytes: Int, detailsDropped: Int? = nil,
        exporters: [Exporter]? = nil
    ) {
        self.id = id
        self.startedUsec = startedUsec
        self.durationNsec = durationNsec
        self.buffers = buffers
        self.bytes = bytes
        self.detailsDropped = detailsDropped == 0 ? nil : detailsDropped
        self.exporters = exporters
    }
}

extension ScanInfo {
    /// Reads a ScanInfo from a reply; fields it does not know are ignored.
    public init(json: JSON, at path: String = "scan") throws(VarlinkError) {
        let reader = try ParameterReader(json, allowing: nil, path: path)
        self.init(
            id: try reader.int("id"), startedUsec: try reader.int("started_usec"),
            durationNsec: try reader.int("duration_nsec"), buffers: try reader.int("buffers"),
            bytes: try reader.int("bytes"), detailsDropped: try reader.optionalInt("details_dropped"),
            exporters: try Exporter.list(reader, "exporters"))
    }

    /// `details_dropped` (no longer sent by dmabufd) and `exporters` are left out when nil.
    public var json: JSON {
        var fields: [String: JSON] = [
            "id": .integer(Int64(id)), "started_usec": .integer(Int64(startedUsec)),
            "duration_nsec": .integer(Int64(durationNsec)), "buffers": .integer(Int64(buffers)),
            "bytes": .integer(Int64(bytes)),
        ]
        if let detailsDropped { fields["details_dropped"] = .integer(Int64(detailsDropped)) }
        if let exporters { fields["exporters"] = .array(exporters.map(\.json)) }
        return .object(fields)
    }
}

extension ScanInfo: JSONWritable {
    /// Members in key order: buffers, bytes, details_dropped, duration_nsec, exporters, id, started_usec.
    public func write(to writer: inout JSONWriter) {
        writer.object { writer in
            writer.member("buffers") { $0.integer(buffers) }
            writer.member("bytes") { $0.integer(bytes) }
            if let detailsDropped { writer.member("details_dropped") { $0.integer(detailsDropped) } }
            writer.member("duration_nsec") { $0.integer(durationNsec) }
            if let exporters { writer.member("exporters") { $0.array(exporters) { $1.write(to: &$0) } } }
            writer.member("id") { $0.integer(id) }
            writer.member("started_usec") { $0.integer(startedUsec) }
        }
    }
}
