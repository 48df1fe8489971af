"""Child process helpers: CPU pinning, no orphans, CPU time, timed line reads."""
import ctypes
import os
import select
import signal
import subprocess
import sys
import time

import psutil

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_libc = ctypes.CDLL(None, use_errno=True)
_PR_SET_PDEATHSIG = 1


def bench_cpus():
    """(server_cpu, client_cpu): two distinct CPUs when there are two."""
    cpus = sorted(os.sched_getaffinity(0))
    return cpus[0], (cpus[1] if len(cpus) > 1 else None)


def spawn(argv, cpu=None, **kw):
    """Popen that pins the child to `cpu` and kills it if we die (even by
    SIGKILL, when no finally block gets to run)."""
    def setup():
        _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if cpu is not None:
            os.sched_setaffinity(0, {cpu})

    return subprocess.Popen([str(a) for a in argv], preexec_fn=setup, cwd=ROOT, **kw)


def python_module(module, *args):
    return [sys.executable, "-m", module, *args]


def stop(proc):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(2)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def cpu_seconds(pid):
    """User + system CPU time of a whole process (all its threads)."""
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


class LineReader:
    """readline() on a child's stdout pipe with a timeout, so a stuck child
    can't hang the harness."""

    def __init__(self, pipe, name):
        self.fd, self.name = pipe.fileno(), name
        self.buf = b""

    def readline(self, timeout):
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.fd], [], [], left)[0]:
                raise TimeoutError(f"{self.name}: no output within {timeout:.0f}s")
            chunk = os.read(self.fd, 4096)
            if not chunk:
                raise EOFError(f"{self.name} exited")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode()
