import DmabufSystem
import Testing

@testable import DmabufScanner

extension Trait where Self == ConditionTrait {
    /// The test loads the program: it runs where dmabufd itself could start (root, so
    /// CAP_BPF and CAP_PERFMON; Linux 6.16+; no lockdown), as CI does, and otherwise says
    /// which check start-up would fail.
    static var loadsTheProgram: Self {
        let problem = KernelProbe.loadProblem()
        return .enabled(
            if: problem == nil, Comment(rawValue: "cannot load the BPF program here: \(problem?.description ?? "")"))
    }
}

/// Against this host's real kernel (6.16+ with the iterator). No driver here
/// exports DMA-BUFs, so every pass sees none; the VM tier covers real buffers.
@Suite(.serialized) struct DmabufProgramTests {
    @Test func theKernelHasTheIterator() throws {
        #expect(try KernelProbe.hasDmabufIterator())
        #expect(!KernelProbe.release().isEmpty)
    }

    @Test(.enabled(if: geteuid() == 0, "the probes are checked as root, which CI runs as"))
    func rootHasTheCapabilitiesAndNoLockdownBlocks() throws {
        #expect(KernelProbe.hasBPFPrivileges())
        #expect(KernelProbe.lockdownMode() != "confidentiality")
        try KernelProbe.requireLoadable()
    }

    @Test(.loadsTheProgram) func passesSeeNoBuffersAndCountUp() throws {
        let program = try DmabufProgram(capacity: 16)
        let first = try program.runPass(collecting: .none)
        let second = try program.runPass(collecting: .none)
        #expect(first.totals.id == 1)
        #expect(second.totals.id == 2)
        for pass in [first, second] {
            #expect(pass.totals.buffers == 0)
            #expect(pass.totals.bytes == 0)
            #expect(pass.totals.durationNsec > 0)
            #expect(pass.buffers.isEmpty)
            #expect(pass.totals.exporters.isEmpty, "no exporter on a host without buffers")
        }
        #expect(second.totals.startedUsec >= first.totals.startedUsec)
        #expect(first.totals.startedUsec > 1_600_000_000_000_000)  // after 2020: CLOCK_REALTIME in µs
    }

