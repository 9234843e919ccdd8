import DmabufProtocol
import DmabufScanner
import Logging
import NIOPosix
import Testing
import VarlinkServer

@testable import DmabufService

/// The service from the dispatcher down, in process: every call goes through the same
/// VarlinkDispatcher, MonitorInterfaceServer, policy and BufferMonitor that dmabufd wires,
/// with a FakeKernel under them. A change to what a method replies is caught here, not
/// only by the host tier.
private struct Service {
    let kernel: FakeKernel
    let counters = ServiceCounters()
    let dispatcher: VarlinkDispatcher
    private static let thread = MultiThreadedEventLoopGroup(numberOfThreads: 1)

    static let root = PeerCredentials(uid: 0, gid: 0, pid: 1)
    static let user = PeerCredentials(uid: 1000, gid: 1000, pid: 2)

    init(kernel: FakeKernel = FakeKernel(buffers: Service.buffers), policy: Policy = .builtIn(quota: 4, capacity: 64),
         maxNamesPerCall: Int = 8)
    {
        self.kernel = kernel
        let monitor = BufferMonitor(backend: kernel, eventLoop: Self.thread.next())
        let metrics = MetricsCollector(
            monitor: monitor, counters: counters, minInterval: .seconds(1), version: "test", kernel: "6.18-test")
        dispatcher = VarlinkDispatcher(
            vendor: "dmabufd", product: "dmabufd", version: "test", url: "",
            interfaces: [
                MonitorInterfaceServer(
                    monitor: monitor, metrics: metrics, counters: counters, policy: policy,
                    maxNamesPerCall: maxNamesPerCall, kernelRelease: "6.18-test", logger: Logger(label: "test"))
            ])
    }

    static let buffers = [
        FakeKernel.buffer(11, "camera-0", size: 8192), FakeKernel.buffer(12, "camera-0", size: 4096),
        FakeKernel.buffer(13, "camera-1"), FakeKernel.buffer(14, "gpu-frame", exporter: "system"),
        FakeKernel.buffer(15, ""),
    ]

    /// A connection, connected as the server connects one.
    func client(_ id: UInt64, as peer: PeerCredentials = Service.user) async -> ClientContext {
        let client = ClientContext(connection: ConnectionID(id), peer: peer)
        await dispatcher.connected(client)
        return client
    }

    /// The one reply to `method` with `parameters`.
    func call(_ method: MonitorInterface.Method, _ parameters: [String: JSON] = [:], from client: ClientContext)
        async throws -> Reply
    {
        guard case .reply(let reply) = await dispatcher.dispatch(method.call(parameters: parameters), from: client)
        else { throw Unexpected.stream }
        return reply
    }

    /// Every reply to `method` called with `more`, to the end of its stream.
    func stream(_ method: MonitorInterface.Method, from client: ClientContext) async throws -> [Reply] {
        guard case .stream(let stream) = await dispatcher.dispatch(method.call(more: true), from: client)
        else { throw Unexpected.reply }
        var replies: [Reply] = []
        for await reply in stream.replies { replies.append(reply) }
        return replies
    }

    enum Unexpected: Error { case stream, reply }
}

private func matches(_ reply: Reply) throws -> [String] {
    try ScanReply(parameters: reply.parameters).matches.map { "\($0.name)\($0.prefix ? "*" : "")=\($0.count)/\($0.bytes)" }
}

@Suite struct MonitorInterfaceTests {
    @Test func scanCountsTheNamesOfTheCallAndTheHost() async throws {
        let service = Service()
        let me = await service.client(1)
        let reply = try await service.call(.scan, ["names": ["camera-0", "absent"], "prefixes": ["camera-"]], from: me)
        #expect(reply.error == nil)
        #expect(try matches(reply) == ["absent=0/0", "camera-*=3/16384", "camera-0=2/12288"], "by bytes")
        let scan = try ScanReply(parameters: reply.parameters).scan
        #expect(scan.buffers == 5 && scan.bytes == 8192 + 4096 * 4)
        #expect(scan.exporters == [Exporter(name: "system", count: 1, bytes: 4096), Exporter(name: "udmabuf", count: 4, bytes: 20480)])
        #expect(scan.detailsDropped == nil)
        #expect(service.kernel.watchedCount == 0, "a Scan's own names leave the maps after its pass")
    }

