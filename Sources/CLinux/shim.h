#ifndef CLINUX_SHIM_H
#define CLINUX_SHIM_H

// Linux process calls Swift cannot make itself: prctl(2) is variadic, glibc has no
// capset(2) wrapper, and Glibc's Swift module leaves out malloc.h and the _GNU_SOURCE
// setresuid(2) and setresgid(2).
#include <linux/capability.h>
#include <malloc.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static inline int CLinux_prctl(int option, unsigned long argument) {
    return prctl(option, argument, 0UL, 0UL, 0UL);
}

// Sets the calling thread's capability sets (64-bit masks, bit n = capability n).
static inline int CLinux_capset(uint64_t effective, uint64_t permitted, uint64_t inheritable) {
    struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2] = {
        {(uint32_t)effective, (uint32_t)permitted, (uint32_t)inheritable},
        {(uint32_t)(effective >> 32), (uint32_t)(permitted >> 32), (uint32_t)(inheritable >> 32)},
    };
    return (int)syscall(SYS_capset, &header, data);
}

int setresuid(uid_t ruid, uid_t euid, uid_t suid);
int setresgid(gid_t rgid, gid_t egid, gid_t sgid);

// Real, effective and saved ids all become `uid` (`gid`): no way back to the old ones.
// glibc's wrappers change every thread's ids, not only the caller's.
static inline int CLinux_setresuid(uid_t uid) {
    return setresuid(uid, uid, uid);
}

static inline int CLinux_setresgid(gid_t gid) {
    return setresgid(gid, gid, gid);
}

// Hands the free memory at the top of every malloc arena back to the kernel.
static inline int CLinux_malloc_trim(void) {
    return malloc_trim(0);
}

#endif
