"""Host integration tier: the real dmabufd on this machine's kernel, real sockets, real clients.

Every test here needs root (to load the BPF program and to switch to `nobody`); without
it the session fails at once instead of skipping, so a green run always means these ran.
"""
import os
import signal
import subprocess
import tempfile

import pytest

from varlink_raw import RawClient, wait_for_socket

BIN_DIR = os.environ.get("DMABUFD_BIN_DIR", os.path.join(os.path.dirname(__file__), "../../.build/debug"))
DMABUFD = os.path.join(BIN_DIR, "dmabufd")
DMABUFCTL = os.path.join(BIN_DIR, "dmabufctl")
NOBODY = 65534


def pytest_sessionstart(session):
    if os.geteuid() != 0:
        pytest.exit("the host integration tier needs root (CI runs as root): run `make test` as root", returncode=1)
    for binary in (DMABUFD, DMABUFCTL):
        if not os.access(binary, os.X_OK):
            pytest.exit(f"{binary} is missing: build first (`make test` does)", returncode=1)


class Daemon:
    """One dmabufd process on a socket of its own, in a folder every user can reach."""

    def __init__(self, *args, socket=None):
        self.folder = tempfile.mkdtemp(prefix="dmabufd-test-")
        os.chmod(self.folder, 0o755)
        self.socket = socket or os.path.join(self.folder, "dmabufd.sock")
        self.log = open(os.path.join(self.folder, "dmabufd.log"), "w+")
        self.process = subprocess.Popen(
            [DMABUFD, "--socket", self.socket, "--log-level", "debug", *args],
            stdout=self.log, stderr=subprocess.STDOUT)
        if not wait_for_socket(self.socket, self.process, timeout=60):
            raise AssertionError(f"dmabufd did not start serving:\n{self.output()}")

    def client(self):
        return RawClient(self.socket)

    def output(self):
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def stop(self):
        """SIGTERM, then the exit code (the caller asserts what it expects)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise AssertionError(f"dmabufd ignored SIGTERM for 30 s:\n{self.output()}")


@pytest.fixture(scope="module")
def daemon():
    """A service shared by a module's tests; its clean shutdown is checked at the end."""
    service = Daemon()
    yield service
    assert service.stop() == 0, service.output()
    assert not os.path.exists(service.socket), "SIGTERM left the socket file behind"


def dmabufctl(*args, user=None, env=None):
    """Runs the CLI (as `user` when given, through setpriv) and returns the completed process."""
    command = [DMABUFCTL, *args]
    if user is not None:
        command = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", *command]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, env=env)


def as_user(uid, function):
    """Runs `function()` in a forked child that has dropped to `uid`; returns what it returned.

    The child reports through a pipe as JSON so assertions stay in the parent."""
    import json
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        status = 0
        try:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            result = {"ok": function()}
        except BaseException as error:  # report anything to the parent
            result = {"error": repr(error)}
            status = 1
        with os.fdopen(write_end, "w") as out:
            json.dump(result, out)
        os._exit(status)
    os.close(write_end)
    with os.fdopen(read_end) as reader:
        data = reader.read()
    os.waitpid(pid, 0)
    result = json.loads(data)
    assert "error" not in result, result["error"]
    return result["ok"]
