"""Hostile bytes on the real socket: each input gets its exact reply (or none), the
connection is closed exactly when the protocol says so, and a client connected before
the hostile one keeps getting correct answers from a service that is still running.

Each case is (input, expected replies, closed afterwards). The JSON errors quote jansson
(2.14) verbatim, as the service passes them on; what jansson does with a case is part of
the expectation (it refuses duplicate keys, NUL in keys, overlong UTF-8 and surrogates).
"""
import json
import os
import re
import select
import socket
import time
from dataclasses import dataclass, field

import pytest

from service_helpers import NOBODY, Daemon, admitted, as_user, wait_until
from varlink_raw import MONITOR, RawClient

INVALID_MESSAGE = "io.dmabufd.Monitor.InvalidMessage"
STATUS = MONITOR + "Status"
OBSERVED = "observer-name"
NO_REPLY = object()


def raw_call(method, parameters=None, **flags):
    """The wire bytes of a call; `parameters` is left out when None."""
    message = {"method": method}
    if parameters is not None:
        message["parameters"] = parameters
    message.update(flags)
    return json.dumps(message, separators=(",", ":")).encode() + b"\0"


def invalid(reason):
    return {"error": INVALID_MESSAGE, "parameters": {"reason": reason}}


def not_json(detail):
    return invalid("the message is not valid JSON: " + detail)


def bad_parameter(name):
    return {"error": "org.varlink.service.InvalidParameter", "parameters": {"parameter": name}}


def method_not_found(method):
    return {"error": "org.varlink.service.MethodNotFound", "parameters": {"method": method}}


def interface_not_found(interface):
    return {"error": "org.varlink.service.InterfaceNotFound", "parameters": {"interface": interface}}


def invalid_name(name, reason):
    return {"error": "io.dmabufd.Monitor.InvalidName", "parameters": {"name": name, "reason": reason}}


def too_many_names(limit):
    return {"error": "io.dmabufd.Monitor.TooManyNames", "parameters": {"limit": limit}}


def watch_reply(names, prefixes=()):
    by_bytes = lambda s: s.encode()  # the service sorts by bytes, as the kernel compares names
    return {"parameters": {"names": sorted(set(names), key=by_bytes), "prefixes": sorted(set(prefixes), key=by_bytes)}}


def first_stream_reply(reply):
    """The first reply of a Subscribe on a connection that watches nothing."""
    return (reply.get("continues") is True and reply["parameters"]["matches"] == []
            and reply["parameters"]["scan"]["buffers"] == 0)


@dataclass
class Case:
    id: str
    send: object            # bytes, or a function(client) that sends and returns bytes sent
    replies: list           # each a dict (exact) or a predicate; NO_REPLY: nothing at all
    closed: bool            # the service closes the connection after the replies
    note: str = field(default="")

    def __post_init__(self):
        if not isinstance(self.replies, list):
            self.replies = [self.replies]


def open_(case_id, send, reply, **kw):
    return Case(case_id, send, reply, closed=False, **kw)


def closed(case_id, send, reply, **kw):
    return Case(case_id, send, reply, closed=True, **kw)


def names(count, stem="n"):
    return [f"{stem}{i}" for i in range(count)]


W, U, S, SUB = MONITOR + "Watch", MONITOR + "Unwatch", MONITOR + "Scan", MONITOR + "Subscribe"
MAX_PER_CALL = 1024  # --max-names-per-call's default
LIMIT = 65536        # --max-message-bytes's default
EXCEEDS = invalid(f"message exceeds {LIMIT} bytes")
TEN_MB = b'{"method":"io.dmabufd.Monitor.Scan","parameters":{"names":["' + b"x" * (10 << 20) + b'"]}}\0'


def endless(client):
    """2 MiB of one message without its NUL, streamed: the service must cut it off after
    64 KiB, long before it is all sent (in flight at most: the limit plus the socket buffers)."""
    total = 2 << 20
    sent = client.send_until_closed(b'{"method":"io.dmabufd.Monitor.Scan","parameters":{"names":["' + b"y" * total,
                                    chunk=4096)
    assert sent < total, f"all {sent} bytes were taken: the message was never cut off"
    return sent


