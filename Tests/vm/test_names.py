"""Watched names against real buffers: counts, bytes, absence, unnamed buffers, edge names."""
import json
import threading

import varlink

import dmabuf_fixture
from conftest import (MONITOR, PAGE_SIZE, assert_scan_is_truth, call, dmabufctl, expected_matches,
                      name_order, scan)

# Each 1..31 bytes of UTF-8, as the kernel holds them.
EDGE_NAMES = [
    "x" * 31,                      # exactly the kernel's 31 bytes
    "é" * 15 + "x",                # 31 bytes of two-byte characters
    "漢字" * 5 + "x",              # 31 bytes of three-byte characters
    "😀" * 7 + "abc",              # 31 bytes with four-byte characters (a surrogate pair in JSON \u escapes)
    'q"uote',
    "back\\slash",
    "new\nline",
    "tab\tstop",
    '"\\\n\t all four',
    "ctl\x01\x1f\x7f",             # control characters JSON must escape
    "/solidus\u2028sep",           # characters some JSON writers escape
]


def test_edge_names_are_the_sizes_they_claim():
    assert [len(name.encode()) for name in EDGE_NAMES[:4]] == [31, 31, 31, 31]


def test_one_buffer_under_a_watched_name(daemon, buffers):
    buffers.create("camera-0", 4 * PAGE_SIZE, "udmabuf")
    with daemon.client() as client:
        assert call(client, "Watch", {"names": ["camera-0"]}) == {"names": ["camera-0"], "prefixes": []}
        reply = scan(client)
    assert reply["matches"] == [
        {"name": "camera-0", "prefix": False, "present": True, "count": 1, "bytes": 4 * PAGE_SIZE}]
    assert_scan_is_truth(reply, buffers, ["camera-0"])


def test_several_buffers_under_one_name_mixed_exporters(daemon, buffers):
    buffers.create("frame", PAGE_SIZE, "udmabuf", count=3)
    buffers.create("frame", 5 * PAGE_SIZE, "system", count=2)
    buffers.create("frame", 3 * PAGE_SIZE + 1, "system")  # the heap rounds up to whole pages
    buffers.create("other", 2 * PAGE_SIZE, "udmabuf")
    assert {b["exporter"] for b in buffers.truth() if b["name"] == "frame"} == {"udmabuf", "system"}
    with daemon.client() as client:
        reply = scan(client, ["frame"])
    assert reply["matches"] == [{"name": "frame", "prefix": False, "present": True, "count": 6,
                                 "bytes": 3 * PAGE_SIZE + 10 * PAGE_SIZE + 4 * PAGE_SIZE}]
    assert_scan_is_truth(reply, buffers, ["frame"])


def test_a_name_no_buffer_has_is_absent(daemon, buffers):
    buffers.create("present-name", PAGE_SIZE, "udmabuf")
    buffers.create("present-nam", PAGE_SIZE, "system")  # a prefix of another name is its own name
    with daemon.client() as client:
        reply = scan(client, ["absent-name", "present-name", "present-nameX", "present"])
    assert reply["matches"] == [
        {"name": "absent-name", "prefix": False, "present": False, "count": 0, "bytes": 0},
        {"name": "present", "prefix": False, "present": False, "count": 0, "bytes": 0},
        {"name": "present-name", "prefix": False, "present": True, "count": 1, "bytes": PAGE_SIZE},
        {"name": "present-nameX", "prefix": False, "present": False, "count": 0, "bytes": 0},
    ]
    assert_scan_is_truth(reply, buffers, ["absent-name", "present-name", "present-nameX", "present"])


