"""The moment a fresh service starts accepting connections (slow under emulation, so the
windows between start-up steps are wide here): every user may connect, and SIGTERM already
shuts it down cleanly."""
import errno
import json
import os
import socket
import stat
import tempfile
import time

from conftest import NOBODY, Daemon, call


def _probe_as_nobody(path, write_end, seconds=180):
    """In a forked child: connect to `path` as nobody in a tight loop until it works; report
    how the failed attempts failed and when each kind last did."""
    outcomes = {}
    try:
        os.setgroups([])
        os.setgid(NOBODY)
        os.setuid(NOBODY)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
                try:
                    probe.connect(path)
                except OSError as error:
                    key = errno.errorcode.get(error.errno, str(error.errno))
                    outcomes[key] = outcomes.get(key, 0) + 1
                    outcomes["last " + key] = time.monotonic()  # one clock for every process
                    continue
                outcomes["connected"] = 1
                break
    except BaseException as error:  # reported by the parent
        outcomes["child failed"] = repr(error)
    with os.fdopen(write_end, "w") as out:
        json.dump(outcomes, out)
    os._exit(0)


def test_every_user_may_connect_as_soon_as_the_service_accepts_connections():
    """No moment in which root can connect but others cannot: the socket is open to every
    user (mode 0666) before it accepts a connection.

    A child running as nobody tries to connect in a tight loop while a fresh service starts.
    Before the service listens it gets ENOENT, ECONNREFUSED or (socket file made, mode not
    yet set) EACCES: all fine while root cannot connect either. An EACCES after root has
    connected means the socket accepted connections while its mode still barred others; so
    does a mode other than 0666 seen right after root connected."""
    for attempt in range(3):
        mode_then, late, outcomes = _start_while_nobody_probes()
        assert outcomes.get("connected") == 1, outcomes
        assert mode_then == 0o666, (
            f"attempt {attempt}: root had connected while the socket's mode was {mode_then:o}: "
            f"other users are refused")
        assert late <= 0, (
            f"attempt {attempt}: nobody got EACCES {late:.3f} s after root had connected: the socket "
            f"accepted connections before its mode let every user in ({outcomes})")


def _start_while_nobody_probes():
    """(socket mode right after root connected, how long after that nobody last got EACCES,
    nobody's outcomes)."""
    folder = tempfile.mkdtemp(prefix="dmabufd-startup-")
    os.chmod(folder, 0o755)
    path = os.path.join(folder, "dmabufd.sock")
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(read_end)
        _probe_as_nobody(path, write_end)
    os.close(write_end)
    fresh = None
    try:
        fresh = Daemon(socket=path)
        root_connected = time.monotonic()  # root's first connection was at or before this
        mode_then = stat.S_IMODE(os.stat(path).st_mode)
        with os.fdopen(read_end) as reader:
            outcomes = json.loads(reader.read())
        with fresh.client() as client:
            call(client, "Status")  # serving for real before SIGTERM (see the next test)
    finally:
        os.waitpid(child, 0)
        if fresh is not None:
            assert fresh.stop() == 0, fresh.output()
    return mode_then, outcomes.get("last EACCES", 0) - root_connected, outcomes


def test_sigterm_right_after_the_socket_accepts_shuts_down_cleanly():
    """Daemon() returns once root could connect (that probe connection is closed at once);
    SIGTERM right then must still end in a clean shutdown: exit 0, socket file removed."""
    for attempt in range(5):
        fresh = Daemon()
        code = fresh.stop()
        assert (code, os.path.exists(fresh.socket)) == (0, False), (
            f"attempt {attempt}: SIGTERM just after start-up gave exit {code} and "
            f"left the socket: {os.path.exists(fresh.socket)}; log:\n{fresh.output()}")
