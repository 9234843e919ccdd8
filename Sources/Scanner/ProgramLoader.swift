import CLibbpf
import DmabufSystem

/// Opens the embedded object, sizes its maps, loads it and maps its memory.
enum ProgramLoader {
    static let programName = "dmabufd_pass"

    static func load(capacity: Int, ringBytes: Int) throws(ScannerError) -> LoadedProgram {
        try validate(capacity: capacity, ringBytes: ringBytes)
        LibbpfLog.install()
        try KernelProbe.requireLoadable()

        LibbpfLog.reset()
        let opened = dmabufdBPFObject.withUnsafeBytes { CLibbpf_object_open_mem($0.baseAddress, $0.count, "dmabufd") }
        guard let object = opened else {
            throw .loadFailed("cannot open the embedded BPF object: \(libbpfErrorText(errno))")
        }
        do throws(ScannerError) {
            return try load(object, capacity: capacity, ringBytes: ringBytes)
        } catch {
            bpf_object__close(object)
            throw error
        }
    }

    private static func validate(capacity: Int, ringBytes: Int) throws(ScannerError) {
        guard ProgramSizes.isValid(capacity: capacity) else {
            throw .invalidConfiguration("capacity \(capacity) is not \(ProgramSizes.capacityRule)")
        }
        guard ProgramSizes.isValid(ringBytes: ringBytes) else {
            throw .invalidConfiguration("ring buffer size \(ringBytes) is not \(ProgramSizes.ringBytesRule)")
        }
    }

    /// Everything after open; on failure the caller closes `object`.
    private static func load(_ object: OpaquePointer, capacity: Int, ringBytes: Int) throws(ScannerError)
        -> LoadedProgram
    {
        let watched = try map(object, "watched")
        let prefixes = try map(object, "prefixes")
        let stats = try map(object, "stats")
        let records = try map(object, "records")
        let exporters = try map(object, "exporters")
        let bss = try map(object, ".bss")
        for (map, size) in [(watched, capacity), (prefixes, capacity), (stats, capacity), (records, ringBytes)] {
            let err = bpf_map__set_max_entries(map, UInt32(size))
            guard err == 0 else { throw .loadFailed("cannot size map \(name(of: map)): \(libbpfErrorText(err))") }
        }

        let err = bpf_object__load(object)
        guard err == 0 else { throw loadError(err) }

        guard let program = bpf_object__find_program_by_name(object, programName) else {
            throw .loadFailed("the BPF object has no program \(programName)")
        }
        let bssSize = Int(bpf_map__value_size(bss))
        guard bssSize >= MemoryLayout<dmabufd_globals>.size else {
            let expected = MemoryLayout<dmabufd_globals>.size
            throw .loadFailed("the BPF object's .bss is \(bssSize) bytes, expected \(expected)")
        }
        let globalsMap = try MappedMap(fd: bpf_map__fd(bss), bytes: bssSize, what: ".bss")
        do throws(ScannerError) {
            let statsMap = try MappedMap(
                fd: bpf_map__fd(stats), bytes: capacity * MemoryLayout<dmabufd_slot_stats>.stride, what: "stats")
            return LoadedProgram(
                object: object, programFD: bpf_program__fd(program), watchedFD: bpf_map__fd(watched),
                prefixesFD: bpf_map__fd(prefixes), exportersFD: bpf_map__fd(exporters),
                globals: globalsMap, stats: statsMap, recordsFD: bpf_map__fd(records))
        } catch {
            globalsMap.unmap()
            throw error
        }
    }

    private static func map(_ object: OpaquePointer, _ name: String) throws(ScannerError) -> OpaquePointer {
        // A name starting with "." finds an internal map by its section (".bss").
        guard let map = bpf_object__find_map_by_name(object, name) else {
            throw .loadFailed("the BPF object has no map \(name)")
        }
        return map
    }

    private static func name(of map: OpaquePointer) -> String {
        bpf_map__name(map).map { String(cString: $0) } ?? "?"
    }

    /// EPERM, and the verifier's "!root" refusals, mean missing privileges;
    /// anything else is the verifier's (or libbpf's) last meaningful line.
    private static func loadError(_ err: Int32) -> ScannerError {
        let line = LibbpfLog.lastMeaningfulLine()
        if -err == EPERM || (-err == EACCES && (line?.contains("!root") ?? false)) {
            return .missingPrivileges
        }
        return .loadFailed(line ?? libbpfErrorText(err))
    }
}
