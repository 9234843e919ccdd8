"""Who holds each buffer (`Processes`): processes that hold real buffers by an fd, a
duplicated fd, a mapping alone, shared with another process, from a process with many
threads, in child cgroups, and after a change of uid; a buffer whose only fd is in flight
in an unread SCM_RIGHTS message. Each table equals the test's own truth and what a walk
of /proc (fdinfo and maps) says."""
import json
import os
import socket
import subprocess
import sys

import pytest

from conftest import HERE, PAGE_SIZE, NOBODY, as_user, call, dmabufctl, read_bufinfo

HOLDER = os.path.join(HERE, "holder.py")
CGROUP_ROOT = "/sys/fs/cgroup"


class Holders:
    """Holder processes (holder.py) started by a test, stopped (and their cgroups removed) after it."""

    def __init__(self):
        self.processes = []
        self.cgroups = []

    def cgroup(self, name):
        path = os.path.join(CGROUP_ROOT, name)
        os.makedirs(path, exist_ok=True)
        self.cgroups.append(path)
        return path

    def start(self, name, fds=(), dups=(), maps=(), threads=0, cgroup=None, uid=None, launcher=()):
        """A holder of the fds given (kept, duplicated or mapped); its pid once it holds them
        (as its own pid namespace numbers it: `launcher` may start it in another)."""
        args = [*launcher, sys.executable, HOLDER, "--name", name, "--threads", str(threads)]
        args += [f"--fd={fd}" for fd in fds] + [f"--dup={fd}" for fd in dups] + [f"--map={fd}" for fd in maps]
        if cgroup:
            args += ["--cgroup", cgroup]
        if uid is not None:
            args += ["--uid", str(uid)]
        process = subprocess.Popen(args, pass_fds=sorted(set(fds) | set(dups) | set(maps)), stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, text=True)
        self.processes.append(process)
        line = process.stdout.readline()
        assert line.startswith("ready "), f"holder {name} did not start: {line!r}"
        return int(line.split()[1])

    def stop(self):
        for process in self.processes:
            process.stdin.close()
            process.wait(timeout=30)
        for path in reversed(self.cgroups):
            os.rmdir(path)


@pytest.fixture
def holders():
    started = Holders()
    yield started
    started.stop()


def proc_walk(pid):
    """What /proc says a process holds: {inode: size}, its DMA-BUF fds, its DMA-BUF mappings."""
    sizes, fds, mappings = {}, 0, set()
    folder = f"/proc/{pid}/fdinfo"
    for fd in os.listdir(folder):
        try:
            with open(os.path.join(folder, fd)) as info:
                fields = dict(line.split(":", 1) for line in info.read().splitlines() if ":" in line)
        except FileNotFoundError:
            continue
        if "exp_name" in fields:
            inode = int(fields["ino"])
            sizes[inode] = int(fields["size"])
            fds += 1
    with open(f"/proc/{pid}/maps") as maps:
        for line in maps:
            parts = line.split(None, 5)
            if len(parts) == 6 and parts[5].startswith("/dmabuf:"):
                start, end = (int(x, 16) for x in parts[0].split("-"))
                mappings.add(start)
                sizes.setdefault(int(parts[4]), None)
    return sizes, fds, len(mappings)


def cgroup_of(pid):
    with open(f"/proc/{pid}/cgroup") as cgroups:
        return next(line.split(":", 2)[2].strip() for line in cgroups if line.startswith("0::"))


def processes(client):
    reply = call(client, "Processes")
    return {process["pid"]: process for process in reply["processes"]}, reply


