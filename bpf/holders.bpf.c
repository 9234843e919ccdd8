// SPDX-License-Identifier: GPL-2.0
/* Who holds each DMA-BUF: two task iterators, attached once as iterator links
 * and read whole on each attribution pass (bpf_iter_create, then read()).
 *
 * iter/task_file sees every open file of every process (threads that share a
 * file table are visited once); iter/task_vma every mapping. Each writes one
 * struct dmabufd_holder_record per DMA-BUF it meets. Names are not read here:
 * user space joins these records with the DMA-BUF pass on the inode.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "dmabuf_core.h"
#include "dmabufd.h"

char LICENSE[] SEC("license") = "GPL";

/* Clients asking who holds what, by tgid, filled by user space before a walk: each gets
 * one DMABUFD_IDENTITY record saying which pid namespace it is in. dmabufd, with no
 * capability left, may not ask the kernel that through a client's pidfd (a ptrace
 * check); the walk sees every task anyway. A key is deleted once written. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, DMABUFD_MAX_ASKING);
	__type(key, __u32);
	__type(value, __u8);
} asking SEC(".maps");

/* A DMA-BUF is any file of the dma-buf pseudo filesystem, whatever exported it. */
static __always_inline int is_dmabuf(struct file *file)
{
	return BPF_CORE_READ(file, f_inode, i_sb, s_magic) == DMABUFD_DMA_BUF_MAGIC;
}

/* The process's id in its innermost pid namespace, and that namespace: what a client
 * in that namespace calls it. numbers[] is indexed by a level only known at run time,
 * so its address is computed as a number and read as plain kernel memory. */
static __always_inline void read_namespaced_pid(struct task_struct *task, struct dmabufd_holder_record *record)
{
	struct pid *pid = BPF_CORE_READ(task, group_leader, thread_pid);
	unsigned int level = BPF_CORE_READ(pid, level);
	unsigned long address;
	struct upid upid = {};

	if (!pid || level > 32) /* the kernel nests at most 32 deep (MAX_PID_NS_LEVEL) */
		return;
	address = (unsigned long)pid + bpf_core_field_offset(struct pid, numbers) +
		  level * bpf_core_type_size(struct upid);
	if (bpf_probe_read_kernel(&upid, sizeof(upid), (void *)address))
		return;
	record->ns_pid = upid.nr;
	record->pid_ns = BPF_CORE_READ(upid.ns, ns.inum);
}

static __always_inline void write_holder(struct seq_file *seq, struct task_struct *task, struct file *file,
					 __u32 hold, __u64 where)
{
	struct dmabufd_holder_record record = {};
	struct dma_buf *buf = BPF_CORE_READ(file, private_data);

	record.inode = BPF_CORE_READ(file, f_inode, i_ino);
	record.size = BPF_CORE_READ(buf, size);
	record.cgroup_id = BPF_CORE_READ(task, cgroups, dfl_cgrp, kn, id);
	record.where = where;
	record.tgid = BPF_CORE_READ(task, tgid);
	record.uid = BPF_CORE_READ(task, cred, euid.val);
	record.hold = hold;
	read_namespaced_pid(task, &record);
	BPF_CORE_READ_INTO(&record.comm, task, comm);
	bpf_seq_write(seq, &record, sizeof(record));
}

/* One record for a client that asked: who it is, in which pid namespace. */
static __always_inline void write_identity(struct seq_file *seq, struct task_struct *task, __u32 tgid)
{
	struct dmabufd_holder_record record = { .tgid = tgid, .hold = DMABUFD_IDENTITY };

	read_namespaced_pid(task, &record);
	bpf_seq_write(seq, &record, sizeof(record));
}

SEC("iter/task_file")
int dmabufd_task_files(struct bpf_iter__task_file *ctx)
{
	struct task_struct *task = ctx->task;
	struct file *file = ctx->file;
	__u32 tgid;

	/* The last call of a walk has neither: nothing to write. */
	if (!task || !file)
		return 0;
	tgid = BPF_CORE_READ(task, tgid);
	/* A client has at least its connection open, so it is met here. */
	if (bpf_map_lookup_elem(&asking, &tgid)) {
		write_identity(ctx->meta->seq, task, tgid);
		bpf_map_delete_elem(&asking, &tgid);
	}
	if (!is_dmabuf(file))
		return 0;
	write_holder(ctx->meta->seq, task, file, DMABUFD_HOLD_FD, ctx->fd);
	return 0;
}

SEC("iter/task_vma")
int dmabufd_task_mappings(struct bpf_iter__task_vma *ctx)
{
	struct task_struct *task = ctx->task;
	struct vm_area_struct *vma = ctx->vma;
	struct file *file;

	if (!task || !vma)
		return 0;
	file = BPF_CORE_READ(vma, vm_file);
	if (!file || !is_dmabuf(file))
		return 0;
	write_holder(ctx->meta->seq, task, file, DMABUFD_HOLD_MAPPING, BPF_CORE_READ(vma, vm_start));
	return 0;
}