def test_unnamed_buffers_count_in_host_totals_only(daemon, buffers):
    buffers.create(None, 2 * PAGE_SIZE, "udmabuf", count=3)
    buffers.create(None, 7 * PAGE_SIZE, "system")
    buffers.create("named", PAGE_SIZE, "udmabuf")
    with daemon.client() as client:
        reply = scan(client, ["named", "<none>", "(null)", " "])
    count, size = buffers.host_totals()
    assert (count, size) == (5 + len(buffers.baseline),
                             14 * PAGE_SIZE + sum(b["size"] for b in buffers.baseline))
    assert reply["scan"]["buffers"] == count and reply["scan"]["bytes"] == size
    assert [(m["name"], m["count"]) for m in reply["matches"]] == [(" ", 0), ("(null)", 0), ("<none>", 0), ("named", 1)]
    assert_scan_is_truth(reply, buffers, ["named", "<none>", "(null)", " "])


def test_scan_without_names_reports_host_totals(daemon, buffers):
    buffers.create("t", 3 * PAGE_SIZE, "system", count=2)
    buffers.create(None, PAGE_SIZE, "udmabuf")
    with daemon.client() as client:
        reply = scan(client)
    assert reply["matches"] == []
    assert_scan_is_truth(reply, buffers, [])


def _create_edge_buffers(buffers):
    # A different size per name, so bytes show which buffers a name was matched with.
    for index, name in enumerate(EDGE_NAMES):
        buffers.create(name, (index + 1) * PAGE_SIZE, "udmabuf" if index % 2 else "system")
    return expected_matches(buffers, EDGE_NAMES)


def test_edge_names_round_trip_through_the_raw_protocol(daemon, buffers):
    expected = _create_edge_buffers(buffers)
    assert all(m["count"] == 1 for m in expected)
    with daemon.client() as client:
        watched = call(client, "Watch", {"names": EDGE_NAMES})
        assert watched["names"] == sorted(EDGE_NAMES, key=name_order)
        reply = scan(client)
        assert reply["matches"] == expected
        assert_scan_is_truth(reply, buffers, EDGE_NAMES)
        listed = call(client, "List")
    assert sorted(b["name"] for b in listed["buffers"] if b["name"]) == sorted(EDGE_NAMES)


def test_edge_names_round_trip_through_dmabufctl(daemon, buffers):
    expected = _create_edge_buffers(buffers)
    result = dmabufctl("scan", "--socket", daemon.socket, "--json", *EDGE_NAMES)
    assert result.returncode == 0, result.stderr
    reply = json.loads(result.stdout)
    assert reply["matches"] == expected
    assert_scan_is_truth(reply, buffers, EDGE_NAMES)
    listed = dmabufctl("list", "--socket", daemon.socket, "--json")
    assert listed.returncode == 0, listed.stderr
    assert sorted(b["name"] for b in json.loads(listed.stdout)["buffers"] if b["name"]) == sorted(EDGE_NAMES)


def test_edge_names_round_trip_through_the_python_varlink_client(daemon, buffers):
    expected = _create_edge_buffers(buffers)
    with varlink.Client(address=f"unix:{daemon.socket}") as client, \
            client.open("io.dmabufd.Monitor", namespaced=True) as monitor:
        watched = monitor.Watch(EDGE_NAMES[:5])
        assert list(watched.names) == sorted(EDGE_NAMES[:5], key=name_order)
        reply = monitor.Scan(EDGE_NAMES[5:])
        matches = [{"name": m.name, "prefix": m.prefix, "present": m.present, "count": m.count, "bytes": m.bytes}
                   for m in reply.matches]
        assert matches == expected
        count, size = buffers.host_totals()
        assert (reply.scan.buffers, reply.scan.bytes) == (count, size)
        listed = monitor.List()
    assert sorted(b.name for b in listed.buffers if b.name) == sorted(EDGE_NAMES)


