/* Minimal CO-RE view of the kernel types dmabufd's programs read.
 *
 * Only the fields the program touches are declared; preserve_access_index
 * makes clang record each access as a CO-RE relocation, and libbpf fixes the
 * offsets against the running kernel's BTF at load time. No vmlinux.h needed.
 */
#ifndef DMABUF_CORE_H
#define DMABUF_CORE_H

#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h> /* __weak, __ksym */

struct super_block {
	unsigned long s_magic;
} __attribute__((preserve_access_index));

struct inode {
	unsigned long i_ino;
	struct super_block *i_sb;
} __attribute__((preserve_access_index));

struct file {
	struct inode *f_inode;
	void *private_data; /* a DMA-BUF's file: its struct dma_buf */
	/* file_ref_t (Linux 6.13+, so every kernel with the DMA-BUF iterator): the
	 * reference count minus one; from FILE_REF_RELEASED on, the file is being freed. */
	struct {
		struct {
			long counter;
		} refcnt;
	} f_ref;
} __attribute__((preserve_access_index));

struct dma_buf {
	__kernel_size_t size;
	struct file *file;
	const char *exp_name;
	const char *name; /* NULL until DMA_BUF_SET_NAME */
} __attribute__((preserve_access_index));

/* What holds a buffer: a task's credentials, cgroups and mappings. */
struct cred {
	struct {
		__u32 val;
	} euid; /* kuid_t */
} __attribute__((preserve_access_index));

struct kernfs_node {
	__u64 id; /* on cgroup2, the cgroup directory's inode number */
} __attribute__((preserve_access_index));

struct cgroup {
	struct kernfs_node *kn;
} __attribute__((preserve_access_index));

struct css_set {
	struct cgroup *dfl_cgrp; /* the task's cgroup in the v2 hierarchy */
} __attribute__((preserve_access_index));

struct ns_common {
	unsigned int inum;
} __attribute__((preserve_access_index));

struct pid_namespace {
	struct ns_common ns;
} __attribute__((preserve_access_index));

struct upid {
	int nr;
	struct pid_namespace *ns;
} __attribute__((preserve_access_index));

struct pid {
	unsigned int level; /* numbers[level] is the innermost namespace's */
	struct upid numbers[];
} __attribute__((preserve_access_index));

struct task_struct {
	int tgid;
	char comm[16];
	struct cred *cred; /* const in the kernel; CO-RE does not care */
	struct css_set *cgroups;
	struct pid *thread_pid;
	struct task_struct *group_leader;
} __attribute__((preserve_access_index));

struct vm_area_struct {
	unsigned long vm_start;
	struct file *vm_file;
} __attribute__((preserve_access_index));

/* The task iterators' contexts (kernel/bpf/task_iter.c). */
struct seq_file;

struct bpf_iter_meta {
	struct seq_file *seq;
} __attribute__((preserve_access_index));

struct bpf_iter__task_file {
	struct bpf_iter_meta *meta;
	struct task_struct *task;
	__u32 fd;
	struct file *file;
} __attribute__((preserve_access_index));

struct bpf_iter__task_vma {
	struct bpf_iter_meta *meta;
	struct task_struct *task;
	struct vm_area_struct *vma;
} __attribute__((preserve_access_index));

/* The open-coded iterator's state. It lives on the program's stack; its
 * name and size must match the kernel's (the verifier checks both). */
struct bpf_iter_dmabuf {
	__u64 __opaque[1];
} __attribute__((aligned(8)));

/* Linux 6.16+ kfuncs. __weak lets the object open on older kernels; the loader
 * checks the kernel's BTF for bpf_iter_dmabuf_new before loading, because
 * libbpf 1.1 turns a missing weak kfunc into a call the verifier rejects with
 * a misleading error. */
extern int bpf_iter_dmabuf_new(struct bpf_iter_dmabuf *it) __weak __ksym;
extern struct dma_buf *bpf_iter_dmabuf_next(struct bpf_iter_dmabuf *it) __weak __ksym;
extern void bpf_iter_dmabuf_destroy(struct bpf_iter_dmabuf *it) __weak __ksym;

#endif /* DMABUF_CORE_H */
