"""Prometheus metrics on the host, where no driver exports DMA-BUFs: every pass sees zero
buffers, so the host and exporter totals must be exactly zero, while watched names, passes,
clients, denials and errors are driven by the tests and must be counted exactly."""
import json
import os
import socket
import stat
import subprocess
import tempfile
import threading
import time
import urllib.parse

import pytest

from metrics_text import Metrics, endpoint, fetch, promtool_check
from service_helpers import DMABUFD, NOBODY, Daemon, admitted, dmabufctl, wait_until
from varlink_raw import MONITOR, RawClient

# Long enough that a test's scrapes all reuse one pass unless it runs a Scan itself.
HOUR_MSEC = "3600000"


def scrape(daemon, user=None):
    done = dmabufctl("metrics", "--socket", daemon.socket, user=user)
    assert done.returncode == 0, done.stderr
    return Metrics(done.stdout)


@pytest.fixture
def fresh():
    """A service of the test's own: the counts start at zero."""
    daemon = Daemon("--capacity", "64", "--metrics-min-interval-msec", HOUR_MSEC)
    yield daemon
    assert daemon.stop() == 0, daemon.output()


def test_a_known_state_is_reported_exactly_and_promtool_accepts_it(fresh):
    odd = 'a"b\\c\nd'  # every character the text format must escape in a label value
    with RawClient(fresh.socket) as watcher:
        reply = watcher.call(MONITOR + "Watch", {"names": ["cam-0", odd], "prefixes": ["gpu-"]})
        assert "error" not in reply, reply
        metrics = scrape(fresh)
        promtool_check(metrics.text)

        assert metrics.value("dmabufd_host_buffers") == 0
        assert metrics.value("dmabufd_host_bytes") == 0
        assert metrics.samples("dmabufd_exporter_buffers") == {}
        assert metrics.samples("dmabufd_exporter_bytes") == {}
        watched = {("cam-0", "name"), (odd, "name"), ("gpu-", "prefix")}
        for family in ("dmabufd_watched_buffers", "dmabufd_watched_bytes"):
            series = {(dict(labels)["name"], dict(labels)["kind"]): value
                      for labels, value in metrics.samples(family).items()}
            assert series == {key: 0 for key in watched}, family
        assert metrics.value("dmabufd_watched_names") == 3
        assert metrics.value("dmabufd_watch_capacity") == 64
        # The watcher and the metrics call itself.
        assert metrics.value("dmabufd_clients") == 2
        assert metrics.value("dmabufd_subscribers") == 0
        # The scrape ran the service's first pass: it was the only one.
        assert metrics.value("dmabufd_scans_total") == 1
        assert metrics.value("dmabufd_scan_failures_total") == 0
        assert metrics.value("dmabufd_scan_duration_seconds_count") == 1
        assert metrics.value("dmabufd_scan_duration_seconds_bucket", le="+Inf") == 1
        assert 0 < metrics.value("dmabufd_scan_duration_seconds_sum") < 1
        buckets = sorted((float(dict(labels)["le"]), value)
                         for labels, value in metrics.samples("dmabufd_scan_duration_seconds_bucket").items())
        assert [count for _, count in buckets] == sorted(count for _, count in buckets), "buckets are cumulative"
        version = dmabufctl("--version").stdout.strip()
        assert metrics.value("dmabufd_build_info", version=version, kernel=os.uname().release) == 1
        assert set(metrics.by("dmabufd_denials_total", "kind").values()) == {0}
        assert set(metrics.by("dmabufd_errors_total", "error").values()) == {0}
        # The scrape's pass walked the holders too: none, and nothing held by the kernel alone.
        assert metrics.value("dmabufd_kernel_held_buffers") == 0
        assert metrics.value("dmabufd_kernel_held_bytes") == 0
        assert abs(metrics.value("dmabufd_last_attribution_timestamp_seconds") - time.time()) < 60
        assert "dmabufd_cgroup_bytes" not in metrics.families, "per-cgroup series are opt-in"


def test_per_cgroup_series_are_there_when_asked_for():
    daemon = Daemon("--metrics-cgroups")
    try:
        metrics = scrape(daemon)
        promtool_check(metrics.text)
        assert "# TYPE dmabufd_cgroup_bytes gauge" in metrics.text
        assert metrics.samples("dmabufd_cgroup_bytes") == {}, "no cgroup holds a buffer on this host"
    finally:
        assert daemon.stop() == 0, daemon.output()


