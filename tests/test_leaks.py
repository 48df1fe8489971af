"""References the loop must not leave behind, checked on any CPython (a debug
build's total reference count is tools/refleaks.py's job): a closed loop that
used async files is freed; the coroutines of the core's sock_*, file, chain
and chain-program calls release the reference they hold on their type."""

import asyncio
import gc
import socket
import sys
import weakref

import pytest

import aiouring
import aiouring.bpf as bpf
from aiouring import ops

from conftest import FACTORIES


@pytest.mark.parametrize("loop_name", ["aiouring", "asyncio", "uvloop"])
def test_a_closed_loop_that_used_async_files_is_freed(loop_name, tmp_path):
    if loop_name == "uvloop":
        uvloop = pytest.importorskip("uvloop")
        factory = uvloop.new_event_loop
    else:
        factory = FACTORIES[loop_name]
    path = tmp_path / "data.txt"
    path.write_text("content")

    async def use_files():
        async with aiouring.open(path) as f:
            assert await f.read() == "content"
        await aiouring.fs.stat(path)

    loop = factory()
    loop.run_until_complete(use_files())
    loop.run_until_complete(loop.shutdown_default_executor())
    loop.close()
    freed = weakref.ref(loop)
    del loop
    gc.collect()
    assert freed() is None, [type(r).__name__ for r in gc.get_referrers(freed())]


def core_coroutine_types():
    """The types of the core's coroutines and of their await wrappers."""
    loop = aiouring.new_event_loop()
    try:
        a, b = socket.socketpair()
        coroutine = loop.sock_sendall(a, b"")
        wrapper = coroutine.__await__()
        types = (type(coroutine), type(wrapper))
        coroutine.close()
        a.close()
        b.close()
    finally:
        loop.close()
    return types


def type_references_gained(workload, count):
    """How many references the core's coroutine types gain while workload
    runs count times (nothing, when each coroutine releases its type)."""
    types = core_coroutine_types()

    async def main():
        for _ in range(3):      # the last coroutine of a batch may linger
            await workload()
        before = references()
        for _ in range(count):
            await workload()
        after = references()
        return [a - b for a, b in zip(after, before)]

    def references():
        gc.collect()
        return [sys.getrefcount(t) for t in types]

    return aiouring.run(main())


def test_sock_calls_release_their_coroutine_type():
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)

    async def exchange():
        loop = asyncio.get_running_loop()
        await loop.sock_sendall(a, b"x")
        assert await loop.sock_recv(b, 1) == b"x"
        await loop.sock_sendall(a, b"y")
        buffer = bytearray(1)
        assert await loop.sock_recv_into(b, buffer) == 1

    try:
        assert type_references_gained(exchange, 100) == [0, 0]
    finally:
        a.close()
        b.close()


def test_file_chain_and_program_calls_release_their_coroutine_type(tmp_path):
    path = tmp_path / "data.bin"
    path.write_bytes(b"d" * 4096)

    async def calls():
        async with aiouring.open(path, "rb") as f:
            assert len(await f.read()) == 4096
        await aiouring.fs.stat(path)
        await aiouring.chain(ops.nop())
        assert await bpf.nop_chain(2) == 2

    assert type_references_gained(calls, 30) == [0, 0]
