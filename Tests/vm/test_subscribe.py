"""Subscribe on real buffers: the exact sequence of replies as buffers appear, join a
name, are renamed away and freed; details that equal the truth; and a subscriber that
stops reading while everything changes costs the service no memory."""
import socket
import threading
import time

from conftest import PAGE_SIZE, BackgroundScans, call, expected_matches

INTERVAL = 0.25  # seconds: passes under TCG take milliseconds, so this leaves slack


def subscribe(client, **parameters):
    client.send("io.dmabufd.Monitor.Subscribe", parameters, more=True)
    reply = client.receive()
    assert reply is not None and reply.get("continues") is True, reply
    return reply["parameters"]


def next_news(client, changed_at, timeout=10):
    """The next stream reply; its pass must have started within two intervals of the change."""
    client.sock.settimeout(timeout)
    reply = client.receive()
    assert reply is not None and reply.get("continues") is True, reply
    started = reply["parameters"]["scan"]["started_usec"] / 1e6
    assert started - changed_at < 2 * INTERVAL, f"the pass that saw it started {started - changed_at:.3f} s later"
    return reply["parameters"]


def quiet(client, seconds):
    client.sock.settimeout(seconds)
    try:
        return client.receive() is None
    except socket.timeout:
        return True


def only(matches, *keys):
    return [m for m in matches if (m["name"], m["prefix"]) in keys]


def test_each_change_is_one_reply_with_only_what_changed(daemon, buffers):
    names, prefixes = ["sub-cam", "sub-quiet"], ["sub-"]
    buffers.create("sub-quiet", PAGE_SIZE, "system")
    with daemon.client() as client:
        call(client, "Watch", {"names": names, "prefixes": prefixes})
        first = subscribe(client, interval_msec=int(INTERVAL * 1000))
        assert first["matches"] == expected_matches(buffers, names, prefixes), "the first reply holds everything"
        cam, prefix = ("sub-cam", False), ("sub-", True)

        def expect_news(change, *keys):
            changed_at = time.time()
            change()
            news = next_news(client, changed_at)
            assert news["matches"] == only(expected_matches(buffers, names, prefixes), *keys)
            return news

        # Appears, then grows one buffer at a time: the name and the prefix both change.
        expect_news(lambda: buffers.create("sub-cam", PAGE_SIZE, "udmabuf"), prefix, cam)
        a = buffers.ids()[-1]
        expect_news(lambda: buffers.create("sub-cam", 2 * PAGE_SIZE, "system"), prefix, cam)
        expect_news(lambda: buffers.create("sub-cam", 3 * PAGE_SIZE, "udmabuf"), prefix, cam)
        # Renamed within the prefix: only the name changes; renamed away: both.
        expect_news(lambda: buffers.rename(a, "sub-other"), cam)
        expect_news(lambda: buffers.rename(a, "elsewhere"), prefix)
        # Freed one by one; the last leaves the name absent.
        for ident in [i for i in buffers.ids() if buffers.buffers[i].name == "sub-cam"]:
            news = expect_news(lambda: buffers.close(ident), prefix, cam)
        assert only(news["matches"], cam) == [
            {"name": "sub-cam", "prefix": False, "present": False, "count": 0, "bytes": 0}]
        assert quiet(client, 3 * INTERVAL), "nothing more: sub-quiet never changed"


def test_subscribe_details_equal_the_truth(daemon, buffers):
    buffers.create("sub-det", PAGE_SIZE, "udmabuf", count=2)
    buffers.create("sub-det", 2 * PAGE_SIZE, "system")
    with daemon.client() as client:
        call(client, "Watch", {"names": ["sub-det"]})
        [match] = subscribe(client, interval_msec=100, details=True)["matches"]
    # One reference each: the fixture's fd.
    truth = sorted(({**{k: b[k] for k in ("inode", "size", "name", "exporter")}, "references": 1}
                    for b in buffers.truth()), key=lambda b: b["inode"])
    assert match["buffers"] == truth


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))


def test_a_subscriber_that_stops_reading_costs_no_memory(daemon, buffers):
    """1,000 buffers under one prefix, watched with details: each reply is ~100 KB. A rename
    every 20 ms makes every pass news. Unpaced, 10 s of passes every 100 ms would queue
    ~10 MB for a reader that does not read; paced, the service holds one reply."""
    ids = buffers.create("stall-0", PAGE_SIZE, "udmabuf", count=1000)
    stop = threading.Event()

    def keep_renaming():
        turn = 0
        while not stop.is_set():
            turn += 1
            buffers.rename(ids[turn % len(ids)], f"stall-{turn % 7}")
            time.sleep(0.02)

    with daemon.client() as stalled:
        call(stalled, "Watch", {"names": [], "prefixes": ["stall-"]})
        subscribe(stalled, interval_msec=100, details=True)
        renamer, other = threading.Thread(target=keep_renaming), BackgroundScans(daemon, ["stall-1"])
        renamer.start()
        other.start()
        try:
            time.sleep(2)  # warm: the service's buffers for a 100 KB reply are allocated
            before = rss_kib(daemon.process.pid)
            time.sleep(10)
            after = rss_kib(daemon.process.pid)
        finally:
            stop.set()
            renamer.join()
            other.stop()
        assert not other.failures, other.failures
        assert other.served >= 10, f"the other client was served only {other.served} times in 12 s"
        assert after - before < 4096, f"RSS grew from {before} KiB to {after} KiB while a subscriber did not read"

        # Reading again, it gets what was sent before it stopped, then the state as it is now.
        stalled.sock.settimeout(1.0)
        replies = []
        while True:
            try:
                reply = stalled.receive()
            except socket.timeout:
                break
            assert reply is not None and reply.get("continues") is True, reply
            replies.append(reply["parameters"])
        assert replies, "nothing came once the subscriber read again"
        assert len(replies) <= 3, f"{len(replies)} replies queued for a subscriber that did not read"
        [match] = replies[-1]["matches"]
        truth = sorted((b["inode"], b["name"]) for b in buffers.truth())
        assert sorted((b["inode"], b["name"]) for b in match["buffers"]) == truth