def nested(levels, opener=b"[", closer=b"]"):
    return opener * levels + closer * levels


def depth_in_names(levels):
    """A Scan whose `names` holds arrays nested `levels` deep: the whole message nests
    levels + 2 containers (the call object, `parameters`)."""
    return b'{"method":"io.dmabufd.Monitor.Scan","parameters":{"names":' + nested(levels) + b"}}\0"


def exactly_the_limit():
    """A Status call padded with spaces to exactly --max-message-bytes, NUL not counted."""
    body = b'{"method":"io.dmabufd.Monitor.Status"}'
    return body[:-1] + b" " * (LIMIT - len(body)) + b"}\0"


FRAMING = [
    closed("empty-message", b"\0", not_json("unexpected token near end of file (line 1, column 0)")),
    closed("whitespace-only", b" \t\n \0", not_json("unexpected token near end of file (line 2, column 1)")),
    closed("json-array", b"[]\0", invalid("the message is a JSON array, not an object")),
    closed("json-null", b"null\0", invalid("the message is a JSON null, not an object")),
    closed("json-string", b'"io.dmabufd.Monitor.Status"\0', invalid("the message is a JSON string, not an object")),
    closed("json-number", b"42\0", invalid("the message is a JSON integer, not an object")),
    closed("trailing-garbage", b'{"method":"io.dmabufd.Monitor.Status"} x\0',
           not_json("end of file expected near 'x' (line 1, column 40)")),
    closed("two-objects-one-frame", b'{"method":"io.dmabufd.Monitor.Status"}{"method":"io.dmabufd.Monitor.Status"}\0',
           not_json("end of file expected near '{' (line 1, column 39)")),
    closed("utf8-bom", b'\xef\xbb\xbf{"method":"io.dmabufd.Monitor.Status"}\0',
           not_json("invalid token near '\ufeff' (line 1, column 1)")),
    closed("comment", b'{"method":"io.dmabufd.Monitor.Status"/*c*/}\0', not_json("'}' expected near '/' (line 1, column 38)")),
    # A raw NUL ends the frame: the service reads `{"method":"io.dmabufd.Mon` and stops there.
    closed("raw-nul-in-string", b'{"method":"io.dmabufd.Mon\0itor.Status"}\0',
           not_json("premature end of input near '\"io.dmabufd.Mon' (line 1, column 25)")),
    # Messages before a bad one are answered in order; nothing after it is read.
    closed("pipelined-good-bad-good", raw_call(STATUS) + b"{\0" + raw_call(STATUS),
           [lambda r: "version" in r.get("parameters", {}),
            not_json("string or '}' expected near end of file (line 1, column 1)")]),
]

ESCAPED_NUL = [
    open_("escaped-nul-in-name", raw_call(W, {"names": ["a\0b"]}), invalid_name("a\0b", "contains a NUL byte")),
    open_("escaped-nul-alone-as-prefix", raw_call(W, {"names": ["ok"], "prefixes": ["\0"]}),
          invalid_name("\0", "contains a NUL byte")),
    open_("escaped-nul-in-method", raw_call("io.dmabufd.Monitor.Sta\0tus"),
          method_not_found("io.dmabufd.Monitor.Sta\0tus")),
    closed("escaped-nul-in-parameter-key", b'{"method":"io.dmabufd.Monitor.Status","parameters":{"a\\u0000b":1}}\0',
           not_json("NUL byte in object key not supported near '\"a\\u0000b\"' (line 1, column 62)")),
    closed("escaped-nul-in-call-key", b'{"method":"io.dmabufd.Monitor.Status","x\\u0000":1}\0',
           not_json("NUL byte in object key not supported near '\"x\\u0000\"' (line 1, column 47)")),
]


def watch_bytes(name_bytes):
    return b'{"method":"io.dmabufd.Monitor.Watch","parameters":{"names":["' + name_bytes + b'"]}}\0'


