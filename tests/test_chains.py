"""Linked chains (aiouring.chain and aiouring.ops): one wake-up per chain,
failures in every position, timeouts, cancellation, hardlinks, direct
descriptors. These are aiouring features: each test runs on an aiouring loop."""

import asyncio
import errno
import os

import pytest

import aiouring
from aiouring import ops


def run(coro):
    return aiouring.run(coro)


def wakeups(loop):
    return loop._ring_stats()["completions_to_python"]


@pytest.mark.parametrize("length", [1, 2, 4, 16, 64])
def test_chain_of_any_length_costs_one_completion(length):
    async def main():
        loop = asyncio.get_running_loop()
        before = wakeups(loop)
        results = await aiouring.chain(*(ops.nop() for _ in range(length)))
        assert results == [0] * length
        assert wakeups(loop) - before == 1
    run(main())


@pytest.mark.parametrize("position", range(4))
def test_failure_in_each_position_names_the_step(position):
    async def main():
        loop = asyncio.get_running_loop()
        steps = [ops.nop() for _ in range(4)]
        steps[position] = ops.read(-1 - 1000, 10)       # EBADF
        before = wakeups(loop)
        with pytest.raises(aiouring.ChainError) as info:
            await aiouring.chain(*steps)
        exc = info.value
        assert exc.step == position and exc.errno == errno.EBADF
        assert exc.step_name == "read"
        assert exc.results[:position] == [0] * position
        assert isinstance(exc.results[position], OSError)
        assert exc.results[position + 1:] == [aiouring.CANCELLED] * (3 - position)
        assert wakeups(loop) - before == 1
    run(main())


def test_hardlink_runs_the_next_step_after_a_failure():
    async def main():
        with pytest.raises(aiouring.ChainError) as info:
            await aiouring.chain(ops.read(-1000, 1, hardlink=True), ops.nop(), ops.nop())
        assert info.value.step == 0
        assert info.value.results[1:] == [0, 0]
    run(main())


def test_whole_chain_timeout(tmp_path):
    async def main():
        r, w = os.pipe()
        try:
            t0 = asyncio.get_running_loop().time()
            with pytest.raises(aiouring.ChainTimeoutError) as info:
                await aiouring.chain(ops.nop(), ops.read(r, 10), ops.nop(), timeout=0.05)
            assert asyncio.get_running_loop().time() - t0 < 2
            assert info.value.step == 1
            assert isinstance(info.value, TimeoutError)
            assert info.value.results == [0, info.value.results[1], aiouring.CANCELLED]
        finally:
            os.close(r)
            os.close(w)
    run(main())


def test_link_timeout_guards_one_step():
    async def main():
        r, w = os.pipe()
        try:
            with pytest.raises(aiouring.ChainTimeoutError) as info:
                await aiouring.chain(ops.read(r, 10), ops.link_timeout(0.05), ops.nop())
            assert info.value.step == 0
            # In time: the timeout never fires.
            os.write(w, b"0123456789")
            results = await aiouring.chain(ops.read(r, 10), ops.link_timeout(5), ops.nop())
            assert results[0] == b"0123456789"
        finally:
            os.close(r)
            os.close(w)
    run(main())


def test_timeout_step_does_not_break_the_chain():
    async def main():
        assert await aiouring.chain(ops.timeout(0.01), ops.nop()) == [None, 0]
    run(main())


def test_cancellation_in_flight_cancels_and_reports():
    async def main():
        loop = asyncio.get_running_loop()
        r, w = os.pipe()
        try:
            task = asyncio.ensure_future(aiouring.chain(
                ops.openat(__file__, direct=True), ops.read(r, 10), ops.nop()))
            await asyncio.sleep(0.02)
            task.cancel()
            with pytest.raises(aiouring.ChainCancelledError) as info:
                await task
            assert info.value.results[0] is None        # the direct open had succeeded
            assert info.value.results[2] is aiouring.CANCELLED
            assert task.cancelled()
            await asyncio.sleep(0.01)
            assert loop._link_stats()["direct_descriptors"] == 0
        finally:
            os.close(r)
            os.close(w)
    run(main())


