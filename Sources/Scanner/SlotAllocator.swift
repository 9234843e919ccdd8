/// Hands out indices into the stats array: a free list, lowest slot first.
struct SlotAllocator: Sendable {
    let capacity: Int
    /// Free slots, the next one to hand out last.
    private var free: [UInt32]
    private var used: [Bool]

    init(capacity: Int) {
        precondition(capacity >= 0 && capacity <= Int(UInt32.max))
        self.capacity = capacity
        free = (0..<UInt32(capacity)).reversed()
        used = [Bool](repeating: false, count: capacity)
    }

    var inUse: Int { capacity - free.count }
    var available: Int { free.count }

    /// A free slot, or nil when all `capacity` are in use.
    mutating func allocate() -> UInt32? {
        guard let slot = free.popLast() else { return nil }
        used[Int(slot)] = true
        return slot
    }

    /// Returns `slot` to the free list; releasing a free slot is a no-op.
    mutating func release(_ slot: UInt32) {
        guard Int(slot) < capacity, used[Int(slot)] else { return }
        used[Int(slot)] = false
        free.append(slot)
    }
}