UTF8 = [
    closed("truncated-utf8-in-name", watch_bytes(b"ab\xc3"), not_json("unable to decode byte 0xc3 near '\"ab' (line 1, column 63)")),
    closed("invalid-utf8-in-name", watch_bytes(b"ab\xff"), not_json("unable to decode byte 0xff near '\"ab' (line 1, column 63)")),
    closed("truncated-utf8-in-key", b'{"method":"io.dmabufd.Monitor.Watch","parameters":{"na\xe2\x82":["a"]}}\0',
           not_json("unable to decode byte 0xe2 near '\"na' (line 1, column 54)")),
    closed("invalid-utf8-in-key", b'{"method":"io.dmabufd.Monitor.Watch","parameters":{"\xfenames":["a"]}}\0',
           not_json("unable to decode byte 0xfe near '\"' (line 1, column 52)")),
    closed("overlong-2-byte-slash", watch_bytes(b"\xc0\xaf"), not_json("unable to decode byte 0xc0 near '\"' (line 1, column 61)")),
    closed("overlong-3-byte-slash", watch_bytes(b"\xe0\x80\xaf"), not_json("unable to decode byte 0xe0 near '\"' (line 1, column 61)")),
    closed("overlong-in-key", b'{"method":"io.dmabufd.Monitor.Watch","parameters":{"\xc0\xafnames":["a"]}}\0',
           not_json("unable to decode byte 0xc0 near '\"' (line 1, column 52)")),
    closed("surrogate-as-utf8", watch_bytes(b"\xed\xa0\x80"), not_json("unable to decode byte 0xed near '\"' (line 1, column 61)")),
    closed("beyond-u10ffff", watch_bytes(b"\xf4\x90\x80\x80"), not_json("unable to decode byte 0xf4 near '\"' (line 1, column 61)")),
    closed("lone-surrogate-escape", watch_bytes(b"\\ud800"),
           not_json("invalid Unicode '\\uD800' near '\"\\ud800\"' (line 1, column 68)")),
    closed("invalid-utf8-in-method", b'{"method":"io.dmabufd.Monitor.Sta\xfftus"}\0',
           not_json("unable to decode byte 0xff (line 1, column 33)")),
    open_("emoji-name-28-bytes", raw_call(W, {"names": ["\U0001F600" * 7]}), watch_reply(["\U0001F600" * 7])),
    open_("emoji-name-32-bytes", raw_call(W, {"names": ["\U0001F600" * 8]}),
          invalid_name("\U0001F600" * 8, "is 32 bytes; the kernel keeps at most 31")),
]


def subscribe_bytes(interval_text):
    return (b'{"method":"io.dmabufd.Monitor.Subscribe","parameters":{"interval_msec":' + interval_text
            + b'},"more":true}\0')


NUMBERS = [
    closed("interval-1e400", subscribe_bytes(b"1e400"), not_json("real number overflow near '1e400' (line 1, column 76)")),
    closed("interval-2-pow-64", subscribe_bytes(b"18446744073709551616"),
           not_json("too big integer near '18446744073709551616' (line 1, column 91)")),
    closed("interval-below-int64-min", subscribe_bytes(b"-9223372036854775809"),
           not_json("too big negative integer near '-9223372036854775809' (line 1, column 91)")),
    closed("interval-nan", subscribe_bytes(b"NaN"), not_json("invalid token near 'NaN' (line 1, column 74)")),
    # The largest int64 is a valid interval, clamped to a day: the stream starts.
    open_("interval-int64-max", subscribe_bytes(b"9223372036854775807"), first_stream_reply),
    open_("interval-int64-min", subscribe_bytes(b"-9223372036854775808"), bad_parameter("interval_msec")),
    open_("interval-minus-1", subscribe_bytes(b"-1"), bad_parameter("interval_msec")),
    open_("interval-float-1e2", subscribe_bytes(b"1e2"), bad_parameter("interval_msec")),
    open_("interval-zero", subscribe_bytes(b"0"), first_stream_reply),
]

