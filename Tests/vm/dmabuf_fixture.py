#!/usr/bin/env python3
"""Creates, names, renames and frees real DMA-BUFs, and reports exactly what it made.

Two exporters, both built into the VM's kernel:

- ``udmabuf``: a sealed memfd (MFD_ALLOW_SEALING, ftruncate, F_SEAL_SHRINK) turned into a
  DMA-BUF with UDMABUF_CREATE on /dev/udmabuf; the memfd is closed right after (the
  buffer keeps its pages);
- ``system``: DMA_HEAP_IOCTL_ALLOC on /dev/dma_heap/system.

A buffer is named with DMA_BUF_SET_NAME_B on its fd, or left unnamed (never named). The
"truth" of a buffer is what the kernel holds for it, read back from the buffer's own fd:
its inode (fstat), its size (lseek to the end, which dma-buf answers with its size), the
name this program last set and the exporter it used.

As a module::

    with BufferSet() as buffers:
        ids = buffers.create("camera-0", 4096, "udmabuf", count=2)
        buffers.rename(ids[0], "camera-1")
        buffers.close(ids[1])
        buffers.truth()        # [{"id", "inode", "size", "name", "exporter"}, ...]

As a program, one command a line on stdin, one JSON answer a line on stdout::

    create udmabuf camera-0 4096 2     -> {"ok": true, "ids": [1, 2]}
    create-unnamed system 8192 1       -> {"ok": true, "ids": [3]}
    rename 1 camera-1                  -> {"ok": true}
    close 2                            -> {"ok": true}
    list                               -> {"ok": true, "buffers": [...]}
    close-all | quit                   (end of input also quits; every buffer is freed)

Words are split like a shell does (quote a name with spaces). A line that starts with
``{`` is a JSON command for names no shell word can carry, e.g.
``{"cmd": "create", "exporter": "udmabuf", "name": "a\\nb", "size": 4096, "count": 1}``
(``"name": null`` for unnamed), ``{"cmd": "rename", "id": 1, "name": "x"}``,
``{"cmd": "close", "id": 1}``. A failure answers ``{"ok": false, "error": "..."}`` and the
program goes on.
"""
import ctypes
import errno
import fcntl
import json
import os
import resource
import shlex
import struct
import sys


def _ioc(direction, kind, number, size):
    """The kernel's _IOC() (include/uapi/asm-generic/ioctl.h): dir:2 | size:14 | type:8 | nr:8."""
    return (direction << 30) | (size << 16) | (ord(kind) << 8) | number


_IOC_WRITE = 1
_IOC_READ = 2

# linux/udmabuf.h: struct udmabuf_create { __u32 memfd; __u32 flags; __u64 offset; __u64 size; };
#                  #define UDMABUF_FLAGS_CLOEXEC 0x01
#                  #define UDMABUF_CREATE _IOW('u', 0x42, struct udmabuf_create)
UDMABUF_CREATE_LAYOUT = struct.Struct("=IIQQ")
UDMABUF_FLAGS_CLOEXEC = 0x01
UDMABUF_CREATE = _ioc(_IOC_WRITE, "u", 0x42, UDMABUF_CREATE_LAYOUT.size)  # 0x40187542

# linux/dma-heap.h: struct dma_heap_allocation_data { __u64 len; __u32 fd; __u32 fd_flags; __u64 heap_flags; };
#                   #define DMA_HEAP_IOCTL_ALLOC _IOWR('H', 0x0, struct dma_heap_allocation_data)
DMA_HEAP_ALLOCATION_LAYOUT = struct.Struct("=QIIQ")
DMA_HEAP_IOCTL_ALLOC = _ioc(_IOC_READ | _IOC_WRITE, "H", 0x0, DMA_HEAP_ALLOCATION_LAYOUT.size)  # 0xc0184800

# linux/dma-buf.h: #define DMA_BUF_BASE 'b'
#                  #define DMA_BUF_SET_NAME_B _IOW(DMA_BUF_BASE, 1, __u64)
#                  #define DMA_BUF_NAME_LEN 32   (the kernel keeps 31 bytes and a NUL)
# The argument is a pointer to a NUL-terminated string (strndup_user(arg, DMA_BUF_NAME_LEN)).
DMA_BUF_SET_NAME_B = _ioc(_IOC_WRITE, "b", 1, 8)  # 0x40086201
DMA_BUF_NAME_LEN = 32

