"""Chains never let the kernel touch memory or files the caller did not hand
over for the chain's whole life: a chain that fails while being built submits
nothing, built steps cannot be altered, a step used twice does not leak its
buffer export, and values the SQE cannot carry are refused rather than
truncated or misread. Chains are aiouring's: every test runs on aiouring.

Tests that could corrupt memory run the dangerous part in a child process and
check how it ended."""

import asyncio
import math
import mmap
import os
import warnings

import pytest

import aiouring
from aiouring import ops
from child_process import run_python

pytestmark = [pytest.mark.aiouring_only("chains are aiouring's"), pytest.mark.timeout(120)]

MAP_NORESERVE = getattr(mmap, "MAP_NORESERVE", 0x4000)     # Linux's value


def run(coro):
    return aiouring.run(coro)


def inflight(loop):
    return loop._ring_stats()["inflight"]


# -- a chain that fails while it is built ----------------------------------

def test_failed_build_submits_no_step():
    async def main():
        loop = asyncio.get_running_loop()
        r, w = os.pipe()
        try:
            buf = bytearray(16)
            before = inflight(loop)
            with pytest.raises((OverflowError, ValueError)):
                aiouring.chain(ops.read(r, buf), ops.read(2 ** 40, 10))
            await asyncio.sleep(0.05)       # a queued step would be submitted now
            assert inflight(loop) == before
            os.write(w, b"pipe data")
            await asyncio.sleep(0.05)
            assert buf == bytearray(16), "the failed chain's first step read into buf"
            os.set_blocking(r, False)
            assert os.read(r, 100) == b"pipe data"
        finally:
            os.close(r)
            os.close(w)
    run(main())


def test_failed_build_leaves_nothing_for_close_to_wait_for():
    loop = aiouring.new_event_loop()
    r, w = os.pipe()
    try:
        async def fail_to_build():
            with pytest.raises((OverflowError, ValueError)):
                # The stray step is not the chain's first: close()'s cancel
                # of the chain does not reach it.
                aiouring.chain(ops.nop(), ops.read(r, 10), ops.read(2 ** 40, 10))
            await asyncio.sleep(0.05)
        loop.run_until_complete(fail_to_build())
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            t0 = loop.time()
            loop.close()
            elapsed = loop.time() - t0
        left = [w for w in caught if "request(s)" in str(w.message)]
        assert not left, left[0].message
        assert elapsed < 0.5, f"close() waited {elapsed:.2f} s for a stray request"
    finally:
        loop.close()
        os.close(r)
        os.close(w)


def test_failed_build_releases_the_buffers():
    async def main():
        r, w = os.pipe()
        try:
            buf = bytearray(16)
            with pytest.raises((OverflowError, ValueError)):
                aiouring.chain(ops.read(r, buf), ops.read(2 ** 40, 10))
            buf.extend(b"resizable")        # no export left behind
        finally:
            os.close(r)
            os.close(w)
    run(main())


FREED_BUFFER_PROGRAM = """
    import asyncio, os, aiouring
    from aiouring import ops

    async def main():
        r, w = os.pipe()
        buf = bytearray(4096)
        try:
            aiouring.chain(ops.read(r, buf), ops.read(2 ** 40, 10))
        except (OverflowError, ValueError):
            pass
        # The failed build released buf's export: growing it moves its data
        # and frees the old memory, which same-sized bytearrays then take.
        buf.extend(bytes(1 << 16))
        others = [bytearray(4096) for _ in range(64)]
        await asyncio.sleep(0.05)
        os.write(w, b"X" * 4096)
        await asyncio.sleep(0.05)
        print("overwritten", sum(1 for other in others if b"X" in other))
    aiouring.run(main())
"""


def test_failed_build_never_writes_into_freed_memory(tmp_path):
    rc, out, err = run_python(FREED_BUFFER_PROGRAM, tmp_path)
    assert rc == 0, f"child died ({rc}): {err[-2000:]}"
    assert out.split() == ["overwritten", "0"]


# -- steps are immutable once built -----------------------------------------

STEP_FIELDS = ["name", "opcode", "fd", "fd_in", "buffer", "path", "path2", "length",
               "offset", "offset_in", "op_flags", "length_is_fd", "direct", "hardlink",
               "implied", "short_fails", "addr_value", "buffers", "result_kind",
               "implied_result"]


@pytest.mark.parametrize("field", STEP_FIELDS)
def test_built_step_refuses_every_assignment(field, tmp_path):
    (tmp_path / "f").write_bytes(b"data")
    steps = [ops.openat(tmp_path / "f"), ops.read(0, bytearray(4)), ops.fallocate(0, 0, 0, 1),
             ops.renameat(tmp_path / "a", tmp_path / "b"), ops.readv(0, [bytearray(2)]),
             ops.splice(0, -1, 1, -1, 10)]
    for step in steps:
        if not hasattr(step, field):
            continue        # not part of this step's public face: nothing to alter
        with pytest.raises((AttributeError, TypeError)):
            setattr(step, field, getattr(step, field))


