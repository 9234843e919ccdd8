"""What dmabufd gives up and what it refuses: no capability left on any thread once it
serves, its socket's mode and group, and the per-connection limits (names per call, a
half-sent message, connections in total), with the kernel maps' own entry count."""
import os
import stat
import subprocess
import time

from service_helpers import DMABUFD, NOBODY, Daemon, admitted, as_user, dmabufctl
from varlink_raw import MONITOR, RawClient


def thread_status(pid):
    """Each thread's capability sets and no_new_privs, from /proc."""
    fields = ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs")
    threads = []
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/status") as status:
            values = dict(line.rstrip("\n").split(":\t", 1) for line in status if ":\t" in line)
        threads.append({field: values[field].strip() for field in fields})
    return threads


def test_every_thread_serves_with_no_capability_and_no_new_privs(daemon):
    with daemon.client() as client:  # the service works without them: a map write, a pass, List
        client.call(MONITOR + "Watch", {"names": ["cap-check"], "prefixes": ["cap-"]})
        assert client.call(MONITOR + "Scan")["parameters"]["matches"][0]["name"] == "cap-"
        assert "error" not in client.call(MONITOR + "List")
        threads = thread_status(daemon.process.pid)
    assert len(threads) > 1
    none = "0000000000000000"
    for thread in threads:
        assert thread == {"CapInh": none, "CapPrm": none, "CapEff": none, "CapBnd": none, "CapAmb": none,
                          "NoNewPrivs": "1"}, threads
    assert "dropped every capability and set no_new_privs; kept: none" in daemon.output()


def test_map_entries_count_the_kernel_maps(daemon):
    with daemon.client() as client:
        client.call(MONITOR + "Watch", {"names": ["m1", "m2"], "prefixes": ["m"]})
        status = client.call(MONITOR + "Status")["parameters"]
        assert (status["watched"], status["map_entries"]) == (3, 3)
    with daemon.client() as client:
        deadline = time.monotonic() + 10
        while client.call(MONITOR + "Status")["parameters"]["map_entries"] != 0:
            assert time.monotonic() < deadline, "the closed connection's names stayed in the kernel maps"
            time.sleep(0.05)


def test_socket_mode_and_group_keep_others_out():
    daemon = Daemon("--socket-mode", "0660", "--socket-group", "4243")
    try:
        info = os.stat(daemon.socket)
        assert (stat.S_IMODE(info.st_mode), info.st_gid) == (0o660, 4243)
        refused = dmabufctl("status", "--socket", daemon.socket, user=NOBODY)
        assert refused.returncode == 77, refused.stderr

        def in_the_group():
            os.setgroups([])
            os.setgid(4243)
            os.setuid(NOBODY)
            with RawClient(daemon.socket) as client:
                return client.call(MONITOR + "Status")["parameters"]["clients"]
        assert as_user(0, in_the_group) >= 1
    finally:
        assert daemon.stop() == 0, daemon.output()


def test_bad_socket_options_are_usage_errors():
    for arguments, message in [(["--socket-mode", "999"], "--socket-mode must be octal"),
                               (["--socket-group", "no-such-group-here"], "no group named no-such-group-here")]:
        result = subprocess.run([DMABUFD, *arguments], capture_output=True, text=True, timeout=60)
        assert result.returncode == 64, result.stderr
        assert message in result.stderr


def test_names_per_call_are_limited_even_for_root():
    daemon = Daemon("--max-names-per-call", "4")
    try:
        with daemon.client() as client:
            names = {"names": ["a", "b", "c"], "prefixes": ["d", "e"]}
            for method in ("Watch", "Unwatch", "Scan"):
                assert client.call(MONITOR + method, names) == {
                    "error": "io.dmabufd.Monitor.TooManyNames", "parameters": {"limit": 4}}
            assert client.call(MONITOR + "Watch", {"names": ["a", "b", "c", "d"]})["parameters"]["names"] == [
                "a", "b", "c", "d"]
    finally:
        assert daemon.stop() == 0, daemon.output()


def test_a_half_sent_message_is_closed_and_an_idle_connection_is_not():
    daemon = Daemon("--message-timeout-msec", "300")
    try:
        with daemon.client() as idle, daemon.client() as stalled:
            stalled.send_raw(b'{"method": "io.dmabufd.Monitor.Sta')
            assert stalled.receive() == {"error": "io.dmabufd.Monitor.InvalidMessage",
                                         "parameters": {"reason": "message not finished within 300 ms"}}
            assert stalled.closed_by_peer()
            time.sleep(0.6)
            assert "error" not in idle.call(MONITOR + "Status"), "idle time between messages is free"
            # A message sent in pieces that arrive in time is fine.
            idle.send_raw(b'{"method": "io.dmabufd.')
            time.sleep(0.1)
            idle.send_raw(b'Monitor.Status"}\0')
            assert "error" not in idle.receive()
    finally:
        assert daemon.stop() == 0, daemon.output()


def test_connections_beyond_the_total_are_turned_away():
    daemon = Daemon("--max-connections", "3")
    try:
        clients = [admitted(daemon.socket) for _ in range(3)]
        with daemon.client() as extra:
            assert extra.closed_by_peer()
        assert "turned away a connection from uid=0" in daemon.output()
        clients.pop().close()
        clients.append(admitted(daemon.socket))  # the freed slot is taken by the next one
        for client in clients:
            client.close()
    finally:
        assert daemon.stop() == 0, daemon.output()
