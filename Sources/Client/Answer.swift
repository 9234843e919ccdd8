import DmabufProtocol

/// One call's reply, read as the type the interface declares for it, with its parameters
/// as they came (what `--json` prints, unknown fields included).
public struct Answer<Value: MessageParameters>: Sendable {
    public let value: Value
    public let parameters: [String: JSON]
}

extension VarlinkConnection {
    /// Sends `call` and reads its one reply as `Value`. An error reply is thrown as
    /// `ClientError.replyError`; a reply whose fields are not what `Value` declares is
    /// `ClientError.protocol`, naming the field.
    public func call<Value: MessageParameters>(_ call: Call, as _: Value.Type) throws(ClientError) -> Answer<Value> {
        let reply = try self.call(call)
        return Answer(value: try Self.read(reply, of: call), parameters: reply.parameters)
    }

    /// Sends `call` with `more` and reads its replies as one answer: the arrays under
    /// `key` joined in order, every other field as the last reply has it. For a method
    /// that sends a long array in slices (`List`): the whole never travels as one message.
    public func gathering<Value: MessageParameters>(_ call: Call, joining key: String, as _: Value.Type) throws
        -> Answer<Value>
    {
        var joined: [JSON] = []
        var last: [String: JSON] = [:]
        try stream(call) { reply in
            guard case .array(let slice) = reply.parameters[key] else {
                throw ClientError.protocol("a reply to \(call.method) has no \"\(key)\" array")
            }
            joined += slice
            last = reply.parameters
            return true
        }
        last[key] = .array(joined)
        return Answer(value: try Self.read(Reply(parameters: last), of: call), parameters: last)
    }

    /// Reads one reply of `call` (a stream's, say) as `Value`.
    public static func read<Value: MessageParameters>(_ reply: Reply, of call: Call) throws(ClientError) -> Value {
        do {
            return try Value(parameters: reply.parameters)
        } catch {
            let field = error.parameters["parameter"]?.stringValue ?? "?"
            throw .protocol("the reply to \(call.method) has a missing or invalid \"\(field)\"")
        }
    }
}