def test_processes_are_the_truth_and_what_proc_says(daemon, buffers, holders):
    sizes = {"alone": 4 * PAGE_SIZE, "shared": 2 * PAGE_SIZE, "mapped": 8 * PAGE_SIZE, "threads": PAGE_SIZE,
             "other-uid": 3 * PAGE_SIZE, "in-flight": 5 * PAGE_SIZE}
    ids = {name: buffers.create(f"hold-{name}", size, "udmabuf")[0] for name, size in sizes.items()}
    fd = {name: buffers.buffers[ident].fd for name, ident in ids.items()}
    inode = {name: buffers.buffers[ident].inode for name, ident in ids.items()}
    cgroup_a, cgroup_b = holders.cgroup("dmabufd-test-a"), holders.cgroup("dmabufd-test-b")

    a = holders.start("holder-a", fds=[fd["alone"], fd["shared"]], dups=[fd["alone"]], cgroup=cgroup_a)
    b = holders.start("holder-b", fds=[fd["shared"]], maps=[fd["mapped"]], cgroup=cgroup_b)
    c = holders.start("holder-c", fds=[fd["threads"]], threads=3, cgroup=cgroup_b)
    d = holders.start("holder-d", fds=[fd["other-uid"]], uid=65534)
    # The only fd of "in-flight" goes into a socket message nobody reads: only the kernel holds it.
    sender, receiver = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    socket.send_fds(sender, [b"x"], [fd["in-flight"]])
    for ident in ids.values():
        buffers.close(ident)  # the holders hold them now; this process none
    try:
        with daemon.client() as client:
            table, reply = processes(client)
            listed = {b["inode"]: b for b in call(client, "List")["buffers"]}
        counted = {b["inode"]: b["references"] for b in read_bufinfo()}
    finally:
        sender.close()
        receiver.close()

    page = PAGE_SIZE
    expected = {  # pid: (command, uid, cgroup, rss, pss, buffers, fds, mappings)
        a: ("holder-a", 0, "/dmabufd-test-a", 6 * page, 4 * page + page, 2, 3, 0),
        b: ("holder-b", 0, "/dmabufd-test-b", 10 * page, 8 * page + page, 2, 1, 1),
        c: ("holder-c", 0, "/dmabufd-test-b", page, page, 1, 1, 0),
        d: ("holder-d", 65534, "/", 3 * page, 3 * page, 1, 1, 0),
    }
    got = {pid: (p["command"], p["uid"], p["cgroup"], p["rss"], p["pss"], p["buffers"], p["fds"], p["mappings"])
           for pid, p in table.items()}
    assert got == expected, reply
    for pid in expected:
        held, fds, mappings = proc_walk(pid)
        assert (table[pid]["buffers"], table[pid]["fds"], table[pid]["mappings"]) == (len(held), fds, mappings)
        assert table[pid]["cgroup"] == cgroup_of(pid)
    assert [p["pid"] for p in reply["processes"]] == [b, a, d, c], "largest pss first"
    assert reply["kernel_held"] == {"count": 1, "bytes": sizes["in-flight"]}
    assert reply["scan"]["buffers"] == len(sizes) + len(buffers.baseline), "the holders keep every buffer alive"
    assert inode["in-flight"] not in {i for pid in expected for i in proc_walk(pid)[0]}
    # References to each buffer's file: an fd and its duplicate, two processes' fds, a mapping
    # alone, one fd shared by threads, and the socket message in flight; bufinfo counts the same.
    references = {"alone": 2, "shared": 2, "mapped": 1, "threads": 1, "other-uid": 1, "in-flight": 1}
    assert {name: listed[inode[name]]["references"] for name in sizes} == references
    assert {name: counted[inode[name]] for name in sizes} == references


def test_a_user_sees_only_its_own_processes(daemon, buffers, holders):
    ident = buffers.create("hold-users", PAGE_SIZE, "udmabuf")[0]
    other_ident = buffers.create("hold-root", PAGE_SIZE, "udmabuf")[0]
    mine = holders.start("holder-nobody", fds=[buffers.buffers[ident].fd], uid=NOBODY)
    root = holders.start("holder-root", fds=[buffers.buffers[other_ident].fd])
    for held in (ident, other_ident):
        buffers.close(held)

    def ask():
        from varlink_raw import RawClient
        with RawClient(daemon.socket) as client:
            return call(client, "Processes")

    seen = as_user(NOBODY, ask)
    assert [p["pid"] for p in seen["processes"]] == [mine]
    with daemon.client() as client:
        assert {mine, root} <= set(processes(client)[0])


