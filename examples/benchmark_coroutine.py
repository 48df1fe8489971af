"""Benchmark your own coroutine on asyncio, uvloop and aiouring: one command.

    pytest examples/benchmark_coroutine.py --aiouring-loops=asyncio,uvloop,aiouring

pytest-asyncio runs each async test once per loop; `abenchmark` times the
coroutine on that loop, and the run ends with one table per benchmark that
compares the loops (and pytest-benchmark's own tables, JSON and comparisons,
when it is installed). Running this file does the same.
"""
import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from aiouring.benchmarking.fixture import AsyncBenchmarkFixture

pytestmark = pytest.mark.asyncio        # also in pytest-asyncio's strict mode

LINE = b"ping\n"


async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while line := await reader.readline():
        writer.write(line)
    writer.close()


@pytest_asyncio.fixture(loop_scope="function")
async def server_port() -> AsyncIterator[int]:
    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    async with server:
        yield server.sockets[0].getsockname()[1]


async def round_trips(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                      count: int) -> int:
    """The code under test: `count` request/response round trips."""
    for _ in range(count):
        writer.write(LINE)
        assert await reader.readline() == LINE
    return count


@pytest.mark.benchmark(max_time=0.2)    # a quick look; the default is 1 s per loop
async def test_round_trips(abenchmark: AsyncBenchmarkFixture, server_port: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server_port)
    assert await abenchmark(round_trips, reader, writer, 10) == 10
    writer.close()
    await writer.wait_closed()


async def test_first_reply_on_a_new_connection(abenchmark: AsyncBenchmarkFixture,
                                               server_port: int) -> None:
    """Set-up and tear-down around each round, untimed: a fresh connection."""
    Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter, int]

    async def connect() -> tuple[Connection, dict[str, Any]]:
        reader, writer = await asyncio.open_connection("127.0.0.1", server_port)
        return (reader, writer, 1), {}

    async def disconnect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                         count: int) -> None:
        writer.close()
        await writer.wait_closed()

    assert await abenchmark.pedantic(round_trips, setup=connect, teardown=disconnect,
                                     rounds=50, warmup_rounds=5) == 1


if __name__ == "__main__":
    print("round trips over TCP on asyncio, uvloop and aiouring", flush=True)
    # pytest in a fresh interpreter: this one has already imported the plugins.
    sys.exit(subprocess.call([sys.executable, "-m", "pytest", __file__, "-q",
                              "-p", "no:cacheprovider",
                              "--aiouring-loops=asyncio,uvloop,aiouring", *sys.argv[1:]]))
