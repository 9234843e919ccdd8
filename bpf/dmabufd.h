/* Record layouts shared by the BPF program (bpf/dmabufd.bpf.c) and its Swift
 * owner (Sources/Scanner, through Sources/CLibbpf/shim.h). Plain C: every
 * field is a fixed-width type so both compilers agree on the layout. */
#ifndef DMABUFD_H
#define DMABUFD_H

#include <linux/types.h>

/* The kernel keeps at most 31 name bytes plus a NUL (DMA_BUF_NAME_LEN). */
#define DMABUFD_NAME_LEN 32

/* One watched name's or prefix's result, in the mmapable "stats" array at its slot,
 * and one exporter's in the "exporters" map. The program resets count/bytes lazily:
 * when pass_id is not the current pass, they are an older pass's and count as zero. */
struct dmabufd_slot_stats {
	__u64 pass_id;
	__u64 count;
	__u64 bytes;
};

/* Exporters the "exporters" map counts in one pass; buffers of any more are
 * counted in the host totals only (userspace sees the sums differ). */
#define DMABUFD_MAX_EXPORTERS 256

/* One buffer, as sent through the "records" ring buffer. name and exporter
 * are NUL-padded; an all-zero name means the buffer is unnamed. */
struct dmabufd_record {
	__u64 inode;
	__u64 size;
	/* References to the buffer's file: one per fd (dup'd ones too) and per mapping,
	 * and whatever the kernel holds (a driver, a socket message in flight). */
	__u64 references;
	char name[DMABUFD_NAME_LEN];
	char exporter[DMABUFD_NAME_LEN];
};

/* Which buffers' records go to the ring buffer in a pass. */
enum dmabufd_collect {
	DMABUFD_COLLECT_NONE = 0,
	DMABUFD_COLLECT_ALL = 1,     /* every buffer (List) */
	DMABUFD_COLLECT_MATCHED = 2, /* buffers that matched a watched name or prefix (details) */
};

/* The dma-buf pseudo filesystem's magic (include/uapi/linux/magic.h): a file
 * whose inode's superblock carries it is a DMA-BUF. */
#define DMABUFD_DMA_BUF_MAGIC 0x444d4142

/* How a process holds a buffer. */
enum dmabufd_hold {
	DMABUFD_HOLD_FD = 0,      /* an open file descriptor */
	DMABUFD_HOLD_MAPPING = 1, /* a mapping of the buffer (its fd may be closed) */
	DMABUFD_IDENTITY = 2,     /* no hold: a client that asked, and its pid namespace */
};

/* Clients one walk can identify at most ("asking" map). */
#define DMABUFD_MAX_ASKING 1024

/* One hold of one buffer by one process, as the task iterators write it to
 * their seq_file: user space reads whole records and joins them on the inode. */
struct dmabufd_holder_record {
	__u64 inode;
	__u64 size;
	__u64 cgroup_id; /* the holder's cgroup v2 id (= its directory's inode) */
	__u64 where;     /* the fd number, or the mapping's start address */
	__u32 tgid;      /* the process, in the reader's pid namespace */
	__u32 uid;       /* its effective uid */
	__u32 hold;      /* enum dmabufd_hold */
	__u32 ns_pid;    /* the process's id in its own (innermost) pid namespace */
	__u64 pid_ns;    /* that namespace's inode number (its ns.inum) */
	char comm[16];
};

/* The program's global data, the only variable in .bss (so it sits at offset
 * 0 of the mmapped .bss map). */
struct dmabufd_globals {
	/* Written by userspace before each run: a stamp that is new for every
	 * run, even a failed one, so a slot is never mistaken for current. */
	__u64 pass_id;
	/* Written by userspace before each run: an enum dmabufd_collect. */
	__u32 collect_buffers;
	/* Written by userspace when prefixes come and go: bit n - 1 is set while a
	 * prefix of n bytes is watched. The program looks up only those lengths;
	 * zero skips the prefix walk. */
	__u32 prefix_lengths;
	/* Written by userspace before each run that collects: the walk position
	 * (0 = the first buffer walked) whose record comes first. Records go
	 * through the ring in windows: a run sends records from here until the
	 * ring is full, userspace drains it and runs the next window. */
	__u64 records_from;
	/* Written by the program at the end of the run. */
	__u64 buffers;
	__u64 bytes;
	/* The walk position of the first record that did not fit in the ring
	 * (where the next window starts), or buffers when every one did. */
	__u64 records_resume_at;
	/* A sum over the buffers walked of a hash of each inode, when collecting:
	 * the windows of one listing saw the same buffers when theirs agree. */
	__u64 walk_fingerprint;
	__u64 finished_pass_id; /* = pass_id once the run completed */
	/* The program's scratch: whether the current buffer counted for any watch.
	 * Set from count_slot, including inside the bpf_loop prefix callback, which
	 * can only report back through memory; map memory also keeps the verifier
	 * from splitting its states on the flag. */
	__u64 buffer_matched;
};

#endif /* DMABUFD_H */
