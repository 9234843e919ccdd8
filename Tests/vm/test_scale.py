"""10,000 real buffers, 1,000 watched names: every count and byte total exact."""
import json

import pytest

from conftest import (MONITOR, Daemon, HostBuffers, PAGE_SIZE, assert_host_back_to, assert_scan_is_truth, call,
                      dmabufctl, read_bufinfo, scan, sorted_buffers, status)

BUFFERS = 10_000
WATCHED_PRESENT = 950
WATCHED_ABSENT = 50
NAMES_ON_BUFFERS = 1_300


def _name_of(index):
    # Uneven counts: 9,000 buffers spread over 1,300 names (7 each, 6 from scale-1200 on), then 1,000 more
    # piled on the first 40 names (25 extra each).
    if index < 9_000:
        return f"scale-{index % NAMES_ON_BUFFERS:04d}"
    return f"scale-{index % 40:04d}"


@pytest.fixture(scope="module")
def many():
    """The 10,000 buffers, created once for this module (one page each, udmabuf)."""
    with HostBuffers() as created:
        for index in range(BUFFERS):
            created.create(_name_of(index), PAGE_SIZE, "udmabuf")
        yield created
    assert_host_back_to(created.baseline)


WATCHED = [f"scale-{i:04d}" for i in range(WATCHED_PRESENT)] + \
          [f"scale-absent-{i:03d}" for i in range(WATCHED_ABSENT)]


def test_ten_thousand_buffers_thousand_watched_names(daemon, many):
    assert len(many.truth()) == BUFFERS
    with daemon.client() as client:
        watched = call(client, "Watch", {"names": WATCHED})
        assert len(watched["names"]) == 1_000
        assert status(daemon)["watched"] == 1_000
        reply = scan(client)
        assert len(reply["matches"]) == 1_000
        assert_scan_is_truth(reply, many, WATCHED)
        counts = {m["name"]: m["count"] for m in reply["matches"]}
        assert counts["scale-0000"] == 7 + 25 and counts["scale-0040"] == 7 and counts["scale-0949"] == 7
        assert sum(counts.values()) == sum(1 for i in range(BUFFERS) if _name_of(i) in counts)
        # The extra names of one Scan come on top of the watch set, for that call only.
        extra = [f"scale-{i:04d}" for i in range(WATCHED_PRESENT, NAMES_ON_BUFFERS)]
        reply = scan(client, extra)
        assert len(reply["matches"]) == 1_000 + len(extra)
        assert_scan_is_truth(reply, many, WATCHED + extra)
        assert sum(m["count"] for m in reply["matches"]) == BUFFERS
        assert status(daemon)["watched"] == 1_000


def test_frees_and_renames_at_scale(daemon, many):
    with daemon.client() as client:
        call(client, "Watch", {"names": WATCHED})
        ids = many.ids()
        for ident in ids[::3]:
            many.close(ident)
        for ident in ids[1::7]:
            if ident in many.buffers:
                many.rename(ident, "scale-absent-000")
        reply = scan(client)
        assert_scan_is_truth(reply, many, WATCHED)
        assert reply["matches"][WATCHED_PRESENT]["name"] == "scale-absent-000"
        assert reply["matches"][WATCHED_PRESENT]["count"] > 0


def test_list_at_scale_equals_bufinfo(daemon, many):
    with daemon.client() as client:
        reply = call(client, "List")
    kernel = sorted_buffers(read_bufinfo())
    assert sorted_buffers(reply["buffers"]) == kernel == sorted_buffers(many.host_truth())
    assert "details_dropped" not in reply["scan"]
    assert reply["scan"]["buffers"] == len(kernel)


def test_list_in_many_ring_windows_equals_bufinfo(many):
    """A 64 KiB ring holds 682 records of 96 bytes (with their headers): the buffers left
    by the tests before (6,666 of the 10,000) come in 10 windows, one listing, exactly
    the kernel's, none twice."""
    small = Daemon("--ring-bytes", "65536")
    try:
        with small.client() as client:
            reply = call(client, "List")
        assert sorted_buffers(reply["buffers"]) == sorted_buffers(read_bufinfo()) == sorted_buffers(many.host_truth())
        assert len({b["inode"] for b in reply["buffers"]}) == len(reply["buffers"]) > 9 * 682
    finally:
        assert small.stop() == 0, small.output()


def test_list_with_more_comes_in_slices_of_one_pass(daemon, many):
    """List called with "more": slices of 4,096 buffers, all from one pass, that join into
    the kernel's account; dmabufctl list calls it so and prints the joined whole."""
    with daemon.client() as client:
        client.send(MONITOR + "List", more=True)
        replies = []
        while not replies or replies[-1].get("continues"):
            reply = client.receive()
            assert reply is not None and "error" not in reply, reply
            replies.append(reply)
    slices = [reply["parameters"]["buffers"] for reply in replies]
    joined = [buffer for part in slices for buffer in part]
    assert len(replies) == -(-len(joined) // 4096) >= 2
    assert all(len(part) == 4096 for part in slices[:-1])
    assert len({json.dumps(reply["parameters"]["scan"], sort_keys=True) for reply in replies}) == 1
    assert sorted_buffers(joined) == sorted_buffers(read_bufinfo())
    printed = dmabufctl("list", "--json", "--socket", daemon.socket)
    assert printed.returncode == 0, printed.stderr
    assert sorted_buffers(json.loads(printed.stdout)["buffers"]) == sorted_buffers(joined)
