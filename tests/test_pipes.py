"""Pipe transports (connect_read_pipe / connect_write_pipe) on both loops."""

import asyncio
import os
import sys

import pytest

pytestmark = pytest.mark.timeout(60)


class ReadProto(asyncio.Protocol):
    def __init__(self):
        self.data = bytearray()
        self.calls = []
        self.lost = asyncio.get_running_loop().create_future()

    def connection_made(self, transport):
        self.calls.append("made")

    def data_received(self, data):
        self.data += data

    def eof_received(self):
        self.calls.append("eof")

    def connection_lost(self, exc):
        self.calls.append("lost")
        self.lost.set_result(exc)


class WriteProto(asyncio.Protocol):
    def __init__(self):
        self.lost = asyncio.get_running_loop().create_future()
        self.paused = 0

    def pause_writing(self):
        self.paused += 1

    def connection_lost(self, exc):
        self.lost.set_result(exc)


async def test_pipe_round_trip(aloop):
    rfd, wfd = os.pipe()
    rtr, rproto = await aloop.connect_read_pipe(ReadProto, os.fdopen(rfd, "rb", 0))
    wtr, wproto = await aloop.connect_write_pipe(WriteProto, os.fdopen(wfd, "wb", 0))
    assert isinstance(rtr, asyncio.ReadTransport)
    assert isinstance(wtr, asyncio.WriteTransport)
    payload = os.urandom(1_000_000)         # far more than a pipe holds
    for i in range(0, len(payload), 100_000):
        wtr.write(payload[i:i + 100_000])
    assert wproto.paused == 1
    assert wtr.get_write_buffer_size() > 0
    wtr.close()
    assert await asyncio.wait_for(rproto.lost, 20) is None
    assert bytes(rproto.data) == payload
    assert rproto.calls == ["made", "eof", "lost"]
    assert await asyncio.wait_for(wproto.lost, 5) is None
    assert wtr.get_write_buffer_size() == 0


async def test_read_pipe_pause_keeps_data(aloop):
    rfd, wfd = os.pipe()
    rtr, rproto = await aloop.connect_read_pipe(ReadProto, os.fdopen(rfd, "rb", 0))
    rtr.pause_reading()
    assert not rtr.is_reading()
    os.write(wfd, b"while paused")
    await asyncio.sleep(0.1)
    assert rproto.data == b""
    rtr.resume_reading()
    async with asyncio.timeout(5):
        while rproto.data != b"while paused":
            await asyncio.sleep(0.01)
    os.close(wfd)
    await asyncio.wait_for(rproto.lost, 5)


async def test_write_pipe_reader_gone(aloop):
    rfd, wfd = os.pipe()
    wtr, wproto = await aloop.connect_write_pipe(WriteProto, os.fdopen(wfd, "wb", 0))
    wtr.write(b"x" * 200_000)           # fills the pipe; the rest waits
    os.close(rfd)
    exc = await asyncio.wait_for(wproto.lost, 5)
    assert isinstance(exc, BrokenPipeError)
    wtr.write(b"after")                 # dropped, as asyncio does


async def test_subprocess_large_output(aloop):
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c",
        "import sys; data = sys.stdin.buffer.read(); sys.stdout.buffer.write(data * 3)",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
    payload = os.urandom(300_000)
    out, _ = await asyncio.wait_for(proc.communicate(payload), 30)
    assert out == payload * 3
    assert proc.returncode == 0


async def test_subprocess_exit_codes(aloop):
    procs = [await asyncio.create_subprocess_exec(
        sys.executable, "-c", f"import sys; sys.exit({code})") for code in (0, 3, 7)]
    codes = await asyncio.wait_for(asyncio.gather(*(p.wait() for p in procs)), 30)
    assert codes == [0, 3, 7]
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "import time; time.sleep(30)")
    proc.kill()
    assert await asyncio.wait_for(proc.wait(), 10) == -9


@pytest.mark.aiouring_only("child exit watched on the ring, without a watcher thread")
async def test_subprocess_without_watcher_thread(aloop):
    import threading
    before = threading.active_count()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "import time; time.sleep(0.2)")
    assert threading.active_count() == before
    assert await asyncio.wait_for(proc.wait(), 10) == 0


@pytest.mark.skipif(sys.version_info >= (3, 14), reason="Python 3.14 has no child watchers")
def test_subprocess_under_a_policy_without_child_watchers():
    """A policy that is not asyncio's Unix one (get_child_watcher() raises
    NotImplementedError): aiouring's loop watches the child itself."""
    import aiouring

    class Plain(asyncio.events.BaseDefaultEventLoopPolicy):
        _loop_factory = aiouring.Loop

    async def main():
        proc = await asyncio.create_subprocess_exec(sys.executable, "-c", "exit(3)")
        return await proc.wait()

    previous = asyncio.get_event_loop_policy()
    asyncio.set_event_loop_policy(Plain())
    try:
        with asyncio.Runner(loop_factory=aiouring.new_event_loop) as runner:
            assert runner.run(main()) == 3
    finally:
        asyncio.set_event_loop_policy(previous)
