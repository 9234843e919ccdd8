"""org.varlink.certification in all four directions, against the two reference
implementations we did not write: the PyPI `varlink` package and Debian's `varlink-go`.

Ours is `varlink-certification`: the interface served by dmabufd's own dispatcher and
socket server, and its sequence run by dmabufctl's client library. Both reference clients
exit 0 even when a step failed, so every run is judged by the End line it prints."""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading

import pytest

import varlink
from service_helpers import BIN_DIR
from varlink_raw import RawClient, wait_for_socket

OURS = [os.path.join(BIN_DIR, "varlink-certification")]
PYTHON_REFERENCE = [sys.executable, "-m", "varlink.tests.test_certification"]
GO_REFERENCE = ["varlink-go-certification"]
INTERFACE = "org.varlink.certification"

# The line each client prints when End says all went well.
PYTHON_PASSED = "End: {'all_ok': True}"
GO_PASSED = "End: 'true'"
OURS_PASSED = 'End: {"all_ok":true}'


def certify(client, address):
    """Runs a certification client (`OURS`, `PYTHON_REFERENCE`, `GO_REFERENCE`) against `address`."""
    return subprocess.run([*client, "--client", f"--varlink={address}"], capture_output=True, text=True, timeout=60)


def passed(run, line):
    """True when the client printed `line`, End's verdict: the exit code alone is not one."""
    return line in run.stdout.splitlines()


class Service:
    """A certification service (`command` serves `--varlink=ADDRESS`) on a socket of its own."""

    def __init__(self, command):
        self.socket = os.path.join(tempfile.mkdtemp(prefix="certification-"), "service.sock")
        self.address = f"unix:{self.socket}"
        self.log = tempfile.TemporaryFile()
        self.process = subprocess.Popen([*command, f"--varlink={self.address}"], stdout=self.log,
                                        stderr=subprocess.STDOUT)
        if not wait_for_socket(self.socket, self.process, timeout=30):
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"{command[0]} did not start serving:\n{self.output()}")

    def output(self):
        self.log.seek(0)
        return self.log.read().decode()

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=30)


@pytest.fixture(scope="module")
def ours():
    service = Service(OURS)
    yield service
    assert service.stop() == 0, service.output()
    assert not os.path.exists(service.socket), "SIGTERM left the socket file behind"


@pytest.fixture(scope="module", params=["python", "go"])
def reference(request):
    """Each reference service in turn."""
    if request.param == "go":
        assert shutil.which(GO_REFERENCE[0]), "varlink-go is not installed (make test-deps installs it)"
    service = Service(PYTHON_REFERENCE if request.param == "python" else GO_REFERENCE)
    yield service
    service.stop()


class Tampering:
    """A man in the middle on a socket of its own, in front of the service at `upstream`: it
    passes each call on as it came and keeps it in `calls`, and each reply back after
    `tamper(method, reply)` (`method` is the member name of the call last passed on, the
    one a reply answers when calls are not pipelined)."""

    def __init__(self, upstream, tamper=None):
        self.socket = os.path.join(tempfile.mkdtemp(prefix="certification-"), "tampering.sock")
        self.address = f"unix:{self.socket}"
        self.upstream = upstream
        self.tamper = tamper
        self.calls = []
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(self.socket)
        self.listener.listen(8)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            client, _ = self.listener.accept()
            service = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            service.connect(self.upstream)
            threading.Thread(target=self._pass, args=(client, service, self._call), daemon=True).start()
            threading.Thread(target=self._pass, args=(service, client, self._reply), daemon=True).start()

    def _call(self, message):
        self.calls.append(json.loads(message))
        return message

    def _reply(self, message):
        if self.tamper is None:
            return message
        method = self.calls[-1]["method"].removeprefix(INTERFACE + ".")
        return json.dumps(self.tamper(method, json.loads(message))).encode()

    @staticmethod
    def _pass(source, sink, each):
        pending = b""
        while chunk := source.recv(65536):
            pending += chunk
            *messages, pending = pending.split(b"\0")
            for message in messages:
                sink.sendall(each(message) + b"\0")
        sink.shutdown(socket.SHUT_WR)


# --- the four directions ----------------------------------------------------------------

def test_python_reference_client_certifies_our_service(ours):
    run = certify(PYTHON_REFERENCE, ours.address)
    assert passed(run, PYTHON_PASSED), run.stdout + run.stderr
    assert "Certification passed" in run.stdout