    @Test func watchedNamesStayForLaterScansAndLeaveWithTheConnection() async throws {
        let service = Service()
        let me = await service.client(1)
        let watched = try await service.call(.watch, ["names": ["gpu-frame"], "prefixes": ["camera-"]], from: me)
        #expect(try WatchReply(parameters: watched.parameters) == WatchReply(names: ["gpu-frame"], prefixes: ["camera-"]))
        #expect(try matches(await service.call(.scan, from: me)) == ["camera-*=3/16384", "gpu-frame=1/4096"])
        let unwatched = try await service.call(.unwatch, ["names": ["gpu-frame", "never"]], from: me)
        #expect(try WatchReply(parameters: unwatched.parameters) == WatchReply(names: [], prefixes: ["camera-"]))
        await service.dispatcher.disconnected(me)
        #expect(service.kernel.watchedCount == 0)
    }

    @Test func detailsListEachMatchsBuffersByInode() async throws {
        let service = Service()
        let me = await service.client(1)
        let reply = try await service.call(.scan, ["names": ["camera-0"], "details": true], from: me)
        let match = try #require(try ScanReply(parameters: reply.parameters).matches.first)
        #expect(match.buffers?.map(\.inode) == [11, 12])
        #expect(
            match.buffers?.first == Buffer(inode: 11, size: 8192, name: "camera-0", exporter: "udmabuf", references: 1))
    }

    @Test func theBuiltInPolicyKeepsListAndMetricsForRoot() async throws {
        let service = Service()
        let user = await service.client(1)
        for method in [MonitorInterface.Method.list, .metrics] {
            #expect(try await service.call(method, from: user).varlinkError == .permissionDenied())
        }
        #expect(service.counters.snapshot.denials[.method] == 2)
        let root = await service.client(2, as: Service.root)
        let list = try ListReply(parameters: try await service.call(.list, from: root).parameters)
        #expect(list.buffers.map(\.inode) == [11, 12, 13, 14, 15])
        #expect(list.buffers.last?.name == "")
        let metrics = try MetricsReply(parameters: try await service.call(.metrics, from: root).parameters)
        #expect(metrics.exposition.contains("dmabufd_host_buffers 5\n"))
    }

    @Test func listWithMoreSendsTheSamePassInSlices() async throws {
        let many = (1...10_000).map { FakeKernel.buffer(UInt64($0), "b-\($0 % 7)") }
        let service = Service(kernel: FakeKernel(buffers: many))
        let root = await service.client(1, as: Service.root)
        let replies = try await service.stream(.list, from: root)
        let lists = try replies.map { try ListReply(parameters: $0.parameters) }
        #expect(lists.map(\.buffers.count) == [4096, 4096, 1808])
        #expect(replies.map(\.continues) == [true, true, false])
        #expect(lists.flatMap(\.buffers).map(\.inode) == Array(1...10_000), "every buffer once, in order")
        #expect(lists.allSatisfy { $0.scan == lists[0].scan }, "one pass")
        let single = try ListReply(parameters: try await service.call(.list, from: root).parameters)
        #expect(single.buffers.count == 10_000, "without more, one reply")

        let empty = Service(kernel: FakeKernel(buffers: []))
        let nothing = try await empty.stream(.list, from: await empty.client(1, as: Service.root))
        #expect(nothing.count == 1 && !nothing[0].continues, "no buffers: one reply that ends the stream")
        #expect(try ListReply(parameters: nothing[0].parameters).buffers.isEmpty)
    }

    @Test func aPolicyWithoutDetailsRefusesThemAlone() async throws {
        var policy = Policy.builtIn(quota: 4, capacity: 64)
        policy.fallback.details = false
        let service = Service(policy: policy)
        let me = await service.client(1)
        #expect(try await service.call(.scan, ["details": true], from: me).varlinkError == .permissionDenied())
        #expect(service.counters.snapshot.denials[.details] == 1)
        #expect(try await service.call(.scan, ["details": false], from: me).error == nil)
    }

    @Test func limitsAreTheirOwnErrors() async throws {
        let service = Service(kernel: FakeKernel(capacity: 5, buffers: Service.buffers))
        let me = await service.client(1)
        let nine = (1...9).map { JSON.string("n\($0)") }
        #expect(try await service.call(.watch, ["names": .array(nine)], from: me).varlinkError == .tooManyNames(limit: 8))
        let five = Array(nine.prefix(5))
        #expect(try await service.call(.watch, ["names": .array(five)], from: me).varlinkError == .tooManyNames(limit: 4))
        let root = await service.client(2, as: Service.root)
        _ = try await service.call(.watch, ["names": .array(five)], from: root)
        #expect(
            try await service.call(.scan, ["names": ["more"]], from: root).varlinkError == .capacityExhausted(capacity: 5))
    }

    @Test func aRefusedMapWriteIsScanFailedAndChangesNothing() async throws {
        let service = Service()
        let me = await service.client(1)
        _ = try await service.call(.watch, ["names": ["kept"]], from: me)
        service.kernel.refuseInsert(of: .name(Array("bad".utf8)))
        let refused = try await service.call(.watch, ["names": ["a1", "bad", "z9"]], from: me)
        #expect(refused.error == MonitorInterface.ErrorName.scanFailed)
        #expect(refused.parameters["reason"] == "cannot update the watched-names map: Invalid argument (22)")
        #expect(service.kernel.watchedCount == 1, "the entries written before the refusal were taken back")
        let set = try await service.call(.watch, ["names": []], from: me)
        #expect(try WatchReply(parameters: set.parameters).names == ["kept"])
    }

    @Test func aFailedPassIsScanFailedWithTheKernelsReason() async throws {
        let kernel = FakeKernel()
        kernel.failPasses("BPF_PROG_TEST_RUN: Bad address (14)")
        let service = Service(kernel: kernel)
        let me = await service.client(1)
        let reply = try await service.call(.scan, from: me)
        #expect(reply.varlinkError == .scanFailed(reason: "BPF pass failed: BPF_PROG_TEST_RUN: Bad address (14)"))
    }

    @Test func callsThatBreakTheRulesSayWhich() async throws {
        let service = Service()
        let me = await service.client(1)
        let long = String(repeating: "x", count: 32)
        #expect(
            try await service.call(.watch, ["names": [.string(long)]], from: me).varlinkError
                == .invalidName(name: long, reason: "is 32 bytes; the kernel keeps at most 31"))
        #expect(try await service.call(.scan, ["verbose": true], from: me).varlinkError == .invalidParameter("verbose"))
        #expect(try await service.call(.status, ["x": 1], from: me).varlinkError == .invalidParameter("x"))
        let unknown = await service.dispatcher.dispatch(Call(method: "io.dmabufd.Monitor.Nope"), from: me)
        guard case .reply(let reply) = unknown else { throw Service.Unexpected.stream }
        #expect(reply.varlinkError == .methodNotFound("io.dmabufd.Monitor.Nope"))
        guard case .reply(let other) = await service.dispatcher.dispatch(Call(method: "com.example.X.Y"), from: me)
        else { throw Service.Unexpected.stream }
        #expect(other.varlinkError == .interfaceNotFound("com.example.X"))
    }

    @Test func theServiceInterfaceDescribesTheMonitor() async throws {
        let service = Service()
        let me = await service.client(1)
        let info = await service.dispatcher.dispatch(Call(method: ServiceInterface.Method.getInfo.qualifiedName), from: me)
        guard case .reply(let infoReply) = info else { throw Service.Unexpected.stream }
        #expect(try GetInfoReply(parameters: infoReply.parameters).interfaces == [ServiceInterface.name, MonitorInterface.name])
        let call = Call(
            method: ServiceInterface.Method.getInterfaceDescription.qualifiedName,
            parameters: ["interface": .string(MonitorInterface.name)])
        guard case .reply(let text) = await service.dispatcher.dispatch(call, from: me) else {
            throw Service.Unexpected.stream
        }
        #expect(try GetInterfaceDescriptionReply(parameters: text.parameters).description == MonitorInterface.description)
    }

    @Test func statusCountsClientsWatchesAndPasses() async throws {
        let service = Service()
        let me = await service.client(1)
        let root = await service.client(2, as: Service.root)
        _ = try await service.call(.watch, ["names": ["camera-0"]], from: me)
        _ = try await service.call(.watch, ["names": ["camera-0", "camera-1"]], from: root)
        _ = try await service.call(.scan, from: me)
        let status = try StatusReply(parameters: try await service.call(.status, from: root).parameters)
        #expect(status.clients == 2 && status.watched == 2 && status.capacity == 100 && status.scans == 1)
        #expect(status.mapEntries == 2 && status.kernel == "6.18-test")
        #expect(status.exporters?.map(\.name) == ["system", "udmabuf"])
    }

    @Test func statusTellsAUserOnlyItsOwnWatches() async throws {
        let service = Service()
        let me = await service.client(1)
        let other = await service.client(2, as: PeerCredentials(uid: 1001, gid: 1001, pid: 3))
        _ = try await service.call(.watch, ["names": ["mine"]], from: me)
        let alone = try await service.call(.status, from: me).parameters
        _ = try await service.call(.watch, ["names": ["mine", "theirs"]], from: other)
        let status = try StatusReply(parameters: try await service.call(.status, from: me).parameters)
        #expect(status.watched == 1 && status.mapEntries == nil)
        #expect(try await service.call(.status, from: me).parameters == alone, "nothing of another user's shows")
    }

    @Test func subscribeNeedsMoreAndStreamsTheWatchSet() async throws {
        let service = Service()
        let me = await service.client(1)
        _ = try await service.call(.watch, ["names": ["camera-1"]], from: me)
        #expect(try await service.call(.subscribe, from: me).varlinkError == .expectedMore())
        let call = MonitorInterface.Method.subscribe.call(parameters: ["interval_msec": 3_600_000], more: true)
        guard case .stream(let stream) = await service.dispatcher.dispatch(call, from: me) else {
            Issue.record("Subscribe with more is a stream")
            return
        }
        var replies = stream.replies.makeAsyncIterator()
        let first = try #require(await replies.next(isolation: nil))
        #expect(first.continues)
        #expect(try matches(first) == ["camera-1=1/4096"])
        guard case .reply(let again) = await service.dispatcher.dispatch(call, from: me) else {
            throw Service.Unexpected.stream
        }
        #expect(again.varlinkError == .alreadySubscribed())
    }

    @Test func processesSplitSharedBuffersAndFindThoseNoProcessHolds() async throws {
        let buffers = Service.buffers  // 11 (8 KiB), 12, 13, 14 (4 KiB each), 15 (4 KiB, unnamed)
        let kernel = FakeKernel(buffers: buffers)
        kernel.holders(
            .success([
                FakeKernel.hold(buffers[0], by: 100, command: "camera", .fd(3)),
                FakeKernel.hold(buffers[0], by: 100, command: "camera", .fd(4)),  // a dup: one buffer, two fds
                FakeKernel.hold(buffers[1], by: 100, command: "camera", .mapping(0x7000)),
                FakeKernel.hold(buffers[1], by: 100, command: "camera", .mapping(0x7000)),  // a thread's copy
                FakeKernel.hold(buffers[0], by: 200, uid: 1000, command: "viewer", .mapping(0x9000)),
                FakeKernel.hold(buffers[2], by: 200, uid: 1000, command: "viewer", .fd(5)),
            ]))
        let service = Service(kernel: kernel)
        let root = await service.client(1, as: Service.root)
        let reply = try ProcessesReply(parameters: try await service.call(.processes, from: root).parameters)
        #expect(
            reply.processes.map { [$0.pid, $0.uid, $0.rss, $0.pss, $0.buffers, $0.fds, $0.mappings] } == [
                [100, 0, 12288, 4096 + 4096, 2, 2, 1],  // half of 8 KiB, all of 4 KiB
                [200, 1000, 12288, 4096 + 4096, 2, 1, 1],
            ])
        #expect(reply.processes.map(\.command) == ["camera", "viewer"])
        #expect(reply.kernelHeld == KernelHeld(count: 2, bytes: 8192), "14 and 15: no process holds them")
        #expect(reply.scan.buffers == 5)
        let user = await service.client(2, as: PeerCredentials(uid: 1000, gid: 1000, pid: 9))
        let mine = try ProcessesReply(parameters: try await service.call(.processes, from: user).parameters)
        #expect(mine.processes.map(\.pid) == [200], "a user sees its own uid's processes")
    }

    @Test func processesWithoutTaskIteratorsSayWhy() async throws {
        let kernel = FakeKernel()
        kernel.holders(.failure(.attributionUnavailable("kernel 5.4 has no task iterators")))
        let service = Service(kernel: kernel)
        let me = await service.client(1)
        #expect(
            try await service.call(.processes, from: me).varlinkError
                == .attributionUnavailable(
                    reason: "who holds the buffers cannot be told here: kernel 5.4 has no task iterators"))
    }

    @Test func cgroupsAreForRootAndMineNeedsTheCallersCgroup() async throws {
        let service = Service()
        let user = await service.client(1)
        #expect(try await service.call(.cgroups, from: user).varlinkError == .permissionDenied())
        let unknown = try await service.call(.mine, from: user)
        #expect(unknown.error == MonitorInterface.ErrorName.attributionUnavailable, "no pidfd cgroup for this peer")
        let root = await service.client(2, as: Service.root)
        let reply = try CgroupsReply(parameters: try await service.call(.cgroups, from: root).parameters)
        #expect(reply.cgroups.isEmpty, "nothing holds a buffer")
    }

    @Test func scanHoldersJoinTheMatchedBuffersWithTheWalk() async throws {
        let buffers = Service.buffers
        let kernel = FakeKernel(buffers: buffers)
        kernel.holders(
            .success([
                FakeKernel.hold(buffers[0], by: 100, command: "camera"),
                FakeKernel.hold(buffers[1], by: 100, command: "camera", .mapping(0x7000)),
                FakeKernel.hold(buffers[1], by: 200, uid: 1000, command: "viewer"),
                FakeKernel.hold(buffers[3], by: 200, uid: 1000, command: "viewer"),
            ]))
        let service = Service(kernel: kernel)
        let root = await service.client(1, as: Service.root)
        let reply = try ScanReply(
            parameters: try await service.call(.scan, ["names": ["camera-0", "camera-1"], "holders": true], from: root)
                .parameters)
        #expect(reply.matches.map(\.holders) == [
            [Holder(pid: 100, command: "camera", bytes: 12288), Holder(pid: 200, command: "viewer", bytes: 4096)],
            [],
        ])
        #expect(reply.matches.allSatisfy { $0.buffers == nil }, "holders do not bring details")
        let user = await service.client(2, as: PeerCredentials(uid: 1000, gid: 1000, pid: 9))
        let theirs = try ScanReply(
            parameters: try await service.call(.scan, ["names": ["camera-0"], "holders": true], from: user).parameters)
        #expect(theirs.matches.first?.holders == [Holder(pid: 200, command: "viewer", bytes: 4096)])
    }
}
