"""One local user against another, or against the operator (docs/hardening.md, "Between
users"): quotas count a uid across all its connections, a share of the capacity is kept
for root, nothing a user can ask tells what another user watches, and refusals cannot
flood the log."""
import json
import os
import resource
import select
import tempfile
import threading
import time

from service_helpers import NOBODY, Daemon, connected_as, memory_kib, wait_until
from varlink_raw import MONITOR, RawClient

OTHER = 1000  # a second unprivileged user


def names(prefix, count):
    return [f"{prefix}{index:03d}" for index in range(count)]


def test_the_quota_counts_a_uid_across_its_connections():
    daemon = Daemon("--client-quota", "256")
    try:
        first, second = connected_as(NOBODY, daemon.socket), connected_as(NOBODY, daemon.socket)
        assert "error" not in first.call(MONITOR + "Watch", {"names": names("a", 200)})
        assert second.call(MONITOR + "Watch", {"names": names("b", 100)}) == {
            "error": "io.dmabufd.Monitor.TooManyNames", "parameters": {"limit": 256}}
        # Its own names cost it nothing more on another connection.
        assert "error" not in second.call(MONITOR + "Watch", {"names": names("a", 200) + names("b", 56)})
        assert second.call(MONITOR + "Status")["parameters"]["watched"] == 256
        with connected_as(OTHER, daemon.socket) as other:
            assert "error" not in other.call(MONITOR + "Watch", {"names": names("c", 256)}), "a quota of its own"
        first.close()
        second.close()
    finally:
        assert daemon.stop() == 0, daemon.output()


def test_no_user_can_take_the_share_kept_for_root():
    policy = os.path.join(tempfile.mkdtemp(), "policy.json")
    with open(policy, "w") as file:  # no quota: only the capacity bounds nobody
        file.write('{"default": {"max_names": null}, "reserve": {"names": 4}}')
    daemon = Daemon("--capacity", "64", "--policy", policy)
    try:
        clients = [connected_as(NOBODY, daemon.socket) for _ in range(4)]
        for index, client in enumerate(clients[:3]):
            assert "error" not in client.call(MONITOR + "Watch", {"names": names(f"n{index}-", 20)})
        assert clients[3].call(MONITOR + "Watch", {"names": names("n3-", 1)}) == {
            "error": "io.dmabufd.Monitor.CapacityExhausted", "parameters": {"capacity": 60}}
        with daemon.client() as root:
            assert "error" not in root.call(MONITOR + "Watch", {"names": names("root", 4)})
            assert root.call(MONITOR + "Watch", {"names": ["one-more"]}) == {
                "error": "io.dmabufd.Monitor.CapacityExhausted", "parameters": {"capacity": 64}}
            assert root.call(MONITOR + "Status")["parameters"]["watched"] == 64
        for client in clients:
            client.close()
    finally:
        assert daemon.stop() == 0, daemon.output()


def what_nobody_sees(other_watches):
    """Everything nobody can ask about its own watches, while OTHER watches `other_watches`,
    in a fresh service whose share for users is 30 names."""
    daemon = Daemon("--capacity", "32", "--client-quota", "64")
    try:
        with connected_as(OTHER, daemon.socket) as other, connected_as(NOBODY, daemon.socket) as me:
            assert "error" not in other.call(MONITOR + "Watch", {"names": other_watches})
            seen = [me.call(MONITOR + "Status")["parameters"]]
            seen.append(me.call(MONITOR + "Watch", {"names": names("x", 12)}))  # more than is left
            seen.append(me.call(MONITOR + "Watch", {"names": names("x", 10)}))
            seen.append(me.call(MONITOR + "Unwatch", {"names": names("x", 1)}))
            seen.append(me.call(MONITOR + "Scan")["parameters"]["matches"])
            seen.append(me.call(MONITOR + "Scan", {"names": names("x", 3)})["parameters"]["matches"])
            status = me.call(MONITOR + "Status")["parameters"]
            seen.append({key: status[key] for key in status if key not in ("scans", "exporters")})
            with daemon.client() as root:
                union = root.call(MONITOR + "Status")["parameters"]
        return seen, union
    finally:
        assert daemon.stop() == 0, daemon.output()


def test_nothing_nobody_can_ask_tells_whether_another_user_watches_the_same_names():
    same, union_same = what_nobody_sees(names("x", 20))
    others, union_others = what_nobody_sees(names("y", 20))
    assert same == others
    assert same[1] == {"error": "io.dmabufd.Monitor.CapacityExhausted", "parameters": {"capacity": 30}}
    assert same[-1]["watched"] == 9 and "map_entries" not in same[-1], "its own count, no totals"
    # Root sees the union, which differs.
    assert (union_same["watched"], union_same["map_entries"]) == (20, 20)
    assert (union_others["watched"], union_others["map_entries"]) == (29, 29)


