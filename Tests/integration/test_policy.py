"""--policy: who gets which methods and limits, from a JSON file; and a file with mistakes
keeps dmabufd from starting, with one line that points at the mistake."""
import json
import os
import subprocess
import tempfile
import time

import pytest

from service_helpers import DMABUFD, NOBODY, Daemon, as_user
from varlink_raw import MONITOR, RawClient

POLICY = {
    "default": {"methods": ["Watch", "Unwatch", "Scan", "Status"], "max_names": 3, "max_connections": 2,
                "details": False},
    "rules": [
        {"user": "root", "methods": ["*"], "max_names": None, "max_connections": None},
        {"gid": 4242, "methods": ["*"], "details": True},
    ],
}


def policy_file(content):
    folder = tempfile.mkdtemp(prefix="dmabufd-policy-")
    path = os.path.join(folder, "policy.json")
    with open(path, "w") as out:
        out.write(content if isinstance(content, str) else json.dumps(content, indent=2))
    return path


@pytest.fixture(scope="module")
def governed():
    daemon = Daemon("--policy", policy_file(POLICY))
    yield daemon
    assert daemon.stop() == 0, daemon.output()


def as_peer(daemon, uid, gid, calls):
    """Runs `calls(client)` over one connection as uid/gid; returns what it returned."""
    def body():
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)
        with RawClient(daemon.socket) as client:
            return calls(client)
    return as_user(0, body)


def test_a_default_peer_gets_the_files_default(governed):
    replies = as_peer(governed, NOBODY, NOBODY, lambda c: [
        c.call(MONITOR + "Watch", {"names": ["a", "b", "c", "d"]}),
        c.call(MONITOR + "Scan", {"details": True}),
        c.call(MONITOR + "Subscribe", more=True),
        c.call(MONITOR + "List"),
        c.call(MONITOR + "Status")["parameters"]["watched"],
    ])
    assert replies[0] == {"error": "io.dmabufd.Monitor.TooManyNames", "parameters": {"limit": 3}}
    denied = {"error": "org.varlink.service.PermissionDenied", "parameters": {}}
    assert replies[1:4] == [denied, denied, denied], "details, Subscribe and List are not granted"
    assert replies[4] == 0
    log = governed.output()
    for denial in ["Scan with details", "Subscribe", "List"]:
        assert f"denied io.dmabufd.Monitor.{denial} to uid=65534 gid=65534 pid=" in log, log


def test_a_group_rule_grants_list_and_details(governed):
    replies = as_peer(governed, NOBODY, 4242, lambda c: [
        c.call(MONITOR + "List"),
        c.call(MONITOR + "Scan", {"names": ["a"], "details": True}),
        c.call(MONITOR + "Watch", {"names": ["a", "b", "c", "d"]}),
    ])
    assert "error" not in replies[0] and replies[0]["parameters"]["buffers"] == []
    assert replies[1]["parameters"]["matches"][0]["buffers"] == []
    assert replies[2] == {"error": "io.dmabufd.Monitor.TooManyNames", "parameters": {"limit": 3}}, \
        "max_names comes from the file's default"


def wait_until_alone(daemon, timeout=10):
    """Earlier tests' connections are gone (a closed connection is let go asynchronously)."""
    deadline = time.monotonic() + timeout
    with daemon.client() as client:
        while client.call(MONITOR + "Status")["parameters"]["clients"] != 1:
            assert time.monotonic() < deadline, "earlier connections never went away"
            time.sleep(0.05)


def test_connections_per_uid_are_limited_and_others_unaffected(governed):
    wait_until_alone(governed)
    def three_connections(client):
        with RawClient(governed.socket) as second, RawClient(governed.socket) as third:
            return [client.call(MONITOR + "Status") is not None,
                    second.call(MONITOR + "Status") is not None,
                    third.closed_by_peer()]
    assert as_peer(governed, NOBODY, NOBODY, three_connections) == [True, True, True]
    assert "turned away a connection from uid=65534" in governed.output()
    with governed.client() as root:  # root's rule has no connection limit
        assert "error" not in root.call(MONITOR + "Status")


def start(*args):
    return subprocess.run([DMABUFD, "--socket", os.path.join(tempfile.mkdtemp(), "s.sock"), *args],
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("content, problem", [
    ('{\n  "rules": [\n    {"uid": 0,}\n  ]\n}\n', "not valid JSON: "),
    ('{"rules": [{"group": "no-such-group-here"}]}', 'rules[0].group: no group named "no-such-group-here"'),
    ('{"default": {"methods": ["Scna"]}}', 'default.methods[0]: no method "Scna" in io.dmabufd.Monitor'),
    ('{"default": {"max_names": "many"}}', "default.max_names: must be a whole number"),
    ('{"rules": [{"uid": 0, "list": true}]}', "rules[0].list: unknown key"),
    ('{"rules": [{"methods": ["*"]}]}', 'rules[0]: needs exactly one of "uid", "gid", "user", "group"'),
])
def test_a_policy_with_a_mistake_refuses_to_start_and_points_at_it(content, problem):
    path = policy_file(content)
    result = start("--policy", path)
    assert result.returncode == 78, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"dmabufd: policy {path}: ") and problem in lines[0], lines
    if "not valid JSON" in problem:
        assert "(line 3, column" in lines[0], "a syntax error names its line"


def test_a_missing_policy_file_refuses_to_start():
    result = start("--policy", "/nonexistent/policy.json")
    assert result.returncode == 78
    assert result.stderr == "dmabufd: policy /nonexistent/policy.json: No such file or directory\n"
