"""The user dmabufd becomes once loaded (issue: uid 0 kept after the capabilities went).
Installed, it is `dmabufd` (make test creates it, as make install does); these check that
the running service is that user and no one else, that it still answers every method,
what it makes its own around the socket, and what happens without the user."""
import os
import pwd
import stat
import subprocess
import tempfile

import pytest

from service_helpers import DMABUFD, NOBODY, Daemon, dmabufctl, process_status
from varlink_raw import MONITOR

SERVICE = pwd.getpwnam("dmabufd")


def credentials(pid):
    return process_status(pid, "Uid", "Gid", "Groups", "CapEff", "CapBnd", "NoNewPrivs")


def owner(path):
    info = os.lstat(path)
    return info.st_uid, info.st_gid


def test_loaded_it_is_the_dmabufd_user_with_nothing_else():
    daemon = Daemon()
    try:
        uid, gid = str(SERVICE.pw_uid), str(SERVICE.pw_gid)
        assert credentials(daemon.process.pid) == {
            "Uid": [uid] * 4, "Gid": [gid] * 4, "Groups": [], "CapEff": ["0000000000000000"],
            "CapBnd": ["0000000000000000"], "NoNewPrivs": ["1"]}
        assert f"runs as user dmabufd (uid {uid}, gid {gid}), dropped every capability" in daemon.output()
        # The folder it made, the socket and the lock are its own: it removes them as it stops.
        folder = os.path.dirname(daemon.socket)
        assert owner(folder) == (SERVICE.pw_uid, SERVICE.pw_gid)
        assert stat.S_IMODE(os.stat(folder).st_mode) == 0o755
        assert owner(daemon.socket) == (SERVICE.pw_uid, 0)
        assert owner(daemon.socket + ".lock") == (SERVICE.pw_uid, SERVICE.pw_gid)
        with daemon.client() as client:
            for method, parameters in [("Watch", {"names": ["cam"], "prefixes": ["gpu-"]}), ("Scan", {"names": ["x"]}),
                                       ("Status", {}), ("List", {}), ("Processes", {}), ("Cgroups", {}),
                                       ("Mine", {}), ("Metrics", {}), ("Unwatch", {"names": ["cam"]})]:
                reply = client.call(MONITOR + method, parameters)
                assert "error" not in reply, (method, reply)
            client.send(MONITOR + "Subscribe", {"interval_msec": 100}, more=True)
            first = client.receive()  # later replies come with changes, which this host has none of
            assert first.get("continues") is True and "error" not in first, first
    finally:
        assert daemon.stop() == 0, daemon.output()
    assert os.listdir(os.path.dirname(daemon.socket)) == [], "the socket or the lock was left behind"


def test_a_restart_on_the_folder_it_owns_works_and_a_client_sees_the_same_service():
    first = Daemon()
    assert first.stop() == 0, first.output()
    second = Daemon(socket=first.socket)
    try:
        assert owner(os.path.dirname(second.socket))[0] == SERVICE.pw_uid
        assert dmabufctl("scan", "--socket", second.socket, "x", user=NOBODY).returncode == 0
    finally:
        assert second.stop() == 0, second.output()


def test_a_root_folder_shared_with_other_files_keeps_its_owner_and_says_the_socket_stays():
    folder = tempfile.mkdtemp()
    os.chmod(folder, 0o755)
    with open(os.path.join(folder, "someone-elses"), "w") as other:
        other.write("x")
    daemon = Daemon(socket=os.path.join(folder, "dmabufd.sock"))
    try:
        assert owner(folder) == (0, 0), "a folder with other files in it was given away"
        assert owner(os.path.join(folder, "someone-elses")) == (0, 0)
        assert "cannot remove" in daemon.output() and "give dmabufd a folder of its own" in daemon.output()
    finally:
        assert daemon.stop() == 0, daemon.output()
    assert os.path.exists(daemon.socket), "the user could remove a socket in root's folder?"
    again = Daemon(socket=daemon.socket)  # the stale socket is replaced
    try:
        with again.client() as client:
            assert "error" not in client.call(MONITOR + "Status")
    finally:
        assert again.stop() == 0, again.output()


def test_in_a_sticky_folder_the_socket_and_lock_are_its_own_and_go_at_exit():
    sticky = tempfile.mkdtemp()
    os.chmod(sticky, 0o1777)
    daemon = Daemon(socket=os.path.join(sticky, "dmabufd.sock"))
    try:
        assert owner(sticky) == (0, 0)
        assert owner(daemon.socket)[0] == owner(daemon.socket + ".lock")[0] == SERVICE.pw_uid
    finally:
        assert daemon.stop() == 0, daemon.output()
    assert os.listdir(sticky) == []


def test_a_numeric_user_needs_no_passwd_entry():
    daemon = Daemon("--user", "65533:65532")
    try:
        assert credentials(daemon.process.pid)["Uid"] == ["65533"] * 4
        assert credentials(daemon.process.pid)["Gid"] == ["65532"] * 4
        assert owner(os.path.dirname(daemon.socket)) == (65533, 65532)
        assert "runs as user (uid 65533, gid 65532)" in daemon.output()
        with daemon.client() as client:
            assert "error" not in client.call(MONITOR + "Scan", {"names": ["x"]})
    finally:
        assert daemon.stop() == 0, daemon.output()


def test_user_root_keeps_uid_0_without_capabilities():
    daemon = Daemon("--user", "root")
    try:
        seen = credentials(daemon.process.pid)
        assert (seen["Uid"], seen["CapEff"], seen["CapBnd"]) == (["0"] * 4, ["0000000000000000"], ["0000000000000000"])
        assert "--user root: dmabufd keeps uid 0 (with no capability)" in daemon.output()
        assert owner(os.path.dirname(daemon.socket)) == (0, 0)
    finally:
        assert daemon.stop() == 0, daemon.output()


@pytest.mark.parametrize("user, said", [
    ("no-such-user-here", "--user: there is no user named no-such-user-here"),
    ("12:x", "--user: 12:x is neither a user name, UID nor UID:GID"),
])
def test_a_user_that_cannot_be_is_a_bad_option(user, said):
    result = subprocess.run([DMABUFD, "--user", user], capture_output=True, text=True, timeout=60)
    assert result.returncode == 64, result.stderr
    assert said in result.stderr


def test_where_there_is_no_dmabufd_user_it_says_so_in_one_line_and_serves_as_uid_0():
    """A system without the user (dmabufd run from the build, never installed): the user
    database is seen without it, in a mount namespace of the service's own."""
    work = tempfile.mkdtemp()
    passwd = os.path.join(work, "passwd")
    with open("/etc/passwd") as real, open(passwd, "w") as without:
        without.writelines(line for line in real if not line.startswith("dmabufd:"))
    os.chmod(passwd, 0o644)
    wrapper = ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c",
               f'mount --bind {passwd} /etc/passwd && exec "$@"', "sh"]
    daemon = Daemon(wrapper=wrapper)
    try:
        said = [line for line in daemon.output().splitlines() if "no user dmabufd" in line]
        assert len(said) == 1 and "keeps uid 0 (with no capability)" in said[0], daemon.output()
        seen = credentials(daemon.process.pid)
        assert (seen["Uid"], seen["CapEff"], seen["NoNewPrivs"]) == (["0"] * 4, ["0000000000000000"], ["1"])
        with daemon.client() as client:
            assert "error" not in client.call(MONITOR + "Watch", {"names": ["cam"]})
    finally:
        assert daemon.stop() == 0, daemon.output()
