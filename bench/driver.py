#!/usr/bin/env python3
"""The measurements of `bench/run`, as root: `driver.py vm` inside the VM (real buffers),
`driver.py host` on the host (start-up, memory, and the service's own costs natively, with a
perf profile: the host's kernel exports no buffers). Each writes one JSON file.

Every method computes the same answer -- for each watched name, (count, bytes) -- and every
sample is checked against the fixture's truth; a mismatch is recorded in "failures".
bench/METHOD.md says what each method does and what is timed."""
import argparse
import json
import os
import platform
import re
import selectors
import signal
import statistics
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.join(REPO, "Tests", "vm"), os.path.join(REPO, "Tests", "integration")]
from dmabuf_fixture import BufferSet, PAGE_SIZE, raise_fd_limit  # noqa: E402
from service_helpers import memory_kib  # noqa: E402
from varlink_raw import MONITOR, RawClient  # noqa: E402

# The VM subscribes with 10 names each (under TCG the service's per-name work is ~50x slower
# than on the host); the host, without buffers, with 10 and 1,000.
FULL = {"ns": [1_000, 10_000, 50_000], "ms": [10, 100, 1_000], "samples": 20, "warmup": 2, "budget": 10.0,
        "attribution_ns": [10_000, 50_000], "holder_processes": 200,
        "subscribers": 100, "subscribe_seconds": 4.5, "subscribe_ms": [10], "host_subscribe_ms": [10, 1_000],
        "connections": 1_000, "starts": 10, "profile_seconds": 3.0, "metrics_ms": [1_000, 16_384],
        "big_n": 250_000, "big_m": 100_000, "big_watch_call": 1_000, "big_samples": 3}
QUICK = {"ns": [100], "ms": [10], "samples": 2, "warmup": 1, "budget": 5.0,
         "attribution_ns": [100], "holder_processes": 4,
         "subscribers": 4, "subscribe_seconds": 0.6, "subscribe_ms": [10], "host_subscribe_ms": [10],
         "connections": 20, "starts": 2, "profile_seconds": 0.5, "metrics_ms": [10],
        "big_n": 300, "big_m": 100, "big_watch_call": 20, "big_samples": 1}
MIN_SAMPLES = 5          # a slow method stops after `budget` seconds, but not before this many
NAMES_ON_BUFFERS = 2_000  # buffer i is named bench-(i mod 2000): M watched names match M/2000 of them
CONCURRENT = 64
SUBSCRIBE_INTERVAL_MSEC = 100
SMALL_RING = 4096
BUFINFO = "/sys/kernel/debug/dma_buf/bufinfo"
# One watched name's series in the metrics text: its name and value.
WATCHED_SERIES = re.compile(r'^dmabufd_watched_(buffers|bytes)\{name="([^"\\]*)",kind="name"\} (\d+)$', re.M)
# A buffer's line in bufinfo: size, flags, mode, count, exporter, inode, name ("<none>": unnamed).
BUFINFO_LINE = re.compile(rb"^(\d+)\t[0-9a-f]+\t[0-9a-f]+\t\d+\t[^\t]*\t\d+\t(.*)$", re.M)

failures = []


def watched_names(m):
    return [f"bench-{i}" for i in range(m)]


def zero_answer(names):
    return {name: (0, 0) for name in names}


def count_into(answer, name, size):
    if name in answer:
        count, total = answer[name]
        answer[name] = (count + 1, total + size)


def check(what, answer, expected):
    if answer != expected:
        wrong = sorted(name for name in expected if answer.get(name) != expected[name])[:5]
        failures.append(f"{what}: answer differs from the truth, e.g. {[(n, answer.get(n), expected[n]) for n in wrong]}")
        return False
    return True


