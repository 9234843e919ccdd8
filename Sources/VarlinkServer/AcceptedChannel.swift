import NIOCore

extension Channel {
    /// An accepted connection as the task that serves it takes it over: wrapped in a
    /// NIOAsyncChannel only now, then reading starts.
    ///
    /// Servers accept with `autoRead` off and wrap late because a wrapped channel dropped
    /// unserved (accepted just as the listener closes) traps in NIO (swift-nio#2813),
    /// while a plain one is merely closed.
    public func takenOver<Inbound: Sendable, Outbound: Sendable>(
        reading _: Inbound.Type, writing _: Outbound.Type
    ) async throws -> NIOAsyncChannel<Inbound, Outbound> {
        try await eventLoop.submit {
            let wrapped = try NIOAsyncChannel<Inbound, Outbound>(wrappingChannelSynchronously: self)
            try self.syncOptions?.setOption(.autoRead, value: true)
            return wrapped
        }.get()
    }
}
