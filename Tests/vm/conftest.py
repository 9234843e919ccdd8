"""VM end-to-end tier: the real dmabufd on a kernel that exports real DMA-BUFs.

The host's kernel exports no DMA-BUFs, so the host tier (Tests/integration) only ever sees
empty passes. This tier runs INSIDE a virtme-ng guest (Debian's trixie-backports 7.x kernel,
which has /dev/udmabuf and /dev/dma_heap/system built in and the open-coded DMA-BUF
iterator), as root, against the binaries the host built (the guest sees the host's root
file system read-only over 9p). `dmabuf_fixture.BufferSet` creates, names, renames and
frees real buffers through udmabuf and the system heap and reports the truth it made
(inode, size, name, exporter per buffer); every test compares the service's replies
with that truth EXACTLY, and `List` also with debugfs `dma_buf/bufinfo`.

Run it with `make e2e` (or as part of `make test`): `vm/run` boots the guest, with the
host's PATH, and runs pytest there with `-p no:cacheprovider` and PYTHONDONTWRITEBYTECODE
set, since the guest's view of the repository is read-only. Binaries come from
$DMABUFD_BIN_DIR, default `.build/debug` of this repository.

Files: test_names (counts, bytes, absence, unnamed buffers, edge names through the raw
protocol, dmabufctl and the Python varlink client), test_changes (renames, frees, fresh
passes), test_list (List = bufinfo = fixture), test_unprivileged (nobody), test_scale
(10,000 buffers, 1,000 names), test_concurrency (64 clients while buffers change),
test_prefixes (nested prefix watches), test_details (per-buffer details, in ring windows),
test_startup (the first moments of a fresh service), test_subscribe (the exact reply
sequence of a stream, details, a subscriber that stops reading), test_follow (`dmabufctl
watch --follow` as NDJSON, on a terminal, and stopped), test_exporters (per-exporter
totals in every pass, and in `dmabufctl status`), test_metrics (the Prometheus text, over
HTTP and from `dmabufctl metrics`, against the truth), test_holders (`Processes`: who holds
each buffer, by fd, dup, mapping, shared, threads, cgroups, uid; kernel-held buffers).

The session fails at once (never skips) when it is not root, when either buffer device is
missing, when debugfs bufinfo cannot be read, or when the kernel lacks the iterator: a
green run always means every test ran on real buffers. Nothing else may create or free
DMA-BUFs in the guest while it runs: host totals are checked exactly.

The host tier's helpers (Daemon, as_user, dmabufctl in service_helpers, RawClient in
varlink_raw) are shared, not copied.
"""
import os
import pwd
import re
from collections import Counter
import stat
import subprocess
import sys
import threading
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
INTEGRATION = os.path.join(REPO, "Tests", "integration")
for folder in (INTEGRATION, HERE):
    if folder not in sys.path:
        sys.path.insert(0, folder)


from service_helpers import DMABUFCTL, DMABUFD, NOBODY, Daemon, as_user, dmabufctl, process_status  # noqa: E402
from dmabuf_fixture import BufferSet, PAGE_SIZE, SYSTEM_HEAP_DEVICE, UDMABUF_DEVICE  # noqa: E402
from varlink_raw import MONITOR, RawClient  # noqa: E402

DEBUGFS = "/sys/kernel/debug"
BUFINFO = os.path.join(DEBUGFS, "dma_buf", "bufinfo")
KERNEL_BTF = "/sys/kernel/btf/vmlinux"
ITERATOR_KFUNC = b"bpf_iter_dmabuf_new"


def _fail(message):
    pytest.exit("VM tier cannot run: " + message, returncode=1)


def pytest_sessionstart(session):
    if os.geteuid() != 0:
        _fail("it needs root inside the guest (it loads BPF, creates buffers, reads debugfs)")
    for binary in (DMABUFD, DMABUFCTL):
        if not os.access(binary, os.X_OK):
            _fail(f"{binary} is missing: build on the host first (DMABUFD_BIN_DIR picks another folder)")
    for device in (UDMABUF_DEVICE, SYSTEM_HEAP_DEVICE):
        try:
            if not stat.S_ISCHR(os.stat(device).st_mode):
                _fail(f"{device} is not a character device")
        except FileNotFoundError:
            _fail(f"{device} is missing: this kernel ({os.uname().release}) does not export "
                  "DMA-BUFs through it; boot the trixie-backports kernel")
    if not os.path.exists(BUFINFO):
        subprocess.run(["mount", "-t", "debugfs", "none", DEBUGFS], capture_output=True)
    if not os.path.exists(BUFINFO):
        _fail(f"{BUFINFO} is missing (no debugfs, or a kernel without CONFIG_DEBUG_FS)")
    try:
        with open(KERNEL_BTF, "rb") as btf:
            if ITERATOR_KFUNC + b"\0" not in btf.read():
                _fail(f"kernel {os.uname().release} has no {ITERATOR_KFUNC.decode()} (the DMA-BUF "
                      "iterator needs Linux 6.16+)")
    except FileNotFoundError:
        _fail(f"{KERNEL_BTF} is missing: the kernel has no BTF")
    try:
        read_bufinfo()
    except AssertionError as error:
        _fail(f"{BUFINFO} is not in the format this tier parses: {error}")


