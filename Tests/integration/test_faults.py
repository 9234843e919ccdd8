"""Faults: clients killed mid-call, SIGTERM under a storm of calls, the service killed and
restarted on its socket, running out of descriptors, policy denials and bad policy files.

The client processes are this file run as a script (`scanner` and `storm` modes), so a
test can SIGKILL them or let them watch the service stop.
"""
import json
import os
import random
import re
import resource
import select
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import time

STATUS = "io.dmabufd.Monitor.Status"
BASE = 4  # names each scanner always watches, plus one prefix


def send(sock, method, parameters=None):
    sock.sendall(json.dumps({"method": "io.dmabufd.Monitor." + method, "parameters": parameters or {}}).encode() + b"\0")


def scanner(path, index):
    """Watches BASE names and a prefix, says "ready", then cycles Watch(extra) -> Scan(one
    more for this call) -> Unwatch(extra), checking every reply, until a line on stdin;
    then ends its cycle, says "idle" and keeps the connection until stdin closes."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(30)
    sock.connect(path)
    pending = b""

    def call(method, parameters=None):
        nonlocal pending
        send(sock, method, parameters)
        while b"\0" not in pending:
            chunk = sock.recv(65536)
            if not chunk:
                raise SystemExit(f"scanner {index}: the service closed the connection")
            pending += chunk
        message, pending = pending.split(b"\0", 1)
        reply = json.loads(message)
        if "error" in reply:
            raise SystemExit(f"scanner {index}: {method} got {reply}")
        return reply["parameters"]

    base, prefix, extra, once = [f"k{index}.{j}" for j in range(BASE)], f"kp{index}.", f"k{index}.x", f"k{index}.s"
    assert call("Watch", {"names": base, "prefixes": [prefix]}) == {"names": base, "prefixes": [prefix]}
    print("ready", flush=True)
    selector = selectors.DefaultSelector()
    selector.register(sys.stdin, selectors.EVENT_READ)
    while not selector.select(timeout=0):
        call("Watch", {"names": [extra]})
        matches = [(m["name"], m["prefix"]) for m in call("Scan", {"names": [once]})["matches"]]
        expected = sorted([(n, False) for n in base + [extra, once]] + [(prefix, True)], key=lambda e: (e[0].encode(), e[1]))
        if matches != expected:
            raise SystemExit(f"scanner {index}: Scan matched {matches}, not {expected}")
        assert call("Unwatch", {"names": [extra]}) == {"names": base, "prefixes": [prefix]}
    sys.stdin.readline()
    print("idle", flush=True)
    sys.stdin.read()  # until the test closes our stdin
    sock.close()


def storm(path, count, bound_seconds):
    """`count` connections each pipelining two calls at a time (Watch, Scan, Status, Unwatch)
    and one subscriber, until the service ends them. Says "storming" once every connection
    has had a reply; at the end prints how each connection ended. Never waits more than
    `bound_seconds` in all: a connection still open then is reported as hung."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, count + 256), hard))
    start = time.monotonic()
    selector = selectors.DefaultSelector()
    socks, pending, replies, ended, errors, answered = [], {}, {}, {}, [], set()
    calls = [("Watch", {"names": ["storm"]}), ("Scan", {"names": ["once"]}), (STATUS.rsplit(".", 1)[1], None),
             ("Unwatch", {"names": ["storm"]})]
    for i in range(count + 1):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(path)
        if i == count:
            sock.sendall(b'{"method":"io.dmabufd.Monitor.Subscribe","parameters":{"interval_msec":100},"more":true}\0')
        else:
            for step in range(2):
                send(sock, *calls[step])
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ, i)
        socks.append(sock)
        pending[i], replies[i] = b"", 0
    said_storming = False
    while len(ended) < len(socks):
        if time.monotonic() - start > bound_seconds:
            break
        if not said_storming and len(answered) == len(socks):
            print("storming", flush=True)
            said_storming = True
        for key, _ in selector.select(timeout=0.5):
            i, sock = key.data, key.fileobj
            try:
                chunk = sock.recv(65536)
            except BlockingIOError:
                continue
            except ConnectionResetError:
                chunk = None
            if not chunk:
                ended[i] = "eof" if chunk == b"" else "reset"
                selector.unregister(sock)
                continue
            pending[i] += chunk
            while b"\0" in pending[i]:
                message, pending[i] = pending[i].split(b"\0", 1)
                reply = json.loads(message)  # every reply must be whole JSON
                replies[i] += 1
                answered.add(i)
                if "error" in reply:
                    errors.append(reply["error"])
                if i < count:
                    try:
                        send(sock, *calls[(replies[i] + 1) % len(calls)])
                    except (BrokenPipeError, ConnectionResetError, BlockingIOError):
                        pass  # the service is closing: what it says next is read above
    print(json.dumps({
        "ended": {kind: sum(1 for v in ended.values() if v == kind) for kind in ("eof", "reset")},
        "hung": len(socks) - len(ended), "replies": sum(replies.values()),
        "subscriber_replies": replies[count], "errors": sorted(set(errors)),
        "error_count": len(errors)}), flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "scanner":
        scanner(sys.argv[2], int(sys.argv[3]))
    else:
        storm(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
    sys.exit(0)


# --- the tests ------------------------------------------------------------------------

import pytest  # noqa: E402

from service_helpers import DMABUFD, NOBODY, Daemon, as_user, wait_until  # noqa: E402
from varlink_raw import MONITOR, RawClient  # noqa: E402


def child(*args):
    return subprocess.Popen([sys.executable, __file__, *map(str, args)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def expect_line(process, line, timeout=30):
    ready, _, _ = select.select([process.stdout], [], [], timeout)
    assert ready, f"no {line!r} from the child within {timeout} s"
    got = process.stdout.readline().strip()
    assert got == line, f"{got!r} instead of {line!r}; exit {process.poll()}; stderr: {process.stderr.read()}"


def status(client):
    reply = client.call(STATUS)
    assert "error" not in reply, reply
    return reply["parameters"]


# --- (a) clients killed mid-call ------------------------------------------------------

def test_clients_killed_mid_call_leave_exactly_the_live_ones_names(daemon):
    seed = random.randrange(1 << 32)
    chance = random.Random(seed)
    scanners = [child("scanner", daemon.socket, i) for i in range(16)]
    try:
        for process in scanners:
            expect_line(process, "ready")
        with daemon.client() as observer:
            entries = BASE + 1
            wait_until(lambda: status(observer), lambda s: s["map_entries"] >= 16 * entries,
                       what="every scanner's watches in the maps")
            doomed = chance.sample(scanners, 8)
            for process in doomed:  # at random moments of their Watch / Scan / Unwatch cycle
                time.sleep(chance.uniform(0, 0.3))
                process.send_signal(signal.SIGKILL)
            for process in doomed:
                assert process.wait(timeout=30) == -signal.SIGKILL
            survivors = [p for p in scanners if p not in doomed]
            for process in survivors:
                assert process.poll() is None, f"a scanner failed (seed {seed}): {process.stderr.read()}"
                process.stdin.write("stop\n")
                process.stdin.flush()
            for process in survivors:
                expect_line(process, "idle")
            # The survivors hold only their base watches now; the dead hold nothing.
            expected = len(survivors) * entries
            settled = wait_until(lambda: status(observer),
                                 lambda s: s["clients"] == len(survivors) + 1 and s["map_entries"] == expected,
                                 what=f"map_entries == {expected} (seed {seed})")
            assert settled["watched"] == expected, settled
            again = status(observer)
            assert (again["map_entries"], again["watched"]) == (expected, expected), again
            for process in survivors:
                process.stdin.close()
                assert process.wait(timeout=30) == 0, process.stderr.read()
            settled = wait_until(lambda: status(observer), lambda s: s["clients"] == 1, what="every scanner gone")
            assert (settled["map_entries"], settled["watched"]) == (0, 0), settled
    finally:
        for process in scanners:
            if process.poll() is None:
                process.kill()
                process.wait()


# --- (b) SIGTERM during a storm -------------------------------------------------------

def test_sigterm_during_a_storm_of_calls():
    daemon = Daemon()
    stormer = child("storm", daemon.socket, 200, 60)
    try:
        expect_line(stormer, "storming", timeout=60)
        time.sleep(1)  # let it storm
        daemon.process.send_signal(signal.SIGTERM)
        assert daemon.process.wait(timeout=30) == 0, daemon.output()[-3000:]
        assert not os.path.exists(daemon.socket), "the socket file must be removed"
        summary = json.loads(stormer.stdout.readline())
        print(f"\nstorm at SIGTERM: {summary}")
        assert stormer.wait(timeout=60) == 0, stormer.stderr.read()
        assert summary["hung"] == 0, summary
        assert summary["ended"]["eof"] + summary["ended"]["reset"] == 201, summary
        # Only the subscriber is told why; calls get their replies or see the connection end.
        assert set(summary["errors"]) <= {"io.dmabufd.Monitor.ShuttingDown"}, summary
        assert summary["replies"] > 400, summary
    finally:
        if stormer.poll() is None:
            stormer.kill()
            stormer.wait()
        daemon.stop()
    with pytest.raises((FileNotFoundError, ConnectionRefusedError)):
        RawClient(daemon.socket)


# --- (c) the service killed, then started again on the same socket --------------------

def test_sigkill_then_restart_on_the_same_socket():
    first = Daemon()
    path = first.socket
    with first.client() as client:
        assert "error" not in client.call(MONITOR + "Watch", {"names": ["before"]})
        first.process.kill()
        assert first.process.wait(timeout=30) == -signal.SIGKILL
        assert client.ended_by_peer()
    assert os.path.exists(path), "a killed service leaves its socket file (stale)"
    with pytest.raises(ConnectionRefusedError):
        RawClient(path)
    second = Daemon(socket=path)
    try:
        with second.client() as client:
            reply = client.call(MONITOR + "Scan", {"names": ["after"]})
            assert reply["parameters"]["matches"] == [
                {"name": "after", "prefix": False, "present": False, "count": 0, "bytes": 0}], reply
            assert status(client)["map_entries"] == 0, "the new service starts with empty maps"
    finally:
        assert second.stop() == 0, second.output()
    assert not os.path.exists(path)


# --- running out of descriptors -------------------------------------------------------

def test_running_out_of_descriptors_does_not_crash_the_service():
    """dmabufd raises its soft descriptor limit only up to the hard one. Started with a hard
    limit of 256 and more busy clients than that (three storms of 120), it must keep running
    for 10 s: clients it cannot take wait or are turned away, and it serves again once they
    leave. (libdispatch, under Swift concurrency, traps when it cannot open /proc files for
    its thread-pool monitor: a service that lets its descriptors run out crashes.)"""
    daemon = Daemon(open_files=256, hard_open_files=256)
    storms = [child("storm", daemon.socket, 120, 30) for _ in range(3)]
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            assert daemon.process.poll() is None, \
                f"dmabufd died ({daemon.process.returncode}) out of descriptors:\n{daemon.output()[-2000:]}"
            time.sleep(0.1)
        for stormer in storms:
            stormer.kill()
            stormer.wait()
        with wait_until(lambda: served(daemon.socket), bool, timeout=30, what="served again") as client:
            wait_until(lambda: status(client), lambda s: s["clients"] == 1, what="the storms' connections gone")
        assert daemon.stop() == 0, daemon.output()[-3000:]
    finally:
        for stormer in storms:
            if stormer.poll() is None:
                stormer.kill()
                stormer.wait()
        daemon.stop()


def served(path):
    """A connection the service answers, or None."""
    try:
        client = RawClient(path, timeout=5)
        if "error" not in (client.call(STATUS) or {"error": "closed"}):
            return client
        client.close()
    except OSError:
        pass
    return None


# --- (d) policy denials ---------------------------------------------------------------

def test_list_as_nobody_is_denied_and_logged(daemon):
    def call_list():
        with RawClient(daemon.socket) as client:
            return client.call(MONITOR + "List"), status(client)["clients"] >= 1

    reply, still_open = as_user(NOBODY, call_list)
    assert reply == {"error": "org.varlink.service.PermissionDenied", "parameters": {}}
    assert still_open
    assert re.search(r"denied io\.dmabufd\.Monitor\.List to uid=65534 gid=65534 pid=\d+", daemon.output())


def write_policy(text):
    folder = tempfile.mkdtemp(prefix="dmabufd-policy-")
    path = os.path.join(folder, "policy.json")
    with open(path, "w") as out:
        out.write(text)
    return path


def test_policy_file_grants_and_denies():
    path = write_policy(json.dumps({
        "default": {"methods": ["Status"], "max_names": 2, "max_connections": 3, "details": False},
        "rules": [
            {"uid": 0, "methods": ["*"], "max_names": None, "max_connections": None},
            {"user": "nobody", "methods": ["Watch", "Scan", "List", "Status"], "max_names": 3},
        ],
    }))
    daemon = Daemon("--policy", path)
    try:
        def as_nobody():
            with RawClient(daemon.socket) as client:
                return {
                    "list": "error" not in client.call(MONITOR + "List"),
                    "watch": client.call(MONITOR + "Watch", {"names": ["a", "b", "c"]}),
                    "over": client.call(MONITOR + "Watch", {"names": ["d"]}),
                    "details": client.call(MONITOR + "Scan", {"details": True}),
                    "unwatch": client.call(MONITOR + "Unwatch", {"names": ["a"]}),
                    "connections": connections(),
                }

        def connections():
            """The default grant's max_connections (3) applies to nobody through its rule."""
            held = [RawClient(daemon.socket) for _ in range(2)]  # with the one above: 3
            answered = all("error" not in client.call(STATUS) for client in held)
            with RawClient(daemon.socket) as fourth:
                fourth.sock.settimeout(10)
                try:
                    turned_away = fourth.sock.recv(1) == b""
                except ConnectionResetError:
                    turned_away = True
            for client in held:
                client.close()
            return {"answered": answered, "fourth_turned_away": turned_away}

        result = as_user(NOBODY, as_nobody)
        denied = {"error": "org.varlink.service.PermissionDenied", "parameters": {}}
        assert result == {
            "list": True,
            "watch": {"parameters": {"names": ["a", "b", "c"], "prefixes": []}},
            "over": {"error": "io.dmabufd.Monitor.TooManyNames", "parameters": {"limit": 3}},
            "details": denied,
            "unwatch": denied,
            "connections": {"answered": True, "fourth_turned_away": True},
        }
        log = daemon.output()
        assert re.search(r"denied io\.dmabufd\.Monitor\.Unwatch to uid=65534 ", log), log
        assert re.search(r"denied io\.dmabufd\.Monitor\.Scan.* to uid=65534 ", log), log
        # Root, by its rule: everything, no limit of names.
        with daemon.client() as client:
            assert "error" not in client.call(MONITOR + "Watch", {"names": [f"r{i}" for i in range(300)]})
    finally:
        assert daemon.stop() == 0, daemon.output()


# --- (e) policy files with mistakes ---------------------------------------------------

BAD_POLICIES = [
    ("syntax-line-3", '{\n  "default": {\n    "methods": ["Scan",]\n  }\n}\n', "line 3"),
    ("duplicate-key-line-4", '{\n  "rules": [],\n  "default": {},\n  "rules": []\n}\n', "line 4"),
    ("empty-file", "", "line 1"),
    ("not-an-object", "[]", None),
    ("unknown-top-key", '{"defualt": {}}', "defualt"),
    ("unknown-grant-key", '{"default": {"max_name": 3}}', "default.max_name"),
    ("rules-not-array", '{"rules": {}}', "rules"),
    ("unknown-group", '{"rules": [{"uid": 0}, {"group": "no-such-group-dmabufd"}]}', "rules[1].group"),
    ("unknown-user", '{"rules": [{"user": "no-such-user-dmabufd"}]}', "rules[0].user"),
    ("two-subjects", '{"rules": [{"uid": 0, "user": "root"}]}', "rules[0]"),
    ("no-subject", '{"rules": [{"methods": ["*"]}]}', "rules[0]"),
    ("unknown-method", '{"rules": [{"uid": 0, "methods": ["Scan", "Frobnicate"]}]}', "rules[0].methods[1]"),
    ("methods-not-array", '{"default": {"methods": "Scan"}}', "default.methods"),
    ("negative-max-names", '{"default": {"max_names": -1}}', "default.max_names"),
    ("float-max-connections", '{"rules": [{"uid": 7, "max_connections": 1.5}]}', "rules[0].max_connections"),
    ("details-not-bool", '{"default": {"details": "yes"}}', "default.details"),
    ("uid-out-of-range", '{"rules": [{"uid": 4294967295}]}', "rules[0].uid"),
    ("uid-negative", '{"rules": [{"uid": -1}]}', "rules[0].uid"),
    ("gid-string", '{"rules": [{"gid": "video"}]}', "rules[0].gid"),
]


@pytest.mark.parametrize("text, where", [(t, w) for _, t, w in BAD_POLICIES], ids=[i for i, _, _ in BAD_POLICIES])
def test_a_policy_with_mistakes_refuses_to_start(text, where):
    path = write_policy(text)
    socket_path = os.path.join(os.path.dirname(path), "s.sock")
    result = subprocess.run([DMABUFD, "--socket", socket_path, "--policy", path], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 78, (result.returncode, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert path in lines[0], lines
    if where:
        assert re.search(rf"(^|[ :(]){re.escape(where)}([ :,)]|$)", lines[0]), lines
    assert not os.path.exists(socket_path), "a refused start must leave no socket"


def test_a_missing_policy_file_refuses_to_start():
    path = "/nonexistent/dmabufd-policy.json"
    result = subprocess.run([DMABUFD, "--socket", tempfile.mktemp(), "--policy", path], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 78, (result.returncode, result.stderr)
    assert result.stderr.strip().splitlines() == [f"dmabufd: policy {path}: No such file or directory"]