def test_a_flood_of_refused_calls_writes_a_few_lines_and_then_one_summary():
    """20,000 pipelined calls nobody may not make: five log lines, then one that counts
    the rest when the 10 s window ends (the log is the operator's, not the caller's)."""
    daemon = Daemon()
    try:
        flood = 20_000
        with connected_as(NOBODY, daemon.socket) as client:
            calls = (json.dumps({"method": MONITOR + "List"}) + "\0").encode() * flood
            sender = threading.Thread(target=client.send_raw, args=(calls,))  # replies come back meanwhile
            sender.start()
            replies = [client.receive() for _ in range(flood)]
            sender.join()
        assert all(reply == {"error": "org.varlink.service.PermissionDenied", "parameters": {}} for reply in replies)
        summary = f"… and {flood - 5} more refusals of uid {NOBODY} in the last 10 s, not logged one by one"
        wait_until(daemon.output, lambda log: summary in log, timeout=20, what="the summary line")
        denied = [line for line in daemon.output().splitlines() if f"denied {MONITOR}List to uid={NOBODY}" in line]
        assert len(denied) == 5, denied
        # A new window logs again.
        with connected_as(NOBODY, daemon.socket) as client:
            assert client.call(MONITOR + "List")["error"] == "org.varlink.service.PermissionDenied"
        denied = [line for line in daemon.output().splitlines() if f"denied {MONITOR}List to uid={NOBODY}" in line]
        assert len(denied) == 6
    finally:
        assert daemon.stop() == 0, daemon.output()


def test_root_keeps_connections_that_no_other_user_can_take():
    daemon = Daemon("--max-connections", "32")  # a sixteenth, 2, kept for root
    try:
        held = []
        while True:
            client = connected_as(NOBODY, daemon.socket)
            try:
                reply = client.call(MONITOR + "Status")
            except (BrokenPipeError, ConnectionResetError):
                reply = None
            if reply is None:
                client.close()
                break
            held.append(client)
            assert len(held) <= 30, "nobody took a connection kept for root"
        assert len(held) == 30
        assert f"turned away a connection from uid={NOBODY}" in daemon.output()
        with daemon.client() as first, daemon.client() as second:
            for root in (first, second):
                assert "error" not in root.call(MONITOR + "Status")
        for client in held:
            client.close()
    finally:
        assert daemon.stop() == 0, daemon.output()


def test_unfinished_messages_of_every_connection_stay_within_one_budget():
    """4,096 connections each leave 65,000 bytes of a message unfinished: those past the
    budget (4 MiB) are told and closed, the rest wait; the service stays small while they
    hold, and gives the memory back once they are gone."""
    count = 4096
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, count + 512), hard))
    daemon = Daemon("--message-timeout-msec", "120000", open_files=count + 512)
    try:
        time.sleep(1)
        idle = memory_kib(daemon.process.pid)
        half = b'{"method": "io.dmabufd.Monitor.Status", "parameters": {"x": "' + b"a" * 64_900
        clients = []
        while len(clients) < count:
            try:
                client = RawClient(daemon.socket)
            except BlockingIOError:  # the backlog is full until the service accepts more
                time.sleep(0.01)
                continue
            clients.append(client)
            try:
                client.send_raw(half)
            except (BrokenPipeError, ConnectionResetError):
                pass  # turned down before all of it went: its reply is waiting
        over = {"error": "io.dmabufd.Monitor.InvalidMessage", "parameters": {
            "reason": "the service already holds 4194304 bytes of unfinished messages from its clients; "
                      "send each message whole, at once"}}
        time.sleep(1)  # for the service to have read every connection
        told = 0
        for client in clients:
            waiting = select.poll()  # select() stops at fd 1024
            waiting.register(client.sock, select.POLLIN)
            if waiting.poll(0):
                assert client.receive() == over
                told += 1
        assert count - 4194304 // len(half) - 1 <= told < count, "only what fits the budget waits"
        with daemon.client() as root:
            assert "error" not in root.call(MONITOR + "Status"), "a whole message is still served"
        # Freed memory goes back to the kernel within the trimmer's period (10 s).
        holding = wait_until(lambda: memory_kib(daemon.process.pid), lambda kib: kib < 128 * 1024, timeout=15,
                             what="RSS under 128 MiB while the messages are held")
        for client in clients:
            client.close()
        after = wait_until(lambda: memory_kib(daemon.process.pid), lambda kib: kib < idle + 16 * 1024, timeout=15,
                           what="RSS back near idle")
        print(f"RSS: idle {idle // 1024} MiB, holding {holding // 1024} MiB, after {after // 1024} MiB")
    finally:
        assert daemon.stop() == 0, daemon.output()


def test_one_user_cannot_keep_the_pass_thread_busy():
    """Passes a uid other than root asks for are spaced 100 ms apart by default (the
    policy's pass_interval_msec); root's are not; a subscription's interval is at least
    its uid's spacing."""
    daemon = Daemon()
    try:
        with connected_as(NOBODY, daemon.socket) as nobody, daemon.client() as root:
            started = time.monotonic()
            for _ in range(20):
                assert "error" not in nobody.call(MONITOR + "Scan")
            assert time.monotonic() - started >= 1.9, "20 passes of one user are 100 ms apart"
            before = root.call(MONITOR + "Status")["parameters"]["scans"]
            ids = {root.call(MONITOR + "Scan")["parameters"]["scan"]["id"] for _ in range(20)}
            assert len(ids) == 20 and root.call(MONITOR + "Status")["parameters"]["scans"] == before + 20
    finally:
        assert daemon.stop() == 0, daemon.output()
    policy = os.path.join(tempfile.mkdtemp(), "policy.json")
    with open(policy, "w") as file:
        file.write('{"default": {"pass_interval_msec": 500}}')
    daemon = Daemon("--policy", policy)
    try:
        with connected_as(NOBODY, daemon.socket) as nobody, daemon.client() as root:
            nobody.send(MONITOR + "Subscribe", {"interval_msec": 100}, more=True)
            assert "error" not in nobody.receive()
            time.sleep(2.2)
            passes = root.call(MONITOR + "Status")["parameters"]["scans"]
            assert 2 <= passes <= 6, f"{passes} passes in 2.2 s for a subscription spaced 500 ms"
    finally:
        assert daemon.stop() == 0, daemon.output()
