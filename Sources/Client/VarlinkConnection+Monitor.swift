import DmabufProtocol

// Typed calls of io.dmabufd.Monitor and org.varlink.service: build the call,
// send it, read the reply's parameters into their type. Error replies are
// thrown as `ClientError.replyError`; a reply whose fields cannot be read is
// `ClientError.protocol` naming the field.
extension VarlinkConnection {
    public func watch(_ parameters: WatchParameters) throws(ClientError) -> WatchReply {
        try typedCall(MonitorInterface.Method.watch.call(parameters: parameters.parameters), WatchReply.init)
    }

    public func unwatch(_ parameters: WatchParameters) throws(ClientError) -> WatchReply {
        try typedCall(MonitorInterface.Method.unwatch.call(parameters: parameters.parameters), WatchReply.init)
    }

    public func scan(_ parameters: ScanParameters = ScanParameters()) throws(ClientError) -> ScanReply {
        try typedCall(MonitorInterface.Method.scan.call(parameters: parameters.parameters), ScanReply.init)
    }

    /// Hands each state to `onReply` until it returns false (which closes the
    /// connection) or the service ends the stream (an error, thrown).
    public func subscribe(
        _ parameters: SubscribeParameters = SubscribeParameters(), onReply: (ScanReply) throws -> Bool
    ) throws {
        let call = MonitorInterface.Method.subscribe.call(parameters: parameters.parameters, more: true)
        try stream(call) { reply in
            try onReply(try VarlinkConnection.read(reply, of: call, ScanReply.init))
        }
    }

    public func list() throws(ClientError) -> ListReply {
        try typedCall(MonitorInterface.Method.list.call(), ListReply.init)
    }

    public func status() throws(ClientError) -> StatusReply {
        try typedCall(MonitorInterface.Method.status.call(), StatusReply.init)
    }

    public func getInfo() throws(ClientError) -> GetInfoReply {
        try typedCall(Call(method: ServiceInterface.Method.getInfo.qualifiedName), GetInfoReply.init)
    }

    /// The text of `interface` as the service serves it.
    public func interfaceDescription(_ interface: String) throws(ClientError) -> String {
        let call = Call(
            method: ServiceInterface.Method.getInterfaceDescription.qualifiedName,
            parameters: GetInterfaceDescriptionParameters(interface: interface).parameters)
        return try typedCall(call, GetInterfaceDescriptionReply.init).description
    }

    private func typedCall<T>(_ call: Call, _ make: ([String: JSON]) throws(VarlinkError) -> T) throws(ClientError)
        -> T
    {
        try VarlinkConnection.read(try self.call(call), of: call, make)
    }

    private static func read<T>(_ reply: Reply, of call: Call, _ make: ([String: JSON]) throws(VarlinkError) -> T)
        throws(ClientError) -> T
    {
        do {
            return try make(reply.parameters)
        } catch {
            let field = error.parameters["parameter"]?.stringValue ?? "?"
            throw .protocol("the reply to \(call.method) has a missing or invalid \"\(field)\"")
        }
    }
}