DEPTH = [
    # 32 containers deep in all (call object, parameters, 30 arrays) is the most allowed.
    open_("depth-32", depth_in_names(30), bad_parameter("names")),
    closed("depth-33", depth_in_names(31), invalid("the message is not valid JSON: arrays and objects are nested more than 32 deep")),
    closed("depth-100", depth_in_names(98), invalid("the message is not valid JSON: arrays and objects are nested more than 32 deep")),
    closed("depth-100-objects", b'{"method":"io.dmabufd.Monitor.Status","x":' + b'{"a":' * 100 + b"1" + b"}" * 100 + b"}\0",
           invalid("the message is not valid JSON: arrays and objects are nested more than 32 deep")),
    # 100,000 levels do not fit in 64 KiB: cut off by size (test_100000_levels_under_a_larger_limit parses them).
    closed("depth-100000", nested(100_000) + b"\0", EXCEEDS),
    closed("depth-3000-unclosed", b"[" * 3000 + b"\0",
           not_json("maximum parsing depth reached near '[' (line 1, column 2049)")),
]

DUPLICATES = [
    closed("duplicate-method-key", b'{"method":"io.dmabufd.Monitor.Status","method":"io.dmabufd.Monitor.Status"}\0',
           not_json("duplicate object key near '\"method\"' (line 1, column 46)")),
    closed("duplicate-method-key-differing", b'{"method":"io.dmabufd.Monitor.List","method":"io.dmabufd.Monitor.Status"}\0',
           not_json("duplicate object key near '\"method\"' (line 1, column 44)")),
    closed("duplicate-parameter-key", b'{"method":"io.dmabufd.Monitor.Watch","parameters":{"names":["a"],"names":["b"]}}\0',
           not_json("duplicate object key near '\"names\"' (line 1, column 72)")),
    closed("duplicate-more-key", b'{"method":"io.dmabufd.Monitor.Status","more":false,"more":true}\0',
           not_json("duplicate object key near '\"more\"' (line 1, column 57)")),
]

# The call object's own fields, each with every wrong JSON type.
CALL_FIELDS = [
    closed("method-missing", b'{"parameters":{}}\0', invalid('the "method" field is missing')),
    closed("method-null", b'{"method":null}\0', invalid('the "method" field is missing')),
    closed("method-integer", b'{"method":1}\0', invalid('"method" is an integer, not a string')),
    closed("method-float", b'{"method":1.5}\0', invalid('"method" is a float, not a string')),
    closed("method-boolean", b'{"method":true}\0', invalid('"method" is a boolean, not a string')),
    closed("method-array", b'{"method":["io.dmabufd.Monitor.Status"]}\0', invalid('"method" is an array, not a string')),
    closed("method-object", b'{"method":{}}\0', invalid('"method" is an object, not a string')),
    closed("parameters-string", raw_call(STATUS, "x"), invalid('"parameters" is a string, not an object')),
    closed("parameters-integer", raw_call(STATUS, 0), invalid('"parameters" is an integer, not an object')),
    closed("parameters-boolean", raw_call(STATUS, False), invalid('"parameters" is a boolean, not an object')),
    closed("parameters-array", raw_call(STATUS, []), invalid('"parameters" is an array, not an object')),
    open_("parameters-null", b'{"method":"io.dmabufd.Monitor.Status","parameters":null}\0',
          lambda r: r["parameters"]["capacity"] == 16384),
    *[closed(f"{flag}-{kind}", raw_call(STATUS, **{flag: value}), invalid(f'"{flag}" is {article}, not a boolean'))
      for flag in ("more", "oneway", "upgrade")
      for kind, value, article in (("string", "true", "a string"), ("integer", 1, "an integer"),
                                   ("array", [True], "an array"), ("object", {}, "an object"))],
    open_("more-null", raw_call(STATUS, more=None), lambda r: r["parameters"]["capacity"] == 16384),
    closed("more-and-oneway", raw_call(STATUS, more=True, oneway=True),
           invalid('at most one of "more", "oneway" and "upgrade" may be true')),
    closed("more-and-upgrade", raw_call(STATUS, more=True, upgrade=True),
           invalid('at most one of "more", "oneway" and "upgrade" may be true')),
    closed("undecodable-oneway", b'{"method":1,"oneway":true}\0', invalid('"method" is an integer, not a string'),
           note="a message that is not a call is answered even when it says oneway"),
    open_("oneway-with-bad-parameters", raw_call(W, {"names": 1}, oneway=True), NO_REPLY),
    open_("upgrade", raw_call(STATUS, upgrade=True), bad_parameter("upgrade"),
          note="no method here upgrades the connection: refused, and the connection speaks Varlink on"),
    open_("upgrade-of-org.varlink.service", raw_call("org.varlink.service.GetInfo", upgrade=True),
          bad_parameter("upgrade")),
    open_("upgrade-null", raw_call(STATUS, upgrade=None), lambda r: r["parameters"]["capacity"] == 16384),
]


