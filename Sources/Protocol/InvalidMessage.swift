// A message that cannot be read as a call at all. org.varlink.service has no
// error for that, so this service declares one in its own interface,
// io.dmabufd.Monitor, and sends it for every such message, whatever interface
// the message was meant for; the connection is closed after it. It lives here,
// beside the generic Varlink code that detects it (`Call(decoding:)`,
// `MessageFramer`), so that code needs nothing else from the Monitor files.
extension VarlinkError {
    public static let invalidMessageName = "io.dmabufd.Monitor.InvalidMessage"

    /// The message could not be read as a Varlink call; `reason` says what to fix.
    public static func invalidMessage(reason: String) -> VarlinkError {
        VarlinkError(name: invalidMessageName, parameters: ["reason": .string(reason)])
    }
}