    @Test(.loadsTheProgram) func theHolderIteratorsAttachAndFindNoBufferHere() throws {
        let program = try DmabufProgram(capacity: 4)
        #expect(program.attributionProblem == nil, "iter/task_file and iter/task_vma load on this kernel")
        // Every process's files and mappings are walked; none is a DMA-BUF on this host.
        let me = UInt32(getpid())
        let walk = try program.readHolders(identifying: [me, UInt32(Int32.max)])
        #expect(walk.holders.isEmpty)
        var status = stat()
        #expect(stat("/proc/self/ns/pid", &status) == 0)
        #expect(
            walk.identified == [me: HolderWalk.Namespaced(pid: me, namespace: UInt64(status.st_ino))],
            "this process found in its pid namespace; a pid no task has, not at all")
        let again = try program.readHolders(identifying: [])
        #expect(again.holders.isEmpty && again.identified.isEmpty, "each read is a fresh walk")
    }

    @Test(.loadsTheProgram) func collectingReturnsNoRecordsAndUnmapsTheRingAfter() throws {
        let program = try DmabufProgram(capacity: 4, ringBytes: 1 << 20)
        let before = try bpfMapMappings()
        let pass = try program.runPass(collecting: .all)
        #expect(pass.buffers.isEmpty)
        #expect(pass.totals.buffers == 0)
        #expect(try bpfMapMappings() == before, "the 1 MiB ring is mapped only while a listing runs")
        #expect(!before.contains { $0 >= 1 << 20 }, "and not before one either")
    }

    /// The sizes of this process's mappings of BPF maps, from /proc/self/maps.
    private func bpfMapMappings() throws -> [Int] {
        try #require(readTextFile("/proc/self/maps", limit: 1 << 20)).split(separator: "\n")
            .filter { $0.hasSuffix("anon_inode:bpf-map") }
            .map { line in
                let range = line.split(separator: " ")[0].split(separator: "-").map { Int($0, radix: 16)! }
                return range[1] - range[0]
            }
            .sorted()
    }

    @Test(.loadsTheProgram) func insertAndRemoveChangeTheWatchedCount() throws {
        let program = try DmabufProgram(capacity: 8)
        #expect(program.capacity == 8)
        try program.insert([.name(Array("camera".utf8))])
        try program.insert([.name(Array("gpu-frame".utf8))])
        #expect(program.watchedCount == 2)
        program.remove([.name(Array("camera".utf8))])
        #expect(program.watchedCount == 1)
        program.remove([.name(Array("never-watched".utf8))])
        #expect(program.watchedCount == 1)
        try program.insert([.name(Array("camera".utf8))])
        #expect(program.watchedCount == 2)
        #expect(program.mapEntryCount() == 2 && program.kernelMapKeyCount() == 2, "the kernel maps agree")
    }

    @Test(.loadsTheProgram) func namesAndPrefixesShareTheCapacityAndStayDistinct() throws {
        let program = try DmabufProgram(capacity: 2)
        let cam = Array("cam".utf8)
        try program.insert([.name(cam)])
        try program.insert([.prefix(cam)])
        #expect(program.watchedCount == 2)
        #expect(throws: ScannerError.capacityExhausted(capacity: 2)) { try program.insert([.prefix(Array("gpu".utf8))]) }
        let pass = try program.runPass(collecting: .none)
        #expect(pass.totals.buffers == 0)
        #expect(program.stats(for: .prefix(cam)) == .zero)
        program.remove([.prefix(cam)])
        #expect(program.watchedCount == 1)
        #expect(program.mapEntryCount() == 1 && program.kernelMapKeyCount() == 1, "counted in both kernel maps")
        try program.insert([.prefix(Array("gpu".utf8))])
        #expect(program.watchedCount == 2)
        #expect(program.mapEntryCount() == 2 && program.kernelMapKeyCount() == 2)
    }

    @Test(.loadsTheProgram) func aWatchedNameReadsZeroAfterAPass() throws {
        let program = try DmabufProgram(capacity: 4)
        let name = Array("camera".utf8)
        try program.insert([.name(name)])
        #expect(program.stats(for: .name(name)) == .zero)
        _ = try program.runPass(collecting: .none)
        #expect(program.stats(for: .name(name)) == .zero)
        #expect(program.stats(for: .name(Array("not-watched".utf8))) == .zero)
    }

    @Test(.loadsTheProgram) func oneNameMoreThanCapacityIsExhausted() throws {
        let capacity = 5
        let program = try DmabufProgram(capacity: capacity)
        try program.insert((0..<capacity).map { .name(Array("name-\($0)".utf8)) })
        #expect(throws: ScannerError.capacityExhausted(capacity: capacity)) {
            try program.insert([.name(Array("one-too-many".utf8))])
        }
        #expect(program.watchedCount == capacity)
        // A freed slot is usable again, and the full map still takes the name.
        program.remove([.name(Array("name-0".utf8))])
        try program.insert([.name(Array("one-too-many".utf8))])
        #expect(program.watchedCount == capacity)
    }

    @Test(.loadsTheProgram) func aBatchGoesInWholeOrNotAtAll() throws {
        let program = try DmabufProgram(capacity: 1_000)
        let names = (0..<600).map { Watch.name(Array("batch-\($0)".utf8)) }
        let prefixes = (0..<300).map { Watch.prefix(Array("pre-\($0)".utf8)) }
        try program.insert(names + prefixes + names.prefix(10))  // the repeated ten count once
        #expect(program.watchedCount == 900 && program.kernelMapKeyCount() == 900)
        let tooMany = (0..<101).map { Watch.name(Array("more-\($0)".utf8)) }
        #expect(throws: ScannerError.capacityExhausted(capacity: 1_000)) { try program.insert(tooMany) }
        #expect(program.watchedCount == 900 && program.kernelMapKeyCount() == 900, "none of the batch went in")
        program.remove(Array(names.prefix(300)) + [.name(Array("never-watched".utf8))] + prefixes)
        #expect(program.watchedCount == 300 && program.kernelMapKeyCount() == 300, "one never watched is ignored")
        #expect(program.mapEntryCount() == 300)
        try program.insert(tooMany)
        #expect(program.watchedCount == 401 && program.kernelMapKeyCount() == 401)
    }

    @Test func badConfigurationIsRefusedBeforeLoading() {
        #expect(throws: ScannerError.self) { try DmabufProgram(capacity: 0) }
        #expect(throws: ScannerError.self) { try DmabufProgram(capacity: 4, ringBytes: 12_345) }
    }

    @Test(.loadsTheProgram) func aBadNameIsRefused() throws {
        let program = try DmabufProgram(capacity: 2)
        #expect(throws: ScannerError.self) { try program.insert([.name([])]) }
        #expect(throws: ScannerError.self) { try program.insert([.name([UInt8](repeating: 0x61, count: 32))]) }
        #expect(program.watchedCount == 0)
    }
}
