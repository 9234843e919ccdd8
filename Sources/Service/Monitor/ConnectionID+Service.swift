import VarlinkServer

extension ConnectionID {
    /// The service itself, when it needs a pass for its own use (a metrics scrape). No
    /// client has it: clients are numbered from 1, and it never watches anything.
    public static let service = ConnectionID(0)
}
