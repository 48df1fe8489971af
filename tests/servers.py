"""Real server processes for the integration tests: start one on a free
loopback port, wait until it listens, ask it over HTTP, stop it with a
signal and keep everything it printed."""

import http.client
import os
import signal
import socket
import subprocess
import tempfile
import time

import no_io_uring


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_get(port, path, timeout=10):
    """The body of a GET answered 200 by 127.0.0.1:port."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Connection": "close"})
        response = conn.getresponse()
        body = response.read()
        assert response.status == 200, (response.status, body)
        return body
    finally:
        conn.close()


def clean_exit(code, sig):
    """Exited 0, or by sig itself: uvicorn re-raises the signal it caught
    once its graceful shutdown is done."""
    return code in (0, -sig)


def alive(pid):
    """Whether pid is a process that has not exited (zombies have)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


class Server:
    """A server command whose arguments may say {port}; used as a context
    manager it is stopped (SIGTERM) on leaving, and killed if it hangs."""

    def __init__(self, args, cwd, env=None):
        self.port = free_port()
        self._log = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(
            [arg.replace("{port}", str(self.port)) for arg in args], cwd=cwd,
            env=no_io_uring.environ(**(env or {})), stdin=subprocess.DEVNULL,
            stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        self.output = ""

    @property
    def returncode(self):
        return self.proc.returncode

    def wait_until_listening(self, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self._collect()
                raise AssertionError(f"server exited {self.proc.returncode}:\n{self.output}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        self.stop(signal.SIGKILL)
        raise AssertionError(f"server did not listen within {timeout}s:\n{self.output}")

    def wait(self, timeout=60):
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            self._collect()
            raise AssertionError(
                f"server still running after {timeout}s:\n{self.output}") from None
        self._collect()
        return self.proc.returncode

    def stop(self, sig=signal.SIGTERM, timeout=60):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.wait(timeout)

    def _collect(self):
        self._log.seek(0)
        self.output = self._log.read()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)    # anything left behind
        except ProcessLookupError:
            pass
        self._log.close()