def summary(values):
    """Median, p10, p90, min, max of a list of numbers, and how many."""
    ordered = sorted(values)
    pick = lambda q: ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]  # noqa: E731
    return {"median": statistics.median(ordered), "p10": pick(0.1), "p90": pick(0.9),
            "min": ordered[0], "max": ordered[-1], "samples": len(ordered)}


def measure(what, run, expected, config, extras=()):
    """Times `run()` (which returns the answer and a dict of sub-timings, numbers or lists) after
    warm-up, until `samples` samples or, past MIN_SAMPLES, until the budget is spent; checks
    every answer. A run that takes over a fifth of the budget is warm after one."""
    deadline = time.monotonic() + config["budget"]
    for _ in range(config["warmup"]):
        check(what, run()[0], expected)
        if time.monotonic() > deadline - 0.8 * config["budget"]:
            break
    times, parts, agrees = [], {key: [] for key in extras}, True
    deadline = time.monotonic() + config["budget"]
    while len(times) < config["samples"] and (len(times) < MIN_SAMPLES or time.monotonic() < deadline):
        started = time.perf_counter_ns()
        answer, sub = run()
        times.append(time.perf_counter_ns() - started)
        agrees = check(what, answer, expected) and agrees
        for key in extras:
            parts[key] += sub[key] if isinstance(sub[key], list) else [sub[key]]
    return {"nsec": summary(times), "agrees": agrees, **{key: summary(v) for key, v in parts.items()}}


# --- the service -------------------------------------------------------------------------

class Service:
    """A dmabufd of the driver's own at default options, and how long it took to serve."""

    def __init__(self, bin_dir, *options):
        self.folder = tempfile.mkdtemp(prefix="dmabufd-bench-")
        self.socket = os.path.join(self.folder, "dmabufd.sock")
        self.log = open(os.path.join(self.folder, "dmabufd.log"), "w+")
        started = time.perf_counter_ns()
        self.process = subprocess.Popen([os.path.join(bin_dir, "dmabufd"), "--socket", self.socket, *options],
                                        stdout=self.log, stderr=subprocess.STDOUT)
        self.startup_nsec = self._first_status(started) - started

    def _first_status(self, started, timeout=120):
        """When a connect and a Status call first succeeded (the clock of perf_counter_ns)."""
        while time.perf_counter_ns() - started < timeout * 1e9:
            if self.process.poll() is not None:
                break
            try:
                with RawClient(self.socket) as client:
                    if "error" not in (client.call(MONITOR + "Status") or {"error": "closed"}):
                        return time.perf_counter_ns()
            except OSError:
                pass
            time.sleep(0.001)
        self.log.seek(0)
        raise RuntimeError(f"dmabufd did not serve:\n{self.log.read()}")

    def status(self):
        with RawClient(self.socket) as client:
            return call(client, "Status")

    def wait_idle(self, timeout=60):
        deadline = time.monotonic() + timeout
        while (state := self.status())["clients"] != 1 or state["watched"] != 0:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the service never became idle: {state}")
            time.sleep(0.05)

    def rss_kib(self):
        return memory_kib(self.process.pid)

    def cpu_nsec(self):
        """CPU time of the service's threads (schedstat: nanoseconds; utime+stime count 10 ms ticks)."""
        total = 0
        for task in os.listdir(f"/proc/{self.process.pid}/task"):
            try:
                with open(f"/proc/{self.process.pid}/task/{task}/schedstat") as schedstat:
                    total += int(schedstat.read().split()[0])
            except OSError:
                pass  # the thread ended
        return total

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=60)


def call(client, method, parameters=None, **flags):
    reply = client.call(MONITOR + method, parameters, **flags)
    if reply is None or "error" in reply:
        raise RuntimeError(f"{method}: {reply}")
    return reply["parameters"]


def clients(service, count, names=None):
    """`count` connections the service answered (Status), each watching `names` if given."""
    opened = []
    for _ in range(count):
        opened.append(RawClient(service.socket, timeout=120))
        if names:
            call(opened[-1], "Watch", {"names": names})
        else:
            call(opened[-1], "Status")
    return opened


