import CLibbpf

/// The loaded program's kernel objects and userspace views of them.
struct LoadedProgram {
    let object: OpaquePointer  // struct bpf_object *
    let programFD: Int32
    let watchedFD: Int32
    let prefixesFD: Int32
    let exportersFD: Int32
    /// The .bss map, mmapped: libbpf 1.1's bpf_map__initial_value still points
    /// at its private pre-load copy after bpf_object__load (only the skeleton
    /// loader remaps it), so we map the map's fd ourselves.
    let globals: MappedMap
    /// The "stats" array, mmapped.
    let stats: MappedMap
    let recordsFD: Int32

    /// Unmaps and closes everything, in reverse order of creation.
    func release() {
        stats.unmap()
        globals.unmap()
        bpf_object__close(object)
    }
}