def wrong_types(method, base, parameter, wrongs, flags=None):
    """Every wrong value of one parameter: InvalidParameter naming it, connection kept."""
    return [open_(f"{method.rsplit('.', 1)[1]}.{parameter}={label}",
                  raw_call(method, {**base, parameter: value}, **(flags or {})), bad_parameter(parameter))
            for label, value in wrongs]


STRINGS_WRONG = [("string", "gpu"), ("integer", 1), ("boolean", True), ("object", {}), ("int-element", [1]),
                 ("null-element", [None]), ("array-element", [["a"]]), ("object-element", [{}])]
BOOL_WRONG = [("string", "true"), ("integer", 1), ("array", []), ("object", {})]
INT_WRONG = [("string", "100"), ("boolean", True), ("float", 1.5), ("array", []), ("object", {})]
STRING_WRONG = [("integer", 1), ("boolean", True), ("array", []), ("object", {})]

PARAMETERS = [
    open_("Watch.names-missing", raw_call(W, {}), bad_parameter("names")),
    open_("Watch.names-null", raw_call(W, {"names": None}), bad_parameter("names")),
    open_("Watch.no-parameters", raw_call(W), bad_parameter("names")),
    *wrong_types(W, {"names": ["ok"]}, "names", STRINGS_WRONG),
    *wrong_types(W, {"names": ["ok"]}, "prefixes", STRINGS_WRONG),
    open_("Watch.unknown", raw_call(W, {"names": ["ok"], "Names": ["ok"]}), bad_parameter("Names")),
    open_("Unwatch.names-missing", raw_call(U, {}), bad_parameter("names")),
    *wrong_types(U, {"names": ["ok"]}, "names", STRINGS_WRONG[:5]),
    *wrong_types(U, {"names": ["ok"]}, "prefixes", STRINGS_WRONG[:5]),
    *wrong_types(S, {}, "names", STRINGS_WRONG[:5]),
    *wrong_types(S, {}, "prefixes", STRINGS_WRONG[:5]),
    *wrong_types(S, {}, "details", BOOL_WRONG),
    *wrong_types(SUB, {}, "interval_msec", INT_WRONG, flags={"more": True}),
    *wrong_types(SUB, {}, "details", BOOL_WRONG, flags={"more": True}),
    open_("Subscribe.without-more", raw_call(SUB, {}), {"error": "org.varlink.service.ExpectedMore", "parameters": {}}),
    open_("List.unknown", raw_call(MONITOR + "List", {"all": True}), bad_parameter("all")),
    open_("Status.unknown", raw_call(STATUS, {"verbose": True}), bad_parameter("verbose")),
    open_("GetInfo.unknown", raw_call("org.varlink.service.GetInfo", {"x": 1}), bad_parameter("x")),
    open_("GetInterfaceDescription.missing", raw_call("org.varlink.service.GetInterfaceDescription", {}),
          bad_parameter("interface")),
    *wrong_types("org.varlink.service.GetInterfaceDescription", {}, "interface", STRING_WRONG),
    open_("GetInterfaceDescription.unknown-interface",
          raw_call("org.varlink.service.GetInterfaceDescription", {"interface": "com.example.Nope"}),
          interface_not_found("com.example.Nope")),
]

