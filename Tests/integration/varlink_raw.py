"""A minimal Varlink client over a raw Unix socket, for sending exactly the bytes a test wants."""
import json
import socket
import time


def wait_for_socket(path, process, timeout):
    """True once something accepts on `path`; False if `process` exits or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
                probe.connect(path)
                return True
        except OSError:
            time.sleep(0.05)
    return False


class RawClient:
    def __init__(self, path, timeout=30, connected=None):
        """`connected`: a socket already connected to the service (by another process,
        say, whose credentials the service then sees), used instead of connecting to `path`."""
        self.sock = connected or socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        if connected is None:
            self.sock.connect(path)
        self.pending = b""

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send_raw(self, data):
        self.sock.sendall(data)

    def send(self, method, parameters=None, **flags):
        message = {"method": method}
        if parameters is not None:
            message["parameters"] = parameters
        message.update(flags)
        self.send_raw(json.dumps(message).encode() + b"\0")

    def receive(self):
        """The next reply as a dict, or None when the service closed the connection. Linear
        in the reply's size: a List of 250,000 buffers is tens of megabytes."""
        end = self.pending.find(b"\0")
        if end < 0:
            parts = [self.pending]
            while True:
                chunk = self.sock.recv(1 << 20)
                if not chunk:
                    self.pending = b"".join(parts)
                    return None
                parts.append(chunk)
                if b"\0" in chunk:
                    break
            self.pending = b"".join(parts)
            end = self.pending.find(b"\0")
        message, self.pending = self.pending[:end], self.pending[end + 1:]
        return json.loads(message)

    def call(self, method, parameters=None, **flags):
        self.send(method, parameters, **flags)
        return self.receive()

    def closed_by_peer(self):
        """True when the service has closed its end (reads EOF)."""
        return self.receive() is None

    def send_until_closed(self, data, chunk=65536):
        """Sends `data` in chunks; returns how many bytes went out before the service closed
        the connection (`len(data)` when all of them did)."""
        view, sent = memoryview(data), 0
        try:
            while sent < len(data):
                sent += self.sock.send(view[sent:sent + chunk])
        except (BrokenPipeError, ConnectionResetError):
            pass
        return sent

    def ended_by_peer(self):
        """True when the service has closed the connection and nothing more arrives: EOF, or
        ECONNRESET (what Linux reports when the service closed with bytes of ours unread)."""
        try:
            return self.receive() is None
        except ConnectionResetError:
            return True


MONITOR = "io.dmabufd.Monitor."
