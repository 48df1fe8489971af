"""Run inside the Linux 7.x guest (tools/kernelvm.py) only: the sysctl
kernel.io_uring_disabled is global to a kernel, and the guest's is its own.
With io_uring disabled, a loop is refused with a message naming the sysctl,
and the opt-in fallback (AIOURING_FALLBACK) runs the program on another loop
and logs why."""

import errno
import os
import subprocess
import sys
import textwrap

import pytest

import aiouring
import no_io_uring

SYSCTL = "/proc/sys/kernel/io_uring_disabled"


@pytest.fixture
def io_uring_disabled():
    """Sets the sysctl to the value given to the returned function; restores
    it afterwards."""
    assert os.environ.get("AIOURING_IN_KERNELVM") == "1", "never on the host"
    with open(SYSCTL) as f:
        old = f.read().strip()

    def set_to(value):
        with open(SYSCTL, "w") as f:
            f.write(str(value))

    yield set_to
    set_to(old)


FEATURES = ("import aiouring; f = aiouring.features(); "
            "print(f['io_uring'], f['unavailable_reason'])")


def test_disabled_by_sysctl_gives_a_clear_error(io_uring_disabled):
    io_uring_disabled(2)
    with pytest.raises(aiouring.RingUnavailableError) as info:
        aiouring.new_event_loop()
    assert info.value.errno == errno.EPERM
    assert "kernel.io_uring_disabled=2" in str(info.value)
    assert isinstance(info.value, OSError)
    # features() probes once per process: ask a fresh one, so this process
    # keeps its answer for io_uring enabled.
    proc = subprocess.run([sys.executable, "-c", FEATURES], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    available, reason = proc.stdout.split(" ", 1)
    assert available == "False"
    assert "kernel.io_uring_disabled=2" in reason


UNPRIVILEGED = textwrap.dedent("""
    import os, aiouring
    os.setgroups([])
    os.setgid(65534)
    os.setuid(65534)            # nobody, outside kernel.io_uring_group
    try:
        aiouring.new_event_loop()
    except aiouring.RingUnavailableError as exc:
        print(exc.errno, exc.strerror)
""")


def test_restricted_to_a_group_names_the_group(io_uring_disabled):
    io_uring_disabled(1)
    loop = aiouring.new_event_loop()        # root may still use it
    loop.close()
    proc = subprocess.run([sys.executable, "-c", UNPRIVILEGED], capture_output=True,
                          text=True, timeout=120, env=no_io_uring.environ())
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"{errno.EPERM} ")
    assert "members of group" in proc.stdout
    assert "kernel.io_uring_disabled=1" in proc.stdout


FALLBACK = textwrap.dedent("""
    import asyncio, logging, aiouring
    logging.basicConfig(format="%(levelname)s %(message)s")

    async def main():
        return type(asyncio.get_running_loop()).__module__
    print(aiouring.run(main()))
""")


@pytest.mark.parametrize("choice, module", [("uvloop", "uvloop"),
                                            ("asyncio", "asyncio.unix_events")])
def test_fallback_when_disabled_by_sysctl(io_uring_disabled, choice, module):
    io_uring_disabled(2)
    proc = subprocess.run([sys.executable, "-c", FALLBACK], capture_output=True,
                          text=True, timeout=120,
                          env=no_io_uring.environ(AIOURING_FALLBACK=choice))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == module
    assert proc.stderr.count("io_uring is unavailable") == 1
    assert "kernel.io_uring_disabled=2" in proc.stderr
