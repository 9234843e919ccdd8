import CLibbpf
import DmabufSystem

/// The task iterators of `bpf/holders.bpf.c`, loaded and attached once (while the process
/// is still privileged): each `read()` walks every open file and every mapping of every
/// process in the service's pid namespace and returns the holds of DMA-BUFs. Reading
/// needs no capability: the link does.
///
/// Not thread-safe; its owner (`DmabufProgram`) serialises calls.
final class HolderIterators {
    static let programs = ["dmabufd_task_files", "dmabufd_task_mappings"]

    private let object: OpaquePointer  // struct bpf_object *
    private let links: [OpaquePointer]  // struct bpf_link *, one per program
    private let askingFD: Int32

    /// Loads the embedded object and attaches both iterators. The caller has run
    /// `KernelProbe.requireLoadable` and `KernelProbe.hasTaskIterators`.
    init() throws(ScannerError) {
        LibbpfLog.reset()
        let opened = holdersBPFObject.withUnsafeBytes { CLibbpf_object_open_mem($0.baseAddress, $0.count, "holders") }
        guard let object = opened else {
            throw .loadFailed("cannot open the embedded holders object: \(libbpfErrorText(errno))")
        }
        var links: [OpaquePointer] = []
        do throws(ScannerError) {
            let err = bpf_object__load(object)
            guard err == 0 else { throw .loadFailed(LibbpfLog.lastMeaningfulLine() ?? libbpfErrorText(err)) }
            for name in Self.programs {
                guard let program = bpf_object__find_program_by_name(object, name) else {
                    throw .loadFailed("the holders object has no program \(name)")
                }
                guard let link = bpf_program__attach_iter(program, nil) else {
                    throw .loadFailed("cannot attach the iterator \(name): \(libbpfErrorText(errno))")
                }
                links.append(link)
            }
        } catch {
            for link in links { bpf_link__destroy(link) }
            bpf_object__close(object)
            throw error
        }
        self.object = object
        self.links = links
        askingFD = bpf_object__find_map_fd_by_name(object, "asking")
    }

    deinit {
        for link in links { bpf_link__destroy(link) }
        bpf_object__close(object)
    }

    /// Every hold of a DMA-BUF by a process now (its open fds, then its mappings), and the
    /// pid namespace of each process of `identifying` (at most DMABUFD_MAX_ASKING).
    func read(identifying pids: Set<UInt32>) throws(ScannerError) -> HolderWalk {
        for pid in pids.prefix(Int(DMABUFD_MAX_ASKING)) {
            var key = pid
            var one: UInt8 = 1
            // A full map leaves that client unidentified, not the walk failed.
            _ = bpf_map_update_elem(askingFD, &key, &one, UInt64(BPF_ANY))
        }
        var walk = HolderWalk(holders: [])
        for link in links {
            for record in try Self.read(link) {
                if case .identity(let namespaced) = record.hold {
                    walk.identified[record.pid] = namespaced
                } else {
                    walk.holders.append(record)
                }
            }
        }
        return walk
    }

    /// One walk of one iterator: a fresh instance, read to its end.
    private static func read(_ link: OpaquePointer) throws(ScannerError) -> [HolderRecord] {
        let fd = bpf_iter_create(bpf_link__fd(link))
        guard fd >= 0 else { throw .passFailed("cannot start a holders walk: \(libbpfErrorText(fd))") }
        defer { Descriptor.close(fd) }
        let bytes: [UInt8]
        do {
            // A record per hold: 1 GiB is some 15 million holds, far past any host.
            bytes = try Descriptor.readAll(fd, limit: 1 << 30)
        } catch {
            throw .passFailed("cannot read the holders walk: \(error)")
        }
        let size = MemoryLayout<dmabufd_holder_record>.size
        guard bytes.count % size == 0 else {
            throw .passFailed("the holders walk ended inside a record (\(bytes.count) bytes)")
        }
        return bytes.withUnsafeBytes { raw in
            stride(from: 0, to: raw.count, by: size).map {
                HolderRecord(raw.loadUnaligned(fromByteOffset: $0, as: dmabufd_holder_record.self))
            }
        }
    }
}
