"""A Varlink client we did not write (PyPI `varlink`) parses our interface and calls it."""
import varlink


def test_python_varlink_client_scans_and_reads_status(daemon):
    with varlink.Client(address=f"unix:{daemon.socket}") as client, \
            client.open("io.dmabufd.Monitor", namespaced=True) as monitor:
        watched = monitor.Watch(["py-name", 'special "\\\n\t'])
        assert sorted(watched.names) == sorted(["py-name", 'special "\\\n\t'])
        scanned = monitor.Scan(["extra"])
        assert [m.name for m in scanned.matches] == sorted(["extra", "py-name", 'special "\\\n\t'])
        assert scanned.scan.buffers == 0
        status = monitor.Status()
        assert status.capacity == 16384


def test_python_varlink_client_gets_typed_errors(daemon):
    with varlink.Client(address=f"unix:{daemon.socket}") as client, \
            client.open("io.dmabufd.Monitor", namespaced=True) as monitor:
        try:
            monitor.Watch(["x" * 32])
        except varlink.VarlinkError as error:
            assert error.error() == "io.dmabufd.Monitor.InvalidName"
            assert error.parameters()["reason"] == "is 32 bytes; the kernel keeps at most 31"
        else:
            raise AssertionError("a 32-byte name must be refused")


def test_python_varlink_client_subscribes(daemon):
    with varlink.Client(address=f"unix:{daemon.socket}") as client, \
            client.open("io.dmabufd.Monitor", namespaced=True) as monitor:
        monitor.Watch(["py-stream"], ["py-"])
        replies = monitor.Subscribe(interval_msec=100, _more=True)
        first = next(replies)
        assert [(m.name, m.prefix, m.present) for m in first.matches] == [
            ("py-", True, False), ("py-stream", False, False)]
        assert first.scan.id >= 1
