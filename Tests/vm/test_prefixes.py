"""Prefix watches on real buffers: every watched prefix a name starts with counts the buffer."""
from conftest import PAGE_SIZE, assert_scan_is_truth, call, scan


def _family(buffers):
    buffers.create("camera-0", PAGE_SIZE, "udmabuf", count=2)
    buffers.create("camera-1", 2 * PAGE_SIZE, "system")
    buffers.create("cam", PAGE_SIZE, "udmabuf")
    buffers.create("gpu", 3 * PAGE_SIZE, "system")
    buffers.create(None, PAGE_SIZE, "udmabuf")


def test_nested_prefixes_each_count_every_buffer_they_match(daemon, buffers):
    _family(buffers)
    prefixes = ["c", "cam", "camera-", "camera-0", "camera-0X", "x"]
    with daemon.client() as client:
        watched = call(client, "Watch", {"names": ["camera-0"], "prefixes": prefixes})
        assert watched == {"names": ["camera-0"], "prefixes": sorted(prefixes)}
        reply = scan(client)
    counts = {(m["name"], m["prefix"]): (m["count"], m["bytes"]) for m in reply["matches"]}
    assert counts[("c", True)] == (4, 5 * PAGE_SIZE)
    assert counts[("cam", True)] == (4, 5 * PAGE_SIZE), "a prefix equal to a whole name matches it"
    assert counts[("camera-", True)] == (3, 4 * PAGE_SIZE)
    assert counts[("camera-0", True)] == (2, 2 * PAGE_SIZE)
    assert counts[("camera-0", False)] == (2, 2 * PAGE_SIZE)
    assert counts[("camera-0X", True)] == (0, 0), "a prefix longer than the name does not match"
    assert counts[("x", True)] == (0, 0)
    assert_scan_is_truth(reply, buffers, ["camera-0"], prefixes)


def test_prefixes_at_the_edges_of_the_name(daemon, buffers):
    longest = "p" * 31
    buffers.create(longest, PAGE_SIZE, "udmabuf")
    buffers.create("é漢-frame", PAGE_SIZE, "system")
    prefixes = [longest, "p" * 30, "é", "é漢-"]
    with daemon.client() as client:
        reply = scan(client, prefixes=prefixes)
    assert_scan_is_truth(reply, buffers, [], prefixes)
    assert all(m["count"] == 1 for m in reply["matches"]), reply["matches"]


def test_a_rename_moves_a_buffer_between_prefixes(daemon, buffers):
    [buffer] = buffers.create("left-1", PAGE_SIZE, "udmabuf")
    with daemon.client() as client:
        call(client, "Watch", {"names": [], "prefixes": ["left-", "right-"]})
        assert_scan_is_truth(scan(client), buffers, [], ["left-", "right-"])
        buffers.rename(buffer, "right-1")
        reply = scan(client)
    assert [(m["name"], m["count"]) for m in reply["matches"]] == [("left-", 0), ("right-", 1)]
    assert_scan_is_truth(reply, buffers, [], ["left-", "right-"])


def test_many_buffers_many_prefixes_every_count_right(daemon, buffers):
    for family in range(40):
        buffers.create(f"fam-{family}-x", PAGE_SIZE, "udmabuf", count=family % 7 + 1)
    prefixes = ["fam-"] + [f"fam-{family}-" for family in range(40)] + [f"fam-{family}" for family in range(10)]
    with daemon.client() as client:
        call(client, "Watch", {"names": [], "prefixes": prefixes})
        reply = scan(client)
    # "fam-1" starts "fam-1-x" and "fam-10-x" ... "fam-19-x": nested families count in both.
    assert_scan_is_truth(reply, buffers, [], prefixes)
