import Synchronization

/// Connections with a call on its way: a message read off their socket that their idle
/// session has not taken yet, or the call the session took and is serving until it is
/// done or handed on (`ClientContext.handedOn`). Work shared between calls (dmabufd's
/// pass) can wait briefly while there are any, so that calls sent together are served
/// together: a call counts from the moment its bytes are read, not only once its
/// connection's task has run.
///
/// Messages behind a call that was handed on do not count: they cannot join the work
/// that call waits for.
public final class UntakenMessages: Sendable {
    private let connections = Atomic<Int>(0)

    public init() {}

    public var any: Bool { connections.load(ordering: .relaxed) > 0 }

    fileprivate func add(_ n: Int) {
        connections.add(n, ordering: .relaxed)
    }
}

/// One connection's part in `UntakenMessages`: its decoder counts each message framed, its
/// session each message taken and each call finished, the interface each call handed on;
/// when the session ends it counts no longer, whatever it left unread.
final class ConnectionBacklog: Sendable {
    private struct State {
        var untaken = 0
        var busy = false
        var handedOn = false
        var ended = false
        var counts: Bool { !ended && (busy ? !handedOn : untaken > 0) }
    }

    private let state = Mutex(State())
    private let all: UntakenMessages

    init(counting all: UntakenMessages) {
        self.all = all
    }

    func framed() { update { $0.untaken += 1 } }

    /// The session took a message and is busy with it.
    func taken() {
        update { state in
            state.untaken = max(state.untaken - 1, 0)
            state.busy = true
            state.handedOn = false
        }
    }

    func handedOn() { update { $0.handedOn = true } }

    /// The session is done with the message it took: waiting for the next.
    func finished() { update { $0.busy = false } }

    func ended() { update { $0.ended = true } }

    private func update(_ change: (inout State) -> Void) {
        state.withLock { state in
            let before = state.counts
            change(&state)
            if state.counts != before { all.add(state.counts ? 1 : -1) }
        }
    }
}
