"""The fault injector's rules: a fault is injected only where the kernel
could truthfully have answered with it, and never loses data the kernel
would have delivered. Each case forces a fault on every request (rate 1)
of one kind and checks what the request saw and what stayed in the socket
or the file."""

import asyncio
import errno
import os
import socket
import subprocess
import sys
import threading

import pytest

import aiouring
from aiouring import ops
from aiouring._ring import FaultInjector


def socket_pair():
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)
    return a, b


def run_with_faults(kinds, body, rate=1.0):
    """body(loop, injector) on a new loop whose ring injects kinds."""
    async def main():
        loop = asyncio.get_running_loop()
        injector = loop._ring.inject_faults(7, rate, kinds)
        try:
            return await body(loop, injector)
        finally:
            loop._ring.inject_faults(None)
    return aiouring.run(main())


def test_a_receive_failed_by_a_fault_leaves_its_data_in_the_socket():
    a, b = socket_pair()

    async def body(loop, injector):
        a.send(b"kept")
        with pytest.raises(ConnectionResetError):
            await loop.sock_recv(b, 100)
        loop._ring.inject_faults(None)
        return await loop.sock_recv(b, 100), injector.counts["econnreset"]

    try:
        assert run_with_faults(("econnreset",), body) == (b"kept", 1)
    finally:
        a.close()
        b.close()


def test_a_short_receive_returns_real_bytes_and_leaves_the_rest():
    a, b = socket_pair()
    data = bytes(range(200))

    async def body(loop, injector):
        a.send(data)
        first = await loop.sock_recv(b, 200)
        loop._ring.inject_faults(None)
        rest = b""
        while len(first) + len(rest) < len(data):
            rest += await loop.sock_recv(b, 200)
        return first, rest, injector.counts["short_read"]

    try:
        first, rest, shortened = run_with_faults(("short_read",), body)
    finally:
        a.close()
        b.close()
    assert shortened == 1 and 0 < len(first) < len(data)
    assert first + rest == data


def test_faults_the_request_could_not_meet_are_not_injected(tmp_path):
    a, b = socket_pair()
    path = tmp_path / "data"
    path.write_bytes(b"file")

    async def body(loop, injector):
        a.send(b"socket")
        # EIO is a file's, ENOBUFS a provided-buffer receive's, EAGAIN a
        # non-waiting request's: a plain receive meets none of them.
        received = await loop.sock_recv(b, 100)
        return received, injector.injected

    try:
        assert run_with_faults(("eio", "enobufs", "eagain"), body) == (b"socket", 0)
    finally:
        a.close()
        b.close()


def test_eagain_only_where_the_request_asked_not_to_wait(tmp_path):
    path = tmp_path / "data"
    path.write_bytes(b"x" * 10000)

    async def body(loop, injector):
        # File reads try RWF_NOWAIT first: EAGAIN there is the kernel's
        # ordinary answer, after which the read is retried waiting.
        async with aiouring.open(path, "rb") as f:
            content = await f.read()
        return content, injector.counts["eagain"]

    content, eagain = run_with_faults(("eagain",), body)
    assert content == b"x" * 10000 and eagain >= 1


def test_requests_in_a_linked_chain_are_failed_but_never_shortened(tmp_path):
    path = tmp_path / "data"
    path.write_bytes(b"c" * 8192)

    async def shortened(loop, injector):
        buffer = ops.buffer(8192)
        opened = ops.openat(path, direct=True)
        _, nread, _ = await aiouring.chain(opened, ops.read(opened, buffer, 0),
                                           ops.close(opened))
        return nread, injector.counts["short_read"]

    async def failed(loop, injector):
        with pytest.raises(aiouring.ChainError) as info:
            await aiouring.chain(ops.openat(path), ops.nop())
        return info.value.errno, info.value.step

    assert run_with_faults(("short_read",), shortened) == (8192, 0)
    assert run_with_faults(("eio",), failed) == (errno.EIO, 0)


def test_the_loop_own_wakeups_are_never_faulted():
    async def body(loop, injector):
        woken = loop.create_future()
        threading.Thread(target=loop.call_soon_threadsafe,
                         args=(woken.set_result, "woken")).start()
        return await asyncio.wait_for(woken, 5)

    assert run_with_faults(None, body) == "woken"


def test_bad_settings_are_value_errors():
    with pytest.raises(ValueError, match="rate"):
        FaultInjector(1, 1.5)
    with pytest.raises(ValueError, match="unknown fault 'eperm'"):
        FaultInjector(1, 0.1, ("eperm",))
    injector = FaultInjector(3, 0.5, ("eio", "short_write"))
    assert injector.kinds == ("eio", "short_write") and injector.injected == 0


def run_python(code, **env):
    return subprocess.run([sys.executable, "-c", code], env={**os.environ, **env},
                          capture_output=True, text=True, timeout=60)


ENVIRONMENT_CODE = """
import asyncio, socket, aiouring
async def main():
    loop = asyncio.get_running_loop()
    a, b = socket.socketpair()
    a.setblocking(False); b.setblocking(False)
    a.send(b"x")
    try:
        print(await loop.sock_recv(b, 10))
    except OSError as exc:
        print("failed", exc.errno)
    print(loop._ring.faults.counts["ecanceled"])
aiouring.run(main())
"""


def test_the_environment_turns_faults_on_for_every_ring():
    done = run_python(ENVIRONMENT_CODE, AIOURING_FAULTS="seed=1,rate=1,kinds=ecanceled")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["failed", str(errno.ECANCELED), "1"]
    done = run_python(ENVIRONMENT_CODE, AIOURING_FAULTS="rate=lots")
    assert done.returncode == 1 and "ValueError" in done.stderr
