/// Whom a watch change is charged to: the caller's uid, with its quota (names and
/// prefixes that uid may hold across all its connections and in-flight Scans).
public struct WatchAccount: Sendable, Hashable {
    public let uid: UInt32
    public let quota: Int

    public init(uid: UInt32, quota: Int) {
        self.uid = uid
        self.quota = quota
    }
}
