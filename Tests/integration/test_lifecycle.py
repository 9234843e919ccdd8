"""Start-up and shutdown: clear one-line errors, stale sockets, capacity, SIGTERM."""
import os
import socket
import subprocess
import tempfile

from service_helpers import DMABUFD, NOBODY, Daemon
from varlink_raw import MONITOR


def run_dmabufd(*args, user=None):
    command = [DMABUFD, *args]
    if user is not None:
        command = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", *command]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def test_sigterm_stops_cleanly_and_removes_the_socket():
    daemon = Daemon()
    with daemon.client() as client:
        client.call(MONITOR + "Watch", {"names": ["x"]})
        assert daemon.stop() == 0, daemon.output()
        assert client.closed_by_peer(), "an open connection must be closed at shutdown"
    assert not os.path.exists(daemon.socket)
    assert "stopped serving" in daemon.output()


def test_stale_socket_file_is_replaced():
    folder = tempfile.mkdtemp()
    path = os.path.join(folder, "dmabufd.sock")
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(path)
    stale.close()  # the file stays, nobody listens: what a killed service leaves
    daemon = Daemon(socket=path)
    try:
        with daemon.client() as client:
            assert "error" not in client.call(MONITOR + "Status")
    finally:
        assert daemon.stop() == 0


def test_second_service_on_a_live_socket_refuses_with_one_line():
    daemon = Daemon()
    try:
        second = run_dmabufd("--socket", daemon.socket)
        assert second.returncode == 73
        assert second.stderr.strip().splitlines() == [
            f"dmabufd: another dmabufd is already serving {daemon.socket}; "
            "stop it first or pass --socket with another path"]
        with daemon.client() as client:
            assert "error" not in client.call(MONITOR + "Status"), "the first service must keep serving"
    finally:
        assert daemon.stop() == 0


def test_without_privileges_start_fails_with_one_line():
    folder = tempfile.mkdtemp()
    os.chown(folder, NOBODY, NOBODY)  # its own folder: the socket's is fine, the capabilities are not
    result = run_dmabufd("--socket", os.path.join(folder, "s.sock"), user=NOBODY)
    assert result.returncode == 77, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "CAP_BPF" in lines[0] and "CAP_PERFMON" in lines[0], lines


def test_capacity_exhausted_applies_nothing():
    daemon = Daemon("--capacity", "4")
    try:
        with daemon.client() as first, daemon.client() as second:
            first.call(MONITOR + "Watch", {"names": ["a", "b", "c"]})
            assert second.call(MONITOR + "Watch", {"names": ["d", "e"]}) == {
                "error": "io.dmabufd.Monitor.CapacityExhausted", "parameters": {"capacity": 4}}
            assert second.call(MONITOR + "Scan", {"names": ["d", "e"]})["error"] == \
                "io.dmabufd.Monitor.CapacityExhausted"
            # Names already in the map cost nothing more.
            assert second.call(MONITOR + "Watch", {"names": ["a", "d"]})["parameters"]["names"] == ["a", "d"]
            assert second.call(MONITOR + "Status")["parameters"]["watched"] == 4
    finally:
        assert daemon.stop() == 0


def test_bad_options_are_usage_errors():
    result = run_dmabufd("--capacity", "0")
    assert result.returncode == 64
    assert "--capacity must be at least 1" in result.stderr
    result = run_dmabufd("--ring-bytes", "5000")
    assert result.returncode == 64
    assert "--ring-bytes must be a power of two" in result.stderr
