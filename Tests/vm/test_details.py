"""Scan with details: each match lists exactly the buffers that make it up, from the same pass."""
import json

from conftest import PAGE_SIZE, Daemon, call, dmabufctl


def _records(buffers, predicate):
    """The fixture's truth for the buffers `predicate(name)` accepts, as a match lists them."""
    return sorted(({"inode": b["inode"], "size": b["size"], "name": b["name"], "exporter": b["exporter"],
                    "references": 1}
                   for b in buffers.truth() if b["name"] is not None and predicate(b["name"])),
                  key=lambda b: b["inode"])


def test_details_list_each_matching_buffer_under_its_name_and_prefixes(daemon, buffers):
    buffers.create("cam-0", PAGE_SIZE, "udmabuf", count=2)
    buffers.create("cam-1", 2 * PAGE_SIZE, "system")
    buffers.create("gpu", PAGE_SIZE, "udmabuf")
    buffers.create(None, PAGE_SIZE, "system")
    with daemon.client() as client:
        reply = call(client, "Scan", {"names": ["cam-0", "none"], "prefixes": ["cam-"], "details": True})
    by_match = {(m["name"], m["prefix"]): m for m in reply["matches"]}
    assert by_match[("cam-", True)]["buffers"] == _records(buffers, lambda name: name.startswith("cam-"))
    assert by_match[("cam-0", False)]["buffers"] == _records(buffers, lambda name: name == "cam-0")
    assert by_match[("none", False)]["buffers"] == []
    for match in reply["matches"]:
        assert len(match["buffers"]) == match["count"]
        assert sum(b["size"] for b in match["buffers"]) == match["bytes"]
    assert "details_dropped" not in reply["scan"]


def test_details_larger_than_the_ring_come_in_windows_all_of_them(buffers):
    """A 4 KiB ring holds 46 records of 88 bytes: 120 matching buffers (among unmatched ones,
    which move the windows' positions) take three windows, and every record arrives once."""
    small = Daemon("--ring-bytes", "4096")
    try:
        for index in range(120):
            buffers.create("many", PAGE_SIZE, "udmabuf")
            buffers.create(f"other-{index % 3}", PAGE_SIZE, "system")
        with small.client() as client:
            reply = call(client, "Scan", {"names": ["many"], "prefixes": ["oth"], "details": True})
        by_match = {m["name"]: m for m in reply["matches"]}
        assert by_match["many"]["count"] == 120
        assert by_match["many"]["buffers"] == _records(buffers, lambda name: name == "many")
        assert by_match["oth"]["buffers"] == _records(buffers, lambda name: name.startswith("oth"))
        assert "details_dropped" not in reply["scan"]
    finally:
        assert small.stop() == 0, small.output()


def test_dmabufctl_scan_details(daemon, buffers):
    buffers.create("shown", 3 * PAGE_SIZE, "system", count=2)
    table = dmabufctl("scan", "--socket", daemon.socket, "--details", "shown")
    assert table.returncode == 0, table.stderr
    rows = table.stdout.splitlines()
    inodes = sorted(b["inode"] for b in buffers.truth())
    assert rows[1].split()[:4] == ["shown", "name", "yes", "2"]
    assert [row.split()[:4] for row in rows[2:4]] == [
        ["inode", str(inode), "system", str(3 * PAGE_SIZE)] for inode in inodes]
    as_json = json.loads(dmabufctl("scan", "--socket", daemon.socket, "--details", "--json", "shown").stdout)
    assert [b["inode"] for b in as_json["matches"][0]["buffers"]] == inodes