def test_python_reference_client_certifies_our_service_socket_activated():
    """Its --activate passes a listening socket as fd 3 (LISTEN_FDS), as dmabufd is started
    by systemd, and stops the service with SIGTERM after End."""
    run = subprocess.run([*PYTHON_REFERENCE, "--client", f"--activate={OURS[0]} --varlink=$VARLINK_ADDRESS"],
                         capture_output=True, text=True, timeout=60)
    assert passed(run, PYTHON_PASSED), run.stdout + run.stderr
    assert "(socket activation)" in run.stderr


def test_go_reference_client_certifies_our_service(ours):
    run = certify(GO_REFERENCE, ours.address)
    assert passed(run, GO_PASSED), run.stdout + run.stderr


def test_our_client_certifies_each_reference_service(reference):
    watched = Tampering(reference.socket)
    run = certify(OURS, watched.address)
    assert run.returncode == 0 and passed(run, OURS_PASSED), run.stdout + run.stderr
    assert run.stdout.count("Test10: ") == 10
    names = [call["method"].removeprefix(INTERFACE + ".") for call in watched.calls]
    assert names == ["Start", *(f"Test{n:02}" for n in range(1, 12)), "End"]
    calls = dict(zip(names, watched.calls))
    # Only true flags are sent, and only where the interface asks for them.
    assert [name for name, call in calls.items() if "more" in call] == ["Test10"]
    assert [name for name, call in calls.items() if "oneway" in call] == ["Test11"]
    assert calls["Test10"]["more"] is True and calls["Test11"]["oneway"] is True
    # The Go service writes Test03's 1.0 as `1`: read as the float the interface declares.
    assert isinstance(calls["Test04"]["parameters"]["float"], float)
    assert calls["Test11"]["parameters"]["last_more_replies"] == [f"Reply number {n}" for n in range(1, 11)]


# --- failures are seen ---------------------------------------------------------------------

def test_a_failed_end_fails_every_client_though_the_references_exit_0(ours):
    def not_ok(method, reply):
        if method == "End":
            reply["parameters"]["all_ok"] = False
        return reply
    proxy = Tampering(ours.socket, not_ok)

    python = certify(PYTHON_REFERENCE, proxy.address)
    assert python.returncode == 0 and "End: {'all_ok': False}" in python.stdout
    assert not passed(python, PYTHON_PASSED)
    go = certify(GO_REFERENCE, proxy.address)
    assert go.returncode == 0 and "End: 'false'" in go.stdout
    assert not passed(go, GO_PASSED)
    mine = certify(OURS, proxy.address)
    assert mine.returncode == 1 and 'End: {"all_ok":false}' in mine.stdout
    assert not passed(mine, OURS_PASSED)


def test_our_client_passes_on_what_it_got_so_a_wrong_answer_fails(reference):
    def wrong(method, reply):
        if method == "Test03":
            reply["parameters"]["float"] = 1.5
        return reply
    run = certify(OURS, Tampering(reference.socket, wrong).address)
    assert run.returncode == 1 and not passed(run, OURS_PASSED)
    assert "Test04 failed: error reply org.varlink.certification.CertificationError" in run.stdout


def test_our_client_ignores_reply_fields_it_does_not_know(reference):
    def extended(method, reply):
        reply.setdefault("parameters", {})["added_later"] = {"by": "a newer service"}
        reply["added_later_too"] = 1
        return reply
    run = certify(OURS, Tampering(reference.socket, extended).address)
    assert run.returncode == 0 and passed(run, OURS_PASSED), run.stdout + run.stderr
    assert "added_later" not in run.stdout


# --- our service holds each client to the sequence ------------------------------------------

CLIENT_ID_ERROR = {"error": f"{INTERFACE}.ClientIdError", "parameters": {}}


def call(client, method, **parameters):
    return client.call(f"{INTERFACE}.{method}", parameters)


def walk(client, until):
    """Starts a sequence and makes each call before `until` (Test01 … Test10), passing on
    what the one before returned; returns the client_id and the last reply's parameters."""
    client_id = call(client, "Start")["parameters"]["client_id"]
    parameters = {}
    for number in range(1, int(until.removeprefix("Test"))):
        reply = call(client, f"Test{number:02}", client_id=client_id, **parameters)
        assert "error" not in reply, reply
        parameters = reply["parameters"]
    return client_id, parameters


