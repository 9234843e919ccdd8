import DmabufClient
import DmabufProtocol
import DmabufSystem
import Foundation
import Synchronization
import Testing

/// What the test server does with one call.
enum ServerAction: Sendable {
    case reply(Reply)
    /// Bytes written as they are, one `send` each.
    case raw([[UInt8]])
    case close
}

/// A Varlink server on a real Unix socket in a temporary folder, answering
/// one connection at a time from a thread of its own with `handler`.
/// Dropping it closes the listener, which ends the thread, and removes the folder.
final class TestServer: Sendable {
    let folder: String
    let path: String
    private let core: ServerCore

    init(handler: @escaping @Sendable (Call) -> [ServerAction]) throws {
        folder = try makeTemporaryFolder()
        path = folder + "/test.sock"
        core = ServerCore(listener: try listeningSocket(path: path), handler: handler)
        let core = self.core
        Thread.detachNewThread { core.serve() }
    }

    /// Every call received so far, in order.
    var calls: [Call] { core.calls.withLock { $0 } }

    deinit {
        shutdown(core.listener, Int32(SHUT_RDWR))
        unlink(path)
        rmdir(folder)
    }
}

/// The part the server's thread holds.
final class ServerCore: Sendable {
    let listener: Int32
    let handler: @Sendable (Call) -> [ServerAction]
    let calls = Mutex<[Call]>([])

    init(listener: Int32, handler: @escaping @Sendable (Call) -> [ServerAction]) {
        self.listener = listener
        self.handler = handler
    }

    func serve() {
        defer { close(listener) }
        while true {
            let connection = accept(listener, nil, nil)
            if connection < 0 {
                if errno == EINTR { continue }
                return
            }
            handle(connection)
            close(connection)
        }
    }

    private func handle(_ connection: Int32) {
        var framer = MessageFramer()
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            guard let message = try? framer.nextMessage() else {
                let count = recv(connection, &chunk, chunk.count, 0)
                if count < 0, errno == EINTR { continue }
                if count <= 0 { return }
                framer.append(chunk[..<count])
                continue
            }
            guard let call = try? Call(decoding: message) else { return }
            calls.withLock { $0.append(call) }
            if call.oneway { continue }
            for action in handler(call) {
                switch action {
                case .reply(let reply): writeAll(connection, reply.framed())
                case .raw(let pieces): for piece in pieces { writeAll(connection, piece) }
                case .close: return
                }
            }
        }
    }
}

func makeTemporaryFolder() throws -> String {
    var template = Array("/tmp/dmabufd-client-test-XXXXXX".utf8CString)
    guard let folder = mkdtemp(&template) else { throw POSIXError(.EIO) }
    return String(cString: folder)
}

func socketAddress(_ path: String) -> sockaddr_un {
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8) + [0]) }
    return address
}

/// A socket bound to `path`; listening unless `listen` is false (then nobody answers: ECONNREFUSED).
func listeningSocket(path: String, listen shouldListen: Bool = true) throws -> Int32 {
    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    var address = socketAddress(path)
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
        }
    }
    guard fd >= 0, bound == 0, !shouldListen || listen(fd, 8) == 0 else { throw POSIXError(.EIO) }
    return fd
}

