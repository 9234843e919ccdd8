// SPDX-License-Identifier: GPL-2.0
/* dmabufd's one BPF program: a pass over every DMA-BUF on the host.
 *
 * Userspace runs it with BPF_PROG_TEST_RUN (no ctx, data or repeat). Before
 * each run it writes globals.pass_id (a new stamp every run),
 * globals.collect_buffers and globals.records_from; the program writes the
 * totals back and, last, globals.finished_pass_id, so userspace knows the run
 * completed.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "dmabuf_core.h"
#include "dmabufd.h"

/* The open-coded DMA-BUF iterator kfuncs are GPL-only. */
char LICENSE[] SEC("license") = "GPL";

/* Watched names: the 32-byte zero-padded name -> its slot in "stats".
 * max_entries is set by userspace (the capacity) between open and load. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, char[DMABUFD_NAME_LEN]);
	__type(value, __u32);
} watched SEC(".maps");

/* Watched prefixes, keyed like "watched" (the prefix zero-padded to 32 bytes)
 * and sharing its slots: a buffer counts for every watched prefix its name
 * starts with, found with one lookup per watched prefix length (at most 31;
 * globals.prefix_lengths says which). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, char[DMABUFD_NAME_LEN]);
	__type(value, __u32);
} prefixes SEC(".maps");

/* Per-slot results, mmapped by userspace: reading a name's stats costs no
 * syscall. Same max_entries as "watched". */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct dmabufd_slot_stats);
} stats SEC(".maps");

/* Totals per exporter ("system", "udmabuf", a GPU driver): the exporter's name,
 * zero-padded to 32 bytes -> its count and bytes in the pass that last saw it.
 * Userspace reads the current pass's entries and deletes the others. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, DMABUFD_MAX_EXPORTERS);
	__type(key, char[DMABUFD_NAME_LEN]);
	__type(value, struct dmabufd_slot_stats);
} exporters SEC(".maps");

/* Records of the buffers collect_buffers asks for; size set at open. A listing
 * larger than the ring takes several runs (windows, see globals.records_from):
 * the ring's size bounds memory, never what a listing can hold. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20);
} records SEC(".maps");

/* The only .bss variable, so it sits at offset 0 of the mmapped .bss map. */
struct dmabufd_globals globals;

/* References to the buffer's file other than the pass's own: the iterator holds one on
 * the buffer it hands out, and f_ref stores the count minus one, so the stored value is
 * the answer. The iterator never hands out a file being freed. */
static __always_inline __u64 references_besides_ours(struct dma_buf *buf)
{
	return BPF_CORE_READ(buf, file, f_ref.refcnt.counter);
}

/* Copies the buffer's name into name (all zero when unnamed). DMA_BUF_SET_NAME swaps
 * the pointer under name_lock, which a BPF program cannot take, and frees the old name
 * at once: so the pointer is read again after the copy, and a copy whose pointer moved
 * meanwhile (it may have come from freed memory) is taken again. A name renamed on
 * every try reads as unnamed for this pass: never bytes that were not a name. */
static __always_inline void read_name(struct dma_buf *buf, char *name)
{
	const char *before;
	int tries;

#pragma unroll
	for (tries = 0; tries < 3; tries++) {
		/* The whole 32 bytes are the hash key, and bpf_probe_read_kernel_str leaves
		 * the tail as it was: zero it first. */
		__builtin_memset(name, 0, DMABUFD_NAME_LEN);
		before = BPF_CORE_READ(buf, name);
		if (!before)
			return;
		bpf_probe_read_kernel_str(name, DMABUFD_NAME_LEN, before);
		if (BPF_CORE_READ(buf, name) == before)
			return;
	}
	__builtin_memset(name, 0, DMABUFD_NAME_LEN);
}

/* Sends one buffer's record; returns 1 when the ring buffer was full. */
static __always_inline int send_record(struct dma_buf *buf, __u64 inode, __u64 size, const char *name)
{
	struct dmabufd_record *r;
	const char *exporter;

	r = bpf_ringbuf_reserve(&records, sizeof(*r), 0);
	if (!r)
		return 1;
	r->inode = inode;
	r->size = size;
	r->references = references_besides_ours(buf);
	__builtin_memcpy(r->name, name, DMABUFD_NAME_LEN);
	/* Reserved memory is not zeroed: clear it so the padding is NULs. */
	__builtin_memset(r->exporter, 0, DMABUFD_NAME_LEN);
	exporter = BPF_CORE_READ(buf, exp_name);
	if (exporter)
		bpf_probe_read_kernel_str(r->exporter, DMABUFD_NAME_LEN, exporter);
	bpf_ringbuf_submit(r, 0);
	return 0;
}

/* Adds one buffer to totals. Lazy refresh: totals last touched by an older pass
 * start over, so nothing has to clear them before a pass. */
static __always_inline void add_buffer(struct dmabufd_slot_stats *st, __u64 size, __u64 pass)
{
	if (st->pass_id != pass) {
		st->pass_id = pass;
		st->count = 0;
		st->bytes = 0;
	}
	st->count += 1;
	st->bytes += size;
}

/* Adds one buffer to a slot found in "watched" or "prefixes" (NULL: none). */
static __always_inline void count_slot(__u32 *slot, __u64 size, __u64 pass)
{
	struct dmabufd_slot_stats *st;
	__u32 idx;

	if (!slot)
		return;
	idx = *slot;
	st = bpf_map_lookup_elem(&stats, &idx);
	if (!st)
		return;
	add_buffer(st, size, pass);
	globals.buffer_matched = 1;
}

