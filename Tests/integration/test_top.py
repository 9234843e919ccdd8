"""`dmabufctl top`: the Processes table and --json on the host (no process here holds a
DMA-BUF: an empty table and nothing held by the kernel), --follow's NDJSON, its exit codes
on SIGINT and when the service stops, and its usage errors. Real holders are in
Tests/vm/test_holders.py."""
import json
import signal
import subprocess

from service_helpers import DMABUFCTL, NOBODY, Daemon, as_user, dmabufctl, ended, first_line


def top(socket, *args):
    return subprocess.Popen([DMABUFCTL, "top", "--socket", socket, *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, bufsize=0)


def test_top_prints_what_the_kernel_holds_and_the_pass(daemon):
    result = dmabufctl("top", "--socket", daemon.socket)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "held by the kernel alone: 0 buffers, 0 B"
    assert lines[1].startswith("pass ") and ": 0 buffers, 0 B on the host" in lines[1]
    assert len(lines) == 2


def test_top_json_is_the_reply_for_root_and_nobody(daemon):
    def ask():
        result = dmabufctl("top", "--socket", daemon.socket, "--json")
        return [result.returncode, result.stdout, result.stderr]

    for code, out, err in (ask(), as_user(NOBODY, ask)):
        assert code == 0, err
        reply = json.loads(out)
        assert reply["processes"] == [] and reply["kernel_held"] == {"count": 0, "bytes": 0}


def test_follow_asks_again_every_interval_and_sigint_exits_0(daemon):
    process = top(daemon.socket, "--follow", "--interval", "100")
    first = json.loads(first_line(process))
    second = json.loads(first_line(process))
    assert second["scan"]["id"] > first["scan"]["id"], "each line comes from a fresh pass"
    process.send_signal(signal.SIGINT)
    code, _, err = ended(process)
    assert code == 0, err


def test_follow_ends_with_69_when_the_service_stops():
    service = Daemon()
    try:
        process = top(service.socket, "--follow", "--json")
        first_line(process)
    finally:
        assert service.stop() == 0, service.output()
    code, _, err = ended(process, timeout=30)
    assert code == 69, err
    assert len(err.splitlines()) == 1 and err.startswith("dmabufctl: dmabufd "), err


def test_interval_needs_follow(tmp_path):
    result = dmabufctl("top", "--socket", str(tmp_path / "none.sock"), "--interval", "100")
    assert result.returncode == 64
    assert result.stderr.strip() == "dmabufctl: --interval needs --follow"


def test_cgroups_is_roots_and_mine_is_everyones(daemon):
    def ask(*command):
        result = dmabufctl(*command, "--socket", daemon.socket)
        return [result.returncode, result.stdout, result.stderr]

    code, out, err = ask("cgroups")
    assert code == 0, err
    assert out.startswith("pass ") and len(out.splitlines()) == 1, "no cgroup holds a buffer here"
    code, _, err = as_user(NOBODY, lambda: ask("cgroups"))
    assert code == 77 and "PermissionDenied" in err
    with open("/proc/self/cgroup") as cgroups:
        mine = next(line.split(":", 2)[2].strip() for line in cgroups if line.startswith("0::"))
    for code, out, err in (ask("mine"), as_user(NOBODY, lambda: ask("mine"))):
        assert code == 0, err
        assert out.splitlines()[0] == f"cgroup {mine}: 0 B in 0 buffers, pss 0 B, 0 processes"
        assert out.splitlines()[1].startswith("pass ")
