"""The suite's C programs (load generators and the plain C servers that show
the machine's limit), compiled with gcc into benchmarks/.build on first use
and again whenever one of their files changes."""
import os
import subprocess

from .procs import ROOT

HERE = os.path.join(ROOT, "benchmarks")
BUILD_DIR = os.path.join(HERE, ".build")
COMMON = ["servers/server_common.h"]
# name: (files it is built from, the first one compiled; libraries)
PROGRAMS = {
    "echo_client": (["echo_client.c"], []),
    "load_client": (["load_client.c"], ["-lm"]),
    "uring_server": (["servers/uring_server.c", *COMMON], ["-luring"]),
    "epoll_server": (["servers/epoll_server.c", *COMMON], []),
}


class BuildError(RuntimeError):
    """gcc is missing or refused a program (its output is in the message)."""


def build(name):
    """Path of the compiled program `name`, compiling it if it is missing or
    older than any of its files."""
    files, libs = PROGRAMS[name]
    paths = [os.path.join(HERE, f) for f in files]
    binary = os.path.join(BUILD_DIR, name)
    if (os.path.exists(binary)
            and os.path.getmtime(binary) >= max(os.path.getmtime(p) for p in paths)):
        return binary
    os.makedirs(BUILD_DIR, exist_ok=True)
    tmp = f"{binary}.{os.getpid()}"
    try:
        r = subprocess.run(["gcc", "-O2", "-Wall", "-o", tmp, paths[0], *libs],
                           capture_output=True, text=True)
    except FileNotFoundError:
        raise BuildError(f"cannot build {name}: gcc is not installed") from None
    if r.returncode:
        raise BuildError(f"cannot build {name}: {r.stderr.strip()[-500:]}")
    os.replace(tmp, binary)  # atomic: a concurrent run never sees half a file
    return binary