def test_our_service_serves_the_interface_text_verbatim(ours):
    with open(os.path.join(os.path.dirname(varlink.__file__), "tests", f"{INTERFACE}.varlink")) as text:
        expected = text.read()
    with RawClient(ours.socket) as client:
        reply = client.call("org.varlink.service.GetInterfaceDescription", {"interface": INTERFACE})
    assert reply == {"parameters": {"description": expected}}


def test_our_service_ends_a_sequence_at_the_first_wrong_call(ours):
    with RawClient(ours.socket) as client:
        assert call(client, "Test01", client_id="never-started") == CLIENT_ID_ERROR
        # Out of order: the error names the call that was due.
        client_id, _ = walk(client, "Test01")
        assert call(client, "Test02", client_id=client_id, bool=True)["parameters"] == {
            "wants": {"method": f"{INTERFACE}.Test01"}, "got": {"method": f"{INTERFACE}.Test02"}}
        assert call(client, "Test01", client_id=client_id) == CLIENT_ID_ERROR
        # A wrong value: `wants` is the whole call that was due, `got` the one that came.
        client_id, _ = walk(client, "Test02")
        reply = call(client, "Test02", client_id=client_id, bool=False)
        assert reply["error"] == f"{INTERFACE}.CertificationError"
        assert reply["parameters"]["wants"] == {
            "method": f"{INTERFACE}.Test02", "parameters": {"client_id": client_id, "bool": True}}
        assert reply["parameters"]["got"]["parameters"] == {"client_id": client_id, "bool": False}
        assert call(client, "Test03", client_id=client_id, int=1) == CLIENT_ID_ERROR
        # A parameter the method does not declare.
        client_id, _ = walk(client, "Test01")
        assert call(client, "Test01", client_id=client_id, extra=1) == {
            "error": "org.varlink.service.InvalidParameter", "parameters": {"parameter": "extra"}}


def through_test10(client, change=lambda parameters: None):
    """A sequence up to Test10 included, called with `more` and with Test09's reply after
    `change`; returns the client_id and the strings of Test10's ten replies, each but the
    last checked to say `continues`."""
    client_id, parameters = walk(client, "Test10")
    change(parameters)
    client.send(f"{INTERFACE}.Test10", {"client_id": client_id, **parameters}, more=True)
    replies = [client.receive() for _ in range(10)]
    assert [reply.get("continues") for reply in replies] == [True] * 9 + [None], replies
    return client_id, [reply["parameters"]["string"] for reply in replies]


def test_our_service_reads_parameters_by_their_declared_types(ours):
    with RawClient(ours.socket) as client:
        client_id, _ = walk(client, "Test04")
        assert call(client, "Test04", client_id=client_id, float=1) == {"parameters": {"string": "ping"}}

        # A `?` field left out is a null one.
        def without_nulls(parameters):
            del parameters["mytype"]["nullable"], parameters["mytype"]["nullable_array_struct"]
        _, strings = through_test10(client, without_nulls)
        assert strings == [f"Reply number {n}" for n in range(1, 11)]


def test_our_service_wants_more_on_test10_and_oneway_on_test11(ours):
    with RawClient(ours.socket) as client:
        client_id, parameters = walk(client, "Test10")
        reply = call(client, "Test10", client_id=client_id, **parameters)
        assert reply["error"] == f"{INTERFACE}.CertificationError" and reply["parameters"]["wants"]["more"] is True

        client_id, strings = through_test10(client)
        reply = call(client, "Test11", client_id=client_id, last_more_replies=strings)
        assert reply["error"] == f"{INTERFACE}.CertificationError" and reply["parameters"]["wants"]["oneway"] is True

        # A oneway call gets no reply, even a wrong one: the next message answers End, and
        # says the sequence is over.
        client_id, strings = through_test10(client)
        client.send(f"{INTERFACE}.Test11", {"client_id": client_id, "last_more_replies": strings[::-1]}, oneway=True)
        assert call(client, "End", client_id=client_id) == CLIENT_ID_ERROR


def test_the_transport_serves_without_bpf():
    """varlink-certification is built from the VarlinkServer module, the protocol and the
    client library: if the transport ever depended on the BPF side, libbpf would be on
    its link line. dmabufd itself links it, which shows the check can see it."""
    def libraries(binary):
        return subprocess.run(["ldd", os.path.join(BIN_DIR, binary)], capture_output=True, text=True,
                              check=True).stdout
    assert "libbpf" in libraries("dmabufd")
    assert "libbpf" not in libraries("varlink-certification")
    assert "libelf" not in libraries("varlink-certification")