/* An exporter's name as a key of "exporters": a struct, so that a global
 * function can take a pointer to it (the verifier then knows its size). */
struct exporter_key {
	char name[DMABUFD_NAME_LEN];
};

/* Adds one buffer to its exporter's totals. A global function: the verifier
 * checks it once, on its own, instead of along every path through the pass
 * loop, where its branches doubled the program's load time. */
__noinline int count_exporter(struct exporter_key *key, __u64 size, __u64 pass)
{
	struct dmabufd_slot_stats *st, fresh = { .pass_id = pass };

	if (!key)
		return 0;
	st = bpf_map_lookup_elem(&exporters, key);
	if (!st) {
		/* Fails only when the map is full: that exporter goes uncounted. */
		if (bpf_map_update_elem(&exporters, key, &fresh, BPF_NOEXIST))
			return 0;
		st = bpf_map_lookup_elem(&exporters, key);
		if (!st)
			return 0;
	}
	add_buffer(st, size, pass);
	return 0;
}

/* One buffer's walk over the prefixes of its name. */
struct prefix_walk {
	char name[DMABUFD_NAME_LEN];
	char key[DMABUFD_NAME_LEN];
	__u64 size;
	__u64 pass;
	__u32 lengths; /* globals.prefix_lengths */
};

/* Step i of the walk: the key grows by name[i] (its tail stays zero), and is
 * looked up when some watched prefix is i + 1 bytes long; the walk ends past the
 * longest. A bpf_loop callback: the verifier checks it once, not once per name
 * length. */
static long count_prefix_step(__u64 i, struct prefix_walk *walk)
{
	if (i >= DMABUFD_NAME_LEN - 1 || !walk->name[i] || !(walk->lengths >> i))
		return 1;
	walk->key[i] = walk->name[i];
	if (walk->lengths & (1U << i))
		count_slot(bpf_map_lookup_elem(&prefixes, walk->key), walk->size, walk->pass);
	return 0;
}

/* Counts the buffer for every watched prefix its name starts with. */
static __always_inline void count_prefixes(const char *name, __u64 size, __u64 pass, __u32 lengths)
{
	struct prefix_walk walk = { .size = size, .pass = pass, .lengths = lengths };

	__builtin_memcpy(walk.name, name, DMABUFD_NAME_LEN);
	bpf_loop(DMABUFD_NAME_LEN - 1, count_prefix_step, &walk, 0);
}

/* records_resume_at while the ring still takes records. */
#define WINDOW_OPEN (~0ULL)

/* Whether the buffer at walk position `position` sends its record in this run: it is
 * one the pass collects, at or past records_from, and the ring has not filled. A
 * global function, like count_exporter: its branches stay out of the pass loop. */
__noinline int in_window(__u64 position, __u32 collect)
{
	if (globals.records_resume_at != WINDOW_OPEN || position < globals.records_from)
		return 0;
	return collect == DMABUFD_COLLECT_ALL || (collect == DMABUFD_COLLECT_MATCHED && globals.buffer_matched);
}

/* Spreads an inode over 64 bits (a multiply-xorshift), so that the sum of these
 * over two different sets of buffers practically never agrees. */
static __always_inline __u64 inode_hash(__u64 inode)
{
	__u64 h = inode * 0x9e3779b97f4a7c15ULL;

	return h ^ (h >> 29);
}

SEC("syscall")
int dmabufd_pass(void *ctx)
{
	__u64 pass = globals.pass_id;
	int collect = globals.collect_buffers;
	__u32 prefix_lengths = globals.prefix_lengths;
	__u64 buffers = 0, bytes = 0, fingerprint = 0, inode = 0;
	struct bpf_iter_dmabuf it;
	struct dma_buf *buf;
	char name[DMABUFD_NAME_LEN];
	struct exporter_key exporter;
	const char *pexporter;
	__u64 size;

	/* libbpf 1.1 has no bpf_for_each: the new/next/destroy loop by hand. */
	globals.records_resume_at = WINDOW_OPEN;
	bpf_iter_dmabuf_new(&it);
	while ((buf = bpf_iter_dmabuf_next(&it))) {
		size = BPF_CORE_READ(buf, size);
		read_name(buf, name); /* unnamed: all zero, never watched */

		__builtin_memset(&exporter, 0, sizeof(exporter));
		pexporter = BPF_CORE_READ(buf, exp_name);
		if (pexporter)
			bpf_probe_read_kernel_str(exporter.name, sizeof(exporter.name), pexporter);

		if (collect != DMABUFD_COLLECT_NONE) {
			inode = BPF_CORE_READ(buf, file, f_inode, i_ino);
			fingerprint += inode_hash(inode);
		}
		count_exporter(&exporter, size, pass);
		globals.buffer_matched = 0;
		if (name[0]) {
			count_slot(bpf_map_lookup_elem(&watched, name), size, pass);
			if (prefix_lengths)
				count_prefixes(name, size, pass, prefix_lengths);
		}
		if (in_window(buffers, collect) && send_record(buf, inode, size, name))
			globals.records_resume_at = buffers; /* the ring is full: the window ends */
		buffers += 1;
		bytes += size;
	}
	bpf_iter_dmabuf_destroy(&it);

	globals.buffers = buffers;
	globals.bytes = bytes;
	if (globals.records_resume_at == WINDOW_OPEN)
		globals.records_resume_at = buffers;
	globals.walk_fingerprint = fingerprint;
	globals.finished_pass_id = pass;
	return 0;
}