METHOD_NAMES = [
    closed("method-empty", raw_call(""), invalid('"method" is empty')),
    open_("method-empty-member", raw_call("io.dmabufd.Monitor."), method_not_found("io.dmabufd.Monitor.")),
    open_("method-trailing-dot", raw_call("io.dmabufd.Monitor.Status."), interface_not_found("io.dmabufd.Monitor.Status")),
    open_("method-only-dot", raw_call("."), interface_not_found("")),
    open_("method-unqualified", raw_call("Status"), interface_not_found("")),
    open_("method-space-inside", raw_call("io.dmabufd.Monitor.Sta tus"), method_not_found("io.dmabufd.Monitor.Sta tus")),
    open_("method-leading-space", raw_call(" io.dmabufd.Monitor.Status"), interface_not_found(" io.dmabufd.Monitor")),
    open_("method-trailing-newline", raw_call("io.dmabufd.Monitor.Status\n"),
          method_not_found("io.dmabufd.Monitor.Status\n")),
    open_("method-unicode", raw_call("io.dmabufd.Monitor.St\u00e4tus"), method_not_found("io.dmabufd.Monitor.St\u00e4tus")),
    open_("method-lowercase", raw_call("io.dmabufd.Monitor.status"), method_not_found("io.dmabufd.Monitor.status")),
    open_("interface-lowercase", raw_call("io.dmabufd.monitor.Status"), interface_not_found("io.dmabufd.monitor")),
    open_("method-1000-chars", raw_call("io.dmabufd.Monitor." + "A" * 1000), method_not_found("io.dmabufd.Monitor." + "A" * 1000)),
    open_("interface-1000-chars", raw_call("a" * 1000 + ".Status"), interface_not_found("a" * 1000)),
    open_("varlink-service-empty-member", raw_call("org.varlink.service."), method_not_found("org.varlink.service.")),
]

SIZES = [
    open_("exactly-the-limit", exactly_the_limit(), lambda r: r["parameters"]["capacity"] == 16384),
    closed("one-byte-over-the-limit", exactly_the_limit()[:-1] + b" \0", EXCEEDS),
    closed("ten-megabytes", lambda client: client.send_until_closed(TEN_MB), EXCEEDS),
    closed("endless-without-nul", endless, EXCEEDS),
    open_("name-60000-bytes", raw_call(W, {"names": ["z" * 60000]}),
          invalid_name("z" * 60000, "is 60000 bytes; the kernel keeps at most 31")),
]

NAMES = [
    open_("watch-1024-names", raw_call(W, {"names": names(1024)}), watch_reply(names(1024))),
    open_("watch-1023-names-1-prefix", raw_call(W, {"names": names(1023), "prefixes": ["p-"]}),
          watch_reply(names(1023), ["p-"])),
    # --max-names-per-call (1024) bounds every caller, root too, whatever its quota.
    open_("watch-5000-names", raw_call(W, {"names": names(5000)}), too_many_names(MAX_PER_CALL)),
    open_("watch-1025-names", raw_call(W, {"names": names(1025)}), too_many_names(MAX_PER_CALL)),
    open_("watch-1024-names-1-prefix", raw_call(W, {"names": names(1024), "prefixes": ["p-"]}), too_many_names(MAX_PER_CALL)),
    open_("scan-5000-names", raw_call(S, {"names": names(5000)}), too_many_names(MAX_PER_CALL)),
    open_("scan-5000-prefixes", raw_call(S, {"prefixes": names(5000, "p")}), too_many_names(MAX_PER_CALL)),
    open_("watch-5000-duplicates", raw_call(W, {"names": ["same"] * 5000}), too_many_names(MAX_PER_CALL),
          note="the limit counts the names a call sends, not the distinct ones"),
]

CASES = FRAMING + ESCAPED_NUL + UTF8 + NUMBERS + DEPTH + DUPLICATES + CALL_FIELDS + PARAMETERS + METHOD_NAMES + SIZES + NAMES


@pytest.fixture(scope="module")
def hostile_daemon():
    service = Daemon()
    yield service
    assert service.stop() == 0, service.output()
    assert not os.path.exists(service.socket)


@pytest.fixture(scope="module")
def observer(hostile_daemon):
    """Connected before any hostile client, and kept for the whole module."""
    with hostile_daemon.client() as client:
        assert client.call(MONITOR + "Watch", {"names": [OBSERVED]}) == watch_reply([OBSERVED])
        yield client


def is_status(reply):
    parameters = reply.get("parameters", {})
    return ("error" not in reply and parameters.get("version") and parameters.get("kernel") == os.uname().release
            and parameters.get("capacity") == 16384
            and all(isinstance(parameters.get(key), int) for key in ("clients", "watched", "scans")))