# --- debugfs bufinfo --------------------------------------------------------------------
#
# This kernel (7.3) prints, after a blank line and "Dma-buf Objects:", a header
#   size    \tflags   \tmode    \tcount   \texp_name\tino     \tname
# then per buffer one line "%08zu\t%08x\t%08x\t%08ld\t%s\t%08lu\t%s" (size and inode in
# decimal, flags and mode in hex, name "<none>" when never named), followed by its fences
# and "\tAttached Devices:", one "\tDEVICE" line each, "Total N devices attached" and a
# blank line; at the end "Total N objects, B bytes". A name may hold a tab (the name is
# the rest of the line) but not a newline: the object total catches that.

BUFINFO_HEADER = ["size", "flags", "mode", "count", "exp_name", "ino", "name"]
BUFINFO_BUFFER = re.compile(rb"(\d+)\t([0-9a-f]+)\t([0-9a-f]+)\t(\d+)\t([^\t]*)\t(\d+)\t(.*)")
BUFINFO_TOTAL = re.compile(rb"Total (\d+) objects, (\d+) bytes")


def read_bufinfo():
    """Every buffer in debugfs bufinfo as {"inode", "size", "name", "exporter", "references"}
    ("" unnamed; references: bufinfo's count, the file's reference count)."""
    with open(BUFINFO, "rb") as source:
        lines = source.read().split(b"\n")
    headers = [i for i, line in enumerate(lines) if line.startswith(b"size") and b"exp_name" in line]
    assert len(headers) == 1, f"bufinfo has no header line this tier knows: {lines[:5]!r}"
    columns = [column.strip().decode() for column in lines[headers[0]].split(b"\t")]
    assert columns == BUFINFO_HEADER, f"bufinfo columns changed: {columns}"
    buffers, totals = [], None
    for line in lines[headers[0] + 1:]:
        found = BUFINFO_BUFFER.fullmatch(line)
        if found:
            size, _flags, _mode, count, exporter, inode, name = found.groups()
            buffers.append({"inode": int(inode), "size": int(size),
                            "name": "" if name == b"<none>" else name.decode("utf-8", "replace"),
                            "exporter": exporter.decode(), "references": int(count)})
            continue
        found = BUFINFO_TOTAL.fullmatch(line)
        if found:
            totals = (int(found.group(1)), int(found.group(2)))
    assert totals is not None, "bufinfo has no 'Total N objects, B bytes' line"
    assert totals == (len(buffers), sum(b["size"] for b in buffers)), \
        f"bufinfo says {totals} but {len(buffers)} buffer lines were read (a name with a newline?)"
    return buffers


# --- fixtures ---------------------------------------------------------------------------

@pytest.fixture(scope="session")
def service():
    """One dmabufd with default options for the whole session (start-up costs ~20 s under
    TCG), its metrics endpoint on a free loopback port with the per-cgroup series; its
    clean exit on SIGTERM is checked at the end."""
    started = Daemon("--metrics-address", "127.0.0.1:0", "--metrics-cgroups", "--metrics-watched-names")
    # As installed: once loaded it is the dmabufd user (the guest shares the host's user
    # database, where make test created it), so every test here checks that user's passes.
    service_user = pwd.getpwnam("dmabufd")
    assert process_status(started.process.pid, "Uid", "Gid") == {
        "Uid": [str(service_user.pw_uid)] * 4, "Gid": [str(service_user.pw_gid)] * 4}, started.output()
    # Non-root clients need the socket's final mode; it is set just after the socket starts
    # accepting (test_unprivileged has a test of its own for that window).
    wait_for_socket_mode(started.socket, 0o666)
    yield started
    assert started.process.poll() is None, f"dmabufd died:\n{started.output()}"
    assert started.stop() == 0, started.output()
    assert not os.path.exists(started.socket), "SIGTERM left the socket file behind"


@pytest.fixture
def daemon(service):
    """The session's service, idle: no client connected and no name watched (disconnects are
    handled asynchronously, so an earlier test's may still be under way)."""
    wait_until_idle(service)
    yield service
    assert service.process.poll() is None, f"dmabufd died:\n{service.output()}"


def wait_for_socket_mode(path, mode, timeout=30):
    deadline = time.monotonic() + timeout
    while stat.S_IMODE(os.stat(path).st_mode) != mode and time.monotonic() < deadline:
        time.sleep(0.05)
    assert stat.S_IMODE(os.stat(path).st_mode) == mode, f"{path} never got mode {mode:o}"


