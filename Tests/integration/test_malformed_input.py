"""Bad input gets its typed error; the service keeps serving everyone else."""
import pytest

from varlink_raw import MONITOR

INVALID_MESSAGE = "io.dmabufd.Monitor.InvalidMessage"


def still_serving(daemon):
    with daemon.client() as other:
        assert "error" not in other.call(MONITOR + "Status")


@pytest.mark.parametrize("raw", [
    b"this is not json\0",
    b"[1, 2, 3]\0",
    b'{"parameters": {}}\0',
    b'{"method": 42}\0',
    b'{"method": "io.dmabufd.Monitor.Scan", "parameters": [1]}\0',
    b'{"method": "io.dmabufd.Monitor.Scan", "more": true, "oneway": true}\0',
], ids=["not-json", "array", "no-method", "method-not-string", "parameters-not-object", "more-and-oneway"])
def test_malformed_message_gets_error_and_connection_closed(daemon, raw):
    with daemon.client() as client:
        client.send_raw(raw)
        reply = client.receive()
        assert reply["error"] == INVALID_MESSAGE
        assert reply["parameters"]["reason"]
        assert client.closed_by_peer()
    still_serving(daemon)


def test_oversize_message_gets_error_and_connection_closed(daemon):
    with daemon.client() as client:
        client.send_raw(b'{"method":"io.dmabufd.Monitor.Scan","parameters":{"names":["' + b"x" * 70_000)
        reply = client.receive()
        assert reply == {"error": INVALID_MESSAGE, "parameters": {"reason": "message exceeds 65536 bytes"}}
        assert client.closed_by_peer()
    still_serving(daemon)


@pytest.mark.parametrize("parameters, error", [
    ({"names": "gpu"}, {"error": "org.varlink.service.InvalidParameter", "parameters": {"parameter": "names"}}),
    ({"names": [1]}, {"error": "org.varlink.service.InvalidParameter", "parameters": {"parameter": "names"}}),
    ({"nmes": ["gpu"]}, {"error": "org.varlink.service.InvalidParameter", "parameters": {"parameter": "nmes"}}),
    ({"names": ["x" * 32]}, {"error": "io.dmabufd.Monitor.InvalidName",
                             "parameters": {"name": "x" * 32, "reason": "is 32 bytes; the kernel keeps at most 31"}}),
    ({"names": [""]}, {"error": "io.dmabufd.Monitor.InvalidName", "parameters": {"name": "", "reason": "empty"}}),
    ({"names": ["a\0b"]}, {"error": "io.dmabufd.Monitor.InvalidName",
                           "parameters": {"name": "a\0b", "reason": "contains a NUL byte"}}),
    ({"names": ["ok"], "prefixes": ["p" * 32]},
     {"error": "io.dmabufd.Monitor.InvalidName",
      "parameters": {"name": "p" * 32, "reason": "is 32 bytes; the kernel keeps at most 31"}}),
    ({"names": ["ok"], "prefixes": "cam-"},
     {"error": "org.varlink.service.InvalidParameter", "parameters": {"parameter": "prefixes"}}),
], ids=["names-not-array", "name-not-string", "unknown-field", "32-bytes", "empty", "nul", "32-byte-prefix",
        "prefixes-not-array"])
def test_bad_watch_parameters_get_typed_errors_and_apply_nothing(daemon, parameters, error):
    with daemon.client() as client:
        client.call(MONITOR + "Watch", {"names": ["kept"]})
        assert client.call(MONITOR + "Watch", parameters) == error
        assert [m["name"] for m in client.call(MONITOR + "Scan")["parameters"]["matches"]] == ["kept"]
    still_serving(daemon)


def test_31_byte_utf8_name_is_accepted(daemon):
    name = "é" * 15 + "x"  # 31 bytes
    with daemon.client() as client:
        assert client.call(MONITOR + "Watch", {"names": [name]})["parameters"]["names"] == [name]


@pytest.mark.parametrize("method, error, parameters", [
    ("io.dmabufd.Monitor.Frobnicate", "org.varlink.service.MethodNotFound", {"method": "io.dmabufd.Monitor.Frobnicate"}),
    ("com.example.Nope.Call", "org.varlink.service.InterfaceNotFound", {"interface": "com.example.Nope"}),
])
def test_unknown_method_or_interface_keeps_the_connection(daemon, method, error, parameters):
    with daemon.client() as client:
        assert client.call(method) == {"error": error, "parameters": parameters}
        assert "error" not in client.call(MONITOR + "Status")


@pytest.mark.parametrize("method", [MONITOR + "Status", MONITOR + "List", "org.varlink.service.GetInfo"])
def test_methods_without_parameters_refuse_any(daemon, method):
    with daemon.client() as client:
        assert client.call(method, {"verbose": True}) == {
            "error": "org.varlink.service.InvalidParameter", "parameters": {"parameter": "verbose"}}
