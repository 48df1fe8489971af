"""What a cancelled file call leaves behind, on io_uring and on the thread
fallback; the executor a caller names; temporary files and the standard
streams on every loop."""

import asyncio
import concurrent.futures
import os
import threading
import time

import pytest

import aiouring


def _open_fds():
    return len(os.listdir("/proc/self/fd"))


async def _until(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


def test_cancelled_open_leaks_no_descriptor(on_loop, tmp_path):
    """An open that blocks (a FIFO without a writer) and is cancelled: its
    descriptor, if it is opened after all, is closed (ring: the request is
    cancelled or its result closed; threads: the thread closes it)."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)

    async def main():
        await aiouring.fs.stat(fifo)    # the loop's executor and wake-up exist now
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, loop.call_soon_threadsafe, lambda: None)
        before = _open_fds()
        task = asyncio.ensure_future(aiouring.open(fifo, "rb"))
        await asyncio.sleep(0.05)       # in its thread / the kernel's worker
        task.cancel()
        try:
            await (await task).close()  # io_uring opens a FIFO without waiting
        except asyncio.CancelledError:
            pass
        writer = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK) if on_loop.threads else None
        if writer is not None:
            os.close(writer)
        await _until(lambda: _open_fds() == before)
    on_loop(main())


@pytest.mark.parametrize("loop_name", ["asyncio", "uvloop"])
def test_thread_fallback_cancelled_write_finishes_before_close(loop_name):
    """On the thread fallback a write cannot be stopped mid-call: cancelling
    it returns at once, the write goes on to its end, and close() waits for
    it (the descriptor is never closed under it, nor reused)."""
    from aiouring.pytest_plugin import LOOP_FACTORIES
    payload = os.urandom(1 << 20)       # far more than a pipe holds

    async def main():
        r, w = os.pipe()
        f = await aiouring.open(w, "wb", buffering=0)
        task = asyncio.ensure_future(f.write(payload))
        await asyncio.sleep(0.05)       # the thread is blocked on the full pipe
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        closing = asyncio.ensure_future(f.close())
        await asyncio.sleep(0.05)
        assert not closing.done()       # the cancelled write still runs
        received = bytearray()
        drained = threading.Event()

        def drain():
            while chunk := os.read(r, 65536):
                received.extend(chunk)
            drained.set()
        threading.Thread(target=drain, daemon=True).start()
        await closing
        await _until(drained.is_set)
        os.close(r)
        assert bytes(received) == payload
    with asyncio.Runner(loop_factory=LOOP_FACTORIES[loop_name]) as runner:
        runner.run(main())


def test_named_executor_runs_the_calls(on_loop, tmp_path):
    """executor= (aiofiles.open's) is where calls without a ring run: every
    call on the thread fallback, and aiouring.os.wrap'ed functions anywhere."""
    names = set()
    pool = concurrent.futures.ThreadPoolExecutor(2, thread_name_prefix="named-pool")

    def where():
        names.add(threading.current_thread().name)
        return os.getpid()

    async def main():
        async with aiouring.open(tmp_path / "f", "w", executor=pool) as f:
            await f.write("x")
        assert await aiouring.os.wrap(where)(executor=pool) == os.getpid()
    try:
        on_loop(main())
    finally:
        pool.shutdown()
    assert names and all(name.startswith("named-pool") for name in names)
    assert (tmp_path / "f").read_text() == "x"


def test_temporary_files(on_loop, tmp_path):
    async def main():
        async with aiouring.tempfile.TemporaryFile(dir=tmp_path) as f:
            await f.write(b"abc")
            await f.seek(0)
            assert await f.read() == b"abc"
            assert isinstance(f.name, int)
        assert os.listdir(tmp_path) == []       # no name ever existed
        async with aiouring.tempfile.NamedTemporaryFile("w+", dir=tmp_path,
                                                        suffix=".txt") as f:
            assert os.path.dirname(f.name) == str(tmp_path) and f.name.endswith(".txt")
            await f.write("é")
            await f.seek(0)
            assert await f.read() == "é"
        assert not os.path.exists(f.name)
        async with aiouring.tempfile.NamedTemporaryFile(dir=tmp_path,
                                                        delete_on_close=False) as f:
            await f.close()
            assert os.path.exists(f.name)       # until the block ends
        assert not os.path.exists(f.name)
        async with aiouring.tempfile.NamedTemporaryFile(dir=tmp_path, delete=False) as f:
            kept = f.name
        assert os.path.exists(kept)
        os.unlink(kept)
        async with aiouring.tempfile.TemporaryDirectory(dir=tmp_path) as d:
            assert os.path.isdir(d)
            open(os.path.join(d, "inside"), "w").close()
        assert not os.path.exists(d)
        directory = await aiouring.tempfile.TemporaryDirectory(dir=tmp_path)
        assert os.path.isdir(directory.name)
        await directory.cleanup()
        assert os.listdir(tmp_path) == []
    on_loop(main())


@pytest.mark.parametrize("mode", ["w+b", "w+"])
def test_spooled_temporary_file_rolls_over_in_place(on_loop, tmp_path, mode):
    """In memory until max_size, then on disk at the same position; text
    positions (tell() cookies) stay valid across the move."""
    text = "b" not in mode

    def data(s):
        return s if text else s.encode()

    async def main():
        async with aiouring.tempfile.SpooledTemporaryFile(
                20, mode, dir=tmp_path, encoding="utf-8" if text else None) as f:
            await f.write(data("héllo\nwörld\n"))
            assert not f._rolled and f.name is None
            await f.seek(0)
            assert await f.readline() == data("héllo\n")
            mark = await f.tell()
            await f.seek(0, os.SEEK_END)
            await f.write(data("more than twenty bytes\n"))
            assert f._rolled and isinstance(f.name, int)
            await f.seek(mark)
            assert await f.read() == data("wörld\nmore than twenty bytes\n")
            assert isinstance(await f.fileno(), int)
        async with aiouring.tempfile.SpooledTemporaryFile(100, mode) as f:
            await f.write(data("x"))
            await f.fileno()            # a descriptor needs a file on disk
            assert f._rolled
            await f.seek(0)
            assert await f.read() == data("x")
    on_loop(main())


def test_standard_streams_follow_sys(on_loop, capsys):
    """aiouring.stdout & co. write to whatever sys.stdout is at the call,
    in the order of the calls."""
    async def main():
        await asyncio.gather(*(aiouring.stdout.write(f"{i}\n") for i in range(50)))
        await aiouring.stdout.flush()
        await aiouring.stderr.write("to stderr\n")
        assert aiouring.stdout.encoding == __import__("sys").stdout.encoding
        assert aiouring.stdout_bytes.closed is False
    on_loop(main())
    captured = capsys.readouterr()
    assert captured.out == "".join(f"{i}\n" for i in range(50))
    assert captured.err == "to stderr\n"
