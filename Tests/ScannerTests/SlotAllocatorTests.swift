import Testing

@testable import DmabufScanner

@Suite struct SlotAllocatorTests {
    @Test func handsOutLowestSlotsFirstUntilFull() {
        var slots = SlotAllocator(capacity: 3)
        #expect(slots.allocate() == 0)
        #expect(slots.allocate() == 1)
        #expect(slots.allocate() == 2)
        #expect(slots.allocate() == nil)
        #expect(slots.inUse == 3)
    }

    @Test func reusesReleasedSlots() {
        var slots = SlotAllocator(capacity: 2)
        _ = slots.allocate()
        let second = slots.allocate()
        slots.release(0)
        #expect(slots.inUse == 1)
        #expect(slots.allocate() == 0)
        #expect(second == 1)
        #expect(slots.allocate() == nil)
    }

    @Test func releasingAFreeOrUnknownSlotChangesNothing() {
        var slots = SlotAllocator(capacity: 2)
        slots.release(1)
        slots.release(7)
        #expect(slots.inUse == 0)
        #expect(slots.allocate() == 0)
        #expect(slots.allocate() == 1)
        #expect(slots.allocate() == nil)
    }

    @Test func zeroCapacityHasNoSlots() {
        var slots = SlotAllocator(capacity: 0)
        #expect(slots.allocate() == nil)
    }
}