def assert_unharmed(daemon, observer):
    """The service runs, and the earlier client gets correct answers once the hostile one is gone."""
    assert daemon.process.poll() is None, f"dmabufd exited {daemon.process.returncode}:\n{daemon.output()}"

    def status():
        reply = observer.call(STATUS)
        assert is_status(reply), reply
        return reply["parameters"]

    # Disconnects settle asynchronously: only the observer and its one name remain.
    wait_until(status, lambda s: s["clients"] == 1 and s["watched"] == 1, what="clients == 1 and watched == 1")
    scan = observer.call(S)
    assert scan["parameters"]["matches"] == [
        {"name": OBSERVED, "prefix": False, "present": False, "count": 0, "bytes": 0}], scan


def receive_within(client, seconds):
    """The next reply, None at EOF, or NO_REPLY when nothing arrives in `seconds`."""
    client.sock.settimeout(seconds)
    try:
        return client.receive()
    except socket.timeout:
        return NO_REPLY
    finally:
        client.sock.settimeout(30)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_hostile_input(hostile_daemon, observer, case):
    with hostile_daemon.client() as client:
        if callable(case.send):
            case.send(client)
        else:
            client.send_until_closed(case.send)
        if case.replies == [NO_REPLY]:
            assert not case.closed
        else:
            for expected in case.replies:
                reply = client.receive()
                assert reply is not None, "the service closed the connection without replying"
                if callable(expected):
                    assert expected(reply), reply
                else:
                    assert reply == expected
        if case.closed:
            assert client.ended_by_peer(), "the connection must be closed after this reply"
        else:
            # Still open, and nothing else was sent: the next reply answers this Status.
            reply = client.call(STATUS)
            assert is_status(reply), reply
    assert_unharmed(hostile_daemon, observer)


def test_the_table_is_large_enough():
    assert len(CASES) >= 40 and len({case.id for case in CASES}) == len(CASES)


def test_100000_levels_under_a_larger_limit():
    """With room for them, 100,000 levels reach the parser, which stops at jansson's depth
    limit (2048) without recursing further; the service keeps serving."""
    daemon = Daemon("--max-message-bytes", "262144")
    try:
        with daemon.client() as other, daemon.client() as client:
            client.send_raw(nested(100_000) + b"\0")
            assert client.receive() == not_json("maximum parsing depth reached near '[' (line 1, column 2049)")
            assert client.ended_by_peer()
            client.close()
            client = daemon.client()
            client.send_raw(b'{"method":"io.dmabufd.Monitor.Status","x":' + b'{"a":' * 40_000 + b"1"
                            + b"}" * 40_001 + b"\0")
            assert client.receive() == not_json("maximum parsing depth reached near '{' (line 1, column 10278)")
            assert client.ended_by_peer()
            assert is_status(other.call(STATUS))
        assert daemon.process.poll() is None
    finally:
        assert daemon.stop() == 0, daemon.output()


# --- --max-json-depth, --message-timeout-msec, --max-connections, per-uid connections ---

def test_max_json_depth_option():
    daemon = Daemon("--max-json-depth", "4")
    try:
        with daemon.client() as client:
            # Call object, parameters, names, one array inside: 4 deep.
            assert client.call(S, {"names": [[]]}) == bad_parameter("names")
            client.send_raw(depth_in_names(3))
            assert client.receive() == invalid(
                "the message is not valid JSON: arrays and objects are nested more than 4 deep")
            assert client.ended_by_peer()
    finally:
        assert daemon.stop() == 0, daemon.output()


@pytest.fixture(scope="module")
def impatient_daemon():
    service = Daemon("--message-timeout-msec", "1000")
    yield service
    assert service.stop() == 0, service.output()


UNFINISHED = invalid("message not finished within 1000 ms")


def test_unfinished_message_is_cut_off(impatient_daemon):
    with impatient_daemon.client() as other, impatient_daemon.client() as client:
        client.send_raw(b'{"method":"io.dmabufd.Monitor.Status"')
        assert client.receive() == UNFINISHED  # the socket's own 30 s timeout bounds the wait
        assert client.ended_by_peer()
        assert is_status(other.call(STATUS))


