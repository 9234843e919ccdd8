"""What both pytest tiers (host and VM) use to drive the real service: its binaries, a
dmabufd process of a test's own, the CLI (`watch --follow` too, on a pipe or a terminal),
and code run as another user."""
import json
import os
import resource
import select
import signal
import socket
import subprocess
import tempfile
import time
import traceback

from varlink_raw import RawClient, wait_for_socket

BIN_DIR = os.environ.get("DMABUFD_BIN_DIR", os.path.join(os.path.dirname(__file__), "../../.build/debug"))
DMABUFD = os.path.join(BIN_DIR, "dmabufd")
DMABUFCTL = os.path.join(BIN_DIR, "dmabufctl")
NOBODY = 65534


class Daemon:
    """One dmabufd process on a socket of its own, in a folder every user can reach. By
    default the socket's folder is one dmabufd makes (`run` in the test's folder), so it
    belongs to the user dmabufd becomes, as /run/dmabufd does when installed."""

    def __init__(self, *args, socket=None, open_files=None, hard_open_files=None, wrapper=()):
        """`open_files`, `hard_open_files`: the soft and hard RLIMIT_NOFILE dmabufd starts
        with (default: inherited). `wrapper`: a command that execs dmabufd (unshare, setpriv)."""
        self.folder = tempfile.mkdtemp(prefix="dmabufd-test-")
        os.chmod(self.folder, 0o755)
        self.socket = socket or os.path.join(self.folder, "run", "dmabufd.sock")
        self.log = open(os.path.join(self.folder, "dmabufd.log"), "w+")

        def limit_open_files():
            soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
            resource.setrlimit(resource.RLIMIT_NOFILE, (open_files or soft, hard_open_files or hard))

        self.process = subprocess.Popen(
            [*wrapper, DMABUFD, "--socket", self.socket, "--log-level", "debug", *args],
            stdout=self.log, stderr=subprocess.STDOUT, preexec_fn=limit_open_files if open_files or hard_open_files else None)
        if not wait_for_socket(self.socket, self.process, timeout=60):
            self.process.kill()  # never leave a half-started service behind
            self.process.wait()
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


def memory_kib(pid, field="VmRSS"):
    """A process's resident memory (or another /proc/PID/status field, e.g. VmHWM), in KiB."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/{pid}/status")


def process_status(pid, *fields):
    """Fields of /proc/PID/status, each as its list of words (Uid: real, effective, saved, fs)."""
    with open(f"/proc/{pid}/status") as status:
        found = dict(line.rstrip("\n").split(":\t", 1) for line in status if ":\t" in line)
    return {field: found[field].split() for field in fields}


def wait_until(read, holds, timeout=15, interval=0.05, what="the condition"):
    """Polls `read()` until `holds(value)`, and returns that value; fails after `timeout`
    seconds showing the last value. For state the service settles asynchronously (disconnects)."""
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if holds(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not hold within {timeout} s; last: {value!r}")
        time.sleep(interval)


def admitted(path, timeout=10):
    """A new connection the service took and answers. A slot freed by a closed connection
    (the start-up probe's, say) is let go asynchronously, so a turned-away attempt is tried
    again until `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        client = RawClient(path)
        try:
            reply = client.call("io.dmabufd.Monitor.Status")
            if reply is not None and "error" not in reply:
                return client
        except (BrokenPipeError, ConnectionResetError):
            pass
        client.close()
        assert time.monotonic() < deadline, "no connection was served after one closed"
        time.sleep(0.05)


def dmabufctl(*args, user=None, env=None):
    """Runs the CLI (as `user` when given, through setpriv) and returns the completed process."""
    command = [DMABUFCTL, *args]
    if user is not None:
        command = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", *command]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, env=env)


def connected_as(uid, path):
    """A client whose connection a child process running as `uid` made and handed over:
    the service sees `uid` (SO_PEERCRED is taken at connect), while the test drives it."""
    parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    pid = os.fork()
    if pid == 0:
        status = 1
        try:
            parent.close()
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            connection.connect(path)
            socket.send_fds(child, [b"c"], [connection.fileno()])
            status = 0
        finally:
            os._exit(status)
    child.close()
    _, fds, _, _ = socket.recv_fds(parent, 1, 1)
    parent.close()
    os.waitpid(pid, 0)
    assert fds, f"the child running as uid {uid} could not connect to {path}"
    return RawClient(path, connected=socket.socket(fileno=fds[0]))


def as_user(uid, function):
    """Runs `function()` in a forked child that has dropped to `uid`; returns what it returned.

    The child reports through a pipe as JSON so assertions stay in the parent."""
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
        except BaseException:  # report anything to the parent, with where it happened
            result = {"error": traceback.format_exc()}
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


# --- dmabufctl watch --follow --------------------------------------------------------

def follow(socket, *args, stdout=subprocess.PIPE):
    """Starts `dmabufctl watch --follow` on `socket`; stderr is always a pipe. Unbuffered, so
    that select() on stdout says whether a line is there to read."""
    return subprocess.Popen(
        [DMABUFCTL, "watch", "--socket", socket, "--follow", *args], stdout=stdout, stderr=subprocess.PIPE,
        bufsize=0)


def first_line(process, timeout=10):
    """The first line `process` writes to its stdout pipe, or a failure that says why not."""
    ready, _, _ = select.select([process.stdout], [], [], timeout)
    if not ready:
        process.kill()
        raise AssertionError(f"no line within {timeout} s; stderr: {process.stderr.read().decode()!r}")
    line = process.stdout.readline()
    assert line.endswith(b"\n"), (line, process.wait(timeout=10), process.stderr.read().decode())
    return line


def ended(process, timeout=5):
    """Waits for `process`: its exit code, the rest of its stdout (if a pipe) and its stderr."""
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise AssertionError(f"dmabufctl did not exit within {timeout} s")
    return process.returncode, out or b"", err.decode()


def read_terminal(controller, done, timeout=10):
    """What a pseudo-terminal's program writes, read until `done(output)` is true."""
    output = b""
    deadline = time.monotonic() + timeout
    while not done(output):
        assert time.monotonic() < deadline, f"not there within {timeout} s: {output!r}"
        ready, _, _ = select.select([controller], [], [], 0.2)
        if ready:
            output += os.read(controller, 65536)
    return output
