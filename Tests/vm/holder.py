#!/usr/bin/env python3
"""A process that holds DMA-BUFs the way an attribution test tells it to, then waits.

The test passes it buffer fds (subprocess's pass_fds keeps their numbers) and says, per
fd, how to hold it:

    holder.py --name cam-a --fd 5 --dup 5 --map 7 --threads 3 --cgroup /sys/fs/cgroup/t/a --uid 65534

- ``--fd N``: keep fd N open; ``--dup N``: one more fd for the same buffer;
- ``--map N``: map the buffer (read-only, shared); its fd is closed unless ``--fd N`` too;
- ``--threads K``: K more threads, all waiting (a process is counted once, whatever its threads);
- ``--cgroup DIR``: move into that cgroup (before ``--uid``);
- ``--uid U``: become that uid once everything is held (the holds stay);
- ``--name``: the command name (comm) the kernel reports.

It prints one line, ``ready <pid>``, once everything is held, and holds it until its stdin
closes."""
import argparse
import ctypes
import mmap
import os
import sys
import threading

PR_SET_NAME = 15


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--name", required=True)
    parser.add_argument("--fd", type=int, action="append", default=[])
    parser.add_argument("--dup", type=int, action="append", default=[])
    parser.add_argument("--map", type=int, action="append", default=[])
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--cgroup")
    parser.add_argument("--uid", type=int)
    args = parser.parse_args()

    libc = ctypes.CDLL(None, use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long)
    if libc.prctl(PR_SET_NAME, args.name.encode(), 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NAME)")
    for fd in args.dup:
        os.dup(fd)
    for fd in args.map:
        # libc's mmap, not Python's: mmap.mmap keeps a duplicate of the fd, which would
        # make a mapping-only hold an fd hold too.
        size = os.lseek(fd, 0, os.SEEK_END)
        if libc.mmap(None, size, mmap.PROT_READ, mmap.MAP_SHARED, fd, 0) in (None, ctypes.c_void_p(-1).value):
            raise OSError(ctypes.get_errno(), "mmap")
        if fd not in args.fd:
            os.close(fd)
    if args.cgroup:
        with open(os.path.join(args.cgroup, "cgroup.procs"), "w") as procs:
            procs.write(str(os.getpid()))
    stop = threading.Event()
    threads = [threading.Thread(target=stop.wait) for _ in range(args.threads)]
    for thread in threads:
        thread.start()
    if args.uid is not None:
        os.setresuid(args.uid, args.uid, args.uid)
    print(f"ready {os.getpid()}", flush=True)
    sys.stdin.read()
    stop.set()
    for thread in threads:
        thread.join()
    return 0


if __name__ == "__main__":
    sys.exit(main())
