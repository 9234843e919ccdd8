"""dmabufctl against the real service, as root and as nobody: tables, --json, exit codes."""
import json
import os

from service_helpers import NOBODY, dmabufctl


def test_scan_table_and_json(daemon):
    table = dmabufctl("scan", "--socket", daemon.socket, "gpu-0", "cam\ttab")
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["NAME", "KIND", "PRESENT", "COUNT", "BYTES", "SIZE"]
    assert lines[1].split() == ["cam\\ttab", "name", "no", "0", "0", "0", "B"]
    assert lines[2].split() == ["gpu-0", "name", "no", "0", "0", "0", "B"]
    assert lines[3].startswith("pass ") and ": 0 buffers, 0 B on the host" in lines[3]

    as_json = dmabufctl("scan", "--socket", daemon.socket, "--json", 'quote"back\\slash')
    assert as_json.returncode == 0, as_json.stderr
    reply = json.loads(as_json.stdout)
    assert reply["matches"] == [
        {"name": 'quote"back\\slash', "prefix": False, "present": False, "count": 0, "bytes": 0}]
    assert reply["scan"]["buffers"] == 0


def test_watch_prints_the_watched_names_and_prefixes(daemon):
    result = dmabufctl("watch", "--socket", daemon.socket, "--json", "w1", "w2", "--prefix", "w", "--prefix", "v-")
    assert result.returncode == 0, result.stderr
    matches = json.loads(result.stdout)["matches"]
    assert [(m["name"], m["prefix"]) for m in matches] == [("v-", True), ("w", True), ("w1", False), ("w2", False)]


def test_scan_details_as_json(daemon):
    result = dmabufctl("scan", "--socket", daemon.socket, "--details", "--json", "x", "--prefix", "y")
    assert result.returncode == 0, result.stderr
    assert [m["buffers"] for m in json.loads(result.stdout)["matches"]] == [[], []]


def test_scan_table_marks_prefixes(daemon):
    result = dmabufctl("scan", "--socket", daemon.socket, "cam", "--prefix", "cam")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[1].split()[:3] == ["cam", "name", "no"]
    assert lines[2].split()[:3] == ["cam", "prefix", "no"]


def test_status_info_and_list_as_root(daemon):
    status = json.loads(dmabufctl("status", "--socket", daemon.socket, "--json").stdout)
    assert status["kernel"] == os.uname().release
    info = dmabufctl("info", "--socket", daemon.socket)
    assert info.returncode == 0 and "io.dmabufd.Monitor" in info.stdout
    listed = dmabufctl("list", "--socket", daemon.socket)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.startswith("pass ")


def test_socket_from_environment(daemon):
    result = dmabufctl("status", "--json", env={**os.environ, "DMABUFD_SOCKET": daemon.socket})
    assert result.returncode == 0, result.stderr


def test_nobody_scans_but_list_is_denied(daemon):
    scanned = dmabufctl("scan", "--socket", daemon.socket, "--json", "mine", user=NOBODY)
    assert scanned.returncode == 0, scanned.stderr
    assert json.loads(scanned.stdout)["matches"][0]["name"] == "mine"
    listed = dmabufctl("list", "--socket", daemon.socket, user=NOBODY)
    assert listed.returncode == 77
    assert "PermissionDenied" in listed.stderr


def test_service_not_running_is_exit_69_with_a_hint(tmp_path):
    result = dmabufctl("status", "--socket", str(tmp_path / "none.sock"))
    assert result.returncode == 69
    assert "dmabufd is not running" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_invalid_names_are_refused_before_sending(tmp_path):
    # No service at this path: the name check must come first.
    for arguments in [["x" * 32], [""], ["--prefix", "p" * 32]]:
        result = dmabufctl("scan", "--socket", str(tmp_path / "none.sock"), *arguments)
        assert result.returncode == 65, result.stderr
        assert "invalid name" in result.stderr


def test_usage_errors_are_64():
    assert dmabufctl("watch").returncode == 64
    assert dmabufctl("frobnicate").returncode == 64


def test_table_escapes_control_characters_unambiguously(daemon):
    result = dmabufctl("scan", "--socket", daemon.socket, "a\x01f\x1fz\\")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[1].split()[0] == "a\\x01f\\x1fz\\\\"
