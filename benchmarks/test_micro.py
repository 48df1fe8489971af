"""Loop micro-benchmarks, each on asyncio, uvloop and aiouring (see
conftest.py): pytest benchmarks/ --benchmark-only. Each test is an async
test whose loop is the one measured; each benchmarked call does a batch of N
operations and checks it really did them."""
import asyncio
import os
import socket

import pytest

import aiouring

N = 1000


async def test_call_soon_batch(abenchmark):
    """N call_soon callbacks, then the loop runs them all."""
    loop = asyncio.get_running_loop()
    count = 0

    def cb():
        nonlocal count
        count += 1

    async def batch():
        nonlocal count
        count = 0
        done = loop.create_future()
        for _ in range(N):
            loop.call_soon(cb)
        loop.call_soon(done.set_result, None)
        await done
        return count

    assert await abenchmark(batch) == N


async def test_future_set_result_await(abenchmark):
    """N times: create a future, set its result, await it."""
    loop = asyncio.get_running_loop()

    async def futures():
        total = 0
        for i in range(N):
            f = loop.create_future()
            f.set_result(i)
            total += await f
        return total

    assert await abenchmark(futures) == N * (N - 1) // 2


async def test_future_wakeup(abenchmark):
    """N times: await a future whose result a loop callback sets (one trip
    through the ready queue per future)."""
    loop = asyncio.get_running_loop()

    async def futures():
        for i in range(N):
            f = loop.create_future()
            loop.call_soon(f.set_result, i)
            assert await f == i
        return N

    assert await abenchmark(futures) == N


TASKS = 10


async def test_sleep0_task_switch(abenchmark):
    """TASKS tasks each doing N // TASKS `await asyncio.sleep(0)`."""
    async def spin():
        for _ in range(N // TASKS):
            await asyncio.sleep(0)
        return N // TASKS

    async def switches():
        return sum(await asyncio.gather(*(spin() for _ in range(TASKS))))

    assert await abenchmark(switches) == N


MSG = b"x" * 1024


@pytest.fixture
def socket_pair():
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)
    yield a, b
    a.close()
    b.close()


async def test_sock_sendall_recv_pair(abenchmark, socket_pair):
    """N // 10 ping-pongs of 1 KiB over a socketpair with sock_sendall and
    sock_recv (the other end echoes)."""
    loop = asyncio.get_running_loop()
    a, b = socket_pair
    rounds = N // 10

    async def recv_message(sock):
        data = b""
        while len(data) < len(MSG):
            data += await loop.sock_recv(sock, 65536)
        return data

    async def echo():
        for _ in range(rounds):
            await loop.sock_sendall(b, await recv_message(b))

    async def pingpong():
        server = asyncio.ensure_future(echo())
        got = 0
        for _ in range(rounds):
            await loop.sock_sendall(a, MSG)
            got += len(await recv_message(a))
        await server
        return got

    assert await abenchmark(pingpong) == rounds * len(MSG)


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


async def test_small_file_read(abenchmark, small_files):
    """FILES files of 4 KiB: open, read, close each, one after another:
    aiouring.open on aiouring, aiofiles.open (a thread pool) on the others."""
    if isinstance(asyncio.get_running_loop(), aiouring.Loop):
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

    assert await abenchmark(read_all) == FILES * FILE_SIZE
