/// What the last pass saw of one watched name.
public struct NameStats: Sendable, Equatable {
    public var count: UInt64
    public var bytes: UInt64

    public static let zero = NameStats(count: 0, bytes: 0)

    public init(count: UInt64, bytes: UInt64) {
        self.count = count
        self.bytes = bytes
    }
}