def test_denials_and_errors_are_counted_by_kind(fresh):
    with RawClient(fresh.socket) as client:
        assert client.call(MONITOR + "Scan", {"names": [""]})["error"] == MONITOR + "InvalidName"
        assert client.call(MONITOR + "Nope")["error"] == "org.varlink.service.MethodNotFound"
    denied = dmabufctl("list", "--socket", fresh.socket, user=NOBODY)
    assert denied.returncode == 77, denied.stderr
    denied = dmabufctl("metrics", "--socket", fresh.socket, user=NOBODY)
    assert denied.returncode == 77 and "PermissionDenied" in denied.stderr, denied.stderr
    with RawClient(fresh.socket) as client:
        client.send_raw(b"not json\0")
        assert client.receive()["error"] == MONITOR + "InvalidMessage"

    metrics = scrape(fresh)
    promtool_check(metrics.text)
    assert metrics.by("dmabufd_denials_total", "kind") == {
        "method": 2, "details": 0, "max_connections": 0, "uid_connections": 0}
    errors = metrics.by("dmabufd_errors_total", "error")
    assert {name: count for name, count in errors.items() if count} == {
        MONITOR + "InvalidName": 1, "org.varlink.service.MethodNotFound": 1,
        "org.varlink.service.PermissionDenied": 2, MONITOR + "InvalidMessage": 1}


def test_connections_over_the_limit_are_counted_as_denials():
    daemon = Daemon("--max-connections", "2")
    try:
        with admitted(daemon.socket), admitted(daemon.socket):
            turned_away = RawClient(daemon.socket)
            assert turned_away.closed_by_peer()
            turned_away.close()
        # The two closed: the scrape's own connection is served again.
        metrics = wait_until(lambda: dmabufctl("metrics", "--socket", daemon.socket), lambda done: done.returncode == 0,
                             what="a connection slot to free up")
        assert Metrics(metrics.stdout).value("dmabufd_denials_total", kind="max_connections") >= 1
    finally:
        assert daemon.stop() == 0, daemon.output()


