import CLibbpf
import DmabufSystem

/// Drains the "records" ring buffer into `BufferRecord`s. The ring is mapped only while a
/// listing runs (`drain` maps it, `unmap` ends the listing): mapped, its data pages are
/// resident twice over (the kernel maps them twice so records may wrap), and an idle
/// service has no reason to hold them.
final class RecordReader {
    private let mapFD: Int32
    private var ring: OpaquePointer?  // struct ring_buffer *, while mapped
    /// Filled by the sample callback during `drain`; the callback's context.
    private var records: [BufferRecord] = []

    init(mapFD: Int32) {
        self.mapFD = mapFD
    }

    /// Every record the program submitted since the last drain, mapping the ring first
    /// when it is not mapped.
    func drain() throws(ScannerError) -> [BufferRecord] {
        if ring == nil {
            let context = Unmanaged.passUnretained(self).toOpaque()
            // The callback runs inside ring_buffer__consume, on this thread.
            ring = ring_buffer__new(mapFD, { context, data, size in
                guard let context, let data, size >= MemoryLayout<dmabufd_record>.size else { return 0 }
                let reader = Unmanaged<RecordReader>.fromOpaque(context).takeUnretainedValue()
                reader.records.append(BufferRecord(data.loadUnaligned(as: dmabufd_record.self)))
                return 0
            }, context, nil)
            guard ring != nil else { throw .passFailed("cannot map the ring buffer: \(libbpfErrorText(errno))") }
        }
        records = []
        let n = ring_buffer__consume(ring)
        let drained = records
        records = []
        guard n >= 0 else { throw .passFailed("cannot read the ring buffer: \(libbpfErrorText(n))") }
        return drained
    }

    /// Unmaps the ring; the next `drain` maps it again.
    func unmap() {
        ring_buffer__free(ring)
        ring = nil
    }

    deinit { ring_buffer__free(ring) }
}

extension BufferRecord {
    /// Copies a ring buffer record; names stop at their first NUL.
    init(_ raw: dmabufd_record) {
        self.init(
            inode: raw.inode, size: raw.size,
            name: withUnsafeBytes(of: raw.name) { Array($0.prefix { $0 != 0 }) },
            exporter: withUnsafeBytes(of: raw.exporter) { Array($0.prefix { $0 != 0 }) }, references: raw.references)
    }
}
