"""Loop micro-benchmarks, each on asyncio, uvloop and aiouring (see
conftest.py): pytest benchmarks/ --benchmark-only. Each benchmarked call
does a batch of N operations and checks it really did them."""
import asyncio
import os
import socket

import pytest

N = 1000


def test_call_soon_batch(benchmark, loop):
    """N call_soon callbacks, then the loop runs them all."""
    count = 0

    def cb():
        nonlocal count
        count += 1

    def batch():
        nonlocal count
        count = 0
        done = loop.create_future()
        for _ in range(N):
            loop.call_soon(cb)
        loop.call_soon(done.set_result, None)
        loop.run_until_complete(done)
        return count

    assert benchmark(batch) == N


def test_future_set_result_await(benchmark, loop):
    """N times: create a future, set its result, await it."""
    async def futures():
        total = 0
        for i in range(N):
            f = loop.create_future()
            f.set_result(i)
            total += await f
        return total

    assert benchmark(lambda: loop.run_until_complete(futures())) == N * (N - 1) // 2


def test_future_wakeup(benchmark, loop):
    """N times: await a future whose result a loop callback sets (one trip
    through the ready queue per future)."""
    async def futures():
        for i in range(N):
            f = loop.create_future()
            loop.call_soon(f.set_result, i)
            assert await f == i
        return N

    assert benchmark(lambda: loop.run_until_complete(futures())) == N


TASKS = 10


def test_sleep0_task_switch(benchmark, loop):
    """TASKS tasks each doing N // TASKS `await asyncio.sleep(0)`."""
    async def spin():
        for _ in range(N // TASKS):
            await asyncio.sleep(0)
        return N // TASKS

    async def switches():
        return sum(await asyncio.gather(*(spin() for _ in range(TASKS))))

    assert benchmark(lambda: loop.run_until_complete(switches())) == N


MSG = b"x" * 1024


def test_sock_sendall_recv_pair(benchmark, loop):
    """N // 10 ping-pongs of 1 KiB over a socketpair with sock_sendall and
    sock_recv (the other end echoes)."""
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)
    rounds = N // 10

    async def echo():
        for _ in range(rounds):
            data = b""
            while len(data) < len(MSG):
                data += await loop.sock_recv(b, 65536)
            await loop.sock_sendall(b, data)

    async def pingpong():
        server = loop.create_task(echo())
        got = 0
        for _ in range(rounds):
            await loop.sock_sendall(a, MSG)
            data = b""
            while len(data) < len(MSG):
                data += await loop.sock_recv(a, 65536)
            got += len(data)
        await server
        return got

    try:
        assert benchmark(lambda: loop.run_until_complete(pingpong())) == rounds * len(MSG)
    finally:
        a.close()
        b.close()


FILES = 20
FILE_SIZE = 4096


@pytest.fixture
def small_files(tmp_path):
    data = os.urandom(FILE_SIZE)
    paths = []
    for i in range(FILES):
        p = tmp_path / f"f{i}"
        p.write_bytes(data)
        paths.append(str(p))
    return paths


def test_small_file_read(benchmark, loop, loop_name, small_files):
    """FILES files of 4 KiB: open, read, close each, one after another:
    aiouring.open on aiouring, aiofiles.open (a thread pool) on the others."""
    if loop_name == "aiouring":
        import aiouring
        open_ = aiouring.open
    else:
        aiofiles = pytest.importorskip("aiofiles")
        open_ = aiofiles.open

    async def read_all():
        total = 0
        for p in small_files:
            async with open_(p, "rb") as f:
                total += len(await f.read())
        return total

    assert benchmark(lambda: loop.run_until_complete(read_all())) == FILES * FILE_SIZE