def test_scrapes_reuse_a_fresh_pass_and_never_start_more_than_one_per_interval(fresh):
    first = scrape(fresh)
    assert first.value("dmabufd_scans_total") == 1
    results = []

    def scrape_into_results():
        results.append(scrape(fresh))

    threads = [threading.Thread(target=scrape_into_results) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 16
    for metrics in results:
        assert metrics.value("dmabufd_scans_total") == 1, "a scrape within the interval ran a pass"
        assert (metrics.value("dmabufd_last_scan_timestamp_seconds")
                == first.value("dmabufd_last_scan_timestamp_seconds"))
    # A Scan's pass is the latest: the next scrape reports it without a pass of its own.
    with RawClient(fresh.socket) as client:
        assert "error" not in client.call(MONITOR + "Scan")
    assert scrape(fresh).value("dmabufd_scans_total") == 2


def test_a_stale_pass_makes_one_scrape_run_a_new_one():
    daemon = Daemon("--metrics-min-interval-msec", "100")
    try:
        before = scrape(daemon).value("dmabufd_scans_total")
        time.sleep(0.2)
        after = scrape(daemon)
        assert after.value("dmabufd_scans_total") == before + 1
        assert after.value("dmabufd_scan_duration_seconds_count") == before + 1
    finally:
        assert daemon.stop() == 0, daemon.output()


def test_output_replaces_the_file_whole_with_the_printed_text(fresh):
    printed = dmabufctl("metrics", "--socket", fresh.socket)
    assert printed.returncode == 0, printed.stderr
    target = os.path.join(fresh.folder, "dmabufd.prom")
    with open(target, "w") as old:
        old.write("old\n")
    written = dmabufctl("metrics", "--socket", fresh.socket, "--output", target)
    assert written.returncode == 0 and written.stdout == "", written.stderr
    with open(target) as new:
        # One pass served both; only the clients gauge could differ, and both had one.
        assert new.read() == printed.stdout
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o644
    assert sorted(os.listdir(fresh.folder)) == sorted(["run", "dmabufd.log", "dmabufd.prom"]), \
        "the staged file was left behind"


def test_output_that_cannot_be_written_fails_with_73_and_leaves_nothing(fresh):
    folder = os.path.join(fresh.folder, "missing")
    done = dmabufctl("metrics", "--socket", fresh.socket, "--output", os.path.join(folder, "x.prom"))
    assert done.returncode == 73, done.stderr
    assert done.stderr.startswith("dmabufctl: cannot create a file in ") and "No such file" in done.stderr
    read_only = os.path.join(fresh.folder, "ro")
    os.mkdir(read_only, 0o755)
    done = dmabufctl("metrics", "--socket", fresh.socket, "--output", os.path.join(read_only, "x.prom"), user=NOBODY)
    # nobody may not even ask: the policy answers before any file is touched.
    assert done.returncode == 77, done.stderr
    assert os.listdir(read_only) == []


def test_json_prints_the_reply_and_does_not_go_with_output(fresh):
    done = dmabufctl("metrics", "--socket", fresh.socket, "--json")
    assert done.returncode == 0, done.stderr
    exposition = json.loads(done.stdout)["exposition"]
    promtool_check(exposition)
    done = dmabufctl("metrics", "--socket", fresh.socket, "--json", "--output", "/tmp/x.prom")
    assert done.returncode == 64 and "--output" in done.stderr, done.stderr


def test_status_carries_the_latest_pass_exporters_only_after_a_pass(fresh):
    with RawClient(fresh.socket) as client:
        status = client.call(MONITOR + "Status")["parameters"]
        assert "exporters" not in status and status["scans"] == 0
        assert "error" not in client.call(MONITOR + "Scan")
        status = client.call(MONITOR + "Status")["parameters"]
        assert status["exporters"] == [] and status["scans"] == 1


def test_a_too_short_scrape_interval_is_refused():
    done = subprocess.run([DMABUFD, "--metrics-min-interval-msec", "99"], capture_output=True, text=True, timeout=30)
    assert done.returncode == 64 and "--metrics-min-interval-msec must be at least 100" in done.stderr, done.stderr


@pytest.fixture
def served():
    """A service with its HTTP endpoint on a free loopback port, per-name series included."""
    daemon = Daemon("--metrics-address", "127.0.0.1:0", "--metrics-min-interval-msec", HOUR_MSEC,
                    "--metrics-watched-names")
    yield daemon, endpoint(daemon)
    assert daemon.stop() == 0, daemon.output()
    assert "stopped serving metrics" in daemon.output()


@pytest.mark.parametrize("opted_in", [False, True])
def test_the_endpoint_tells_what_is_watched_only_when_the_operator_opts_in(opted_in):
    daemon = Daemon("--metrics-address", "127.0.0.1:0", "--metrics-min-interval-msec", HOUR_MSEC,
                    *(["--metrics-watched-names"] if opted_in else []))
    try:
        with RawClient(daemon.socket) as watcher:
            assert "error" not in watcher.call(MONITOR + "Watch", {"names": ["secret-name"], "prefixes": ["secret-"]})
            status, _, body = fetch(endpoint(daemon))
            assert status == 200
            promtool_check(body)
            over_http = Metrics(body)
            if opted_in:
                assert over_http.value("dmabufd_watched_names") == 2
                assert over_http.samples("dmabufd_watched_bytes") == {
                    frozenset({"name": "secret-name", "kind": "name"}.items()): 0,
                    frozenset({"name": "secret-", "kind": "prefix"}.items()): 0}
            else:
                assert "secret" not in body and "dmabufd_watched_" not in body, body
                assert over_http.value("dmabufd_watch_capacity") == 16384
            # The Metrics method (root only by default) always has them.
            assert Metrics(scrape(daemon).text).value("dmabufd_watched_names") == 2
    finally:
        assert daemon.stop() == 0, daemon.output()


def test_the_endpoint_serves_the_same_text_as_the_method(served):
    daemon, url = served
    status, headers, body = fetch(url)
    assert status == 200
    assert headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert int(headers["Content-Length"]) == len(body.encode())
    promtool_check(body)
    printed = scrape(daemon)
    # One pass served both; the only difference is the Varlink call's own connection.
    over_http = Metrics(body)
    assert over_http.value("dmabufd_clients") == 0 and printed.value("dmabufd_clients") == 1
    assert body.replace("dmabufd_clients 0\n", "dmabufd_clients 1\n") == printed.text
    status, headers, head_body = fetch(url, method="HEAD")
    assert (status, head_body) == (200, "") and int(headers["Content-Length"]) == len(body.encode())


@pytest.mark.parametrize("path", ["/", "/metrics/", "/metricsx", "/debug/pprof", "/favicon.ico"])
def test_nothing_but_metrics_is_served(served, path):
    _, url = served
    status, _, _ = fetch(url.replace("/metrics", path))
    assert status == 404


def test_other_methods_are_refused_with_405(served):
    _, url = served
    for method in ("POST", "PUT", "DELETE"):
        status, headers, _ = fetch(url, method=method)
        assert status == 405 and headers["Allow"] == "GET, HEAD", method


def raw_request(url, data):
    """Sends raw bytes to the endpoint and returns everything it answers until it closes."""
    host, port = urllib.parse.urlsplit(url).hostname, urllib.parse.urlsplit(url).port
    with socket.create_connection((host, port), timeout=30) as connection:
        try:
            connection.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # it may answer and close before it has read everything
        answer = b""
        try:
            while chunk := connection.recv(65536):
                answer += chunk
        except ConnectionResetError:
            pass
        return answer


def test_requests_are_bounded_in_size_and_the_endpoint_keeps_serving(served):
    daemon, url = served
    # A header far beyond the 8 KiB a request may take: refused, not buffered.
    answer = raw_request(url, b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Padding: " + b"a" * 1_000_000 + b"\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]
    answer = raw_request(url, b"this is not HTTP\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400 "), answer[:200]
    assert fetch(url)[0] == 200
    assert daemon.process.poll() is None


def test_many_concurrent_scrapes_are_served_while_scans_run():
    daemon = Daemon("--metrics-address", "127.0.0.1:0")
    url = endpoint(daemon)
    try:
        stop = threading.Event()
        scans = []
        statuses = []

        def scan_repeatedly():
            with RawClient(daemon.socket) as client:
                while not stop.is_set():
                    reply = client.call(MONITOR + "Scan", {"names": ["busy"]})
                    scans.append("error" not in reply)

        def scrape_repeatedly(source):
            for _ in range(10):
                status, body = scrape_from(source, url, timeout=30)
                statuses.append(int(status.split()[1]))
                Metrics(body)

        scanners = [threading.Thread(target=scan_repeatedly) for _ in range(4)]
        # From 8 addresses, 4 each: one address may hold 8 connections (a closed one's
        # slot is freed a moment after its client has read the response).
        scrapers = [threading.Thread(target=scrape_repeatedly, args=(f"127.0.0.{2 + index % 8}",))
                    for index in range(32)]
        for thread in scanners + scrapers:
            thread.start()
        for thread in scrapers:
            thread.join()
        stop.set()
        for thread in scanners:
            thread.join()
        assert statuses == [200] * 320
        assert scans and all(scans), "a Scan failed while scrapes ran"
        promtool_check(fetch(url)[2])
    finally:
        assert daemon.stop() == 0, daemon.output()


def test_scrapes_alone_start_at_most_one_pass_per_interval():
    daemon = Daemon("--metrics-address", "127.0.0.1:0", "--metrics-min-interval-msec", "500")
    url = endpoint(daemon)
    try:
        started = time.monotonic()
        statuses = []

        def scrape_for_a_while(source):
            while time.monotonic() - started < 1.6:
                statuses.append(int(scrape_from(source, url, timeout=30)[0].split()[1]))

        # From 4 addresses, 4 each: one address may hold 8 connections (a closed one's
        # slot is freed a moment after its client has read the response).
        threads = [threading.Thread(target=scrape_for_a_while, args=(f"127.0.0.{2 + index % 4}",))
                   for index in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started
        passes = scrape(daemon).value("dmabufd_scans_total")
        assert len(statuses) > 16 and set(statuses) == {200}
        # One pass per started interval, plus the final scrape's own.
        assert 2 <= passes <= int(elapsed / 0.5) + 2, (passes, elapsed, len(statuses))
    finally:
        assert daemon.stop() == 0, daemon.output()


def test_an_address_in_use_stops_start_up_with_73_and_leaves_no_socket(served):
    _, url = served
    taken = urllib.parse.urlsplit(url).netloc
    folder = tempfile.mkdtemp(prefix="dmabufd-test-")
    socket_path = os.path.join(folder, "other.sock")
    done = subprocess.run([DMABUFD, "--socket", socket_path, "--metrics-address", taken],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 73, done.stderr
    assert f"cannot serve metrics on {taken}: Address already in use" in done.stderr
    assert os.listdir(folder) == [], "neither the socket nor its lock is left"


@pytest.mark.parametrize("address", ["localhost:9464", "127.0.0.1", "127.0.0.1:65536", "::1:9464", "[::1]"])
def test_a_bad_metrics_address_is_refused_before_start(address):
    done = subprocess.run([DMABUFD, "--metrics-address", address], capture_output=True, text=True, timeout=30)
    assert done.returncode == 64 and f'--metrics-address: "{address}" is not an address' in done.stderr, done.stderr


def test_a_policy_can_grant_metrics_to_another_user(tmp_path):
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"rules": [{"uid": NOBODY, "methods": ["Status", "Metrics"]}]}))
    os.chmod(tmp_path, 0o755)
    daemon = Daemon("--policy", str(policy))
    try:
        granted = dmabufctl("metrics", "--socket", daemon.socket, user=NOBODY)
        assert granted.returncode == 0, granted.stderr
        promtool_check(granted.stdout)
        assert Metrics(granted.stdout).value("dmabufd_denials_total", kind="method") == 0
    finally:
        assert daemon.stop() == 0, daemon.output()


