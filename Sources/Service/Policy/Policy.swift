import DmabufProtocol
import VarlinkServer

/// Who gets which grant: the first rule whose subject the peer is, else the default.
///
/// The built-in policy: root gets everything, bounded only by the map's capacity, and a
/// sixteenth of that capacity and of the connections kept for it alone; every other uid gets every method but
/// `List`, `Metrics` and `Cgroups` (each shows what other clients cannot otherwise see:
/// every buffer, every watched name, every container's holdings), `Processes` of its own
/// uid only, with details, at most `quota` names and prefixes across its connections,
/// 128 connections at once and a pass every 100 ms.
public struct Policy: Sendable, Equatable {
    /// A uid, or a gid matched against the peer's primary group (what `SO_PEERCRED` tells;
    /// supplementary groups are not seen).
    public enum Subject: Sendable, Equatable, CustomStringConvertible {
        case uid(UInt32)
        case gid(UInt32)

        func includes(_ peer: PeerCredentials) -> Bool {
            switch self {
            case .uid(let uid): return peer.uid == uid
            case .gid(let gid): return peer.gid == gid
            }
        }

        public var description: String {
            switch self {
            case .uid(let uid): return "uid \(uid)"
            case .gid(let gid): return "gid \(gid)"
            }
        }
    }

    public struct Rule: Sendable, Equatable {
        public var subject: Subject
        public var grant: Grant

        public init(subject: Subject, grant: Grant) {
            self.subject = subject
            self.grant = grant
        }
    }

    public var rules: [Rule]
    /// For peers no rule names.
    public var fallback: Grant
    /// The share of the capacity only some uids may use.
    public var reserve: ReservedShare

    public init(rules: [Rule], fallback: Grant, reserve: ReservedShare) {
        self.rules = rules
        self.fallback = fallback
        self.reserve = reserve
    }

    public static func builtIn(quota: Int, capacity: Int, connections: Int = ConnectionLimits().maxConnections)
        -> Policy
    {
        var methods = Set(MonitorInterface.Method.allCases)
        methods.remove(.list)
        methods.remove(.metrics)
        methods.remove(.cgroups)
        return Policy(
            rules: [Rule(subject: .uid(0), grant: .everything)],
            fallback: Grant(
                methods: methods, maxNames: quota, maxConnections: 128, details: true,
                passSpacing: .milliseconds(100)),
            reserve: .builtIn(capacity: capacity, connections: connections))
    }

    public func grant(for peer: PeerCredentials) -> Grant {
        rules.first { $0.subject.includes(peer) }?.grant ?? fallback
    }
}
