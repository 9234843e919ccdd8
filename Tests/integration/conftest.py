"""Host integration tier: the real dmabufd on this machine's kernel, real sockets, real clients.

Every test here needs root (to load the BPF program and to switch to `nobody`); without
it the session fails at once instead of skipping, so a green run always means these ran.
"""
import os

import pytest

from service_helpers import DMABUFCTL, DMABUFD, Daemon


def pytest_sessionstart(session):
    if os.geteuid() != 0:
        pytest.exit("the host integration tier needs root (CI runs as root): run `make test` as root", returncode=1)
    for binary in (DMABUFD, DMABUFCTL):
        if not os.access(binary, os.X_OK):
            pytest.exit(f"{binary} is missing: build first (`make test` does)", returncode=1)


@pytest.fixture(scope="module")
def daemon():
    """A service shared by a module's tests; its clean shutdown is checked at the end."""
    service = Daemon()
    yield service
    assert service.stop() == 0, service.output()
    assert not os.path.exists(service.socket), "SIGTERM left the socket file behind"