def scrape_from(source, url, timeout):
    """The status line and body of a GET of `url` sent from the local address `source`."""
    host, port = urllib.parse.urlsplit(url).netloc.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=timeout, source_address=(source, 0)) as connection:
        connection.sendall(b"GET /metrics HTTP/1.1\r\nHost: dmabufd\r\n\r\n")
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    return head.split(b"\r\n", 1)[0].decode(), body.decode()


def test_a_host_trickling_requests_cannot_shut_the_scrapers_out(served):
    """Slowloris: 70 connections from 127.0.0.1 each sending its request a byte every
    half second. One address holds at most 8 connections and must finish its request
    within 2 s, so scrapes from 127.0.0.2 keep being answered within a second."""
    _, url = served
    host, port = urllib.parse.urlsplit(url).netloc.rsplit(":", 1)
    stop = threading.Event()

    def trickle():
        while not stop.is_set():
            try:
                with socket.create_connection((host, int(port)), timeout=5, source_address=("127.0.0.1", 0)) as slow:
                    for byte in b"GET /metrics HTTP/1.1\r\n":
                        if stop.wait(0.5):
                            return
                        slow.sendall(bytes([byte]))
            except OSError:
                pass  # turned away or cut off: come back, as an attacker would

    tricklers = [threading.Thread(target=trickle) for _ in range(70)]
    for thread in tricklers:
        thread.start()
    try:
        time.sleep(1)
        deadline = time.monotonic() + 6  # past the request deadline, twice
        while time.monotonic() < deadline:
            started = time.monotonic()
            status, body = scrape_from("127.0.0.2", url, timeout=1)
            assert status == "HTTP/1.1 200 OK" and "dmabufd_build_info" in body
            assert time.monotonic() - started < 1
            time.sleep(0.2)
    finally:
        stop.set()
        for thread in tricklers:
            thread.join()


def test_watched_names_past_the_cap_have_no_series_and_are_counted():
    daemon = Daemon("--metrics-max-watched-names", "2")
    try:
        with RawClient(daemon.socket) as watcher:
            assert "error" not in watcher.call(MONITOR + "Watch", {"names": ["c", "a"], "prefixes": ["b"]})
            metrics = scrape(daemon)
            promtool_check(metrics.text)
            series = {(dict(labels)["name"], dict(labels)["kind"])
                      for labels in metrics.samples("dmabufd_watched_bytes")}
            assert series == {("a", "name"), ("b", "prefix")}, "the first two in order"
            assert metrics.value("dmabufd_watched_names_without_series") == 1
            assert metrics.value("dmabufd_watched_names") == 3
    finally:
        assert daemon.stop() == 0, daemon.output()
    refused = subprocess.run([DMABUFD, "--metrics-max-watched-names=-1"], capture_output=True, text=True, timeout=30)
    assert refused.returncode == 64 and "--metrics-max-watched-names must be 0 or more" in refused.stderr
