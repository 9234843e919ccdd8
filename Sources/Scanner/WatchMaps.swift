import CLibbpf
import DmabufSystem

/// The program's "watched" and "prefixes" hash maps (key: the name zero-padded to 32
/// bytes, value: its slot), written a batch at a time: a Watch of a thousand names is one
/// syscall per map, not one per name. Only `DmabufProgram` writes them.
struct WatchMaps {
    let watchedFD: Int32
    let prefixesFD: Int32

    /// Puts every watch in its map with its slot, or none of them: what the kernel took of
    /// a batch it stopped partway is taken out again. Nil, or the kernel's error (negative
    /// errno). BPF_ANY, not NOEXIST: overwriting a key a failed delete left is harmless.
    func insert(_ entries: [(watch: Watch, slot: UInt32)]) -> Int32? {
        var done: [Watch] = []
        for kind in [Watch.Kind.name, .prefix] {
            let group = entries.filter { $0.watch.kind == kind }
            guard !group.isEmpty else { continue }
            var keys = Self.keys(group.map(\.watch))
            var values = group.map(\.slot)
            var count = UInt32(group.count)
            let err = bpf_map_update_batch(fd(for: kind), &keys, &values, &count, nil)
            done += group.prefix(Int(count)).map(\.watch)
            if err != 0 {
                _ = remove(done)
                return err
            }
        }
        return nil
    }

    /// Takes every watch out of its map (one not there is ignored); returns those whose key
    /// stayed because the kernel refused the delete.
    func remove(_ watches: [Watch]) -> [Watch] {
        var stayed: [Watch] = []
        for kind in [Watch.Kind.name, .prefix] {
            let group = watches.filter { $0.kind == kind }
            guard !group.isEmpty else { continue }
            var keys = Self.keys(group)
            var count = UInt32(group.count)
            // The batch stops at its first failure (a key not there, say): the rest one by one.
            guard bpf_map_delete_batch(fd(for: kind), &keys, &count, nil) != 0 else { continue }
            for watch in group.dropFirst(Int(count)) {
                var key = Self.key(watch.bytes)
                let err = bpf_map_delete_elem(fd(for: kind), &key)
                if err != 0 && err != -ENOENT { stayed.append(watch) }
            }
        }
        return stayed
    }

    /// The keys in both maps, walked one by one: what the owner's count must equal.
    func keyCount() -> Int {
        [watchedFD, prefixesFD].reduce(0) { $0 + Self.countKeys(of: $1) }
    }

    /// Walks a hash map's keys. A key deleted during the walk makes the walk restart in
    /// the kernel, but nothing deletes concurrently: only `DmabufProgram` writes the maps.
    private static func countKeys(of fd: Int32) -> Int {
        var key = [UInt8](repeating: 0, count: Int(DMABUFD_NAME_LEN))
        var next = key
        var count = 0
        var err = bpf_map_get_next_key(fd, nil, &next)
        while err == 0 {
            count += 1
            key = next
            err = bpf_map_get_next_key(fd, &key, &next)
        }
        return count
    }

    private func fd(for kind: Watch.Kind) -> Int32 {
        kind == .name ? watchedFD : prefixesFD
    }

    /// The 32-byte map key: the name or prefix, zero-padded.
    static func key(_ name: [UInt8]) -> [UInt8] {
        name + [UInt8](repeating: 0, count: Int(DMABUFD_NAME_LEN) - name.count)
    }

    /// The keys of `watches`, back to back, as a batch takes them.
    private static func keys(_ watches: [Watch]) -> [UInt8] {
        var keys: [UInt8] = []
        keys.reserveCapacity(watches.count * Int(DMABUFD_NAME_LEN))
        for watch in watches { keys += key(watch.bytes) }
        return keys
    }
}