def close_all(connections):
    for connection in connections:
        connection.close()


def answer_of(matches):
    return {match["name"]: (match["count"], match["bytes"]) for match in matches}


SCAN = b'{"method":"io.dmabufd.Monitor.Scan"}\0'


def receive_some(client):
    """Reads what has come on `client`; the first whole message (bytes) if one is there now."""
    chunk = client.sock.recv(1 << 20)
    if not chunk:
        raise RuntimeError("the service closed the connection")
    client.pending += chunk
    if b"\0" not in client.pending:
        return None
    message, client.pending = client.pending.split(b"\0", 1)
    return message


def decoded(message, received):
    """A Scan reply decoded into the answer, and what it says of its pass."""
    reply = json.loads(message)["parameters"]
    return answer_of(reply["matches"]), {"pass_nsec": reply["scan"]["duration_nsec"], "id": reply["scan"]["id"],
                                         "buffers": reply["scan"]["buffers"],
                                         "decode_nsec": time.perf_counter_ns() - received}


def timed_scan(client):
    """One Scan on `client`: sent, the reply read whole and decoded; the sub-timings."""
    client.send_raw(SCAN)
    while (message := receive_some(client)) is None:
        pass
    return decoded(message, time.perf_counter_ns())


# --- the methods -------------------------------------------------------------------------

def bare_pass(bin_dir, m, config, expected, host_buffers):
    """dmabufd-passbench: the program run alone, its passes timed around BPF_PROG_TEST_RUN.
    It reports the total of buffers its watched names matched, checked against the truth."""
    started = time.perf_counter_ns()
    out = subprocess.run([os.path.join(bin_dir, "dmabufd-passbench"), "--names", str(m),
                          "--passes", str(config["samples"])], capture_output=True, text=True, check=True).stdout
    report = json.loads(out)
    agrees = (report["matched_buffers"], report["buffers"]) == (sum(c for c, _ in expected.values()), host_buffers)
    if not agrees:
        failures.append(f"bare pass at M={m}: matched {report['matched_buffers']} of {report['buffers']} buffers; "
                        f"truth {sum(c for c, _ in expected.values())} of {host_buffers}")
    return {"nsec": summary(report["durations_nsec"]), "agrees": agrees,
            "process_nsec": time.perf_counter_ns() - started}


def scan_one(service, names, expected, config, host_buffers):
    with RawClient(service.socket, timeout=120) as client:
        call(client, "Watch", {"names": names})
        result = measure("Scan", lambda: timed_scan(client), expected, config, ("pass_nsec", "decode_nsec"))
        if timed_scan(client)[1]["buffers"] != host_buffers:
            failures.append("Scan: the pass did not see every buffer on the host")
    return result


def scan_concurrent(service, names, expected, config):
    """64 connections, each watching `names`, send a Scan at once (one loop of sends); the
    replies are read as they come and decoded. Per round: the time until the last reply was
    decoded, each client's latency, and how many passes served the 64."""
    connections = clients(service, CONCURRENT, names)
    with selectors.DefaultSelector() as selector:
        for connection in connections:
            selector.register(connection.sock, selectors.EVENT_READ, connection)
        result = measure("64 concurrent Scans", lambda: concurrent_round(connections, selector), expected, config,
                         ("passes", "latency_nsec"))
    close_all(connections)
    return result


def concurrent_round(connections, selector):
    sent, answers, ids, latencies = {}, [], set(), []
    for connection in connections:
        connection.send_raw(SCAN)
        sent[connection] = time.perf_counter_ns()
    while sent:
        for key, _ in selector.select():
            message = receive_some(key.data)
            if message is not None:
                answer, sub = decoded(message, time.perf_counter_ns())
                latencies.append(time.perf_counter_ns() - sent.pop(key.data))
                answers.append(answer)
                ids.add(sub["id"])
    # Every client's answer is checked: the first that differs from the others stands for all.
    return next((a for a in answers if a != answers[0]), answers[0]), {"passes": len(ids), "latency_nsec": latencies}


