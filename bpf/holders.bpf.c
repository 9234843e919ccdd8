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

/* A DMA-BUF is any file of the dma-buf pseudo filesystem, whatever exported it. */
static __always_inline int is_dmabuf(struct file *file)
{
	return BPF_CORE_READ(file, f_inode, i_sb, s_magic) == DMABUFD_DMA_BUF_MAGIC;
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
	BPF_CORE_READ_INTO(&record.comm, task, comm);
	bpf_seq_write(seq, &record, sizeof(record));
}

SEC("iter/task_file")
int dmabufd_task_files(struct bpf_iter__task_file *ctx)
{
	struct task_struct *task = ctx->task;
	struct file *file = ctx->file;

	/* The last call of a walk has neither: nothing to write. */
	if (!task || !file || !is_dmabuf(file))
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
