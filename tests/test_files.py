"""aiouring.open() and aiouring.fs against the built-in open() and os on the
same data: same bytes, same positions, same errors -- on aiouring's loop
(io_uring) and on asyncio's and uvloop's (the executor), through the same
test bodies (the on_loop fixture). Text files: test_text_files.py; shared
positions: test_shared_positions.py."""

import asyncio
import os
import stat

import pytest
from hypothesis import HealthCheck, example, given, settings, strategies as st

import aiouring
from aiouring import fs

SETTINGS = settings(max_examples=int(os.environ.get("AIOURING_EXAMPLES", 40)), deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


# Steps applied to both files: (method, argument).
read_ops = st.one_of(
    st.tuples(st.just("read"), st.integers(-1, 9000)),
    st.tuples(st.just("read1"), st.integers(-1, 9000)),
    st.tuples(st.just("readline"), st.integers(-1, 200)),
    st.tuples(st.just("readinto"), st.integers(0, 5000)),
    st.tuples(st.just("seek"), st.tuples(st.integers(0, 20000), st.sampled_from([0, 1, 2]))),
    st.tuples(st.just("tell"), st.none()),
    st.tuples(st.just("readlines"), st.integers(-1, 300)),
)


def apply_sync(f, op, arg):
    try:
        return _apply_sync(f, op, arg)
    except (OSError, ValueError) as exc:
        return type(exc), getattr(exc, "errno", None)


async def apply_async(f, op, arg):
    try:
        return await _apply_async(f, op, arg)
    except (OSError, ValueError) as exc:
        return type(exc), getattr(exc, "errno", None)


def _apply_sync(f, op, arg):
    if op == "readinto":
        buf = bytearray(arg)
        n = f.readinto(buf)
        return bytes(buf[:n])
    if op == "seek":
        offset, whence = arg
        if whence != 0:
            offset = 0 if whence == 1 else -min(offset, 50)
        return f.seek(offset, whence)
    if op == "tell":
        return f.tell()
    if op == "seek" or op == "truncate":
        return getattr(f, op)(arg)
    return getattr(f, op)(arg)


async def _apply_async(f, op, arg):
    if op == "readinto":
        buf = bytearray(arg)
        n = await f.readinto(buf)
        return bytes(buf[:n])
    if op == "seek":
        offset, whence = arg
        if whence != 0:
            offset = 0 if whence == 1 else -min(offset, 50)
        return await f.seek(offset, whence)
    if op == "tell":
        return await f.tell()
    return await getattr(f, op)(arg)


@SETTINGS
@given(data=st.binary(max_size=20000) | st.text(alphabet="ab\n\r", max_size=5000).map(str.encode),
       steps=st.lists(read_ops, max_size=12),
       buffering=st.sampled_from([-1, 0, 1, 64, 4096]))
def test_binary_reads_match_builtin_open(on_loop, tmp_path, data, steps, buffering):
    path = tmp_path / "data.bin"
    path.write_bytes(data)
    if buffering == 0:
        steps = [s for s in steps if s[0] in ("read", "readinto", "seek", "tell")]
    if buffering == 1:
        buffering = -1

    async def main():
        with open(path, "rb", buffering=buffering) as expected:
            async with aiouring.open(path, "rb", buffering=buffering) as got:
                for op, arg in steps:
                    assert (await apply_async(got, op, arg)
                            == apply_sync(expected, op, arg)), (op, arg)
                assert await got.tell() == expected.tell()
    on_loop(main())


write_ops = st.one_of(
    st.tuples(st.just("write"), st.binary(max_size=6000)),
    st.tuples(st.just("seek"), st.tuples(st.integers(0, 8000), st.sampled_from([0, 1, 2]))),
    st.tuples(st.just("read"), st.integers(-1, 3000)),
    st.tuples(st.just("truncate"), st.integers(0, 8000) | st.none()),
    st.tuples(st.just("flush"), st.none()),
    st.tuples(st.just("writelines"), st.lists(st.binary(max_size=100), max_size=4)),
)


@SETTINGS
@example(initial=b"\x00", mode="a+b", steps=[("seek", (0, 0)), ("write", b"")], buffering=0)
@example(initial=b"", mode="a+b", steps=[("truncate", 1), ("write", b"\x00"), ("read", 0)],
         buffering=-1)
@given(initial=st.binary(max_size=5000),
       mode=st.sampled_from(["r+b", "w+b", "a+b", "wb", "ab", "xb"]),
       steps=st.lists(write_ops, max_size=12), buffering=st.sampled_from([-1, 0, 100]))
def test_writes_match_builtin_open(on_loop, tmp_path, initial, mode, steps, buffering):
    """Left out: in buffered 'a+b', a read after a write and before the next
    seek. The write goes to the end of the file, but the built-in keeps its
    read-ahead with the write copied into it and goes on reading that (not
    what the file holds); aiouring reads the file where the write left it."""
    a, b = tmp_path / "a", tmp_path / "b"
    for p in (a, b):
        if p.exists():
            p.unlink()
        if mode != "xb":
            p.write_bytes(initial)
    if "+" not in mode:
        steps = [s for s in steps if s[0] != "read"]

    async def main():
        with open(a, mode, buffering=buffering) as expected:
            async with aiouring.open(b, mode, buffering=buffering) as got:
                assert got.mode == expected.mode
                appended = False
                for op, arg in steps:
                    if mode == "a+b" and buffering != 0:
                        if op == "read" and appended:
                            continue
                        appended = (appended or op in ("write", "writelines")) and op != "seek"
                    if op == "flush":
                        expected.flush()
                        await got.flush()
                    elif op == "writelines":
                        expected.writelines(arg)
                        await got.writelines(arg)
                    elif buffering == 0 and op == "read":
                        assert await got.read(arg) == expected.read(arg)
                    else:
                        assert (await apply_async(got, op, arg)
                                == apply_sync(expected, op, arg)), (op, arg)
                    assert await got.tell() == expected.tell(), op
    on_loop(main())
    assert b.read_bytes() == a.read_bytes()


def test_attributes_and_iteration(on_loop, tmp_path):
    path = tmp_path / "f.txt"
    path.write_text("one\ntwo\nthree")

    async def main():
        f = await aiouring.open(path)
        assert f.name == str(path) and f.mode == "r" and not f.closed
        assert f.fileno() >= 0
        assert [line async for line in f] == ["one\n", "two\n", "three"]
        await f.close()
        assert f.closed
        async with aiouring.open(path, "rb") as b:
            assert [line async for line in b] == [b"one\n", b"two\n", b"three"]
            assert b.mode == "rb"
    on_loop(main())


def builtin_error(fn):
    try:
        fn()
    except OSError as exc:
        return type(exc), exc.errno, exc.filename, exc.filename2
    raise AssertionError("no error")


async def aiouring_error(coro):
    try:
        await coro
    except OSError as exc:
        return type(exc), exc.errno, exc.filename, exc.filename2
    raise AssertionError("no error")


def test_errors_match_builtins(on_loop, tmp_path):
    missing = str(tmp_path / "missing")
    directory = str(tmp_path)
    existing = tmp_path / "existing"
    existing.write_text("x")
    os.chmod(existing, 0)
    unreadable = str(existing)
    if os.geteuid() == 0:
        unreadable = None      # root reads everything
    cases = [
        (lambda: open(missing), lambda: aiouring.open(missing)),
        (lambda: open(directory), lambda: aiouring.open(directory)),
        (lambda: open(directory, "rb"), lambda: aiouring.open(directory, "rb")),
        (lambda: open(directory, "w"), lambda: aiouring.open(directory, "w")),
        (lambda: open(existing, "x"), lambda: aiouring.open(existing, "x")),
        (lambda: open(missing + "/x/y", "w"), lambda: aiouring.open(missing + "/x/y", "w")),
        (lambda: os.stat(missing), lambda: fs.stat(missing)),
        (lambda: os.unlink(missing), lambda: fs.unlink(missing)),
        (lambda: os.unlink(directory), lambda: fs.unlink(directory)),
        (lambda: os.rmdir(missing), lambda: fs.rmdir(missing)),
        (lambda: os.rmdir(str(existing)), lambda: fs.rmdir(str(existing))),
        (lambda: os.mkdir(directory), lambda: fs.mkdir(directory)),
        (lambda: os.rename(missing, missing + "2"), lambda: fs.rename(missing, missing + "2")),
        (lambda: os.link(missing, missing + "2"), lambda: fs.link(missing, missing + "2")),
        (lambda: os.symlink("t", str(existing)), lambda: fs.symlink("t", str(existing))),
        (lambda: open(9999, "rb"), lambda: aiouring.open(9999, "rb")),
        (lambda: os.stat(9999), lambda: fs.stat(9999)),
        (lambda: os.stat("x", dir_fd=9999), lambda: fs.stat("x", dir_fd=9999)),
        (lambda: os.readlink(directory), lambda: aiouring.os.readlink(directory)),
        (lambda: os.removedirs(missing), lambda: aiouring.os.removedirs(missing)),
        (lambda: os.renames(missing, missing + "2"),
         lambda: aiouring.os.renames(missing, missing + "2")),
    ]
    if unreadable:
        cases.append((lambda: open(unreadable), lambda: aiouring.open(unreadable)))

    async def main():
        for sync, coro in cases:
            assert await aiouring_error(coro()) == builtin_error(sync)
        for sync, coro in [(lambda: open(missing, "rb").read(), fs.read_bytes(missing)),
                           (lambda: open(directory, "rb").read(), fs.read_bytes(directory))]:
            assert await aiouring_error(coro) == builtin_error(sync)
    on_loop(main())


def test_makedirs_as_the_builtin(on_loop, tmp_path):
    """Modes of the leaf and of the levels made above it (parent_mode, as
    Python 3.15's os.makedirs), a trailing "." and exist_ok."""
    async def main():
        old = os.umask(0)
        try:
            await fs.makedirs(tmp_path / "a" / "b" / "c", 0o700, parent_mode=0o750)
            await fs.makedirs(tmp_path / "d" / "e", 0o711)
            await fs.makedirs(tmp_path / "f" / "g" / ".")
        finally:
            os.umask(old)
        modes = {name: stat.S_IMODE(os.stat(tmp_path / name).st_mode)
                 for name in ("a", "a/b", "a/b/c", "d", "d/e")}
        assert modes == {"a": 0o750, "a/b": 0o750, "a/b/c": 0o700, "d": 0o777, "d/e": 0o711}
        assert (tmp_path / "f" / "g").is_dir()
        await fs.makedirs(tmp_path / "a" / "b", exist_ok=True)
        assert await aiouring_error(fs.makedirs(tmp_path / "a")) == \
            builtin_error(lambda: os.makedirs(tmp_path / "a"))
    on_loop(main())


def test_fs_helpers(on_loop, tmp_path):
    async def main():
        p = tmp_path / "a"
        assert await fs.write_bytes(p, b"abc") == 3
        assert await fs.read_bytes(p) == b"abc"
        assert await fs.write_text(p, "é\n") == 2
        assert await fs.read_text(p) == "é\n"
        assert await fs.exists(p) and await fs.isfile(p) and not await fs.isdir(p)
        assert await fs.isdir(tmp_path) and not await fs.exists(tmp_path / "nope")
        st = await fs.stat(p)
        ref = os.stat(p)
        for field in ("st_mode", "st_ino", "st_dev", "st_nlink", "st_uid", "st_gid",
                      "st_size", "st_mtime_ns", "st_ctime_ns", "st_blocks", "st_blksize"):
            assert getattr(st, field) == getattr(ref, field), field
        await fs.mkdir(tmp_path / "d")
        await fs.rename(p, tmp_path / "d" / "b")
        await fs.link(tmp_path / "d" / "b", tmp_path / "c")
        await fs.symlink("c", tmp_path / "s")
        assert await fs.islink(tmp_path / "s")
        assert sorted(await fs.listdir(tmp_path)) == ["c", "d", "s"]
        await fs.unlink(tmp_path / "d" / "b")
        await fs.rmdir(tmp_path / "d")
        async with aiouring.open(tmp_path / "c", "r+b") as f:
            await fs.fallocate(f, 0, 8192)
            await fs.fadvise(f, 0, 0, os.POSIX_FADV_SEQUENTIAL)
            await fs.fsync(f)
            await fs.fdatasync(f)
        assert os.path.getsize(tmp_path / "c") == 8192
        big = os.urandom(300_000)
        await fs.write_bytes(p, big)
        assert await fs.read_bytes(p) == big            # past one chain's buffer
        with open(p, "rb") as src, open(tmp_path / "copy", "wb") as dst:
            assert await fs.sendfile(dst, src, 10, 10 ** 6) == len(big) - 10
        assert (tmp_path / "copy").read_bytes() == big[10:]
    on_loop(main())


def test_large_read_is_split_and_matches(on_loop, tmp_path):
    p = tmp_path / "big"
    data = os.urandom(5 * 1024 * 1024 + 123)
    p.write_bytes(data)

    async def main():
        async with aiouring.open(p, "rb") as f:
            assert await f.read() == data
            await f.seek(1000)
            assert await f.read(3 * 1024 * 1024) == data[1000:1000 + 3 * 1024 * 1024]
    on_loop(main())


def test_o_direct_with_aligned_buffers(on_loop, tmp_path):
    p = tmp_path / "direct"
    data = os.urandom(64 * 1024)
    p.write_bytes(data)

    async def main():
        try:
            f = await aiouring.open(p, "rb", buffering=0, flags=os.O_DIRECT)
        except OSError as exc:
            pytest.skip(f"O_DIRECT not supported here: {exc}")
        async with f:
            assert await f.read(8192) == data[:8192]
            buf = aiouring.ops.buffer(4096)
            assert await f.readinto(buf) == 4096
            assert bytes(buf) == data[8192:12288]
    on_loop(main())


@pytest.mark.parametrize("started", [False, True])
def test_cancelled_read_leaves_position(on_loop, tmp_path, started):
    """A file opened by name keeps its own position: a read cancelled before
    or while its request (or thread) runs leaves it where it was."""
    async def main():
        p = tmp_path / "f"
        p.write_bytes(b"0123456789")
        for buffering in (0, -1):
            async with aiouring.open(p, "rb", buffering=buffering) as f:
                assert await f.read(3) == b"012"
                task = asyncio.ensure_future(f.read(4))
                if started:
                    await asyncio.sleep(0)      # submitted / handed to a thread
                task.cancel()
                try:
                    got = await task            # it may have finished first
                except asyncio.CancelledError:
                    got = b""
                assert await f.tell() == 3 + len(got)
                assert await f.read() == b"3456789"[len(got):]
    on_loop(main())


def test_ten_thousand_small_files_without_fd_leaks(on_loop, tmp_path):
    count = 1_000 if on_loop.threads else 10_000
    files = []
    for i in range(count):
        p = tmp_path / f"{i}"
        p.write_bytes(b"%d" % i)
        files.append(p)
    on_loop(asyncio.sleep(0))       # the loop's own descriptors exist from here
    fds_before = len(os.listdir("/proc/self/fd"))

    async def main():
        sem = asyncio.Semaphore(64)

        async def one(i, p):
            async with sem:
                if i % 2:
                    assert await aiouring.read_bytes(p) == b"%d" % i
                else:
                    async with aiouring.open(p, "rb") as f:
                        assert await f.read() == b"%d" % i
        await asyncio.gather(*(one(i, p) for i, p in enumerate(files)))
        if not on_loop.threads:
            assert asyncio.get_running_loop()._link_stats()["direct_descriptors"] == 0
    on_loop(main())
    assert len(os.listdir("/proc/self/fd")) == fds_before


def test_backend_follows_the_running_loop(on_loop, tmp_path):
    """io_uring on aiouring's loop, the executor on any other; what only a
    ring can do (chains) still says it needs aiouring's loop."""
    async def main():
        kind = aiouring.backend.current().kind
        assert kind == ("thread" if on_loop.threads else "ring")
        async with aiouring.open(tmp_path / "x", "w") as f:
            assert f.buffer.raw._backend.kind == kind
        if on_loop.threads:
            with pytest.raises(RuntimeError, match="aiouring loop"):
                await aiouring.chain(aiouring.ops.nop())
    on_loop(main())


def test_files_on_tmpfs_where_nowait_reads_are_refused(on_loop):
    """tmpfs answers RWF_NOWAIT reads with EOPNOTSUPP: reads retry without it."""
    import tempfile
    assert os.path.ismount("/dev/shm")
    directory = tempfile.mkdtemp(dir="/dev/shm")
    path = os.path.join(directory, "data.bin")
    payload = os.urandom(3 * 1024 * 1024 + 5)      # also a split read (> 1 MiB)

    async def main():
        await aiouring.write_bytes(path, payload)
        assert await aiouring.read_bytes(path) == payload
        async with aiouring.open(path, "rb") as f:
            assert await f.read(10) == payload[:10]
            await f.seek(4096)
            assert await f.read() == payload[4096:]
        async with aiouring.open(path, "rb", buffering=0) as f:
            buf = bytearray(100)
            assert await f.readinto(buf) == 100 and bytes(buf) == payload[:100]
    try:
        on_loop(main())
    finally:
        os.unlink(path)
        os.rmdir(directory)
