"""Per-exporter totals, counted in the same pass: every exporter on the host with its
buffers and bytes, exactly as the fixture (and anything there before) made them, and an
exporter whose buffers are all gone drops out."""
from conftest import PAGE_SIZE, by_exporter, call, dmabufctl


def test_each_pass_counts_every_buffer_under_its_exporter(daemon, buffers):
    udmabufs = buffers.create("exp-a", PAGE_SIZE, "udmabuf", count=3)
    buffers.create("exp-b", 2 * PAGE_SIZE, "system", count=2)
    buffers.create(None, 3 * PAGE_SIZE, "system")
    with daemon.client() as client:
        scan = call(client, "Scan")["scan"]
        assert scan["exporters"] == by_exporter(buffers.host_truth())
        assert sum(e["count"] for e in scan["exporters"]) == scan["buffers"]
        for ident in udmabufs:
            buffers.close(ident)
        later = call(client, "Scan")["scan"]
    assert later["exporters"] == by_exporter(buffers.host_truth())
    assert "udmabuf" not in [e["name"] for e in later["exporters"]] or \
        any(b["exporter"] == "udmabuf" for b in buffers.baseline)


def test_dmabufctl_status_shows_the_exporters(daemon, buffers):
    buffers.create("exp-c", PAGE_SIZE, "udmabuf", count=2)
    result = dmabufctl("status", "--socket", daemon.socket)
    assert result.returncode == 0, result.stderr
    rows = {line.split()[0]: line.split()[1:3] for line in result.stdout.splitlines()
            if line.split() and line.split()[0] in ("udmabuf", "system")}
    for exporter in by_exporter(buffers.host_truth()):
        assert rows[exporter["name"]] == [str(exporter["count"]), str(exporter["bytes"])], result.stdout
