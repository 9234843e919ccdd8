/// A Varlink reply: `{"parameters": {…}}`, `{"parameters": {…}, "continues": true}`
/// for all but the last reply to a `more` call, or an error:
/// `{"error": "io.dmabufd.Monitor.InvalidName", "parameters": {…}}`.
public struct Reply: Sendable, Equatable {
    /// The parameters as JSON values, or as the bytes `JSONWriter` wrote for them (the
    /// hot path's replies, which never become a tree on their way out).
    private enum Body: Sendable {
        case values([String: JSON])
        case written([UInt8])
    }

    private var body: Body

    /// The parameters; a reply made with `init(writing:)` parses its bytes to give them.
    public var parameters: [String: JSON] {
        get {
            switch body {
            case .values(let values): return values
            case .written(let bytes):
                // Bytes JSONWriter wrote from a parameters type: an object jansson reads.
                guard let values = (try? JSON(decoding: bytes))?.objectValue else {
                    preconditionFailure("JSONWriter wrote parameters that are not a JSON object")
                }
                return values
            }
        }
        set { body = .values(newValue) }
    }

    /// More replies to the same call follow.
    public var continues: Bool
    /// The qualified error name, when the call failed.
    public var error: String?

    public init(parameters: [String: JSON] = [:], continues: Bool = false) {
        self.body = .values(parameters)
        self.continues = continues
        self.error = nil
    }

    /// A reply whose parameters `JSONWriter` writes straight from `parameters`: no tree
    /// of values is built, here or in jansson.
    public init(writing parameters: some JSONWritable, continues: Bool = false) {
        var writer = JSONWriter()
        parameters.write(to: &writer)
        self.body = .written(writer.bytes)
        self.continues = continues
        self.error = nil
    }

    /// The reply that reports `error`; it ends the call.
    public init(error: VarlinkError) {
        self.body = .values(error.parameters)
        self.continues = false
        self.error = error.name
    }

    public static func == (lhs: Reply, rhs: Reply) -> Bool {
        (lhs.parameters, lhs.continues, lhs.error) == (rhs.parameters, rhs.continues, rhs.error)
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
        self.body = .values(try fields.parameters())
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

    /// The reply's JSON text, without the terminating NUL, as jansson would write `json`.
    public func encoded() -> [UInt8] { written().bytes }

    /// The message as it goes on the wire: its JSON text and one NUL, written once.
    public func framed() -> [UInt8] {
        var writer = written()
        writer.raw([0])
        return writer.bytes
    }

    /// Members in key order: continues, error, parameters.
    private func written() -> JSONWriter {
        var writer = JSONWriter()
        writer.object { writer in
            if continues { writer.member("continues") { $0.bool(true) } }
            if let error { writer.member("error") { $0.string(error) } }
            writer.member("parameters") { writer in
                switch body {
                case .values(let values): writer.value(.object(values))
                case .written(let bytes): writer.raw(bytes)
                }
            }
        }
        return writer
    }
}
