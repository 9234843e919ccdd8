import DmabufProtocol
import DmabufSystem

/// A blocking Varlink connection over a Unix socket: the client side of
/// dmabufd's protocol, for `dmabufctl`, tests and other tools.
///
/// One caller at a time: a connection is not `Sendable`. Calls are answered
/// in order. After an error that leaves the stream in doubt (the peer closed
/// it, a reply could not be read, a stream stopped early) the connection is
/// closed and every later call throws `ClientError.connectionClosed`; an
/// error *reply* leaves it open.
public final class VarlinkConnection {
    /// 64 MiB: a `List` of every buffer on a busy host is far larger than a call may be.
    public static let defaultMaximumReplySize = 64 << 20
    /// Seconds: far more than a pass over 250,000 buffers takes, far less than forever.
    public static let defaultTimeout = 30.0

    public let path: String
    /// Seconds dmabufd may stay silent while a reply is due (and take to accept the
    /// connection, and to take a call) before the call fails with `timedOut` and the
    /// connection is closed; nil waits for ever. A subscription's replies after its first
    /// come with changes, whenever they happen: they are waited for without a limit.
    public let timeout: Double?
    private var fd: Int32
    private var framer: MessageFramer
    /// Where `recv` writes, reused for every read.
    private let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 65_536, alignment: 1)

    /// Connects to the socket at `path`.
    ///
    /// Throws `serviceNotRunning` when there is no socket there or nobody
    /// listens on it, `permissionDenied` when this user may not open it.
    public init(
        path: String = VarlinkConnection.defaultSocketPath(),
        maximumReplySize: Int = VarlinkConnection.defaultMaximumReplySize,
        timeout: Double? = VarlinkConnection.defaultTimeout
    ) throws(ClientError) {
        self.path = path
        self.timeout = timeout
        self.framer = MessageFramer(maximumMessageSize: maximumReplySize)
        do {
            self.fd = try UnixSocket.connect(path: path, timeout: timeout)
        } catch {
            chunk.deallocate()
            throw error
        }
    }

    deinit {
        if fd >= 0 { Descriptor.close(fd) }
        chunk.deallocate()
    }

    /// Closes the connection; later calls throw `connectionClosed`.
    public func close() {
        if fd >= 0 { Descriptor.close(fd) }
        fd = -1
    }

    public var isOpen: Bool { fd >= 0 }

    /// Waits up to `milliseconds` with no call under way; throws `connectionClosed` as soon
    /// as the service closes the connection (it stopped), so a client that asks again
    /// every interval notices at once rather than at its next call.
    public func idle(milliseconds: Int) throws(ClientError) {
        guard fd >= 0 else { throw .connectionClosed }
        var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let ready: Int32
        do {
            ready = try retryingInterrupts { poll(&poller, 1, Int32(clamping: milliseconds)) }
        } catch {
            throw UnixSocket.systemError("cannot wait on the connection to dmabufd", error)
        }
        // Nothing is due between calls: readable means the end of the stream (or a reset).
        guard ready > 0 else { return }
        close()
        throw .connectionClosed
    }

    /// Sends `call` and returns its one reply; an error reply is thrown as
    /// `ClientError.replyError`. `more` and `oneway` are cleared: use
    /// `stream` and `send(oneway:)` for those.
    public func call(_ call: Call) throws(ClientError) -> Reply {
        let reply = try reply(to: call)
        if let error = reply.varlinkError { throw .replyError(error) }
        return reply
    }

    /// Sends `call` and returns its one reply as it came, error replies
    /// included (`reply.error`, `reply.varlinkError`). `more` and `oneway` are cleared.
    public func reply(to call: Call) throws(ClientError) -> Reply {
        var call = call
        call.more = false
        call.oneway = false
        try write(call)
        let reply = try readReply(timeout: timeout)
        if reply.continues {
            close()
            throw .protocol("the reply to \(call.method), called without \"more\", says more replies follow")
        }
        return reply
    }

    /// Sends `call` with `more` set and hands each reply to `onReply` until
    /// one comes without `continues`, or `onReply` returns false. Stopping
    /// early closes the connection: Varlink cannot cancel a call, and the
    /// replies still on their way would be read as answers to the next one.
    ///
    /// An error reply ends the stream and is thrown as `ClientError.replyError`
    /// (e.g. `io.dmabufd.Monitor.ShuttingDown`). Throws `ClientError`, or
    /// whatever `onReply` throws (the connection is closed then too).
    public func stream(_ call: Call, onReply: (Reply) throws -> Bool) throws {
        var call = call
        call.more = true
        call.oneway = false
        call.upgrade = false
        try write(call)
        var timeout = self.timeout
        while true {
            let reply = try readReply(timeout: timeout)
            timeout = nil
            if let error = reply.varlinkError { throw ClientError.replyError(error) }
            let goOn: Bool
            do {
                goOn = try onReply(reply)
            } catch {
                close()
                throw error
            }
            if !reply.continues { return }
            if !goOn {
                close()
                return
            }
        }
    }

    /// Sends `call` with `oneway` set and returns once it is written: no reply will come.
    public func send(oneway call: Call) throws(ClientError) {
        var call = call
        call.oneway = true
        call.more = false
        call.upgrade = false
        try write(call)
    }

    private func write(_ call: Call) throws(ClientError) {
        guard fd >= 0 else { throw .connectionClosed }
        do throws(ClientError) {
            try UnixSocket.sendAll(fd, call.framed(), timeout: timeout)
        } catch {
            close()
            throw error
        }
    }

    /// The next reply: from what is buffered, else from the socket, which may stay
    /// silent for at most `timeout` seconds at a time.
    private func readReply(timeout: Double?) throws(ClientError) -> Reply {
        guard fd >= 0 else { throw .connectionClosed }
        do throws(ClientError) {
            while true {
                let message: [UInt8]?
                do {
                    message = try framer.nextMessage()
                } catch {
                    throw ClientError.protocol("a reply is longer than \(framer.maximumMessageSize) bytes")
                }
                if let message {
                    do {
                        return try Reply(decoding: message)
                    } catch {
                        throw ClientError.protocol(error.parameters["reason"]?.stringValue ?? "\(error)")
                    }
                }
                try receiveMore(timeout: timeout)
            }
        } catch {
            close()
            throw error
        }
    }

    private func receiveMore(timeout: Double?) throws(ClientError) {
        if let timeout {
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready: Int32
            do {
                ready = try retryingInterrupts { poll(&poller, 1, Int32(clamping: Int((timeout * 1000).rounded(.up)))) }
            } catch {
                throw UnixSocket.systemError("cannot wait for dmabufd's reply", error)
            }
            guard ready > 0 else { throw .timedOut(seconds: timeout) }
        }
        let count = try UnixSocket.receive(fd, into: chunk)
        guard count > 0 else { throw .connectionClosed }
        framer.append(UnsafeRawBufferPointer(rebasing: chunk[..<count]))
    }
}
