"""dmabufd under a service manager. Socket activation: it serves a listening socket
handed over (LISTEN_PID, LISTEN_FDS, LISTEN_FDNAMES, fd 3 on), blocking or not, and leaves
its file to the manager; without those variables (or with another process's) it binds its
own. The notify protocol: READY=1 once it serves, STOPPING=1 when it stops."""
import fcntl
import os
import socket
import subprocess
import tempfile

from service_helpers import DMABUFD
from varlink_raw import MONITOR, RawClient, wait_for_socket


def listening_socket(path, blocking=True):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(path)
    sock.listen(16)
    sock.setblocking(blocking)
    return sock


def activated(sockets, names=None, pid_of_another=False, args=()):
    """Starts dmabufd as a service manager would: `sockets` as fds 3, 4, … and the
    variables that say so; returns the process and its log file."""
    log = tempfile.TemporaryFile()
    descriptors = [s.fileno() for s in sockets]

    def hand_over():
        # Out of the way first, so that no socket sits where another one goes.
        high = [fcntl.fcntl(descriptor, fcntl.F_DUPFD_CLOEXEC, 100) for descriptor in descriptors]
        for offset, descriptor in enumerate(high):
            os.dup2(descriptor, 3 + offset, inheritable=True)
        os.environ["LISTEN_PID"] = str(os.getppid() if pid_of_another else os.getpid())
        os.environ["LISTEN_FDS"] = str(len(descriptors))
        if names is not None:
            os.environ["LISTEN_FDNAMES"] = ":".join(names)

    own = os.path.join(tempfile.mkdtemp(), "own.sock")
    # close_fds would run after hand_over and close 3, 4, …; everything else of ours is
    # close-on-exec already.
    process = subprocess.Popen([DMABUFD, "--socket", own, *args], stdout=log, stderr=subprocess.STDOUT,
                               preexec_fn=hand_over, close_fds=False)
    return process, log, own


def serves(path):
    try:
        with RawClient(path, timeout=10) as client:
            return client.call(MONITOR + "Status")["parameters"]["clients"] >= 1
    except OSError:
        return False


def read(log):
    log.seek(0)
    return log.read().decode()


def stop(process, log):
    process.terminate()
    assert process.wait(timeout=30) == 0, read(log)
    return read(log)


def test_a_passed_socket_is_served_blocking_or_not_and_its_file_left_alone():
    for blocking in (True, False):
        path = os.path.join(tempfile.mkdtemp(), "activated.sock")
        passed = listening_socket(path, blocking)
        process, log, own = activated([passed])
        passed.close()  # the service holds its own copy, as under systemd
        assert serves(path), read(log)
        assert not os.path.exists(own), "it must not bind --socket as well"
        output = stop(process, log)
        assert f"serving {path} (socket activation)" in output, output
        assert os.path.exists(path), "the socket file is the manager's, not the service's"


def test_of_several_sockets_the_one_named_varlink_is_served():
    folder = tempfile.mkdtemp()
    other, wanted = (listening_socket(os.path.join(folder, name)) for name in ("metrics.sock", "varlink.sock"))
    process, log, _ = activated([other, wanted], names=["metrics", "varlink"])
    assert serves(os.path.join(folder, "varlink.sock"))
    stop(process, log)

    process, log, _ = activated([other, wanted], names=["metrics", "other"])
    assert process.wait(timeout=30) == 78
    log.seek(0)
    assert "2 sockets were passed (LISTEN_FDS) and none is named varlink" in log.read().decode()


def test_a_passed_descriptor_that_is_not_a_listening_socket_is_refused():
    unbound = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    process, log, _ = activated([unbound])
    assert process.wait(timeout=30) == 78
    log.seek(0)
    assert "is not a listening Unix stream socket" in log.read().decode()


def test_variables_meant_for_another_process_are_ignored():
    path = os.path.join(tempfile.mkdtemp(), "activated.sock")
    passed = listening_socket(path)
    process, log, own = activated([passed], pid_of_another=True)
    try:
        assert wait_for_socket(own, process, timeout=60), "it binds its own --socket"
        assert serves(own)
    finally:
        stop(process, log)
    assert not os.path.exists(own), "its own socket file is removed at the end"


def test_the_service_manager_is_told_ready_and_stopping():
    """systemd's notify protocol: READY=1 once it serves, STOPPING=1 when it stops."""
    for name in ("notify.sock", "@dmabufd-test-notify-%d" % os.getpid()):
        folder = tempfile.mkdtemp()
        path = name if name.startswith("@") else os.path.join(folder, name)
        manager = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        manager.bind("\0" + path[1:] if path.startswith("@") else path)
        # Reachable by every user, as systemd's /run/systemd/notify: dmabufd says READY=1
        # as its own user.
        os.chmod(folder, 0o755)
        if not name.startswith("@"):
            os.chmod(path, 0o777)
        manager.settimeout(60)
        own = os.path.join(folder, "run", "dmabufd.sock")
        process = subprocess.Popen([DMABUFD, "--socket", own], stderr=subprocess.DEVNULL,
                                   env={**os.environ, "NOTIFY_SOCKET": path})
        try:
            assert manager.recv(4096).decode() == f"READY=1\nSTATUS=serving {own}"
            assert serves(own), "ready means it answers"
            process.terminate()
            assert manager.recv(4096).decode() == "STOPPING=1\nSTATUS=stopping"
            assert process.wait(timeout=30) == 0
        finally:
            process.kill()
            manager.close()
