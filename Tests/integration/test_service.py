"""The service on the host's real kernel: the program runs, watches and scans, per-connection state."""
import os
import time

from service_helpers import NOBODY, as_user
from varlink_raw import MONITOR, RawClient


def scan(client, **parameters):
    reply = client.call(MONITOR + "Scan", parameters)
    assert "error" not in reply, reply
    return reply["parameters"]


def status(daemon):
    with daemon.client() as client:
        return client.call(MONITOR + "Status")["parameters"]


def wait_until_watched(daemon, expected):
    """Disconnects are handled asynchronously: poll Status (bounded) until the map count settles."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        watched = status(daemon)["watched"]
        if watched == expected:
            return
        time.sleep(0.05)
    assert status(daemon)["watched"] == expected


def test_real_program_passes_see_no_buffers_on_this_host(daemon):
    with daemon.client() as client:
        first = scan(client)
        second = scan(client)
    assert first["matches"] == []
    for info in (first["scan"], second["scan"]):
        assert info["buffers"] == 0 and info["bytes"] == 0
        assert info["duration_nsec"] > 0
        assert abs(info["started_usec"] / 1e6 - time.time()) < 60
    assert second["scan"]["id"] > first["scan"]["id"]


def test_watch_scan_unwatch_on_one_connection(daemon):
    with daemon.client() as client:
        reply = client.call(MONITOR + "Watch", {"names": ["gpu-b", "gpu-a", "gpu-a"]})
        assert reply == {"parameters": {"names": ["gpu-a", "gpu-b"], "prefixes": []}}
        matches = scan(client, names=["cam"])["matches"]
        assert matches == [
            {"name": name, "prefix": False, "present": False, "count": 0, "bytes": 0}
            for name in ["cam", "gpu-a", "gpu-b"]
        ]
        assert status(daemon)["watched"] == 2, "a Scan's extra names must not stay in the map"
        reply = client.call(MONITOR + "Unwatch", {"names": ["gpu-a", "never-watched"]})
        assert reply["parameters"]["names"] == ["gpu-b"]
        assert [m["name"] for m in scan(client)["matches"]] == ["gpu-b"]
    wait_until_watched(daemon, 0)


def test_watch_sets_are_per_connection_and_die_with_it(daemon):
    first, second = daemon.client(), daemon.client()
    first.call(MONITOR + "Watch", {"names": ["shared", "only-first"]})
    second.call(MONITOR + "Watch", {"names": ["shared"]})
    assert [m["name"] for m in scan(second)["matches"]] == ["shared"]
    assert status(daemon)["watched"] == 2
    first.close()
    wait_until_watched(daemon, 1)
    second.close()
    wait_until_watched(daemon, 0)


def test_status_counts_clients_and_capacity(daemon):
    with daemon.client() as client:
        reply = client.call(MONITOR + "Status")["parameters"]
    assert reply["version"]
    assert reply["kernel"] == os.uname().release
    assert reply["capacity"] == 16384
    assert reply["clients"] >= 1
    assert reply["scans"] >= 1


def test_list_as_root_returns_every_buffer(daemon):
    with daemon.client() as client:
        reply = client.call(MONITOR + "List")
    assert reply["parameters"]["buffers"] == []
    assert reply["parameters"]["scan"]["buffers"] == 0


def test_processes_walks_every_process_after_privileges_are_gone(daemon):
    """The task iterators were attached while dmabufd was privileged; each walk runs after it
    dropped every capability, for root and for a user alike. No process here holds a
    DMA-BUF, so both walks find none (the VM tier has the real ones)."""
    def ask():
        with RawClient(daemon.socket) as client:
            return client.call(MONITOR + "Processes")

    for reply in (ask(), as_user(NOBODY, ask)):
        assert "error" not in reply, reply
        assert reply["parameters"]["processes"] == []
        assert reply["parameters"]["kernel_held"] == {"count": 0, "bytes": 0}
        assert reply["parameters"]["scan"]["buffers"] == 0


def test_mine_finds_the_callers_cgroup_from_its_pidfd(daemon):
    """The caller's cgroup comes from the connection's pidfd (SO_PEERPIDFD, PIDFD_GET_INFO),
    for root and for a user: the cgroup /proc says this process is in, holding nothing."""
    with open("/proc/self/cgroup") as cgroups:
        mine = next(line.split(":", 2)[2].strip() for line in cgroups if line.startswith("0::"))

    def ask():
        with RawClient(daemon.socket) as client:
            return [client.call(MONITOR + "Mine"), client.call(MONITOR + "Cgroups")]

    for reply, cgroups in (ask(), as_user(NOBODY, ask)):
        assert reply.get("parameters", {}).get("cgroup") == {
            "path": mine, "rss": 0, "pss": 0, "buffers": 0, "processes": 0}, reply
        assert reply["parameters"]["processes"] == []
    assert ask()[1]["parameters"]["cgroups"] == []
    assert as_user(NOBODY, ask)[1]["error"] == "org.varlink.service.PermissionDenied", "Cgroups is root's"


def test_unprivileged_client_watches_and_scans_but_cannot_list(daemon):
    def as_nobody():
        with RawClient(daemon.socket) as client:
            watch = client.call(MONITOR + "Watch", {"names": ["nobody-buffer"]})
            scanned = client.call(MONITOR + "Scan")
            listed = client.call(MONITOR + "List")
            still = client.call(MONITOR + "Status")
        return [watch, scanned, listed, still]

    watch, scanned, listed, still = as_user(NOBODY, as_nobody)
    assert watch["parameters"]["names"] == ["nobody-buffer"]
    assert scanned["parameters"]["matches"][0]["name"] == "nobody-buffer"
    assert listed["error"] == "org.varlink.service.PermissionDenied"
    assert "error" not in still
    assert f"denied io.dmabufd.Monitor.List to uid={NOBODY}" in daemon.output()


def test_unprivileged_quota_applies_whole_or_not_at_all(daemon):
    def as_nobody():
        with RawClient(daemon.socket) as client:
            first = client.call(MONITOR + "Watch", {"names": [f"q{i}" for i in range(200)]})
            over = client.call(MONITOR + "Watch", {"names": [f"r{i}" for i in range(57)] + ["q0"]})
            after = client.call(MONITOR + "Scan")
        return [first, over, after]

    first, over, after = as_user(NOBODY, as_nobody)
    assert len(first["parameters"]["names"]) == 200
    assert over == {"error": "io.dmabufd.Monitor.TooManyNames", "parameters": {"limit": 256}}
    assert len(after["parameters"]["matches"]) == 200


def test_calls_are_answered_in_order_and_oneway_gets_no_reply(daemon):
    with daemon.client() as client:
        batch = b"".join([
            b'{"method":"io.dmabufd.Monitor.Watch","parameters":{"names":["p1"]}}\0',
            b'{"method":"io.dmabufd.Monitor.Watch","parameters":{"names":["p2"]},"oneway":true}\0',
            b'{"method":"io.dmabufd.Monitor.Scan"}\0',
            b'{"method":"io.dmabufd.Monitor.Unwatch","parameters":{"names":["p1"]}}\0',
        ])
        client.send_raw(batch)
        assert client.receive()["parameters"]["names"] == ["p1"]
        assert [m["name"] for m in client.receive()["parameters"]["matches"]] == ["p1", "p2"]
        assert client.receive()["parameters"]["names"] == ["p2"]


def test_interface_description_is_the_file_verbatim(daemon):
    path = os.path.join(os.path.dirname(__file__), "../../Sources/Protocol/io.dmabufd.Monitor.varlink")
    with open(path) as text, daemon.client() as client:
        reply = client.call("org.varlink.service.GetInterfaceDescription", {"interface": "io.dmabufd.Monitor"})
        assert reply["parameters"]["description"] == text.read()
        info = client.call("org.varlink.service.GetInfo")["parameters"]
    assert info["interfaces"] == ["org.varlink.service", "io.dmabufd.Monitor"]
    assert info["product"] == "dmabufd"


def test_prefixes_are_watched_scanned_and_unwatched_beside_names(daemon):
    with daemon.client() as client:
        reply = client.call(MONITOR + "Watch", {"names": ["cam"], "prefixes": ["cam", "gpu-"]})
        assert reply == {"parameters": {"names": ["cam"], "prefixes": ["cam", "gpu-"]}}
        assert status(daemon)["watched"] == 3, "a name and a prefix with the same bytes are two entries"
        matches = scan(client, prefixes=["x"])["matches"]
        assert [(m["name"], m["prefix"], m["present"], m["count"]) for m in matches] == [
            ("cam", False, False, 0), ("cam", True, False, 0), ("gpu-", True, False, 0), ("x", True, False, 0)]
        reply = client.call(MONITOR + "Unwatch", {"names": [], "prefixes": ["cam"]})
        assert reply == {"parameters": {"names": ["cam"], "prefixes": ["gpu-"]}}
    wait_until_watched(daemon, 0)


def test_prefixes_count_against_the_quota(daemon):
    def as_nobody():
        with RawClient(daemon.socket) as client:
            return client.call(MONITOR + "Watch", {"names": [f"n{i}" for i in range(200)],
                                                   "prefixes": [f"p{i}" for i in range(57)]})

    assert as_user(NOBODY, as_nobody) == {"error": "io.dmabufd.Monitor.TooManyNames", "parameters": {"limit": 256}}


def test_scan_details_add_buffer_lists_only_when_asked(daemon):
    with daemon.client() as client:
        client.call(MONITOR + "Watch", {"names": ["d1"], "prefixes": ["d"]})
        detailed = scan(client, details=True)
        plain = scan(client, details=False)
        default = scan(client)
    assert [(m["name"], m["prefix"], m["buffers"]) for m in detailed["matches"]] == [("d", True, []), ("d1", False, [])]
    for reply in (plain, default):
        assert all("buffers" not in m for m in reply["matches"])
    assert all("details_dropped" not in reply["scan"] for reply in (detailed, plain, default))