def test_direct_descriptor_shared_by_steps(tmp_path):
    path = tmp_path / "data"
    path.write_bytes(b"abcdef" * 1000)

    async def main():
        loop = asyncio.get_running_loop()
        f = ops.openat(path, direct=True)
        results = await aiouring.chain(f, ops.read(f, 6, 0), ops.read(f, 6, 6000 - 6),
                                       ops.close(f))
        assert results == [None, b"abcdef", b"abcdef", 0]
        assert loop._link_stats()["direct_descriptors"] == 0
        # Without a close step the chain closes the descriptor itself.
        f = ops.openat(path, direct=True)
        assert (await aiouring.chain(f, ops.read(f, 3, 0)))[1] == b"abc"
        await asyncio.sleep(0.01)
        assert loop._link_stats()["direct_descriptors"] == 0
    run(main())


def test_failed_direct_open_cancels_the_rest(tmp_path):
    async def main():
        f = ops.openat(tmp_path / "missing", direct=True)
        with pytest.raises(aiouring.ChainError) as info:
            await aiouring.chain(f, ops.read(f, 10), ops.close(f))
        assert info.value.errno == errno.ENOENT and info.value.step == 0
        assert asyncio.get_running_loop()._link_stats()["direct_descriptors"] == 0
    run(main())


def test_shared_registered_buffer_copies_between_files(tmp_path):
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.write_bytes(bytes(range(256)) * 16)

    async def main():
        buf = ops.buffer(4096)
        f = ops.openat(src, direct=True)
        g = ops.openat(dst, os.O_WRONLY | os.O_CREAT, 0o644, direct=True)
        await aiouring.chain(f, g, ops.read(f, buf, 0), ops.write(g, buf, 0),
                             ops.close(f), ops.close(g))
        assert buf.index >= 0       # it was used as a fixed buffer
    run(main())
    assert dst.read_bytes() == src.read_bytes()


def test_file_ops_in_a_chain(tmp_path):
    async def main():
        d = tmp_path / "d"
        results = await aiouring.chain(
            ops.mkdirat(d), ops.symlinkat("target", d / "link"),
            ops.renameat(d / "link", d / "link2"), ops.statx(d),
            ops.unlinkat(d / "link2"), ops.unlinkat(d, ops.AT_REMOVEDIR))
        assert results[3].st_mode & 0o40000
        assert not d.exists()
    run(main())


def test_splice_and_socket_steps():
    async def main():
        import socket
        a, b = socket.socketpair()
        try:
            results = await aiouring.chain(ops.send(a, b"ping"), ops.recv(b, 10),
                                           ops.shutdown(a, socket.SHUT_WR))
            assert results[1] == b"ping"
        finally:
            a.close()
            b.close()
    run(main())


def test_steps_must_come_from_ops_and_not_be_reused():
    async def main():
        with pytest.raises(TypeError):
            await aiouring.chain("nop")
        f = ops.openat(__file__, direct=True)
        with pytest.raises(ValueError):
            await aiouring.chain(ops.read(f, 1))        # f is not in this chain
    run(main())


def test_chain_needs_an_aiouring_loop():
    async def main():
        with pytest.raises(RuntimeError, match="aiouring loop"):
            aiouring.chain(ops.nop())
    asyncio.run(main())


def test_direct_descriptors_under_the_usual_open_file_limit():
    """The kernel caps the registered file table at RLIMIT_NOFILE: with the
    common soft limit of 1024 direct opens still work."""
    import resource
    import subprocess
    import sys
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    code = ("import aiouring\nfrom aiouring import ops\n"
            "async def main():\n"
            "    f = ops.openat(__import__('sys').executable, direct=True)\n"
            "    _, data, _ = await aiouring.chain(f, ops.read(f, 4), ops.close(f))\n"
            "    print(data)\n"
            "aiouring.run(main())\n")
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (min(1024, hard), hard)))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == repr(b"\x7fELF")
