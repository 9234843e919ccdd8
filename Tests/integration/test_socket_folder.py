"""The socket's folder against another local user (docs/hardening.md): a folder someone
else can write is refused; in a sticky root-owned folder a user racing dmabufd with
symlinks changes nothing; two services on one path never both serve, and a service
removes at exit only the socket it bound."""
import os
import socket
import stat
import subprocess
import sys
import tempfile
import time

from service_helpers import DMABUFD, NOBODY, Daemon
from varlink_raw import MONITOR, RawClient, wait_for_socket

HERE = os.path.dirname(__file__)
RACES = 50


def start(path, *args):
    return subprocess.Popen([DMABUFD, "--socket", path, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def folder(mode, owner=0, group=0):
    path = tempfile.mkdtemp(prefix="dmabufd-folder-")
    os.chown(path, owner, group)
    os.chmod(path, mode)
    return path


class Swapper:
    """symlink_swapper.py running as nobody on `folder`, aiming at `victim`."""

    def __init__(self, watched, victim):
        self.process = subprocess.Popen(
            ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", sys.executable,
             os.path.join(HERE, "symlink_swapper.py"), watched, victim],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout.readline() == "ready\n"

    def stop(self):
        self.process.stdin.close()
        assert self.process.wait(timeout=10) == 0


def victim_file():
    """A root-only file in a root-only folder: what the attack would make every user's."""
    path = os.path.join(tempfile.mkdtemp(prefix="dmabufd-victim-"), "secret")
    with open(path, "w") as secret:
        secret.write("root's\n")
    os.chmod(path, 0o600)
    return path


def unchanged(victim):
    info = os.stat(victim)
    return (stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid) == (0o600, 0, 0)


def test_a_folder_another_user_can_write_is_refused_and_nothing_in_it_is_touched():
    victim = victim_file()
    cases = [(folder(0o777), "every user can write it (mode 777)"),
             (folder(0o775, group=NOBODY), f"group {NOBODY} can write it (mode 775)"),
             (folder(0o755, owner=NOBODY), f"it belongs to uid {NOBODY}")]
    for path, danger in cases:
        swapper = Swapper(path, victim)
        try:
            for _ in range(RACES):
                result = subprocess.run([DMABUFD, "--socket", os.path.join(path, "s.sock")], capture_output=True,
                                        text=True, timeout=60)
                assert result.returncode == 73, result.stderr
                assert result.stderr.strip().splitlines() == [
                    f"dmabufd: cannot prepare socket {path}/s.sock: its folder {path} is not safe, {danger}; "
                    "use a folder only root (or the service's user) can write, or a sticky one owned by root "
                    "such as /tmp"]
                assert unchanged(victim)
        finally:
            swapper.stop()
        assert os.listdir(path) == [], "a refused folder is left as it was"


def test_racing_symlinks_in_a_sticky_folder_change_no_file_but_the_socket():
    victim = victim_file()
    sticky = folder(0o1777)
    path = os.path.join(sticky, "dmabufd.sock")
    swapper = Swapper(sticky, victim)
    try:
        for attempt in range(RACES):
            if os.path.lexists(path):
                os.unlink(path)  # a name the swapper took after the last run: what an operator would clear
            service = start(path, "--socket-mode", "0666")
            try:
                assert wait_for_socket(path, service, timeout=60), service.stderr.read()
                info = os.lstat(path)
                assert stat.S_ISSOCK(info.st_mode) and stat.S_IMODE(info.st_mode) == 0o666, attempt
                assert unchanged(victim), f"attempt {attempt} changed the victim's mode or owner"
            finally:
                service.terminate()
                assert service.wait(timeout=30) == 0, service.stderr.read()
    finally:
        swapper.stop()
    assert unchanged(victim)
    with open(victim) as secret:
        assert secret.read() == "root's\n"
    # What is left is the swapper's own: every service removed its socket, lock and private folder.
    left = {name: os.lstat(os.path.join(sticky, name)) for name in os.listdir(sticky)}
    assert {name for name, info in left.items() if info.st_uid == 0} == set()


def test_of_two_services_started_together_one_serves_and_the_other_says_why():
    for _ in range(5):
        path = os.path.join(folder(0o755), "dmabufd.sock")
        services = [start(path), start(path)]
        try:
            deadline = time.monotonic() + 60
            while all(service.poll() is None for service in services):
                assert time.monotonic() < deadline, "both services still run: both think they serve"
                time.sleep(0.02)
            [loser] = [service for service in services if service.poll() is not None]
            [winner] = [service for service in services if service is not loser]
            assert loser.returncode == 73
            assert loser.stderr.read().strip().splitlines() == [
                f"dmabufd: another dmabufd is already serving {path}; stop it first or pass --socket with another path"]
            assert wait_for_socket(path, winner, timeout=60)
            with RawClient(path) as client:
                assert "error" not in client.call(MONITOR + "Status")
        finally:
            for service in services:
                if service.poll() is None:
                    service.terminate()
                    assert service.wait(timeout=30) == 0
        assert os.listdir(os.path.dirname(path)) == [], "the socket and its lock are removed at exit"


def test_a_socket_put_in_the_services_place_is_left_at_exit():
    daemon = Daemon()
    os.unlink(daemon.socket)  # an operator removes it and another server binds the path
    other = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    other.bind(daemon.socket)
    other.listen()
    try:
        assert daemon.stop() == 0, daemon.output()
        assert stat.S_ISSOCK(os.lstat(daemon.socket).st_mode), "dmabufd removed a socket it did not bind"
    finally:
        other.close()
