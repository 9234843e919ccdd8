import Synchronization

/// Counts open connections, in total and per uid, and turns away those over a limit.
///
/// Shared by the accept loop (which admits) and the connections' tasks (which leave), so
/// the counts sit behind a lock; nothing else is shared.
final class ConnectionGate: Sendable {
    private struct Counts {
        var total = 0
        var byUID: [UInt32: Int] = [:]
    }

    private let maxConnections: Int
    /// Connections only `reservedUIDs` may take.
    private let reservedConnections: Int
    private let reservedUIDs: Set<UInt32>
    private let counts = Mutex(Counts())

    init(maxConnections: Int, reservedConnections: Int = 0, reservedUIDs: Set<UInt32> = []) {
        self.maxConnections = maxConnections
        self.reservedConnections = min(reservedConnections, maxConnections)
        self.reservedUIDs = reservedUIDs
    }

    /// Why a connection was turned away: the limit, and what to log.
    struct Refusal: CustomStringConvertible {
        let limit: ConnectionLimit
        let description: String
    }

    /// Why a connection was turned away; nil when it was admitted (and counted).
    /// - Parameter perUID: the most connections this peer's uid may hold; nil for no limit.
    func admit(_ peer: PeerCredentials, perUID: Int?) -> Refusal? {
        counts.withLock { counts in
            if counts.total >= maxConnections {
                return Refusal(limit: .total, description: "\(maxConnections) connections are open (--max-connections)")
            }
            if !reservedUIDs.contains(peer.uid), counts.total >= maxConnections - reservedConnections {
                return Refusal(
                    limit: .total,
                    description: "\(counts.total) connections are open; the other \(reservedConnections) are kept for root")
            }
            let mine = counts.byUID[peer.uid, default: 0]
            if let perUID, mine >= perUID {
                return Refusal(limit: .perUID, description: "uid \(peer.uid) holds \(mine) connections, its policy's limit")
            }
            counts.total += 1
            counts.byUID[peer.uid] = mine + 1
            return nil
        }
    }

    /// An admitted connection closed.
    func leave(_ peer: PeerCredentials) {
        counts.withLock { counts in
            counts.total -= 1
            let left = counts.byUID[peer.uid, default: 1] - 1
            counts.byUID[peer.uid] = left == 0 ? nil : left
        }
    }
}
