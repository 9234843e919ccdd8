/// Why a string cannot be a watch name.
public struct NameError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The name as given.
    public let name: String
    /// "empty", "is 32 bytes; the kernel keeps at most 31", "contains a NUL byte".
    public let reason: String

    public init(name: String, reason: String) {
        self.name = name
        self.reason = reason
    }

    /// `invalid name "…": is 32 bytes; the kernel keeps at most 31` (the name quoted with Swift escapes).
    public var description: String { "invalid name \(name.debugDescription): \(reason)" }

    /// The error reply: `io.dmabufd.Monitor.InvalidName (name, reason)`.
    public var varlinkError: VarlinkError { .invalidName(name: name, reason: reason) }
}
