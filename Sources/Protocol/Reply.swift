/// A Varlink reply: `{"parameters": {…}}`, `{"parameters": {…}, "continues": true}`
/// for all but the last reply to a `more` call, or an error:
/// `{"error": "io.dmabufd.Monitor.InvalidName", "parameters": {…}}`.
public struct Reply: Sendable, Equatable {
    public var parameters: [String: JSON]
    /// More replies to the same call follow.
    public var continues: Bool
    /// The qualified error name, when the call failed.
    public var error: String?

    public init(parameters: [String: JSON] = [:], continues: Bool = false) {
        self.parameters = parameters
        self.continues = continues
        self.error = nil
    }

    /// The reply that reports `error`; it ends the call.
    public init(error: VarlinkError) {
        self.parameters = error.parameters
        self.continues = false
        self.error = error.name
    }

    /// The error this reply carries, if it carries one.
    public var varlinkError: VarlinkError? {
        error.map { VarlinkError(name: $0, parameters: parameters) }
    }
}

extension Reply {
    /// Reads one reply (the bytes before its NUL). `parameters` may be missing
    /// or `null`; `error: null` means no error; unknown keys are ignored.
    /// A reply that is not a JSON object, or has a field of the wrong type,
    /// is refused with `io.dmabufd.Monitor.InvalidMessage` and a reason.
    public init(decoding bytes: some Collection<UInt8>, maxDepth: Int = JSON.defaultMaxDepth) throws(VarlinkError) {
        try self.init(fields: MessageFields(decoding: bytes, maxDepth: maxDepth, what: "reply"))
    }

    public init(json: JSON) throws(VarlinkError) {
        try self.init(fields: MessageFields(json, what: "reply"))
    }

    private init(fields: MessageFields) throws(VarlinkError) {
        self.parameters = try fields.parameters()
        self.continues = try fields.flag("continues")
        self.error = try fields.optionalString("error")
    }

    /// The reply as JSON: `parameters` always (`{}` when empty, which every
    /// client reads), `continues` only when true, `error` only when set.
    public var json: JSON {
        var fields: [String: JSON] = ["parameters": .object(parameters)]
        if continues { fields["continues"] = true }
        if let error { fields["error"] = .string(error) }
        return .object(fields)
    }

    /// The reply's JSON text, without the terminating NUL (see `MessageFramer.frame`).
    public func encoded() -> [UInt8] { json.encoded() }

    /// The message as it goes on the wire: its JSON text and one NUL.
    public func framed() -> [UInt8] { MessageFramer.frame(encoded()) }
}