func writeAll(_ fd: Int32, _ bytes: [UInt8]) {
    var sent = 0
    while sent < bytes.count {
        let count = bytes[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        if count < 0, errno == EINTR { continue }
        if count <= 0 { return }
        sent += count
    }
}

private let status = StatusReply(
    version: "0.1.0", kernel: "6.18.0", clients: 1, watched: 2, capacity: 16_384, scans: 3)
private let scanInfo = ScanInfo(id: 1, startedUsec: 2, durationNsec: 3, buffers: 4, bytes: 5)

/// Answers Status, Scan and Subscribe (three states), and fails everything else.
@Sendable func monitorHandler(_ call: Call) -> [ServerAction] {
    switch call.method {
    case MonitorInterface.Method.status.qualifiedName:
        return [.reply(Reply(parameters: status.parameters))]
    case MonitorInterface.Method.subscribe.qualifiedName:
        guard call.more else { return [.reply(Reply(error: .expectedMore()))] }
        return (1...3).map { id in
            let scan = ScanInfo(id: id, startedUsec: 0, durationNsec: 0, buffers: 0, bytes: 0)
            return .reply(Reply(parameters: ScanReply(matches: [], scan: scan).parameters, continues: id < 3))
        }
    default:
        return [.reply(Reply(error: .methodNotFound(call.method)))]
    }
}

extension VarlinkConnection {
    /// `Status()`, read through the typed call every client of the library uses.
    fileprivate func status() throws(ClientError) -> StatusReply {
        try call(MonitorInterface.Method.status.call(), as: StatusReply.self).value
    }

    /// `Subscribe()` with `more`: each reply read as a ScanReply.
    fileprivate func subscribe(onReply: (ScanReply) throws -> Bool) throws {
        let call = MonitorInterface.Method.subscribe.call(more: true)
        try stream(call) { reply in try onReply(try VarlinkConnection.read(reply, of: call)) }
    }
}

@Suite("Client over a real Unix socket")
struct VarlinkConnectionTests {
    @Test func callReturnsTheReply() throws {
        let server = try TestServer(handler: monitorHandler)
        let connection = try VarlinkConnection(path: server.path)
        let reply = try connection.call(MonitorInterface.Method.status.call())
        #expect(try StatusReply(parameters: reply.parameters) == status)
        #expect(try connection.status() == status)
    }

    @Test func errorReplyIsThrownOrReturned() throws {
        let server = try TestServer(handler: monitorHandler)
        let connection = try VarlinkConnection(path: server.path)
        #expect(throws: ClientError.replyError(.methodNotFound("io.dmabufd.Monitor.Nope"))) {
            try connection.call(Call(method: "io.dmabufd.Monitor.Nope"))
        }
        let reply = try connection.reply(to: Call(method: "io.dmabufd.Monitor.Nope"))
        #expect(reply.varlinkError == .methodNotFound("io.dmabufd.Monitor.Nope"))
        // An error reply leaves the connection usable.
        #expect(try connection.status() == status)
    }

    @Test func streamReadsUntilTheLastReply() throws {
        let server = try TestServer(handler: monitorHandler)
        let connection = try VarlinkConnection(path: server.path)
        var ids: [Int] = []
        try connection.subscribe { reply in
            ids.append(reply.scan.id)
            return true
        }
        #expect(ids == [1, 2, 3])
        #expect(server.calls.last?.more == true)
        #expect(try connection.status() == status)
    }

    @Test func stoppingAStreamClosesTheConnection() throws {
        let server = try TestServer(handler: monitorHandler)
        let connection = try VarlinkConnection(path: server.path)
        var seen = 0
        try connection.stream(MonitorInterface.Method.subscribe.call()) { _ in
            seen += 1
            return false
        }
        #expect(seen == 1)
        #expect(!connection.isOpen)
        #expect(throws: ClientError.connectionClosed) { try connection.status() }
    }

    @Test func streamEndsWithAnErrorReply() throws {
        let server = try TestServer { call in
            [
                .reply(Reply(parameters: ScanReply(matches: [], scan: scanInfo).parameters, continues: true)),
                .reply(Reply(error: .shuttingDown())),
            ]
        }
        let connection = try VarlinkConnection(path: server.path)
        var seen = 0
        #expect(throws: ClientError.replyError(.shuttingDown())) {
            try connection.subscribe { _ in
                seen += 1
                return true
            }
        }
        #expect(seen == 1)
    }

    @Test func onewayGetsNoReply() throws {
        let server = try TestServer(handler: monitorHandler)
        let connection = try VarlinkConnection(path: server.path)
        try connection.send(oneway: Call(method: "io.dmabufd.Monitor.Watch", parameters: ["names": ["a"]]))
        // The next call's reply is its own, not one for the oneway call.
        #expect(try connection.status() == status)
        let calls = server.calls
        #expect(calls.map(\.oneway) == [true, false])
        #expect(calls.first?.method == "io.dmabufd.Monitor.Watch")
    }

    @Test func replyInPiecesAndRepliesTogether() throws {
        let first = Reply(parameters: ["n": 1], continues: true).framed()
        let second = Reply(parameters: ["n": 2], continues: true).framed()
        let last = Reply(parameters: ["n": 3]).framed()
        let server = try TestServer { _ in
            // One byte at a time, then two replies in one write.
            [.raw(first.map { [$0] }), .raw([second + last])]
        }
        let connection = try VarlinkConnection(path: server.path)
        var numbers: [Int] = []
        try connection.stream(Call(method: "a.B")) { reply in
            numbers.append(reply.parameters["n"]?.intValue ?? -1)
            return true
        }
        #expect(numbers == [1, 2, 3])
    }

    @Test func serviceNotRunningWhenThereIsNoSocket() throws {
        let folder = try makeTemporaryFolder()
        defer { rmdir(folder) }
        let path = folder + "/absent.sock"
        #expect(throws: ClientError.serviceNotRunning(path: path)) { try VarlinkConnection(path: path) }
        #expect(
            ClientError.serviceNotRunning(path: path).description
                == "dmabufd is not running (no socket at \(path)); start it with `make run` or `dmabufd`")
    }

    @Test func serviceNotRunningWhenNobodyListens() throws {
        let folder = try makeTemporaryFolder()
        let path = folder + "/stale.sock"
        let fd = try listeningSocket(path: path, listen: false)
        defer {
            close(fd)
            unlink(path)
            rmdir(folder)
        }
        #expect(throws: ClientError.serviceNotRunning(path: path)) { try VarlinkConnection(path: path) }
    }

    @Test func socketPathTooLong() {
        let path = "/tmp/" + String(repeating: "x", count: 120)
        #expect(throws: ClientError.socketPathTooLong(path: path)) { try VarlinkConnection(path: path) }
    }

    @Test func connectionClosedByTheServer() throws {
        let server = try TestServer { _ in [.close] }
        let connection = try VarlinkConnection(path: server.path)
        #expect(throws: ClientError.connectionClosed) { try connection.status() }
        #expect(!connection.isOpen)
    }

    @Test func unreadableReplyIsAProtocolError() throws {
        let server = try TestServer { _ in [.raw([Array("[1,2]\0".utf8)])] }
        let connection = try VarlinkConnection(path: server.path)
        #expect(throws: ClientError.protocol("the reply is a JSON array, not an object")) {
            try connection.status()
        }
    }

    @Test func replyWithWrongFieldsIsAProtocolError() throws {
        let server = try TestServer { _ in [.reply(Reply(parameters: ["version": 1]))] }
        let connection = try VarlinkConnection(path: server.path)
        #expect(
            throws: ClientError.protocol(
                "the reply to io.dmabufd.Monitor.Status has a missing or invalid \"version\"")
        ) {
            try connection.status()
        }
    }

    @Test func oversizeReplyIsAProtocolError() throws {
        let server = try TestServer { _ in [.raw([[UInt8](repeating: 0x20, count: 2000)])] }
        let connection = try VarlinkConnection(path: server.path, maximumReplySize: 1000)
        #expect(throws: ClientError.protocol("a reply is longer than 1000 bytes")) { try connection.status() }
    }
}