def attribution(service, buffers, config, procwalk):
    """Who holds what, two ways, on the same processes: `holder_processes` processes (sleep,
    each holding its slice of the buffers by fd) and this one (holding them all). Processes()
    end to end (call, reply read and decoded) against bench/procwalk, a C walk of every
    /proc/PID/fdinfo and maps. Both answers, {pid: (rss, pss, buffers, fds, mappings)},
    must equal the truth of that layout."""
    items = list(buffers.buffers.values())
    count = config["holder_processes"]
    per = -(-len(items) // count)
    slices = [items[i * per:(i + 1) * per] for i in range(count)]
    sleepers = [subprocess.Popen(["sleep", "3600"], pass_fds=[b.fd for b in part]) for part in slices]
    # Each buffer has two holders, this process and one sleeper: pss halves every size.
    truth = {process.pid: (sum(b.size for b in part), sum(b.size // 2 for b in part), len(part), len(part), 0)
             for process, part in zip(sleepers, slices)}
    truth[os.getpid()] = (sum(b.size for b in items), sum(b.size // 2 for b in items), len(items), len(items), 0)

    def ours(client):
        reply = call(client, "Processes")
        return {p["pid"]: (p["rss"], p["pss"], p["buffers"], p["fds"], p["mappings"]) for p in reply["processes"]}, {}

    def walked():
        out = subprocess.run([procwalk], capture_output=True, text=True, check=True).stdout
        rows = (line.split() for line in out.splitlines())
        return {int(row[0]): tuple(int(x) for x in row[1:]) for row in rows}, {}

    try:
        with RawClient(service.socket, timeout=600) as client:
            result = {"n": len(items), "processes": count + 1,
                      "ours": measure("Processes", lambda: ours(client), truth, config),
                      "procwalk": measure("procwalk", walked, truth, config)}
    finally:
        for sleeper in sleepers:
            sleeper.kill()
            sleeper.wait()
    print(f"bench: attribution N={len(items)} ({count + 1} processes): Processes "
          f"{result['ours']['nsec']['median'] / 1e6:.1f} ms, C /proc walk "
          f"{result['procwalk']['nsec']['median'] / 1e6:.1f} ms", file=sys.stderr, flush=True)
    return result


def debugfs_answer(names):
    """debugfs bufinfo read whole and parsed into the answer (the read is timed apart too)."""
    started = time.perf_counter_ns()
    with open(BUFINFO, "rb") as source:
        text = source.read()
    read = time.perf_counter_ns() - started
    answer = zero_answer(names)
    for size, name in BUFINFO_LINE.findall(text):
        count_into(answer, name.decode("utf-8", "replace"), int(size))
    return answer, {"read_nsec": read}


def fdinfo_answer(names):
    """Every fdinfo of every process read; DMA-BUFs (those with exp_name) counted once per inode."""
    answer, seen = zero_answer(names), set()
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        folder = f"/proc/{pid}/fdinfo/"
        try:
            fds = os.listdir(folder)
        except OSError:
            continue  # the process ended
        for fd in fds:
            try:
                with open(folder + fd, "rb") as source:
                    info = source.read()
            except OSError:
                continue  # the fd was closed
            if b"\nexp_name:" not in info:
                continue
            fields = dict(line.split(b":", 1) for line in info.splitlines() if b":" in line)
            inode = int(fields[b"ino"])
            if inode not in seen:
                seen.add(inode)
                count_into(answer, fields.get(b"name", b"").strip().decode("utf-8", "replace"), int(fields[b"size"]))
    return answer, {}


def subscribe_overhead(service, m, expected, config):
    """dmabufd's CPU time per pass (its threads' schedstat over the Status "scans" delta) while
    1, then `subscribers` idle subscribers (interval 100 ms, each watching the M names) wait."""
    records = []
    for count in (1, config["subscribers"]):
        connections = clients(service, count, watched_names(m))
        for connection in connections:
            connection.send(MONITOR + "Subscribe", {"interval_msec": SUBSCRIBE_INTERVAL_MSEC}, more=True)
            first = connection.receive()
            check(f"Subscribe's first reply ({count} subscribers)", answer_of(first["parameters"]["matches"]), expected)
        stop = threading.Event()
        reader = threading.Thread(target=drain, args=(connections, stop))
        reader.start()
        time.sleep(1.0)  # every subscriber has had a pass
        per_pass, passes = [], 0
        for _ in range(3):
            cpu, scans = service.cpu_nsec(), service.status()["scans"]
            time.sleep(config["subscribe_seconds"] / 3)
            ran = service.status()["scans"] - scans
            per_pass.append((service.cpu_nsec() - cpu) / max(ran, 1))
            passes += ran
        stop.set()
        reader.join()
        close_all(connections)
        service.wait_idle()
        records.append({"m": m, "subscribers": count, "cpu_nsec_per_pass": summary(per_pass), "passes": passes,
                        "seconds": config["subscribe_seconds"]})
    return records


def drain(connections, stop):
    """What idle subscribers do: read whatever comes (normally nothing: no buffer changes)."""
    with selectors.DefaultSelector() as selector:
        for connection in connections:
            selector.register(connection.sock, selectors.EVENT_READ)
        while not stop.is_set():
            for key, _ in selector.select(0.1):
                key.fileobj.recv(1 << 16)


def largest_mappings(pid, count=4):
    """The mappings holding most of a process's RSS (KiB), by what is mapped: the profile of RSS."""
    sizes, name = {}, None
    with open(f"/proc/{pid}/smaps") as smaps:
        for line in smaps:
            if re.match(r"[0-9a-f]+-[0-9a-f]+ ", line):
                fields = line.split(None, 5)
                name = os.path.basename(fields[5].strip()) if len(fields) > 5 else "[anonymous]"
            elif line.startswith("Rss:"):
                sizes[name] = sizes.get(name, 0) + int(line.split()[1])
    return dict(sorted(sizes.items(), key=lambda item: -item[1])[:count])


def memory(service, config):
    """VmRSS (KiB): idle, with 1,000 watched names (and a pass), with `connections` connections;
    and the largest mappings when idle."""
    result = {"idle_kib": service.rss_kib(), "idle_anon_kib": memory_kib(service.process.pid, "RssAnon"),
              "idle_mappings_kib": largest_mappings(service.process.pid)}
    with RawClient(service.socket) as client:
        call(client, "Watch", {"names": watched_names(1_000)})
        call(client, "Scan")
        result["watched_1000_kib"] = service.rss_kib()
    service.wait_idle()
    connections = clients(service, config["connections"])
    result[f"connections_{config['connections']}_kib"] = service.rss_kib()
    close_all(connections)
    service.wait_idle()
    return result


# --- the runs ----------------------------------------------------------------------------

def machine():
    with open("/proc/cpuinfo") as cpuinfo:
        model = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), "?")
    with open("/proc/meminfo") as meminfo:
        total = int(meminfo.readline().split()[1])
    return {"cpu": model, "cpus": os.cpu_count(), "memory_mib": total // 1024, "kernel": platform.release(),
            "python": platform.python_version()}


def largest(args, config):
    """The largest host: `big_n` buffers sharing their pages, `big_m` watched names (Watch in
    calls of `big_watch_call`), at default settings but the capacity. Every answer is checked
    against the fixture's truth: Scan, Scan with details, List (with "more", joined; and its
    length against debugfs bufinfo). Timed: each Watch call (time linear in the names means
    the last calls cost what the first did), Status with and without the names (no per-name
    work means the same), Scan with its pass and the client's decode apart, List, details;
    memory when idle at this N, after the listings, and at its peak."""
    n, m, per_call = config["big_n"], config["big_m"], config["big_watch_call"]
    names = watched_names(m)
    samples = dict(config, samples=config["big_samples"], warmup=1)
    result = {"n": n, "m": m}
    # A file per buffer: the VM's 2 GiB set fs.file-max near 200,000, which root (this
    # driver) may pass but dmabufd, with no capability, may not (it could open nothing).
    with open("/proc/sys/fs/file-max") as limit:
        file_max = int(limit.read())
    if file_max < 2 * n:
        with open("/proc/sys/fs/file-max", "w") as limit:
            limit.write(str(2 * n + 65_536))
    with BufferSet(shared_pages=True) as buffers:
        started = time.monotonic()
        for index in range(n):
            buffers.create(f"bench-{index % NAMES_ON_BUFFERS}", PAGE_SIZE, "udmabuf")
        result["create_seconds"] = time.monotonic() - started
        print(f"bench: {n} buffers (shared pages) made in {result['create_seconds']:.1f} s", file=sys.stderr, flush=True)
        expected = truth_of(buffers, names)
        fixture = sorted((b["inode"], b["size"], b["name"]) for b in buffers.truth())
        inodes = {entry[0] for entry in fixture}
        service = Service(args.bin_dir, "--capacity", str(max(16_384, 2 * m)))
        result["idle_kib"] = service.rss_kib()
        with RawClient(service.socket, timeout=600) as client:
            def status():
                call(client, "Status")
                return {}, {}

            result["status_unwatched"] = measure("Status", status, {}, config)
            watch_nsec = []
            for start in range(0, m, per_call):
                began = time.perf_counter_ns()
                call(client, "Watch", {"names": names[start:start + per_call]})
                watch_nsec.append(time.perf_counter_ns() - began)
            tenth = max(1, len(watch_nsec) // 10)
            result["watch"] = {"calls": len(watch_nsec), "per_call": per_call, "nsec": summary(watch_nsec),
                               "first_tenth_median": statistics.median(watch_nsec[:tenth]),
                               "last_tenth_median": statistics.median(watch_nsec[-tenth:])}
            if call(client, "Status")["watched"] != m:
                failures.append(f"largest: Status does not say {m} names are watched")
            result["status_watched"] = measure("Status", status, {}, config)
            result["scan"] = measure("Scan (largest)", lambda: timed_scan(client), expected, samples,
                                     ("pass_nsec", "decode_nsec"))

            def listing():
                client.send(MONITOR + "List", more=True)
                joined, replies = [], 0
                while not replies or reply.get("continues"):
                    reply = client.receive()
                    if reply is None or "error" in reply:
                        raise RuntimeError(f"List: {str(reply)[:200]}")
                    replies += 1
                    joined += reply["parameters"]["buffers"]
                # The fixture's buffers exactly (and, checked below, as many in all as bufinfo has).
                return sorted((b["inode"], b["size"], b["name"]) for b in joined if b["inode"] in inodes), \
                    {"replies": replies, "buffers": len(joined)}

            result["list"] = measure("List (largest)", listing, fixture, samples, ("replies", "buffers"))
            with open(BUFINFO, "rb") as source:
                kernel = len(BUFINFO_LINE.findall(source.read()))
            if result["list"]["buffers"]["max"] != kernel:
                failures.append(f"largest: List has {result['list']['buffers']['max']} buffers, bufinfo {kernel}")

            def details():
                client.send(MONITOR + "Scan", {"details": True})
                reply = client.receive()
                if reply is None or "error" in reply:
                    raise RuntimeError(f"Scan with details: {str(reply)[:200]}")
                matches = reply["parameters"]["matches"]
                if any(len(match["buffers"]) != match["count"] for match in matches):
                    failures.append("largest: a details reply lists fewer buffers than it counts")
                return answer_of(matches), {}

            result["details"] = measure("Scan with details (largest)", details, expected, samples)
            result["after_kib"] = service.rss_kib()
            result["peak_kib"] = memory_kib(service.process.pid, "VmHWM")
        result["exit"] = service.stop()
    return result


def truth_of(buffers, names):
    return {name: tuple(value) for name, value in buffers.expected(set(names)).items()}


def run_vm(args, config):
    if not os.path.exists(BUFINFO):
        subprocess.run(["mount", "-t", "debugfs", "none", "/sys/kernel/debug"], check=True)
    with open(BUFINFO, "rb") as source:
        baseline = len(BUFINFO_LINE.findall(source.read()))
    out = {"machine": machine(), "config": config, "baseline_buffers": baseline, "cells": [], "services": []}
    with BufferSet() as buffers:
        for n in config["ns"]:
            started = time.monotonic()
            for index in range(len(buffers.buffers), n):
                buffers.create(f"bench-{index % NAMES_ON_BUFFERS}", PAGE_SIZE, "udmabuf")
            print(f"bench: {n} buffers made in {time.monotonic() - started:.1f} s", file=sys.stderr, flush=True)
            host_buffers = n + baseline
            service = Service(args.bin_dir)
            record = {"n": n, "startup_nsec": service.startup_nsec, **memory(service, config)}
            for m in config["ms"]:
                names = watched_names(m)
                expected = truth_of(buffers, names)
                cell = {"n": n, "m": m, "matched": sum(c for c, _ in expected.values())}
                cell["bare"] = bare_pass(args.bin_dir, m, config, expected, host_buffers)
                cell["scan"] = scan_one(service, names, expected, config, host_buffers)
                service.wait_idle()
                cell["scan64"] = scan_concurrent(service, names, expected, config)
                service.wait_idle()
                cell["debugfs"] = measure("debugfs", lambda: debugfs_answer(names), expected, config, ("read_nsec",))
                cell["fdinfo"] = measure("fdinfo", lambda: fdinfo_answer(names), expected, config)
                out["cells"].append(cell)
                print(f"bench: N={n} M={m}: " + ", ".join(
                    f"{method} {cell[method]['nsec']['median'] / 1e6:.2f} ms" for method in
                    ("bare", "scan", "scan64", "debugfs", "fdinfo")), file=sys.stderr, flush=True)
            if n in config["attribution_ns"]:
                out.setdefault("attribution", []).append(attribution(service, buffers, config, args.procwalk))
            record["subscribe"] = [row for m in config["subscribe_ms"]
                                   for row in subscribe_overhead(service, m, truth_of(buffers, watched_names(m)), config)]
            record["exit"] = service.stop()
            out["services"].append(record)
    try:
        out["largest"] = largest(args, config)
    except Exception as error:  # recorded; the rows above stay in the report
        failures.append(f"the largest host: {type(error).__name__}: {error}")
    return out


def run_host(args, config):
    """On the host (its kernel exports no buffers, so passes see none): start-up to serving,
    memory, the service's own cost per Scan and per subscriber-pass natively, and a profile."""
    startups = []
    for _ in range(config["starts"]):
        service = Service(args.bin_dir)
        startups.append(service.startup_nsec)
        if service.stop() != 0:
            failures.append("dmabufd did not exit 0 on SIGTERM")
    service = Service(args.bin_dir)
    record = {"machine": machine(), "startup_nsec": summary(startups), **memory(service, config), "scan": {}}
    for m in config["ms"]:
        record["scan"][str(m)] = scan_one(service, watched_names(m), zero_answer(watched_names(m)), config, 0)
        service.wait_idle()
    record["subscribe"] = [row for m in config["host_subscribe_ms"]
                           for row in subscribe_overhead(service, m, zero_answer(watched_names(m)), config)]
    record["profile"] = profile_scans(service, max(config["ms"]), config["profile_seconds"])
    record["metrics"] = [metrics_scrapes(args.bin_dir, m, config) for m in config["metrics_ms"]]
    service.stop()
    # The ring buffer's share of RSS: the same service with the smallest ring it accepts.
    small = Service(args.bin_dir, "--ring-bytes", str(SMALL_RING))
    record["small_ring_idle_kib"] = small.rss_kib()
    small.stop()
    return record


def metrics_scrapes(bin_dir, m, config):
    """GET /metrics natively with M watched names, every scrape reusing one pass: the cost
    of rendering and sending the text, which grows with the watch set (two series a name).
    Each answer must equal the first, whose watched series are checked against the truth."""
    service = Service(bin_dir, "--metrics-address", "127.0.0.1:0", "--metrics-min-interval-msec", "3600000",
                      "--metrics-watched-names", "--metrics-max-watched-names", "16384")
    service.log.seek(0)
    url = re.search(r"serving metrics on (http://\S+/metrics)", service.log.read()).group(1)
    names = watched_names(m)
    with RawClient(service.socket) as client:
        for start in range(0, m, 1024):
            call(client, "Watch", {"names": names[start:start + 1024]})
        scrape = lambda: ({"text": urllib.request.urlopen(url, timeout=60).read()}, {})  # noqa: E731
        first = scrape()[0]
        series = {(kind, name): int(value) for kind, name, value in WATCHED_SERIES.findall(first["text"].decode())}
        answer = {name: (series.get(("buffers", name)), series.get(("bytes", name))) for name in names}
        truthful = check(f"metrics M={m}", answer, zero_answer(names))
        result = {"m": m, "bytes": len(first["text"]), **measure(f"metrics M={m}", scrape, first, config)}
        result["agrees"] = truthful and result["agrees"]
    service.stop()
    return result


def profile_scans(service, m, seconds, top=10):
    """perf's top symbols by self time in dmabufd while one client Scans with M names back to
    back, demangled; None without perf."""
    if not shutil.which("perf"):
        return None
    data = os.path.join(service.folder, "perf.data")
    with RawClient(service.socket) as client:
        call(client, "Watch", {"names": watched_names(m)})
        perf = subprocess.Popen(["perf", "record", "-e", "cpu-clock", "-F", "999", "-p", str(service.process.pid),
                                 "-o", data], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            timed_scan(client)
        perf.send_signal(signal.SIGINT)
        perf.wait()
    text = subprocess.run(["perf", "report", "-i", data, "--no-children", "--stdio", "--sort", "dso,symbol"],
                          capture_output=True, text=True).stdout
    if shutil.which("swift"):
        text = subprocess.run(["swift", "demangle", "--simplified"], input=text, capture_output=True, text=True).stdout
    rows = re.findall(r"^\s+([\d.]+)%\s+(\S+)\s+\[.\]\s+(.+?)\s*$", text, re.M)
    return {"m": m, "symbols": [{"percent": float(p), "dso": dso, "symbol": symbol.split("  ")[0]}
                                for p, dso, symbol in rows[:top]]}


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("where", choices=("vm", "host"))
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--bin-dir", required=True)
    parser.add_argument("--out", required=True, help="the JSON file to write")
    parser.add_argument("--procwalk", help="bench/procwalk.c, built (vm only)")
    args = parser.parse_args()
    config = QUICK if args.quick else FULL
    raise_fd_limit(max(config["ns"]) + CONCURRENT + config["connections"] + config["subscribers"] + 256)
    started = time.monotonic()
    try:
        result = (run_vm if args.where == "vm" else run_host)(args, config)
    except Exception as error:  # recorded, so the report says what broke
        result = {}
        failures.append(f"{type(error).__name__}: {error}")
    result.update(failures=failures, seconds=time.monotonic() - started)
    with open(args.out, "w") as out:
        json.dump(result, out, indent=1)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
