"""Subscribe on the host: the stream's shape, how it shares a connection with other calls,
when passes run, and how slow or departing subscribers end. No buffers exist here, so
every name is absent; what changes is the watch set. Real buffers: Tests/vm/test_subscribe.py."""
import socket
import time


from service_helpers import NOBODY, Daemon, as_user
from varlink_raw import MONITOR, RawClient


def subscribe(client, **parameters):
    """Starts a subscription and returns its first reply."""
    client.send(MONITOR + "Subscribe", parameters, more=True)
    return client.receive()


def matches(reply):
    return [(m["name"], m["prefix"], m["present"], m["count"]) for m in reply["parameters"]["matches"]]


def nothing_arrives(client, seconds):
    client.sock.settimeout(seconds)
    try:
        return client.receive() is None
    except socket.timeout:
        return True
    finally:
        client.sock.settimeout(30)


def passes(daemon):
    with daemon.client() as client:
        return client.call(MONITOR + "Status")["parameters"]["scans"]


def test_subscribe_without_more_is_refused_and_the_connection_kept(daemon):
    with daemon.client() as client:
        assert client.call(MONITOR + "Subscribe") == {"error": "org.varlink.service.ExpectedMore", "parameters": {}}
        assert "error" not in client.call(MONITOR + "Status")


def test_first_reply_holds_every_watch_then_only_news(daemon):
    with daemon.client() as client:
        client.call(MONITOR + "Watch", {"names": ["a"], "prefixes": ["cam"]})
        first = subscribe(client, interval_msec=100)
        assert first["continues"] is True
        assert matches(first) == [("a", False, False, 0), ("cam", True, False, 0)]
        assert nothing_arrives(client, 0.5), "unchanged names are not repeated"

        # A Watch on the same connection: its reply in order, then news of the new name.
        sent = time.time()
        assert client.call(MONITOR + "Watch", {"names": ["b"]})["parameters"]["names"] == ["a", "b"]
        news = client.receive()
        assert news["continues"] is True and matches(news) == [("b", False, False, 0)]
        assert news["parameters"]["scan"]["id"] > first["parameters"]["scan"]["id"]
        # The pass that carried it started within two intervals of the Watch.
        assert news["parameters"]["scan"]["started_usec"] / 1e6 - sent < 0.2

        # Unwatched names are dropped without a word; calls keep their order.
        assert client.call(MONITOR + "Unwatch", {"names": ["b"]})["parameters"]["names"] == ["a"]
        assert "error" not in client.call(MONITOR + "Status")
        assert nothing_arrives(client, 0.5)


def test_one_subscription_per_connection(daemon):
    with daemon.client() as client:
        subscribe(client)
        assert client.call(MONITOR + "Subscribe", more=True) == {
            "error": "io.dmabufd.Monitor.AlreadySubscribed", "parameters": {}}
        assert "error" not in client.call(MONITOR + "Status")


def test_a_scan_by_anyone_feeds_subscribers(daemon):
    with daemon.client() as subscriber, daemon.client() as other:
        subscribe(subscriber, interval_msec=86_400_000)  # no periodic pass during the test
        subscriber.call(MONITOR + "Watch", {"names": ["fed"]})
        assert nothing_arrives(subscriber, 0.3)
        scan = other.call(MONITOR + "Scan")["parameters"]["scan"]
        news = subscriber.receive()
        assert matches(news) == [("fed", False, False, 0)]
        assert news["parameters"]["scan"]["id"] == scan["id"]


def test_passes_run_at_the_floor_interval_and_only_while_subscribed(daemon):
    with daemon.client() as client:
        subscribe(client, interval_msec=1)  # raised to the 100 ms floor
        before = passes(daemon)
        time.sleep(1.0)
        ran = passes(daemon) - before
        assert 1 <= ran <= 12, f"{ran} passes in 1 s at a 100 ms floor"
    time.sleep(0.3)  # the service notices the closed connection
    stopped = passes(daemon)
    time.sleep(0.5)
    assert passes(daemon) == stopped, "passes went on with nobody subscribed"


def test_a_subscriber_need_not_be_root(daemon):
    def first_reply():
        with RawClient(daemon.socket) as client:
            client.call(MONITOR + "Watch", {"names": ["mine"]})
            return subscribe(client, interval_msec=100)

    reply = as_user(NOBODY, first_reply)
    assert reply["continues"] is True and reply["parameters"]["matches"][0]["name"] == "mine"


def test_a_stalled_subscriber_is_dropped_and_nobody_else_notices():
    daemon = Daemon("--subscriber-timeout-msec", "1000")
    try:
        with daemon.client() as stalled, daemon.client() as other:
            subscribe(stalled, interval_msec=100)
            # News it does not read: the Watch reply and the reply about "late".
            stalled.send(MONITOR + "Watch", {"names": ["late"]})
            deadline = time.monotonic() + 3
            while time.monotonic() < deadline:
                assert "error" not in other.call(MONITOR + "Scan", {"names": ["x"]})
            replies = []
            while (reply := stalled.receive()) is not None:
                replies.append(reply)
            # The Watch reply and the stream's replies go out side by side: the news of
            # "late" (if the service saw the first reply read before anything else arrived)
            # may come before or after the Watch reply. Either way, nothing more than one.
            answers = [reply for reply in replies[:-1] if "names" in reply["parameters"]]
            news = [reply for reply in replies[:-1] if "matches" in reply["parameters"]]
            assert [answer["parameters"]["names"] for answer in answers] == [["late"]], replies
            assert [matches(reply) for reply in news] in ([], [[("late", False, False, 0)]]), replies
            assert len(answers) + len(news) == len(replies) - 1, replies
            assert replies[-1] == {"error": "io.dmabufd.Monitor.SubscriberStalled",
                                   "parameters": {"timeout_msec": 1000}}
            assert "error" not in other.call(MONITOR + "Status")
    finally:
        assert daemon.stop() == 0, daemon.output()


def test_a_stopping_service_ends_streams_with_shutting_down():
    daemon = Daemon()
    with daemon.client() as client:
        subscribe(client, interval_msec=100)
        assert daemon.stop() == 0, daemon.output()
        assert client.receive() == {"error": "io.dmabufd.Monitor.ShuttingDown", "parameters": {}}
        assert client.closed_by_peer()
