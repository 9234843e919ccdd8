"""64 clients scan in parallel while buffers are created, renamed and freed under them."""
import random
import threading
import time

from conftest import PAGE_SIZE, RawClient, assert_scan_is_truth, call, name_order, scan, wait_until_idle

CLIENTS = 64
NAMES = [f"conc-{i:02d}" for i in range(16)]
MIN_SCANS_PER_CLIENT = 6
MIN_CHANGES = 300


class Scanner(threading.Thread):
    """One client: a watch set of its own, then Scans with extra names until told to stop."""

    def __init__(self, index, socket, stop):
        super().__init__(daemon=True)
        self.index = index
        self.socket = socket
        self.stop = stop
        self.watched = sorted({NAMES[index % len(NAMES)], NAMES[(index * 5 + 3) % len(NAMES)]})
        self.replies = []  # (names expected in the reply, the reply)
        self.failure = None

    def run(self):
        try:
            with RawClient(self.socket, timeout=120) as client:
                reply = client.call("io.dmabufd.Monitor.Watch", {"names": self.watched})
                if reply.get("parameters", {}).get("names") != self.watched:
                    self.failure = f"Watch answered {reply}"
                    return
                turn = 0
                while not self.stop.is_set() or len(self.replies) < MIN_SCANS_PER_CLIENT:
                    extra = [NAMES[(self.index + turn) % len(NAMES)], f"conc-absent-{self.index}"]
                    reply = client.call("io.dmabufd.Monitor.Scan", {"names": extra})
                    self.replies.append((sorted(set(self.watched + extra), key=name_order), reply))
                    if reply is None or "error" in reply:
                        return
                    turn += 1
        except Exception as error:  # the main thread reports it
            self.failure = repr(error)


def _check_reply(names, reply, page_only):
    """Every reply internally consistent, whatever the buffers were at its pass."""
    assert reply is not None, "the service closed the connection"
    assert "error" not in reply, reply
    matches, info = reply["parameters"]["matches"], reply["parameters"]["scan"]
    assert [m["name"] for m in matches] == names, "matches not exactly the asked names, sorted and unique"
    for match in matches:
        assert match["prefix"] is False
        assert match["present"] == (match["count"] > 0), match
        assert 0 <= match["count"] <= info["buffers"], (match, info)
        if page_only:
            assert match["bytes"] == match["count"] * PAGE_SIZE, match
    # A buffer has one name: distinct names' counts never add up to more than the host has.
    assert sum(m["count"] for m in matches) <= info["buffers"], (matches, info)
    assert sum(m["bytes"] for m in matches) <= info["bytes"], (matches, info)
    if page_only:
        assert info["bytes"] == info["buffers"] * PAGE_SIZE, info
    assert "details_dropped" not in info
    return info["id"]


def test_many_clients_scan_while_buffers_change(daemon, buffers):
    page_only = all(b["size"] == PAGE_SIZE for b in buffers.baseline)
    rng = random.Random(20260601)
    for index in range(200):
        buffers.create(NAMES[index % len(NAMES)], PAGE_SIZE, "udmabuf" if index % 4 else "system")
    buffers.create(None, PAGE_SIZE, "udmabuf", count=20)

    stop = threading.Event()
    scanners = [Scanner(index, daemon.socket, stop) for index in range(CLIENTS)]
    for scanner in scanners:
        scanner.start()
    changes = 0
    started = time.monotonic()
    try:
        while changes < MIN_CHANGES or any(len(s.replies) < MIN_SCANS_PER_CLIENT and s.is_alive() for s in scanners):
            if time.monotonic() - started > 300:
                raise AssertionError(f"scanners made too little progress: {[len(s.replies) for s in scanners]}")
            action = rng.random()
            ids = buffers.ids()
            if action < 0.35 or len(ids) < 50:
                name = rng.choice(NAMES + [None])
                buffers.create(name, PAGE_SIZE, rng.choice(["udmabuf", "system"]), count=rng.randint(1, 3))
            elif action < 0.7:
                buffers.rename(rng.choice(ids), rng.choice(NAMES))
            else:
                buffers.close(rng.choice(ids))
            changes += 1
    finally:
        stop.set()
        for scanner in scanners:
            scanner.join(timeout=120)

    assert not [s.index for s in scanners if s.is_alive()], "a client hung"
    assert [s.failure for s in scanners if s.failure] == []
    for scanner in scanners:
        last_id = 0
        for names, reply in scanner.replies:
            scan_id = _check_reply(names, reply, page_only)
            assert scan_id > last_id, f"client {scanner.index}: scan ids not strictly increasing"
            last_id = scan_id
    total = sum(len(s.replies) for s in scanners)
    assert total >= CLIENTS * MIN_SCANS_PER_CLIENT

    # The service came through whole: it answers, forgot every watch, and sees the truth.
    assert daemon.process.poll() is None, daemon.output()
    wait_until_idle(daemon)
    with daemon.client() as client:
        assert_scan_is_truth(scan(client, NAMES), buffers, NAMES)
        assert len(call(client, "List")["buffers"]) == buffers.host_totals()[0]

