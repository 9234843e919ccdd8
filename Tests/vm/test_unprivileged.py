"""An unprivileged client (uid 65534, nobody) watches and scans real buffers; List stays root's."""
import json

import varlink

from conftest import (MONITOR, NOBODY, PAGE_SIZE, RawClient, as_user, assert_scan_is_truth, dmabufctl,
                      expected_matches)


def _create(buffers):
    buffers.create("nobody-cam", PAGE_SIZE, "udmabuf", count=3)
    buffers.create("nobody-cam", 8 * PAGE_SIZE, "system")
    buffers.create("nobody-gpu", 2 * PAGE_SIZE, "system", count=2)
    buffers.create("root-only-looks", PAGE_SIZE, "udmabuf")
    buffers.create(None, 3 * PAGE_SIZE, "udmabuf")


def test_nobody_watches_and_scans_real_buffers_over_the_raw_protocol(daemon, buffers):
    _create(buffers)

    def as_nobody():
        with RawClient(daemon.socket) as client:
            watched = client.call(MONITOR + "Watch", {"names": ["nobody-cam"]})
            first = client.call(MONITOR + "Scan", {"names": ["nobody-gpu", "absent"]})
            second = client.call(MONITOR + "Scan")
            listed = client.call(MONITOR + "List")
            still = client.call(MONITOR + "Status")
        return [watched, first, second, listed, still]

    watched, first, second, listed, still = as_user(NOBODY, as_nobody)
    assert watched == {"parameters": {"names": ["nobody-cam"], "prefixes": []}}
    assert first["parameters"]["matches"] == [
        {"name": "absent", "prefix": False, "present": False, "count": 0, "bytes": 0},
        {"name": "nobody-cam", "prefix": False, "present": True, "count": 4, "bytes": 11 * PAGE_SIZE},
        {"name": "nobody-gpu", "prefix": False, "present": True, "count": 2, "bytes": 4 * PAGE_SIZE},
    ]
    assert_scan_is_truth(first["parameters"], buffers, ["absent", "nobody-cam", "nobody-gpu"])
    assert_scan_is_truth(second["parameters"], buffers, ["nobody-cam"])
    assert listed["error"] == "org.varlink.service.PermissionDenied", listed
    assert "error" not in still, still
    assert f"denied io.dmabufd.Monitor.List to uid={NOBODY}" in daemon.output()


def test_nobody_scans_real_buffers_with_dmabufctl(daemon, buffers):
    _create(buffers)
    names = ["nobody-gpu", "nobody-cam", "root-only-looks", "absent"]
    result = dmabufctl("scan", "--socket", daemon.socket, "--json", *names, user=NOBODY)
    assert result.returncode == 0, result.stderr
    assert_scan_is_truth(json.loads(result.stdout), buffers, names)
    watched = dmabufctl("watch", "--socket", daemon.socket, "--json", "nobody-cam", user=NOBODY)
    assert watched.returncode == 0, watched.stderr
    assert json.loads(watched.stdout)["matches"] == expected_matches(buffers, ["nobody-cam"])
    listed = dmabufctl("list", "--socket", daemon.socket, user=NOBODY)
    assert listed.returncode == 77, (listed.stdout, listed.stderr)
    assert "PermissionDenied" in listed.stderr


def test_nobody_scans_real_buffers_with_the_python_varlink_client(daemon, buffers):
    _create(buffers)
    # Made as root: its constructor reads an interface file inside this python's
    # site-packages (under /root here, unreadable to nobody). It connects only in open().
    client = varlink.Client(address=f"unix:{daemon.socket}")

    def as_nobody():
        with client, client.open("io.dmabufd.Monitor", namespaced=True) as monitor:
            monitor.Watch(["nobody-gpu"])
            reply = monitor.Scan(["nobody-cam"])
            try:
                monitor.List()
                denied = None
            except varlink.VarlinkError as error:
                denied = error.error()
        return {"matches": [{"name": m.name, "prefix": m.prefix, "present": m.present, "count": m.count,
                             "bytes": m.bytes} for m in reply.matches],
                "scan": {"buffers": reply.scan.buffers, "bytes": reply.scan.bytes}, "denied": denied}

    result = as_user(NOBODY, as_nobody)
    assert result["denied"] == "org.varlink.service.PermissionDenied"
    assert_scan_is_truth(result, buffers, ["nobody-cam", "nobody-gpu"])

