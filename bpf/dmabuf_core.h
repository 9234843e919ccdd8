/* Minimal CO-RE view of the kernel types dmabufd.bpf.c reads.
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

struct inode {
	unsigned long i_ino;
} __attribute__((preserve_access_index));

struct file {
	struct inode *f_inode;
} __attribute__((preserve_access_index));

struct dma_buf {
	__kernel_size_t size;
	struct file *file;
	const char *exp_name;
	const char *name; /* NULL until DMA_BUF_SET_NAME */
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
