"""dmabufctl against a service that never answers: the real dmabufd, stopped with SIGSTOP
(wedged, as far as a client can tell). It gives up after --timeout with exit code 124 and
a line that says what to do, instead of hanging; --timeout 0 waits for ever."""
import os
import resource
import signal
import socket
import subprocess
import time

import pytest

from service_helpers import DMABUFCTL, Daemon, dmabufctl


@pytest.fixture
def stopped():
    daemon = Daemon()
    os.kill(daemon.process.pid, signal.SIGSTOP)
    yield daemon
    os.kill(daemon.process.pid, signal.SIGCONT)
    assert daemon.stop() == 0, daemon.output()


@pytest.mark.parametrize("command", [["status"], ["scan", "cam"], ["watch", "cam"], ["top"]])
def test_a_call_nobody_answers_ends_with_124_after_the_timeout(stopped, command):
    started = time.monotonic()
    done = dmabufctl(*command, "--socket", stopped.socket, "--timeout", "1")
    took = time.monotonic() - started
    assert done.returncode == 124, (done.returncode, done.stderr)
    assert done.stderr == ("dmabufctl: dmabufd did not answer within 1 s (is it stopped or wedged? "
                           "`systemctl status dmabufd` shows); --timeout waits longer\n")
    assert took >= 1, took


def test_a_full_backlog_times_the_connect_out_too(stopped):
    """Connections the stopped service never accepts fill its backlog; the next connect waits."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
    pending = []
    try:
        while True:
            client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            client.setblocking(False)
            try:
                client.connect(stopped.socket)
            except BlockingIOError:
                client.close()
                break  # the backlog is full
            pending.append(client)
            assert len(pending) < 4000, "the backlog never filled"
        done = dmabufctl("status", "--socket", stopped.socket, "--timeout", "0.5")
        assert done.returncode == 124 and "did not answer within 0.5 s" in done.stderr, done.stderr
    finally:
        for client in pending:
            client.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_timeout_0_waits_until_the_service_answers(stopped):
    waiting = subprocess.Popen([DMABUFCTL, "status", "--socket", stopped.socket, "--timeout", "0", "--json"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1.5)
    assert waiting.poll() is None, "it gave up although --timeout 0 waits for ever"
    os.kill(stopped.process.pid, signal.SIGCONT)
    out, err = waiting.communicate(timeout=30)
    assert waiting.returncode == 0 and '"version"' in out, err


def test_a_negative_timeout_is_a_bad_command_line():
    done = dmabufctl("status", "--timeout=-1")
    assert done.returncode == 64 and "--timeout must be 0 or more seconds" in done.stderr, done.stderr