def test_dmabufctl_top_shows_the_holders_largest_share_first(daemon, buffers, holders):
    big, small = (buffers.create(f"hold-top-{n}", n * PAGE_SIZE, "udmabuf")[0] for n in (4, 1))
    first = holders.start("holder-small", fds=[buffers.buffers[small].fd])
    second = holders.start("holder-big", fds=[buffers.buffers[big].fd])
    for ident in (big, small):
        buffers.close(ident)
    result = dmabufctl("top", "--socket", daemon.socket)
    assert result.returncode == 0, result.stderr
    rows = [line.split() for line in result.stdout.splitlines()]
    assert rows[0] == ["PID", "UID", "COMMAND", "CGROUP", "PSS", "RSS", "BUFFERS", "FDS", "MAPS"]
    assert [row[:3] for row in rows[1:3]] == [[str(second), "0", "holder-big"], [str(first), "0", "holder-small"]]
    assert rows[1][4:] == ["16.0", "KiB", "16.0", "KiB", "1", "1", "0"]
    assert " ".join(rows[3]) == "held by the kernel alone: 0 buffers, 0 B"


MINE_CLIENT = """
import json, os, sys
sys.path[:0] = sys.argv[3:]
with open(os.path.join(sys.argv[2], "cgroup.procs"), "w") as procs:
    procs.write(str(os.getpid()))
from varlink_raw import MONITOR, RawClient
with RawClient(sys.argv[1]) as client:
    print(json.dumps(client.call(MONITOR + "Mine")))
"""