def wait_until_idle(daemon, timeout=30):
    deadline = time.monotonic() + timeout
    state = status(daemon)
    while (state["clients"], state["watched"]) != (1, 0) and time.monotonic() < deadline:
        time.sleep(0.05)
        state = status(daemon)
    assert (state["clients"], state["watched"]) == (1, 0), f"the service never became idle: {state}"
    return state


class HostBuffers(BufferSet):
    """The test's buffers plus those that were on the host before it (normally none)."""

    def __init__(self):
        super().__init__()
        self.baseline = read_bufinfo()

    def host_totals(self):
        count, size = self.totals()
        return count + len(self.baseline), size + sum(b["size"] for b in self.baseline)

    def host_truth(self):
        """Every buffer on the host as List reports it ({"inode", "size", "name", "exporter"})."""
        # Each of the fixture's buffers has one reference: the fd the fixture holds.
        own = [{"inode": b["inode"], "size": b["size"], "name": b["name"] or "", "exporter": b["exporter"],
                "references": 1}
               for b in self.truth()]
        return own + self.baseline


@pytest.fixture
def buffers():
    """A fresh set of real buffers; all freed after the test, and the host back where it was."""
    with HostBuffers() as created:
        yield created
    assert_host_back_to(created.baseline)


# --- helpers ----------------------------------------------------------------------------

def assert_host_back_to(baseline, timeout=10):
    """Every buffer a test made is gone (a pass in flight may hold one for a moment)."""
    deadline = time.monotonic() + timeout
    while sorted_buffers(read_bufinfo()) != sorted_buffers(baseline) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sorted_buffers(read_bufinfo()) == sorted_buffers(baseline), \
        "buffers outlived the test (a child still holding their fds?)"


def name_order(name):
    return name.encode()


def sorted_buffers(buffers):
    return sorted(buffers, key=lambda b: (b["inode"], b["size"], b["exporter"], b["name"].encode()))


def call(client, method, parameters=None):
    """A Monitor call that must succeed; its reply parameters."""
    reply = client.call(MONITOR + method, parameters)
    assert reply is not None, f"{method}: the service closed the connection"
    assert "error" not in reply, f"{method}: {reply}"
    return reply["parameters"]


def scan(client, names=None, prefixes=None):
    parameters = {key: value for key, value in (("names", names), ("prefixes", prefixes)) if value is not None}
    return call(client, "Scan", parameters or None)


def expected_matches(buffers, names, prefixes=()):
    """The exact `matches` a Scan reporting `names` and `prefixes` must return for this
    fixture's buffers: sorted by name bytes, a name before its prefix twin."""
    by_name = buffers.expected(set(names))
    by_prefix = buffers.expected_prefixes(set(prefixes))
    counted = [(name, False, totals) for name, totals in by_name.items()]
    counted += [(prefix, True, totals) for prefix, totals in by_prefix.items()]
    return [{"name": name, "prefix": prefix, "present": count > 0, "count": count, "bytes": size}
            for name, prefix, (count, size) in sorted(counted, key=lambda m: (name_order(m[0]), m[1]))]


def assert_scan_is_truth(reply, buffers, names, prefixes=()):
    """A Scan reply equals the fixture's truth exactly: every match, and the host totals."""
    assert reply["matches"] == expected_matches(buffers, names, prefixes)
    count, size = buffers.host_totals()
    assert (reply["scan"]["buffers"], reply["scan"]["bytes"]) == (count, size)
    assert "details_dropped" not in reply["scan"]


def by_exporter(buffers):
    """The `exporters` of a ScanInfo for these buffers: per exporter, sorted by name bytes."""
    counts, sizes = Counter(), Counter()
    for buffer in buffers:
        counts[buffer["exporter"]] += 1
        sizes[buffer["exporter"]] += buffer["size"]
    return [{"name": name, "count": counts[name], "bytes": sizes[name]} for name in sorted(counts, key=str.encode)]


def status(daemon):
    with daemon.client() as client:
        return call(client, "Status")


class BackgroundScans(threading.Thread):
    """Another client scanning `names` over and over until `stop()`: it keeps passes
    running, counts its replies in `served` and keeps any failure in `failures` (an
    error reply, a closed connection, an exception) for the test to assert on."""

    def __init__(self, daemon, names):
        super().__init__(daemon=True)
        self.socket, self.names = daemon.socket, names
        self.stopping = threading.Event()
        self.served = 0
        self.failures = []

    def run(self):
        try:
            with RawClient(self.socket) as other:
                while not self.stopping.is_set():
                    reply = other.call(MONITOR + "Scan", {"names": self.names})
                    if reply is None or "error" in reply:
                        self.failures.append(reply)
                        return
                    self.served += 1
        except Exception as error:  # reported by the test
            self.failures.append(repr(error))

    def stop(self):
        self.stopping.set()
        self.join(timeout=60)
