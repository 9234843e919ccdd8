import DmabufSystem
import Testing

@testable import DmabufScanner

private let needsRoot: Comment = "loading the BPF program needs root (CAP_BPF + CAP_PERFMON); CI runs these as root"

/// Against this host's real kernel (6.16+ with the iterator). No driver here
/// exports DMA-BUFs, so every pass sees none; the VM tier covers real buffers.
@Suite(.serialized) struct DmabufProgramTests {
    @Test func theKernelHasTheIterator() throws {
        #expect(try KernelProbe.hasDmabufIterator())
        #expect(!KernelProbe.release().isEmpty)
    }

    @Test func rootHasTheCapabilitiesAndNoLockdownBlocks() throws {
        try #require(geteuid() == 0, needsRoot)
        #expect(KernelProbe.hasBPFPrivileges())
        #expect(KernelProbe.lockdownMode() != "confidentiality")
        try KernelProbe.requireLoadable()
    }

    @Test func passesSeeNoBuffersAndCountUp() throws {
        try #require(geteuid() == 0, needsRoot)
        let program = try DmabufProgram(capacity: 16)
        let first = try program.runPass(collecting: .none)
        let second = try program.runPass(collecting: .none)
        #expect(first.totals.id == 1)
        #expect(second.totals.id == 2)
        for pass in [first, second] {
            #expect(pass.totals.buffers == 0)
            #expect(pass.totals.bytes == 0)
            #expect(pass.totals.recordsDropped == 0)
            #expect(pass.totals.durationNsec > 0)
            #expect(pass.buffers.isEmpty)
            #expect(pass.totals.exporters.isEmpty, "no exporter on a host without buffers")
        }
        #expect(second.totals.startedUsec >= first.totals.startedUsec)
        #expect(first.totals.startedUsec > 1_600_000_000_000_000)  // after 2020: CLOCK_REALTIME in µs
    }

    @Test func collectingReturnsNoRecordsAndDropsNone() throws {
        try #require(geteuid() == 0, needsRoot)
        let program = try DmabufProgram(capacity: 4, ringBytes: 1 << 16)
        let pass = try program.runPass(collecting: .all)
        #expect(pass.buffers.isEmpty)
        #expect(pass.totals.recordsDropped == 0)
        #expect(pass.totals.buffers == 0)
    }

    @Test func insertAndRemoveChangeTheWatchedCount() throws {
        try #require(geteuid() == 0, needsRoot)
        let program = try DmabufProgram(capacity: 8)
        #expect(program.capacity == 8)
        try program.insert(.name(Array("camera".utf8)))
        try program.insert(.name(Array("gpu-frame".utf8)))
        #expect(program.watchedCount == 2)
        program.remove(.name(Array("camera".utf8)))
        #expect(program.watchedCount == 1)
        program.remove(.name(Array("never-watched".utf8)))
        #expect(program.watchedCount == 1)
        try program.insert(.name(Array("camera".utf8)))
        #expect(program.watchedCount == 2)
        #expect(program.mapEntryCount() == 2, "the kernel maps agree")
    }

    @Test func namesAndPrefixesShareTheCapacityAndStayDistinct() throws {
        try #require(geteuid() == 0, needsRoot)
        let program = try DmabufProgram(capacity: 2)
        let cam = Array("cam".utf8)
        try program.insert(.name(cam))
        try program.insert(.prefix(cam))
        #expect(program.watchedCount == 2)
        #expect(throws: ScannerError.capacityExhausted(capacity: 2)) { try program.insert(.prefix(Array("gpu".utf8))) }
        let pass = try program.runPass(collecting: .none)
        #expect(pass.totals.buffers == 0)
        #expect(program.stats(for: .prefix(cam)) == .zero)
        program.remove(.prefix(cam))
        #expect(program.watchedCount == 1)
        #expect(program.mapEntryCount() == 1, "counted in both kernel maps")
        try program.insert(.prefix(Array("gpu".utf8)))
        #expect(program.watchedCount == 2)
        #expect(program.mapEntryCount() == 2)
    }

    @Test func aWatchedNameReadsZeroAfterAPass() throws {
        try #require(geteuid() == 0, needsRoot)
        let program = try DmabufProgram(capacity: 4)
        let name = Array("camera".utf8)
        try program.insert(.name(name))
        #expect(program.stats(for: .name(name)) == .zero)
        _ = try program.runPass(collecting: .none)
        #expect(program.stats(for: .name(name)) == .zero)
        #expect(program.stats(for: .name(Array("not-watched".utf8))) == .zero)
    }

    @Test func oneNameMoreThanCapacityIsExhausted() throws {
        try #require(geteuid() == 0, needsRoot)
        let capacity = 5
        let program = try DmabufProgram(capacity: capacity)
        for i in 0..<capacity { try program.insert(.name(Array("name-\(i)".utf8))) }
        #expect(throws: ScannerError.capacityExhausted(capacity: capacity)) {
            try program.insert(.name(Array("one-too-many".utf8)))
        }
        #expect(program.watchedCount == capacity)
        // A freed slot is usable again, and the full map still takes the name.
        program.remove(.name(Array("name-0".utf8)))
        try program.insert(.name(Array("one-too-many".utf8)))
        #expect(program.watchedCount == capacity)
    }

    @Test func badConfigurationIsRefusedBeforeLoading() {
        #expect(throws: ScannerError.self) { try DmabufProgram(capacity: 0) }
        #expect(throws: ScannerError.self) { try DmabufProgram(capacity: 4, ringBytes: 12_345) }
    }

    @Test func aBadNameIsRefused() throws {
        try #require(geteuid() == 0, needsRoot)
        let program = try DmabufProgram(capacity: 2)
        #expect(throws: ScannerError.self) { try program.insert(.name([])) }
        #expect(throws: ScannerError.self) { try program.insert(.name([UInt8](repeating: 0x61, count: 32))) }
        #expect(program.watchedCount == 0)
    }
}
