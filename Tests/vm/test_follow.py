"""`dmabufctl watch --follow` on real buffers: NDJSON lines that are exactly the changes, a
terminal table redrawn over itself when a buffer appears, and a reader that falls too far
behind ending with SubscriberStalled and exit code 75."""
import json
import os
import pty
import re
import signal
import time

from conftest import PAGE_SIZE, Daemon
from service_helpers import ended, first_line, follow, read_terminal

ERASE_FRAME = re.compile(rb"\x1b\[(\d+)F\x1b\[J")


def state(name, count, size):
    return {"name": name, "prefix": False, "present": count > 0, "count": count, "bytes": size}


def test_ndjson_lines_are_the_changes_as_buffers_come_and_go(daemon, buffers):
    process = follow(daemon.socket, "fol-a", "fol-b", "--json", "--interval", "100")
    try:
        assert json.loads(first_line(process))["matches"] == [state("fol-a", 0, 0), state("fol-b", 0, 0)]
        [ident] = buffers.create("fol-a", PAGE_SIZE, "udmabuf")
        assert json.loads(first_line(process))["matches"] == [state("fol-a", 1, PAGE_SIZE)]
        buffers.rename(ident, "fol-b")
        assert json.loads(first_line(process))["matches"] == [state("fol-a", 0, 0), state("fol-b", 1, PAGE_SIZE)]
        buffers.close(ident)
        assert json.loads(first_line(process))["matches"] == [state("fol-b", 0, 0)]
    finally:
        process.send_signal(signal.SIGINT)
    code, rest, err = ended(process)
    assert (code, rest, err) == (0, b"", "")


def test_the_terminal_table_is_redrawn_over_itself(daemon, buffers):
    controller, terminal = pty.openpty()
    process = follow(daemon.socket, "fol-cam", "--prefix", "fol-", "--interval", "100", stdout=terminal)
    os.close(terminal)
    try:
        first = read_terminal(controller, lambda text: b"pass " in text and text.endswith(b"\n"))
        buffers.create("fol-cam", 2 * PAGE_SIZE, "system")
        output = read_terminal(controller, lambda text: ERASE_FRAME.search(text) and text.endswith(b"\n"))
    finally:
        process.send_signal(signal.SIGINT)
    code, _, err = ended(process)
    os.close(controller)
    assert code == 0, err
    before, rows, second = ERASE_FRAME.split(output.replace(b"\r\n", b"\n"))
    assert before == b"", "the second frame starts by going back over the first"
    assert rows == b"4", "back over the header, two rows and the pass line"
    assert [line.split()[:5] for line in second.decode().splitlines()[:3]] == [
        ["NAME", "KIND", "PRESENT", "COUNT", "BYTES"],
        ["fol-", "prefix", "yes", "1", str(2 * PAGE_SIZE)],
        ["fol-cam", "name", "yes", "1", str(2 * PAGE_SIZE)],
    ]
    assert [line.split()[2] for line in first.decode().splitlines()[1:3]] == ["no", "no"], first


def test_a_reader_that_falls_too_far_behind_ends_with_75(buffers):
    service = Daemon("--subscriber-timeout-msec", "500")
    try:
        process = follow(service.socket, "fol-stall", "--json", "--interval", "100")
        first_line(process)
        process.send_signal(signal.SIGSTOP)  # it reads nothing from now on
        buffers.create("fol-stall", PAGE_SIZE, "udmabuf")
        time.sleep(2)
        process.send_signal(signal.SIGCONT)
        code, rest, err = ended(process, timeout=10)
        assert code == 75, err
        assert len(err.splitlines()) == 1 and "SubscriberStalled" in err, err
        assert [json.loads(line)["matches"] for line in rest.splitlines()] == [[state("fol-stall", 1, PAGE_SIZE)]]
    finally:
        assert service.stop() == 0, service.output()