UDMABUF_DEVICE = "/dev/udmabuf"
SYSTEM_HEAP_DEVICE = "/dev/dma_heap/system"
EXPORTERS = ("udmabuf", "system")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def raise_fd_limit(wanted):
    """Lets this process hold `wanted` descriptors, raising the hard limit too when it may (root)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= wanted:
        return
    target = max(wanted, 2 * soft)
    if hard == resource.RLIM_INFINITY or hard >= target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        return
    with open("/proc/sys/fs/nr_open") as nr_open:
        target = max(wanted, min(target, int(nr_open.read())))
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, target))  # needs CAP_SYS_RESOURCE
    except (OSError, ValueError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # the rest fails with EMFILE


def encode_name(name):
    """The bytes the kernel will hold, checked against its limit (1..31 bytes, no NUL)."""
    raw = name.encode() if isinstance(name, str) else bytes(name)
    if not raw or len(raw) >= DMA_BUF_NAME_LEN or b"\0" in raw:
        raise ValueError(f"a buffer name is 1 to {DMA_BUF_NAME_LEN - 1} bytes without NUL: {name!r}")
    return raw


_libc = ctypes.CDLL(None, use_errno=True)
_libc.ioctl.argtypes = (ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p)
_libc.ioctl.restype = ctypes.c_int


def ioctl(fd, request, argument):
    """ioctl(2) with a pointer to a copy of `argument` (bytes); returns (result, the bytes after).

    Not fcntl.ioctl: given a buffer it drops the call's return value (UDMABUF_CREATE returns
    the new fd there), and given an int it passes a C int, too small for a pointer."""
    buffer = ctypes.create_string_buffer(bytes(argument), len(argument))
    result = _libc.ioctl(fd, request, buffer)
    if result < 0:
        code = ctypes.get_errno()
        raise OSError(code, f"ioctl {request:#x}: {os.strerror(code)}")
    return result, buffer.raw


def set_name(fd, name):
    # The argument is the address of the NUL-terminated name.
    ioctl(fd, DMA_BUF_SET_NAME_B, encode_name(name) + b"\0")


class Buffer:
    __slots__ = ("id", "fd", "inode", "size", "name", "exporter")

    def __init__(self, ident, fd, exporter, name):
        self.id = ident
        self.fd = fd
        self.exporter = exporter
        self.name = name
        self.inode = os.fstat(fd).st_ino
        self.size = os.lseek(fd, 0, os.SEEK_END)  # dma-buf's llseek answers its size
        os.lseek(fd, 0, os.SEEK_SET)

    def truth(self):
        return {"id": self.id, "inode": self.inode, "size": self.size,
                "name": self.name, "exporter": self.exporter}


class BufferSet:
    """The buffers this process holds; each lives until `close` (or the set is closed).

    With `shared_pages`, every udmabuf of a size is made from the same sealed memfd, so
    they share its pages: a quarter of a million buffers then cost the VM their kernel
    structures, not a page each."""

    def __init__(self, shared_pages=False):
        self.buffers = {}
        self.next_id = 1
        self._udmabuf = None
        self._heap = None
        self._shared = {} if shared_pages else None  # size -> memfd

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close_all()

    def _device(self, exporter):
        if exporter == "udmabuf":
            if self._udmabuf is None:
                self._udmabuf = os.open(UDMABUF_DEVICE, os.O_RDWR | os.O_CLOEXEC)
            return self._udmabuf
        if exporter == "system":
            if self._heap is None:
                self._heap = os.open(SYSTEM_HEAP_DEVICE, os.O_RDWR | os.O_CLOEXEC)
            return self._heap
        raise ValueError(f"unknown exporter {exporter!r}; one of {', '.join(EXPORTERS)}")

    def _new_fd(self, exporter, size):
        device = self._device(exporter)
        if exporter == "udmabuf":
            if size <= 0 or size % PAGE_SIZE:
                raise ValueError(f"a udmabuf size is a positive multiple of {PAGE_SIZE}: {size}")
            memfd = self._shared.get(size) if self._shared is not None else None
            if memfd is None:
                memfd = os.memfd_create("dmabuf-fixture", os.MFD_ALLOW_SEALING | os.MFD_CLOEXEC)
                os.ftruncate(memfd, size)
                fcntl.fcntl(memfd, fcntl.F_ADD_SEALS, fcntl.F_SEAL_SHRINK)
                if self._shared is not None:
                    self._shared[size] = memfd
            try:
                request = UDMABUF_CREATE_LAYOUT.pack(memfd, UDMABUF_FLAGS_CLOEXEC, 0, size)
                return ioctl(device, UDMABUF_CREATE, request)[0]  # the new buffer's fd
            finally:
                if self._shared is None:
                    os.close(memfd)
        if size <= 0:
            raise ValueError(f"a buffer size is positive: {size}")
        request = DMA_HEAP_ALLOCATION_LAYOUT.pack(size, 0, os.O_RDWR | os.O_CLOEXEC, 0)
        return DMA_HEAP_ALLOCATION_LAYOUT.unpack(ioctl(device, DMA_HEAP_IOCTL_ALLOC, request)[1])[1]

    def create(self, name, size, exporter="udmabuf", count=1):
        """`count` buffers of `size` bytes named `name` (None: never named); their ids."""
        if name is not None:
            encode_name(name)
        raise_fd_limit(len(self.buffers) + count + 64)
        ids = []
        for _ in range(count):
            fd = self._new_fd(exporter, size)
            try:
                if name is not None:
                    set_name(fd, name)
                buffer = Buffer(self.next_id, fd, exporter, name)
            except BaseException:
                os.close(fd)
                raise
            self.buffers[buffer.id] = buffer
            self.next_id += 1
            ids.append(buffer.id)
        return ids

    def rename(self, ident, name):
        buffer = self.buffers[ident]
        set_name(buffer.fd, name)
        buffer.name = name

    def close(self, ident):
        os.close(self.buffers.pop(ident).fd)

    def close_all(self):
        for ident in list(self.buffers):
            self.close(ident)
        for fd in (self._udmabuf, self._heap, *(self._shared or {}).values()):
            if fd is not None:
                os.close(fd)
        self._udmabuf = self._heap = None
        if self._shared:
            self._shared = {}

    def ids(self):
        return list(self.buffers)

    def truth(self):
        """Every buffer this set holds, as the kernel holds it, in creation order."""
        return [buffer.truth() for buffer in self.buffers.values()]

    def expected(self, names):
        """name -> (count, bytes) over this set's buffers, for each of `names`."""
        result = {name: [0, 0] for name in names}
        for buffer in self.buffers.values():
            if buffer.name in result:
                result[buffer.name][0] += 1
                result[buffer.name][1] += buffer.size
        return {name: tuple(value) for name, value in result.items()}

    def expected_prefixes(self, prefixes):
        """prefix -> (count, bytes) over this set's buffers whose name starts with it (bytes)."""
        result = {prefix: [0, 0] for prefix in prefixes}
        for buffer in self.buffers.values():
            if buffer.name is None:
                continue
            for prefix, value in result.items():
                if buffer.name.encode().startswith(prefix.encode()):
                    value[0] += 1
                    value[1] += buffer.size
        return {prefix: tuple(value) for prefix, value in result.items()}

    def totals(self):
        return len(self.buffers), sum(buffer.size for buffer in self.buffers.values())


