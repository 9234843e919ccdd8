/// One walk of every process: the holds of DMA-BUFs, and the pid namespace of each
/// client that asked to be identified.
public struct HolderWalk: Sendable {
    /// Which pid namespace a process is in, and its number there.
    public struct Namespaced: Sendable, Equatable {
        public var pid: UInt32
        public var namespace: UInt64

        public init(pid: UInt32, namespace: UInt64) {
            self.pid = pid
            self.namespace = namespace
        }
    }

    public var holders: [HolderRecord]
    /// By the pid the walk was asked to identify; one it did not meet (gone) is absent.
    public var identified: [UInt32: Namespaced]

    public init(holders: [HolderRecord], identified: [UInt32: Namespaced] = [:]) {
        self.holders = holders
        self.identified = identified
    }
}