def test_unfinished_message_default_timeout_is_ten_seconds(hostile_daemon, observer):
    with hostile_daemon.client() as client:
        client.send_raw(b'{"method":"io.dmabufd.Monitor.Status"')
        assert receive_within(client, 5) is NO_REPLY, "cut off long before the default 10 s"
        assert client.receive() == invalid("message not finished within 10000 ms")
        assert client.ended_by_peer()
    assert_unharmed(hostile_daemon, observer)


def test_dripping_bytes_do_not_extend_the_deadline(impatient_daemon):
    """One byte every 100 ms of a message that never ends: the deadline runs from its first
    byte, so the service ends it although bytes keep coming (bounded here at 30 s)."""
    message = b'{"method":"io.dmabufd.Monitor.Scan","parameters":{"names":["' + b"d" * 1000
    with impatient_daemon.client() as client:
        deadline = time.monotonic() + 30
        for byte in message:
            assert time.monotonic() < deadline, "the dripping message was never cut off"
            if client.send_until_closed(bytes([byte])) == 0:
                break
            if select.select([client.sock], [], [], 0.1)[0]:
                break
        else:
            pytest.fail("the whole dripped message was taken without a NUL")
        assert client.receive() == UNFINISHED
        assert client.ended_by_peer()


def test_idle_connections_between_messages_are_never_cut(impatient_daemon):
    with impatient_daemon.client() as client:
        assert is_status(client.call(STATUS))
        assert receive_within(client, 3) is NO_REPLY, "an idle connection was sent something or closed"
        assert is_status(client.call(STATUS))


def test_a_complete_message_cancels_the_deadline(impatient_daemon):
    """The deadline is per message: one that ended in time leaves none running."""
    with impatient_daemon.client() as client:
        client.send_raw(b'{"method":"io.dmabufd.Monitor.')
        time.sleep(0.1)
        client.send_raw(b'Status"}\0')
        assert is_status(client.receive())
        assert receive_within(client, 2) is NO_REPLY
        assert is_status(client.call(STATUS))


def turned_away(client):
    """A connection the service closed at once without a reply: EOF (or reset) with nothing before it."""
    client.sock.settimeout(10)
    try:
        return client.sock.recv(1) == b""
    except ConnectionResetError:
        return True


def refusals(log, peer):
    """Log lines about `peer` (e.g. "uid=0 gid=0 pid=123") other than the per-connection debug lines."""
    return [line for line in log.splitlines()
            if peer in line and not re.search(r"connection #\d+ ", line) and "denied" not in line]


def test_connections_over_max_connections_are_closed_without_a_reply():
    daemon = Daemon("--max-connections", "8")
    clients = []
    try:
        first = daemon.client()
        clients.append(first)
        # The start-up probe's connection must be gone before counting to the limit.
        wait_until(lambda: first.call(STATUS)["parameters"], lambda s: s["clients"] == 1, what="one client")
        for _ in range(7):
            clients.append(daemon.client())
            assert is_status(clients[-1].call(STATUS))
        assert refusals(daemon.output(), f"pid={os.getpid()}") == []
        with daemon.client() as ninth:
            assert turned_away(ninth)
        assert refusals(daemon.output(), f"uid=0 gid=0 pid={os.getpid()}"), "the refusal must be logged"
        assert is_status(first.call(STATUS)), "the connections already open keep being served"
        clients.pop().close()  # leaving frees a place
        clients.append(admitted(daemon.socket))
    finally:
        for client in clients:
            client.close()
        assert daemon.stop() == 0, daemon.output()


def test_a_uid_over_its_connection_limit_is_closed_without_a_reply(hostile_daemon, observer):
    """The built-in policy: 128 connections at once for a non-root uid; root is not limited
    by it and keeps being served meanwhile."""
    path = hostile_daemon.socket

    def flood():
        held = [RawClient(path) for _ in range(128)]
        answered = sum(bool(is_status(client.call(STATUS))) for client in held)
        with RawClient(path) as extra:
            refused = turned_away(extra)
        held.pop().close()
        held.append(admitted(path))
        for client in held:
            client.close()
        return {"answered": answered, "refused": refused}

    assert as_user(NOBODY, flood) == {"answered": 128, "refused": True}
    assert refusals(hostile_daemon.output(), "uid=65534"), "the refusal must be logged"
    assert_unharmed(hostile_daemon, observer)
