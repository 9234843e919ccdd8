/// A Varlink call: `{"method": "io.dmabufd.Monitor.Scan", "parameters": {…}, "more": true}`.
public struct Call: Sendable, Equatable {
    /// The qualified method name, e.g. `io.dmabufd.Monitor.Scan`.
    public var method: String
    public var parameters: [String: JSON]
    /// The caller wants a stream of replies, each but the last with `continues`.
    public var more: Bool
    /// The caller wants no reply at all.
    public var oneway: Bool
    /// The caller wants to switch the connection to another protocol after the reply.
    public var upgrade: Bool

    public init(
        method: String, parameters: [String: JSON] = [:], more: Bool = false, oneway: Bool = false,
        upgrade: Bool = false
    ) {
        self.method = method
        self.parameters = parameters
        self.more = more
        self.oneway = oneway
        self.upgrade = upgrade
    }

    /// The interface part of `method`: `io.dmabufd.Monitor` ("" when the name has no dot).
    public var interface: String { VarlinkNames.interface(of: method) }

    /// The method's own name: `Scan`.
    public var member: String { VarlinkNames.member(of: method) }
}

extension Call {
    /// Reads one message (the bytes before its NUL).
    ///
    /// Refused with `io.dmabufd.Monitor.InvalidMessage` and a reason: not JSON,
    /// nested deeper than `maxDepth`, not an object, no `method` or one that is
    /// not a non-empty string, `parameters` not an object, a flag (`more`,
    /// `oneway`, `upgrade`) not a boolean, or more than one flag set.
    /// Missing, `null` and `{}` parameters are the same; unknown top-level keys are ignored.
    public init(decoding bytes: some Collection<UInt8>, maxDepth: Int = JSON.defaultMaxDepth) throws(VarlinkError) {
        try self.init(fields: MessageFields(decoding: bytes, maxDepth: maxDepth, what: "message"))
    }

    /// The same rules, for a message already parsed.
    public init(json: JSON) throws(VarlinkError) {
        try self.init(fields: MessageFields(json, what: "message"))
    }

    private init(fields: MessageFields) throws(VarlinkError) {
        let method = try fields.requiredString("method")
        guard !method.isEmpty else { throw .invalidMessage(reason: "\"method\" is empty") }
        let more = try fields.flag("more")
        let oneway = try fields.flag("oneway")
        let upgrade = try fields.flag("upgrade")
        guard [more, oneway, upgrade].filter({ $0 }).count <= 1 else {
            throw .invalidMessage(reason: "at most one of \"more\", \"oneway\" and \"upgrade\" may be true")
        }
        self.init(
            method: method, parameters: try fields.parameters(), more: more, oneway: oneway, upgrade: upgrade)
    }

    /// The message as JSON: `parameters` always (`{}` when empty); `more`,
    /// `oneway` and `upgrade` only when true.
    public var json: JSON {
        var fields: [String: JSON] = ["method": .string(method), "parameters": .object(parameters)]
        if more { fields["more"] = true }
        if oneway { fields["oneway"] = true }
        if upgrade { fields["upgrade"] = true }
        return .object(fields)
    }

    /// The message's JSON text, without the terminating NUL (see `MessageFramer.frame`).
    public func encoded() -> [UInt8] { json.encoded() }

    /// The message as it goes on the wire: its JSON text and one NUL.
    public func framed() -> [UInt8] { MessageFramer.frame(encoded()) }
}
