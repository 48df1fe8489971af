"""The fast paths of async files, held to the built-in open()'s promises on
every loop (on_loop: aiouring's ring, asyncio's and uvloop's threads): a
read-only buffered open() that reads a small file along with the open, the
close nobody waits for, read_bytes, readinto() straight into the caller's
buffer, and bytes read before a cancellation that stay readable."""

import asyncio
import errno
import os

import pytest

import aiouring
from aiouring.backend import SMALL_FILE
from aiouring.files import PREFETCH_MAX

SIZES = (0, 1, 4096, PREFETCH_MAX - 1, PREFETCH_MAX, PREFETCH_MAX + 1, 3 * PREFETCH_MAX)


def pattern(size):
    return bytes(range(256)) * (size // 256) + bytes(range(size % 256))


def open_fds():
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.parametrize("size", SIZES)
def test_read_only_open_matches_builtin_positions(on_loop, tmp_path, size):
    path = tmp_path / "f"
    path.write_bytes(pattern(size))

    async def main():
        with open(path, "rb") as expected:
            async with aiouring.open(path, "rb") as f:
                assert await f.tell() == expected.tell() == 0
                assert await f.read(3) == expected.read(3)
                assert await f.tell() == expected.tell()
                assert await f.seek(size // 2) == expected.seek(size // 2)
                assert (await f.peek(1))[:1] == expected.peek(1)[:1]
                assert await f.read(10) == expected.read(10)
                assert await f.seek(0, os.SEEK_END) == expected.seek(0, os.SEEK_END)
                assert await f.read() == expected.read() == b""
                assert await f.seek(1) == expected.seek(1)
                assert await f.read() == expected.read()
                assert await f.tell() == expected.tell() == max(size, 1)
    on_loop(main())


def test_descriptor_position_after_prefetch_follows_the_buffer(on_loop, tmp_path):
    """fileno() hands out the descriptor at the raw position (what the read
    buffer holds is ahead of it), as the built-in buffered files do."""
    data = pattern(5000)
    (tmp_path / "f").write_bytes(data)

    async def main():
        async with aiouring.open(tmp_path / "f", "rb") as f:
            assert await f.read(100) == data[:100]
            fd = f.fileno()
            raw_position = os.lseek(fd, 0, os.SEEK_CUR)
            assert 100 <= raw_position <= len(data)
            assert await f.tell() == 100
            assert await f.read() == data[100:]
    on_loop(main())


@pytest.mark.parametrize("change", ["append", "same_size", "shrink", "replace_inode"])
def test_file_changed_after_open_reads_afresh(on_loop, tmp_path, change):
    """Bytes read along with the open are checked against the file on first
    use: a file changed in between reads as the built-in open() sees it."""
    path = tmp_path / "f"
    path.write_bytes(b"a" * 1000)

    async def main():
        async with aiouring.open(path, "rb") as f:
            await asyncio.sleep(0)
            if change == "append":
                with open(path, "ab") as w:
                    w.write(b"b" * 10)
            elif change == "same_size":
                with open(path, "r+b") as w:
                    w.write(b"c" * 1000)
            elif change == "shrink":
                os.truncate(path, 400)
            else:       # the name now points elsewhere: the open file stays
                (tmp_path / "g").write_bytes(b"z" * 1000)
                os.replace(tmp_path / "g", path)
            with open(f.name, "rb") as g:
                current = g.read()
            got = await f.read()
        if change == "replace_inode":
            assert got == b"a" * 1000
        else:
            assert got == current and got != b"a" * 1000
    on_loop(main())


def test_changed_file_read_in_pieces_after_seek(on_loop, tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"0123456789" * 10)

    async def main():
        async with aiouring.open(path, "rb") as f:
            await f.seek(5)         # no bytes used yet: nothing checked
            with open(path, "r+b") as w:
                w.write(b"X" * 100)
            assert await f.read(3) == b"XXX"
            assert await f.tell() == 8
            assert await f.read() == b"X" * 92
    on_loop(main())


def test_text_mode_reads_the_prefetched_file(on_loop, tmp_path):
    path = tmp_path / "t"
    path.write_text("one\ntwo\r\nthree", encoding="utf-8", newline="")

    async def main():
        async with aiouring.open(path, encoding="utf-8") as f:
            assert await f.readline() == "one\n"
            assert await f.read() == "two\nthree"
        async with aiouring.open(path, encoding="utf-8", newline="") as f:
            assert [line async for line in f] == ["one\n", "two\r\n", "three"]
    on_loop(main())


def test_open_errors_name_the_file(on_loop, tmp_path):
    missing = tmp_path / "missing"

    async def main():
        with pytest.raises(FileNotFoundError) as info:
            await aiouring.open(missing, "rb")
        assert info.value.errno == errno.ENOENT and info.value.filename == str(missing)
        with pytest.raises(IsADirectoryError) as info:
            await aiouring.open(tmp_path, "rb")
        assert info.value.errno == errno.EISDIR and info.value.filename == str(tmp_path)
        with pytest.raises(FileNotFoundError) as info:
            await aiouring.read_bytes(missing)
        assert info.value.errno == errno.ENOENT and info.value.filename == str(missing)
        with pytest.raises(IsADirectoryError) as info:
            await aiouring.read_bytes(tmp_path)
        assert info.value.errno == errno.EISDIR and info.value.filename == str(tmp_path)
    on_loop(asyncio.sleep(0))
    before = open_fds()
    on_loop(main())
    assert open_fds() == before


def test_read_only_close_releases_the_descriptor(on_loop, tmp_path):
    (tmp_path / "f").write_bytes(b"data")

    async def main():
        for buffering in (-1, 0):
            f = await aiouring.open(tmp_path / "f", "rb", buffering=buffering)
            fd = f.fileno()
            assert await f.read() == b"data"
            await f.close()
            assert f.closed
            with pytest.raises(OSError) as info:
                os.fstat(fd)
            assert info.value.errno == errno.EBADF
    on_loop(main())


@pytest.mark.parametrize("pause", [0, 1, 2, 3])
def test_cancelled_opens_leave_no_descriptor(on_loop, tmp_path, pause):
    """Cancelled before, during or after the open and its read: no
    descriptor stays open."""
    paths = []
    for i in range(50):
        paths.append(tmp_path / f"{i}")
        paths[-1].write_bytes(b"x" * (i * 100))

    async def main():
        async def open_and_read(p, i):
            if i % 2:
                return await aiouring.read_bytes(p)
            async with aiouring.open(p, "rb") as f:
                return await f.read()
        tasks = [asyncio.ensure_future(open_and_read(p, i)) for i, p in enumerate(paths)]
        for _ in range(pause):
            await asyncio.sleep(0)
        for task in tasks:
            task.cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        for i, result in enumerate(results):
            assert isinstance(result, asyncio.CancelledError) or result == b"x" * (i * 100)
        await asyncio.sleep(0)

    on_loop(asyncio.sleep(0))
    before = open_fds()
    on_loop(main())
    for _ in range(100):        # a thread's open finishes after its cancel
        if open_fds() == before:
            break
        on_loop(asyncio.sleep(0.01))
    assert open_fds() == before


@pytest.mark.parametrize("size", [0, 1, SMALL_FILE - 1, SMALL_FILE, SMALL_FILE + 1,
                                  5 * SMALL_FILE + 7])
def test_read_bytes_sizes(on_loop, tmp_path, size):
    data = pattern(size)
    (tmp_path / "f").write_bytes(data)

    async def main():
        assert await aiouring.read_bytes(tmp_path / "f") == data
    on_loop(main())


def test_read_bytes_of_files_whose_size_says_nothing(on_loop):
    """/proc files say size 0: read_bytes reads them to their end."""
    async def main():
        status = await aiouring.read_bytes("/proc/self/status")
        assert status.startswith(b"Name:") and b"\nPid:" in status
    on_loop(main())


def test_read_bytes_of_a_fifo(on_loop, tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)

    async def main():
        reader = asyncio.ensure_future(aiouring.read_bytes(fifo))
        await asyncio.sleep(0.05)
        fd = os.open(fifo, os.O_WRONLY)
        os.write(fd, b"through a fifo")
        os.close(fd)
        assert await asyncio.wait_for(reader, 5) == b"through a fifo"
    on_loop(main())


@pytest.mark.parametrize("buffering", [-1, 4096])
def test_readinto_a_memoryview_slice(on_loop, tmp_path, buffering):
    data = pattern(200_000)
    (tmp_path / "f").write_bytes(data)

    async def main():
        with open(tmp_path / "f", "rb", buffering=buffering) as expected:
            async with aiouring.open(tmp_path / "f", "rb", buffering=buffering) as f:
                for start, stop in ((10, 90_010), (0, 7), (3, 70_003), (0, 100_000)):
                    mine, theirs = bytearray(100_000), bytearray(100_000)
                    n = await f.readinto(memoryview(mine)[start:stop])
                    assert n == expected.readinto(memoryview(theirs)[start:stop])
                    assert mine == theirs
                    assert await f.tell() == expected.tell()
                assert await f.read() == expected.read()
    on_loop(main())


def test_buffer_in_a_pending_readinto_cannot_be_resized(on_loop):
    """The request owns the caller's buffer until it completes."""
    read_end, write_end = os.pipe()

    async def main():
        async with aiouring.open(read_end, "rb") as f:
            buffer = bytearray(65536)
            task = asyncio.ensure_future(f.readinto(buffer))
            await asyncio.sleep(0.05)
            with pytest.raises(BufferError):
                buffer.extend(b"more")
            os.write(write_end, b"x" * 65536)
            assert await asyncio.wait_for(task, 5) == 65536
            assert buffer == b"x" * 65536
    try:
        on_loop(main())
    finally:
        os.close(write_end)


def test_bytes_read_before_a_cancelled_readinto_stay_readable(on_loop):
    """A readinto() that got some bytes and was cancelled waiting for more
    hands them to the next read. (aiouring only: a thread blocked in a
    pipe read cannot be cancelled.)"""
    if on_loop.threads:
        pytest.skip("a blocking read in a thread cannot be cancelled")
    read_end, write_end = os.pipe()

    async def main():
        async with aiouring.open(read_end, "rb") as f:
            os.write(write_end, b"first")
            task = asyncio.ensure_future(f.readinto(bytearray(65536)))
            await asyncio.sleep(0.05)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            os.write(write_end, b"second")
            os.close(write_end)
            assert await f.read() == b"firstsecond"
    on_loop(main())


def test_bytes_read_before_a_cancelled_large_read_stay_readable(on_loop):
    if on_loop.threads:
        pytest.skip("a blocking read in a thread cannot be cancelled")
    read_end, write_end = os.pipe()

    async def main():
        async with aiouring.open(read_end, "rb") as f:
            os.write(write_end, b"early")
            task = asyncio.ensure_future(f.read(100_000))
            await asyncio.sleep(0.05)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            os.write(write_end, b"late")
            os.close(write_end)
            assert await f.read() == b"earlylate"
    on_loop(main())


def test_cancelled_read_all_of_a_large_file_loses_nothing(on_loop, tmp_path):
    data = pattern(3 << 20)
    (tmp_path / "f").write_bytes(data)

    async def main():
        async with aiouring.open(tmp_path / "f", "rb") as f:
            assert await f.read(5) == data[:5]
            for pause in range(4):
                task = asyncio.ensure_future(f.read())
                for _ in range(pause):
                    await asyncio.sleep(0)
                task.cancel()
                try:
                    got = await task
                except asyncio.CancelledError:
                    assert await f.tell() == 5
                else:
                    assert got == data[5:]
                    return
            assert await f.read() == data[5:]
    on_loop(main())


@pytest.mark.parametrize("buffering", [0, -1])
def test_close_behind_a_queued_read_never_reads_another_file(on_loop, tmp_path, buffering):
    """A read queued before a close on the same descriptor finishes on that
    file, even when the number is reused right away: the ring's close that
    does not wait goes behind the read, the threads' close waits for it."""
    first, second = tmp_path / "first", tmp_path / "second"
    first.write_bytes(b"1" * 100_000)
    second.write_bytes(b"2" * 100_000)

    async def main():
        for _ in range(20):
            f = await aiouring.open(first, "rb", buffering=buffering)
            await f.seek(70_000)    # past what the open read along with it
            reader = asyncio.ensure_future(f.read(20_000))
            await asyncio.sleep(0)  # the reader's request is queued now
            await f.close()
            async with aiouring.open(second, "rb") as g:
                assert await reader == b"1" * 20_000
                assert await g.read(5) == b"22222"
    on_loop(main())
