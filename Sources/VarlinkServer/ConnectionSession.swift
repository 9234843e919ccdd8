import DmabufProtocol
import Logging
import NIOCore

/// A connection as the listener hands it over, not yet wrapped (see `Channel.takenOver`).
struct AcceptedConnection: Sendable {
    let channel: any Channel
    let peer: PeerCredentials
    /// Its part in `UntakenMessages`: the calls its decoder framed, until they are handed
    /// on or answered.
    let backlog: ConnectionBacklog
}

/// One client connection, served until it closes: each message read as a call and
/// dispatched, its reply written in order; a stream's replies go on beside the calls
/// that follow it, paced by how fast the peer reads.
struct ConnectionSession: Sendable {
    let accepted: AcceptedConnection
    let client: ClientContext
    let dispatcher: VarlinkDispatcher
    let limits: ConnectionLimits
    let observer: any VarlinkServerObserver
    let logger: Logger
    /// Frees the connection's slot once it has closed, before the interfaces hear it is
    /// gone (so `Status` never counts a client that cannot connect again).
    let release: @Sendable () -> Void

    /// Never throws: one client's trouble is its own and must not reach the server or
    /// the other clients. The interfaces hear of the connection before its first call
    /// and after its last.
    func run() async {
        logger.debug("connection \(client.connection) from \(client.peer)")
        let channel: NIOAsyncChannel<[UInt8], ByteBuffer>
        do {
            channel = try await accepted.channel.takenOver(reading: [UInt8].self, writing: ByteBuffer.self)
        } catch {
            logger.debug("connection \(client.connection) closed before it was served: \(error)")
            accepted.channel.close(promise: nil)
            release()
            return
        }
        await dispatcher.connected(client)
        await serve(channel)
        accepted.backlog.ended()
        release()
        await dispatcher.disconnected(client)
    }

    private func serve(_ channel: NIOAsyncChannel<[UInt8], ByteBuffer>) async {
        do {
            try await channel.executeThenClose { inbound, outbound in
                // Streams (replies of a `more` call) run beside the calls that follow them.
                try await withThrowingDiscardingTaskGroup { streams in
                    defer { streams.cancelAll() }
                    do {
                        for try await message in inbound {
                            accepted.backlog.taken()
                            let call: Call
                            do throws(VarlinkError) {
                                call = try Call(decoding: message, maxDepth: limits.maxJSONDepth)
                            } catch {
                                // A message we cannot read leaves the stream's framing in doubt.
                                try await outbound.write(framed(Reply(error: error)))
                                return
                            }
                            let response = await dispatcher.dispatch(call, from: client)
                            accepted.backlog.finished()
                            switch response {
                            case .reply(let reply):
                                if !call.oneway { try await outbound.write(framed(reply)) }
                            case .stream(let stream):
                                let writer = ReplyStreamWriter(
                                    channel: accepted.channel, stallTimeout: limits.stallTimeout, observer: observer)
                                streams.addTask { await writer.run(stream) }
                            }
                        }
                    } catch let error as FramingError {
                        try await outbound.write(framed(Reply(error: error.varlinkError)))
                    }
                }
            }
        } catch {
            logger.debug("connection \(client.connection) ended: \(error)")
        }
    }

    private func framed(_ reply: Reply) -> ByteBuffer {
        observer.sending(reply)
        return ByteBuffer(bytes: reply.framed())
    }
}