def test_a_32_byte_name_is_refused_by_the_kernel_and_by_the_service(daemon, buffers):
    """The service's name rule is this kernel's: 31 bytes fit, 32 do not."""
    [ident] = buffers.create("short", PAGE_SIZE, "udmabuf")
    fd = buffers.buffers[ident].fd
    try:
        dmabuf_fixture.ioctl(fd, dmabuf_fixture.DMA_BUF_SET_NAME_B, b"y" * 32 + b"\0")
    except OSError as error:
        assert error.errno == 22
    else:
        raise AssertionError("the kernel took a 32-byte name")
    dmabuf_fixture.ioctl(fd, dmabuf_fixture.DMA_BUF_SET_NAME_B, b"y" * 31 + b"\0")
    buffers.buffers[ident].name = "y" * 31
    with daemon.client() as client:
        refused = client.call(MONITOR + "Scan", {"names": ["y" * 32]})
        assert refused["error"] == "io.dmabufd.Monitor.InvalidName", refused
        assert refused["parameters"]["name"] == "y" * 32
        reply = scan(client, ["y" * 31, "short"])
    assert_scan_is_truth(reply, buffers, ["y" * 31, "short"])


def test_a_buffer_name_that_is_not_utf8_does_not_break_anyone(daemon, buffers):
    """Any process may name a buffer with bytes that are not UTF-8; JSON cannot carry them.

    List reports the buffer with each bad byte replaced by U+FFFD; passes and Scan go on."""
    [ident] = buffers.create("will-be-bad", 2 * PAGE_SIZE, "udmabuf")
    buffers.create("good", PAGE_SIZE, "system")
    raw = b"bad\xff\xfe-\xc3"
    dmabuf_fixture.ioctl(buffers.buffers[ident].fd, dmabuf_fixture.DMA_BUF_SET_NAME_B, raw + b"\0")
    buffers.buffers[ident].name = raw.decode("utf-8", "replace")
    with daemon.client() as client:
        listed = call(client, "List")
        reply = scan(client, ["good", "will-be-bad"])
        assert call(client, "Status")["version"]
    bad = [b for b in listed["buffers"] if b["inode"] == buffers.buffers[ident].inode]
    assert bad == [{"inode": buffers.buffers[ident].inode, "size": 2 * PAGE_SIZE,
                    "name": "bad\ufffd\ufffd-\ufffd", "exporter": "udmabuf", "references": 1}]
    assert reply["matches"] == [
        {"name": "good", "prefix": False, "present": True, "count": 1, "bytes": PAGE_SIZE},
        {"name": "will-be-bad", "prefix": False, "present": False, "count": 0, "bytes": 0}]


def test_a_name_renamed_during_passes_is_one_of_its_names_or_none(daemon, buffers):
    """The kernel frees a buffer's old name as it sets a new one, under a lock BPF cannot
    take. A thread renames one buffer back and forth as fast as it can while passes
    list every buffer: each pass reports one of its two names (or none, for a name
    renamed on every try), never other bytes, and every other buffer exactly."""
    names = ["race-" + "a" * 26, "race-" + "b" * 26]
    [raced] = buffers.create(names[0], PAGE_SIZE, "udmabuf")
    steady = buffers.create("steady", PAGE_SIZE, "system", count=3)
    fd, inode = buffers.buffers[raced].fd, buffers.buffers[raced].inode
    stop = threading.Event()
    renames = []

    def rename_fast():
        turn = 0
        while not stop.is_set():
            turn += 1
            dmabuf_fixture.set_name(fd, names[turn % 2])
        renames.append(turn)

    renamer = threading.Thread(target=rename_fast)
    renamer.start()
    seen = []
    try:
        with daemon.client() as client:
            for _ in range(200):
                listed = {b["inode"]: b["name"] for b in call(client, "List")["buffers"]}
                seen.append(listed[inode])
                assert [listed[buffers.buffers[i].inode] for i in steady] == ["steady"] * 3
    finally:
        stop.set()
        renamer.join()
        dmabuf_fixture.set_name(fd, names[0])
    assert renames[0] > 1000, "the renames did not race the passes"
    assert set(seen) <= set(names) | {""}, set(seen) - set(names)
    assert set(seen) & set(names), "some pass read a name"
