"""Buffers change between passes: renames move matches, frees vanish, and a Scan is always fresh."""

from conftest import PAGE_SIZE, BackgroundScans, assert_scan_is_truth, call, expected_matches, scan


def test_rename_between_two_scans_moves_the_match(daemon, buffers):
    [moving] = buffers.create("before", 2 * PAGE_SIZE, "udmabuf")
    buffers.create("before", PAGE_SIZE, "system")
    names = ["before", "after"]
    with daemon.client() as client:
        call(client, "Watch", {"names": names})
        first = scan(client)
        assert [(m["name"], m["count"], m["bytes"]) for m in first["matches"]] == [
            ("after", 0, 0), ("before", 2, 3 * PAGE_SIZE)]
        assert_scan_is_truth(first, buffers, names)
        buffers.rename(moving, "after")
        second = scan(client)
        assert [(m["name"], m["count"], m["bytes"]) for m in second["matches"]] == [
            ("after", 1, 2 * PAGE_SIZE), ("before", 1, PAGE_SIZE)]
        assert_scan_is_truth(second, buffers, names)
        assert second["scan"]["id"] > first["scan"]["id"]


def test_a_freed_buffer_vanishes_on_the_next_pass(daemon, buffers):
    ids = buffers.create("short-lived", PAGE_SIZE, "udmabuf", count=2)
    [heap] = buffers.create("short-lived", 3 * PAGE_SIZE, "system")
    with daemon.client() as client:
        call(client, "Watch", {"names": ["short-lived"]})
        assert_scan_is_truth(scan(client), buffers, ["short-lived"])
        buffers.close(heap)
        reply = scan(client)
        assert reply["matches"][0]["count"] == 2 and reply["matches"][0]["bytes"] == 2 * PAGE_SIZE
        assert_scan_is_truth(reply, buffers, ["short-lived"])
        for ident in ids:
            buffers.close(ident)
        reply = scan(client)
        assert reply["matches"] == [
            {"name": "short-lived", "prefix": False, "present": False, "count": 0, "bytes": 0}]
        assert_scan_is_truth(reply, buffers, ["short-lived"])


def test_a_pass_started_after_a_change_always_sees_it(daemon, buffers):
    """Change, then Scan at once, many times, while another client keeps passes running so
    that most of these Scans arrive during a pass and must wait for the next one."""
    names = ["fresh-a", "fresh-b"]
    background = BackgroundScans(daemon, ["fresh-a"])
    background.start()
    try:
        with daemon.client() as client:
            call(client, "Watch", {"names": names})
            last_id = 0
            for round_ in range(60):
                exporter = "system" if round_ % 3 == 0 else "udmabuf"
                steps = []

                def scan_now():
                    # The truth right after the change, then a Scan at once; compared later.
                    truth = (expected_matches(buffers, names), buffers.host_totals())
                    steps.append((scan(client), truth))

                [ident] = buffers.create("fresh-a", (round_ % 4 + 1) * PAGE_SIZE, exporter)
                scan_now()
                buffers.rename(ident, "fresh-b")
                scan_now()
                [unnamed] = buffers.create(None, PAGE_SIZE, "udmabuf")
                scan_now()
                buffers.close(ident)
                scan_now()
                buffers.rename(unnamed, "fresh-a")
                scan_now()
                buffers.close(unnamed)
                scan_now()
                counts = [[m["count"] for m in reply["matches"]] for reply, _ in steps]
                assert counts == [[1, 0], [0, 1], [0, 1], [0, 0], [1, 0], [0, 0]], (round_, steps)
                for step, (reply, (matches, totals)) in enumerate(steps):
                    assert reply["matches"] == matches, (round_, step)
                    assert (reply["scan"]["buffers"], reply["scan"]["bytes"]) == totals, (round_, step)
                    assert reply["scan"]["id"] > last_id, (round_, step)
                    last_id = reply["scan"]["id"]
    finally:
        background.stop()
    assert not background.failures, background.failures
    assert background.served > 0