def _command(buffers, line):
    if line.startswith("{"):
        request = json.loads(line)
        cmd = request.get("cmd")
        args = request
    else:
        words = shlex.split(line)
        if not words:
            return None
        cmd, rest = words[0], words[1:]
        args = {}
        if cmd == "create" and len(rest) in (3, 4):
            args = {"exporter": rest[0], "name": rest[1], "size": int(rest[2], 0),
                    "count": int(rest[3]) if len(rest) == 4 else 1}
        elif cmd == "create-unnamed" and len(rest) in (2, 3):
            cmd = "create"
            args = {"exporter": rest[0], "name": None, "size": int(rest[1], 0),
                    "count": int(rest[2]) if len(rest) == 3 else 1}
        elif cmd == "rename" and len(rest) == 2:
            args = {"id": int(rest[0]), "name": rest[1]}
        elif cmd == "close" and len(rest) == 1:
            args = {"id": int(rest[0])}
        elif cmd in ("list", "close-all", "quit") and not rest:
            pass
        else:
            raise ValueError(f"cannot read command {line!r}")
    if cmd == "create":
        ids = buffers.create(args["name"], int(args["size"]), args.get("exporter", "udmabuf"),
                             int(args.get("count", 1)))
        return {"ok": True, "ids": ids}
    if cmd == "rename":
        buffers.rename(int(args["id"]), args["name"])
        return {"ok": True}
    if cmd == "close":
        buffers.close(int(args["id"]))
        return {"ok": True}
    if cmd == "list":
        return {"ok": True, "buffers": buffers.truth()}
    if cmd == "close-all":
        buffers.close_all()
        return {"ok": True}
    if cmd == "quit":
        return {"ok": True, "quit": True}
    raise ValueError(f"unknown command {cmd!r}")


def main():
    with BufferSet() as buffers:
        for line in sys.stdin:
            line = line.strip()
            if not line:
                continue
            try:
                answer = _command(buffers, line)
            except KeyError as error:
                answer = {"ok": False, "error": f"no buffer with id {error.args[0]}"}
            except (OSError, ValueError, json.JSONDecodeError) as error:
                detail = f"{errno.errorcode.get(error.errno, error.errno)}: " if isinstance(error, OSError) and error.errno else ""
                answer = {"ok": False, "error": detail + str(error)}
            if answer is None:
                continue
            print(json.dumps(answer), flush=True)
            if answer.get("quit"):
                break
    return 0


if __name__ == "__main__":
    sys.exit(main())
