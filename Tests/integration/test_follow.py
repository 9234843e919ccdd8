"""`dmabufctl watch --follow`: NDJSON for programs and pipes, a table redrawn in place on a
terminal, exit code 0 on Ctrl-C, SIGTERM or a closed pipe, and one line with a distinct
exit code when the service goes away.

The host exports no DMA-BUFs, so every name is present:false with count 0 and nothing ever
changes after the first reply. Frames redrawn on real changes, the replies' NDJSON as
buffers come and go, and a stalled reader's exit code are in Tests/vm/test_follow.py.
"""
import json
import os
import pty
import re
import signal
import subprocess
import time

from service_helpers import Daemon, dmabufctl, ended, first_line, follow, read_terminal

ERASE_FRAME = re.compile(r"\x1b\[(\d+)F\x1b\[J")


def absent(name, prefix):
    return {"name": name, "prefix": prefix, "present": False, "count": 0, "bytes": 0}


def check_ndjson(process):
    first = json.loads(first_line(process))
    assert first["matches"] == [absent("a", False), absent("b", True)]
    assert first["scan"]["buffers"] == 0
    time.sleep(0.5)  # five passes at 100 ms
    process.send_signal(signal.SIGINT)
    code, rest, err = ended(process)
    assert code == 0, err
    assert err == ""
    assert rest == b"", "nothing changed on this host, so nothing more may come"


def test_json_first_line_is_the_whole_state_and_sigint_exits_0(daemon):
    check_ndjson(follow(daemon.socket, "a", "--prefix", "b", "--json", "--interval", "100"))


def test_a_pipe_gets_ndjson_without_json_flag(daemon):
    check_ndjson(follow(daemon.socket, "a", "--prefix", "b", "--interval", "100"))


def test_sigterm_exits_0(daemon):
    process = follow(daemon.socket, "a", "--json")
    first_line(process)
    process.send_signal(signal.SIGTERM)
    code, _, err = ended(process)
    assert code == 0, err


def test_a_reader_that_closes_the_pipe_ends_it_with_0(daemon):
    # `dmabufctl watch --follow | head -1`: no later reply needs to come for dmabufctl to notice.
    process = follow(daemon.socket, "a", "--json")
    first_line(process)
    process.stdout.close()
    try:
        code = process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        raise AssertionError("dmabufctl kept running after its reader closed the pipe")
    assert code == 0, process.stderr.read().decode()
    assert process.stderr.read() == b""


def test_terminal_table_redrawn_in_place_and_sigint_leaves_a_fresh_line(daemon):
    controller, terminal = pty.openpty()
    process = follow(daemon.socket, "a", "--prefix", "b", "--interval", "100", stdout=terminal)
    os.close(terminal)
    # The first frame ends with the line about the pass.
    output = read_terminal(controller, lambda text: re.search(rb"pass \d+: .*\n", text))
    time.sleep(0.5)
    process.send_signal(signal.SIGINT)
    code, _, err = ended(process)
    assert code == 0, err
    while True:  # the rest, until the terminal reports that its last writer is gone
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # EIO on Linux
            break
        if not chunk:
            break
        output += chunk
    os.close(controller)

    text = output.decode().replace("\r\n", "\n")  # the terminal turns \n into \r\n
    frames = ERASE_FRAME.split(text)
    lines = frames[0].splitlines()
    assert lines[0].split() == ["NAME", "KIND", "PRESENT", "COUNT", "BYTES", "SIZE"]
    assert lines[1].split() == ["a", "name", "no", "0", "0", "0", "B"]
    assert lines[2].split() == ["b", "prefix", "no", "0", "0", "0", "B"]
    assert lines[3].startswith("pass ") and ": 0 buffers, 0 B on the host" in lines[3]
    # Each later frame (if the service reported again) first goes up over the 4 rows of the one before.
    for rows, frame in zip(frames[1::2], frames[2::2]):
        assert rows == "4", repr(text)
        assert frame.splitlines()[:3] == lines[:3], repr(text)
    assert text.endswith("\n"), repr(text)
    assert not text.endswith("\n\n\n"), repr(text)


def test_interval_is_checked_before_connecting(tmp_path):
    nowhere = str(tmp_path / "none.sock")
    for arguments, problem in [
        (["--follow", "--interval", "0"], "--interval must be a positive number"),
        (["--interval", "100"], "--interval needs --follow"),
    ]:
        result = dmabufctl("watch", "--socket", nowhere, "x", *arguments)
        assert result.returncode == 64, result.stderr
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("dmabufctl: ") and problem in lines[0], result.stderr


def test_service_stopping_ends_follow_with_69_and_one_line():
    service = Daemon()
    try:
        process = follow(service.socket, "a", "--json")
        first_line(process)
    finally:
        assert service.stop() == 0, service.output()
    code, _, err = ended(process, timeout=30)
    assert code == 69, err
    assert len(err.splitlines()) == 1 and err.startswith("dmabufctl: dmabufd "), err
