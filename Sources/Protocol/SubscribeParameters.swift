/// The parameters of `Subscribe(interval_msec, details)`, a `more` call whose
/// replies are `ScanReply`s.
public struct SubscribeParameters: MessageParameters {
    /// How often to scan, in milliseconds; the service applies its own floor.
    public var intervalMsec: Int?
    /// Include each match's buffers.
    public var details: Bool?

    public init(intervalMsec: Int? = nil, details: Bool? = nil) {
        self.intervalMsec = intervalMsec
        self.details = details
    }

    /// Reads a call's parameters: both optional, nothing else allowed; a
    /// negative interval is `InvalidParameter` (`interval_msec`).
    public init(parameters: [String: JSON]) throws(VarlinkError) {
        let reader = try ParameterReader(parameters, allowing: ["interval_msec", "details"])
        let interval = try reader.optionalInt("interval_msec")
        if let interval, interval < 0 { throw .invalidParameter("interval_msec") }
        self.init(intervalMsec: interval, details: try reader.optionalBool("details"))
    }

    /// Fields that are nil are left out.
    public var parameters: [String: JSON] {
        var parameters: [String: JSON] = [:]
        if let intervalMsec { parameters["interval_msec"] = .integer(Int64(intervalMsec)) }
        if let details { parameters["details"] = .bool(details) }
        return parameters
    }
}
