/// Which methods and how many names each peer gets.
///
/// The built-in default: root may call everything, bounded only by the map's capacity;
/// every other uid may call everything but `List`, with at most `quota` names per
/// connection.
public struct Policy: Sendable {
    /// Methods of io.dmabufd.Monitor that only root may call.
    public var rootOnly: Set<String> = ["List"]
    /// Names a non-root connection may hold (its watch set plus one Scan's extra names).
    public var quota: Int
    /// Names a root connection may hold.
    public var rootQuota: Int

    public init(quota: Int, rootQuota: Int) {
        self.quota = quota
        self.rootQuota = rootQuota
    }

    public func allows(_ method: String, for peer: PeerCredentials) -> Bool {
        peer.uid == 0 || !rootOnly.contains(method)
    }

    public func quota(for peer: PeerCredentials) -> Int {
        peer.uid == 0 ? rootQuota : quota
    }
}
