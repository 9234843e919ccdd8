"""The Prometheus text on real buffers: host, exporter and watched-name totals exactly as
the fixture made them, over HTTP and from `dmabufctl metrics` alike, and promtool accepts
both."""
from conftest import PAGE_SIZE, by_exporter, call, dmabufctl, expected_matches
from metrics_text import Metrics, endpoint, fetch, promtool_check


def scraped(daemon, client):
    """The session service's metrics both ways, over its HTTP endpoint and over Varlink,
    after a Scan on `client`: a scrape reports the latest pass if it is fresh enough, and
    the Scan makes sure the latest pass ran after the test's changes."""
    call(client, "Scan")
    status, _, body = fetch(endpoint(daemon))
    assert status == 200, body
    printed = dmabufctl("metrics", "--socket", daemon.socket)
    assert printed.returncode == 0, printed.stderr
    return Metrics(body), Metrics(printed.stdout)


def assert_metrics_are_truth(metrics, buffers, names, prefixes):
    promtool_check(metrics.text)
    count, size = buffers.host_totals()
    assert (metrics.value("dmabufd_host_buffers"), metrics.value("dmabufd_host_bytes")) == (count, size)
    truth = by_exporter(buffers.host_truth())
    assert metrics.by("dmabufd_exporter_buffers", "exporter") == {e["name"]: e["count"] for e in truth}
    assert metrics.by("dmabufd_exporter_bytes", "exporter") == {e["name"]: e["bytes"] for e in truth}
    expected = {(m["name"], "prefix" if m["prefix"] else "name"): (m["count"], m["bytes"])
                for m in expected_matches(buffers, names, prefixes)}
    counts = {(dict(k)["name"], dict(k)["kind"]): v for k, v in metrics.samples("dmabufd_watched_buffers").items()}
    sizes = {(dict(k)["name"], dict(k)["kind"]): v for k, v in metrics.samples("dmabufd_watched_bytes").items()}
    assert {key: (counts[key], sizes[key]) for key in counts} == expected
    assert counts.keys() == sizes.keys()


def test_metrics_report_every_exporter_and_watched_name_exactly(daemon, buffers):
    udmabufs = buffers.create("met-a", PAGE_SIZE, "udmabuf", count=3)
    buffers.create("met-b", 2 * PAGE_SIZE, "system", count=2)
    buffers.create(None, 3 * PAGE_SIZE, "system")
    names, prefixes = ["met-a", "met-b", "met-none"], ["met-"]
    with daemon.client() as client:
        call(client, "Watch", {"names": names, "prefixes": prefixes})
        for metrics in scraped(daemon, client):
            assert_metrics_are_truth(metrics, buffers, names, prefixes)

        # Freed buffers leave the totals.
        for ident in udmabufs:
            buffers.close(ident)
        for metrics in scraped(daemon, client):
            assert_metrics_are_truth(metrics, buffers, names, prefixes)