def test_a_built_step_still_exposes_something():
    """Guards the test above: it must not pass only because no field exists."""
    assert any(hasattr(ops.read(0, 4), field) for field in ("name", "opcode", "fd"))


OPCODE_SWAP_PROGRAM = """
    import asyncio, os, aiouring
    from aiouring import ops

    async def main():
        with open("data", "wb") as f:
            f.write(os.urandom(64))
        fd = os.open("data", os.O_RDONLY)
        victim = [1, 2, 3]
        # fallocate puts its length argument into the SQE's addr field.
        step = ops.fallocate(fd, 64, 0, id(victim))
        try:
            step.opcode = ops._OP["READ"]
        except (AttributeError, TypeError):
            print("refused")
            return
        try:
            await aiouring.chain(step)
        except Exception as exc:
            print("failed", type(exc).__name__)
        print("victim", victim)
    aiouring.run(main())
"""


def test_altered_opcode_cannot_write_over_a_python_object(tmp_path):
    rc, out, err = run_python(OPCODE_SWAP_PROGRAM, tmp_path)
    assert rc == 0, f"child died ({rc}): {err[-2000:]}"
    assert "refused" in out or "victim [1, 2, 3]" in out, out


PATH_SWAP_PROGRAM = """
    import asyncio, gc, os, aiouring
    from aiouring import ops

    async def main():
        here = os.getcwd()
        with open("fileA", "w") as f:
            f.write("A")
        with open("fileB", "w") as f:
            f.write("B")
        step = ops.openat(os.path.join(here, "fileA"))
        pending = aiouring.chain(step)              # queued, not yet submitted
        try:
            step.path = b"/"
        except (AttributeError, TypeError):
            print("refused")
        gc.collect()
        # Same size as the freed path: likely to take its memory.
        others = [os.fsencode(os.path.join(here, "fileB")) for _ in range(64)]
        try:
            (fd,) = await pending
        except Exception as exc:
            print("failed", type(exc).__name__)
            return
        print("opened", os.read(fd, 1).decode())
        os.close(fd)
    aiouring.run(main())
"""


def test_reassigned_path_cannot_change_the_file_a_queued_open_opens(tmp_path):
    rc, out, err = run_python(PATH_SWAP_PROGRAM, tmp_path)
    assert rc == 0, f"child died ({rc}): {err[-2000:]}"
    assert "refused" in out.split(), out
    assert "opened A" in out, out


# -- a step used twice ------------------------------------------------------

def test_step_used_twice_in_a_chain_is_refused_or_releases_its_buffer(tmp_path):
    (tmp_path / "f").write_bytes(b"0123456789")

    async def main():
        with open(tmp_path / "f", "rb") as f:
            buf = bytearray(4)
            step = ops.read(f, buf, 0)
            try:
                await aiouring.chain(step, step)
            except ValueError:
                pass
            buf.extend(b"more")         # BufferError while an export is held
            assert len(buf) == 8
    run(main())


# -- values the SQE cannot carry --------------------------------------------

@pytest.mark.parametrize("timeout", [1e30, math.inf])
def test_huge_chain_timeout_is_no_timeout_or_value_error(timeout):
    async def main():
        try:
            pending = aiouring.chain(ops.nop(), timeout=timeout)
        except ValueError:
            return
        assert await pending == [0]
    run(main())


def test_nan_chain_timeout_is_value_error():
    async def main():
        with pytest.raises(ValueError):
            aiouring.chain(ops.nop(), timeout=math.nan).close()
    run(main())


def test_nan_timeout_step_is_value_error():
    with pytest.raises(ValueError):
        ops.timeout(math.nan)
    with pytest.raises(ValueError):
        ops.link_timeout(math.nan)


@pytest.mark.parametrize("seconds", [1e30, math.inf])
def test_huge_timeout_step_is_value_error_or_waits(seconds):
    async def main():
        try:
            step = ops.timeout(seconds)
        except ValueError:
            return
        # A valid step: it is still waiting when the chain's own timeout ends it.
        with pytest.raises(aiouring.ChainTimeoutError):
            await aiouring.chain(step, ops.nop(), timeout=0.05)
    run(main())


def test_read_longer_than_4_gib_is_split_or_refused(tmp_path):
    data = os.urandom(8192)
    (tmp_path / "f").write_bytes(data)
    big = mmap.mmap(-1, 2 ** 32 + 4096,
                    flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | MAP_NORESERVE)

    async def main():
        with open(tmp_path / "f", "rb") as f:
            try:
                pending = aiouring.chain(ops.read(f, big, 0))
            except ValueError:
                return
            try:
                (count,) = await pending
            except aiouring.ChainError as exc:     # a short read of a long request
                count = exc.results[0]
            assert count == len(data)
            assert big[:len(data)] == data
    try:
        run(main())
    finally:
        big.close()
