/* libbpf for Swift: the library's own headers, the record layouts shared with
 * the BPF program, and static inline wrappers (prefixed CLibbpf_) only for
 * what Swift cannot call directly. */
#ifndef CLIBBPF_SHIM_H
#define CLIBBPF_SHIM_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/libbpf.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include "../../bpf/dmabufd.h"

/* BTF_KIND_FUNC is both an enum constant (linux/btf.h) and a macro (bpf/btf.h): ambiguous in Swift. */
static inline __u32 CLibbpf_btf_kind_func(void) { return BTF_KIND_FUNC; }
static inline __u32 CLibbpf_btf_kind_struct(void) { return BTF_KIND_STRUCT; }

/* LIBBPF_OPTS is a macro; opens an ELF image from memory under a chosen object name. */
static inline struct bpf_object *CLibbpf_object_open_mem(const void *buf, size_t size, const char *name) {
    LIBBPF_OPTS(bpf_object_open_opts, opts, .object_name = name);
    return bpf_object__open_mem(buf, size, &opts);
}

/* LIBBPF_OPTS is a macro; runs a syscall program once (no ctx, data or repeat: the kernel rejects them). */
static inline int CLibbpf_prog_test_run(int prog_fd, __u32 *retval) {
    LIBBPF_OPTS(bpf_test_run_opts, opts);
    int err = bpf_prog_test_run_opts(prog_fd, &opts);
    *retval = opts.retval;
    return err;
}

/* va_copy is a macro (a va_list is read once): formats a libbpf message keeping its LAST size-1 bytes (a verifier log ends with its verdict). */
static inline void CLibbpf_format_tail(char *buf, size_t size, const char *fmt, va_list ap) {
    va_list copy;
    va_copy(copy, ap);
    int n = vsnprintf(NULL, 0, fmt, copy);
    va_end(copy);
    char *all = n >= 0 && (size_t)n >= size ? malloc((size_t)n + 1) : NULL;
    if (!all) {
        vsnprintf(buf, size, fmt, ap);
        return;
    }
    vsnprintf(all, (size_t)n + 1, fmt, ap);
    memcpy(buf, all + (size_t)n - (size - 1), size);  /* size-1 bytes and the NUL */
    free(all);
}

/* Swift reads these through mmapped maps: the array's element stride is the value size rounded up to 8. */
_Static_assert(sizeof(struct dmabufd_slot_stats) == 24, "stats slot layout");
_Static_assert(sizeof(struct dmabufd_slot_stats) % 8 == 0, "array stride must equal the struct size");
_Static_assert(sizeof(struct dmabufd_record) == 88, "ring buffer record layout");
_Static_assert(offsetof(struct dmabufd_globals, finished_pass_id) == 56, "globals layout");
_Static_assert(sizeof(struct dmabufd_globals) == 72, "globals layout");
_Static_assert(sizeof(struct dmabufd_holder_record) == 72, "holder record layout");

#endif /* CLIBBPF_SHIM_H */
