"""Reading dmabufd's Prometheus text the way a scraper does, for both pytest tiers: parsed
by prometheus_client's parser, and checked by promtool (unpacked from Debian's prometheus
package by `make test-deps`)."""
import os
import re
import subprocess
import time
import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

PROMTOOL = os.environ.get(
    "PROMTOOL", os.path.join(os.path.dirname(__file__), "../../.build-tools/prometheus/usr/bin/promtool"))


def promtool_check(text):
    """`promtool check metrics` on the text: exit 0 and nothing said, or the test fails."""
    assert os.access(PROMTOOL, os.X_OK), f"{PROMTOOL} is missing: `make test-deps` unpacks it"
    checked = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0 and not checked.stdout.strip() and not checked.stderr.strip(), (
        checked.stdout + checked.stderr)


class Metrics:
    """One exposition, parsed: every family must come with HELP and TYPE."""

    def __init__(self, text):
        assert text.endswith("\n"), "the exposition must end with a newline"
        self.text = text
        self.families = {family.name: family for family in text_string_to_metric_families(text)}
        for name, family in self.families.items():
            assert f"# HELP {family.name} " in text or f"# HELP {name}_total " in text, f"{name} has no HELP"
            assert family.type != "unknown", f"{name} has no TYPE"

    def samples(self, name):
        """{frozenset(labels.items()): value} of one sample name (a family's, or its _bucket, ...)."""
        found = {}
        for family in self.families.values():
            for sample in family.samples:
                if sample.name == name:
                    found[frozenset(sample.labels.items())] = sample.value
        return found

    def value(self, name, **labels):
        """The one sample of `name` with exactly `labels`."""
        found = self.samples(name)
        key = frozenset(labels.items())
        assert key in found, f"no {name}{labels}; there are {sorted(map(dict, found))}"
        return found[key]

    def by(self, name, label):
        """{label value: sample value} for a family with one label."""
        return {dict(labels)[label]: value for labels, value in self.samples(name).items()}


def endpoint(daemon, timeout=15):
    """The http://HOST:PORT/metrics URL a daemon started with `--metrics-address HOST:0` serves, from its log."""
    deadline = time.monotonic() + timeout
    while True:
        found = re.search(r"serving metrics on (http://\S+/metrics)", daemon.output())
        if found:
            return found.group(1)
        assert time.monotonic() < deadline, f"dmabufd did not say where it serves metrics:\n{daemon.output()}"
        time.sleep(0.05)


def fetch(url, method="GET"):
    """(status, headers, body text) of one HTTP request; error statuses are returned, not raised."""
    request = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read().decode()