def mine_from(daemon, cgroup):
    """Mine, asked by a fresh process that first moves into `cgroup`."""
    paths = [os.path.join(os.path.dirname(HERE), "integration")]
    result = subprocess.run([sys.executable, "-c", MINE_CLIENT, daemon.socket, cgroup, *paths],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_cgroups_count_each_subtree_and_mine_answers_for_the_callers(daemon, buffers, holders):
    page = PAGE_SIZE
    x, s, y = (buffers.create(f"hold-cg-{name}", n * page, "udmabuf")[0] for name, n in (("x", 4), ("s", 2), ("y", 1)))
    fd = {ident: buffers.buffers[ident].fd for ident in (x, s, y)}
    tree = holders.cgroup("dmabufd-tree")
    a, b = holders.cgroup("dmabufd-tree/a"), holders.cgroup("dmabufd-tree/b")
    first = holders.start("holder-cg-a", fds=[fd[x], fd[s]], cgroup=a)
    second = holders.start("holder-cg-b", fds=[fd[s]], maps=[fd[y]], cgroup=b)
    for ident in (x, s, y):
        buffers.close(ident)

    with daemon.client() as client:
        reply = call(client, "Cgroups")
    by_path = {cgroup["path"]: cgroup for cgroup in reply["cgroups"]}
    figures = {path: (c["rss"], c["pss"], c["buffers"], c["processes"]) for path, c in by_path.items()}
    assert figures == {
        "/": (7 * page, 7 * page, 3, 2),
        "/dmabufd-tree": (7 * page, 7 * page, 3, 2),
        "/dmabufd-tree/a": (6 * page, 5 * page, 2, 1),
        "/dmabufd-tree/b": (3 * page, 2 * page, 2, 1),
    }, reply
    assert [c["path"] for c in reply["cgroups"]] == sorted(figures), "a parent before its children"

    # A client (holding nothing itself) asks from inside b, then from the tree's top.
    in_b = mine_from(daemon, b)["parameters"]
    assert in_b["cgroup"] == dict(by_path["/dmabufd-tree/b"])
    assert [p["pid"] for p in in_b["processes"]] == [second]
    in_tree = mine_from(daemon, tree)["parameters"]
    assert in_tree["cgroup"] == dict(by_path["/dmabufd-tree"])
    assert [p["pid"] for p in in_tree["processes"]] == [first, second]

    result = dmabufctl("cgroups", "--socket", daemon.socket)
    assert result.returncode == 0, result.stderr
    rows = [line.split() for line in result.stdout.splitlines()]
    assert [row[0] for row in rows[:5]] == ["CGROUP", "/", "dmabufd-tree", "a", "b"]
    assert result.stdout.splitlines()[3].startswith("    a "), "a child is indented under its parent"


def test_scan_holders_names_who_holds_each_match(daemon, buffers, holders):
    page = PAGE_SIZE
    cam = buffers.create("hold-scan-cam", 2 * page, "udmabuf", count=2)
    gpu = buffers.create("hold-scan-gpu", page, "system")[0]
    fd = {ident: buffers.buffers[ident].fd for ident in cam + [gpu]}
    viewer = holders.start("viewer", fds=[fd[cam[0]]], maps=[fd[cam[1]], fd[gpu]])
    mirror = holders.start("mirror", fds=[fd[cam[0]]], uid=NOBODY)
    for ident in cam + [gpu]:
        buffers.close(ident)

    with daemon.client() as client:
        reply = call(client, "Scan", {"names": ["hold-scan-cam", "hold-scan-gpu", "nothing"], "holders": True})
    holders_of = {m["name"]: m["holders"] for m in reply["matches"]}
    assert holders_of == {
        "hold-scan-cam": [{"pid": viewer, "command": "viewer", "bytes": 4 * page},
                          {"pid": mirror, "command": "mirror", "bytes": 2 * page}],
        "hold-scan-gpu": [{"pid": viewer, "command": "viewer", "bytes": page}],
        "nothing": [],
    }
    assert all("buffers" not in m for m in reply["matches"]), "holders without details"

    def as_nobody():
        from varlink_raw import RawClient
        with RawClient(daemon.socket) as client:
            return call(client, "Scan", {"names": ["hold-scan-cam"], "holders": True})

    assert as_user(NOBODY, as_nobody)["matches"][0]["holders"] == [
        {"pid": mirror, "command": "mirror", "bytes": 2 * page}], "a user sees its own processes"
    result = dmabufctl("scan", "--socket", daemon.socket, "--holders", "hold-scan-gpu")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[2].split() == [f"pid", str(viewer), "viewer", str(page), "4.0", "KiB"]


def test_metrics_report_kernel_held_and_per_cgroup_bytes(daemon, buffers, holders):
    from metrics_text import Metrics
    page = PAGE_SIZE
    held, loose = buffers.create("hold-metrics", 2 * page, "udmabuf")[0], buffers.create("hold-loose", 3 * page)[0]
    cgroup = holders.cgroup("dmabufd-metrics")
    holders.start("holder-metrics", fds=[buffers.buffers[held].fd], cgroup=cgroup)
    sender, receiver = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    socket.send_fds(sender, [b"x"], [buffers.buffers[loose].fd])
    for ident in (held, loose):
        buffers.close(ident)
    try:
        with daemon.client() as client:
            call(client, "Processes")  # a walk the scrape reports, if it reuses this pass
        result = dmabufctl("metrics", "--socket", daemon.socket)
    finally:
        sender.close()
        receiver.close()
    assert result.returncode == 0, result.stderr
    metrics = Metrics(result.stdout)
    assert metrics.value("dmabufd_kernel_held_buffers") == 1
    assert metrics.value("dmabufd_kernel_held_bytes") == 3 * page
    assert metrics.by("dmabufd_cgroup_bytes", "cgroup") == {"/": 2 * page, "/dmabufd-metrics": 2 * page}


PROCESSES_CLIENT = """
import json, sys
sys.path[:0] = sys.argv[2:]
from varlink_raw import MONITOR, RawClient
with RawClient(sys.argv[1]) as client:
    print(json.dumps(client.call(MONITOR + "Processes")))
"""


def test_a_client_in_its_own_pid_namespace_never_sees_a_host_pid(daemon, buffers, holders):
    """A client in a pid namespace of its own (a container without the host's) gets its
    namespace's numbers for the processes there and 0 for every other. The walk itself
    tells dmabufd the client's namespace (its pidfd would not: that needs a ptrace check
    dmabufd, with no capability left, fails for other users)."""
    inner_buffer, outer_buffer = (buffers.create(f"hold-ns-{n}", PAGE_SIZE, "udmabuf")[0] for n in ("in", "out"))
    # A holder in a pid namespace of its own, where it is pid 1; `unshare` (root, which
    # keeps the passed fd too) is its parent.
    inner = holders.start("holder-ns-in", fds=[buffers.buffers[inner_buffer].fd], uid=NOBODY,
                          launcher=["unshare", "--pid", "--fork", "--kill-child"])
    assert inner == 1
    unshare = holders.processes[-1].pid
    with open(f"/proc/{unshare}/task/{unshare}/children") as children:
        inner_on_host = int(children.read().split()[0])
    outer = holders.start("holder-ns-out", fds=[buffers.buffers[outer_buffer].fd], uid=NOBODY)
    for ident in (inner_buffer, outer_buffer):
        buffers.close(ident)

    paths = [os.path.join(os.path.dirname(HERE), "integration")]
    as_user_inside = ["nsenter", f"--target={inner_on_host}", "--pid", "--", "setpriv", f"--reuid={NOBODY}",
                      f"--regid={NOBODY}", "--clear-groups", sys.executable, "-c", PROCESSES_CLIENT, daemon.socket,
                      *paths]
    asked = subprocess.run(as_user_inside, capture_output=True, text=True, timeout=120)
    assert asked.returncode == 0, asked.stderr
    seen = {p["command"]: p["pid"] for p in json.loads(asked.stdout)["parameters"]["processes"]}
    assert seen == {"holder-ns-in": 1, "holder-ns-out": 0}, "its own namespace's numbers, 0 for the host's"
    with daemon.client() as client:
        host = {p["command"]: p["pid"] for p in call(client, "Processes")["processes"]}
    assert host == {"holder-ns-in": inner_on_host, "holder-ns-out": outer, "unshare": unshare}


def test_a_holder_leaving_moves_its_share_to_the_others(daemon, buffers, holders):
    shared = buffers.create("hold-leave", 4 * PAGE_SIZE, "udmabuf")[0]
    fd = buffers.buffers[shared].fd
    leaving = holders.start("holder-leaves", fds=[fd])
    staying = holders.start("holder-stays", fds=[fd])
    buffers.close(shared)
    with daemon.client() as client:
        before = processes(client)[0]
        assert (before[leaving]["pss"], before[staying]["pss"]) == (2 * PAGE_SIZE, 2 * PAGE_SIZE)
        process = next(p for p in holders.processes if p.poll() is None and p.pid == leaving)
        process.stdin.close()
        process.wait(timeout=30)
        after = processes(client)[0]
    assert leaving not in after
    assert (after[staying]["pss"], after[staying]["rss"]) == (4 * PAGE_SIZE, 4 * PAGE_SIZE)


def test_processes_coming_going_and_moving_during_walks_break_nothing(daemon, buffers, holders):
    """Holders start, move between cgroups and exit while a client keeps asking: every
    answer comes, and every row in it is whole and consistent."""
    import threading
    ident = buffers.create("hold-churn", PAGE_SIZE, "udmabuf")[0]
    fd = buffers.buffers[ident].fd
    cgroups = [holders.cgroup("dmabufd-churn-a"), holders.cgroup("dmabufd-churn-b")]
    stop = threading.Event()

    def churn():
        round_ = 0
        while not stop.is_set():
            process = subprocess.Popen([sys.executable, HOLDER, "--name", "churner", f"--fd={fd}"], pass_fds=[fd],
                                       stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            pid = int(process.stdout.readline().split()[1])
            for cgroup in cgroups:
                with open(os.path.join(cgroup, "cgroup.procs"), "w") as procs:
                    procs.write(str(pid))
            round_ += 1
            process.stdin.close()
            process.wait(timeout=30)
        return round_

    worker = threading.Thread(target=churn)
    worker.start()
    try:
        with daemon.client() as client:
            for _ in range(20):
                reply = call(client, "Processes")
                for row in reply["processes"]:
                    assert row["pid"] > 0 and row["command"]
                    assert 0 < row["pss"] <= row["rss"] and row["buffers"] >= 1
                    assert row["fds"] + row["mappings"] >= 1
                call(client, "Cgroups")
    finally:
        stop.set()
        worker.join(timeout=60)
    assert daemon.process.poll() is None, daemon.output()
