"""User chain programs in the kernel (Linux 7.1+, run in the guest): a
program built with `python -m aiouring.bpf build` is verified at register()
and runs in the program ring's dispatcher with the same results as loop-side;
one the verifier refuses raises VerifierError with the verifier's log."""

import asyncio
import errno
import os
import pathlib
import subprocess
import sys

import pytest

import aiouring
import aiouring.bpf as bpf

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(aiouring.__file__)))

# The programs the host tests run loop-side (tests/test_user_programs.py).
PROGRAMS_DIR = pathlib.Path(__file__).resolve().parent.parent / "programs"


def build(tmp_path_factory, name, *sources):
    directory = tmp_path_factory.mktemp(name)
    subprocess.run([sys.executable, "-m", "aiouring.bpf", "build",
                    *(str(PROGRAMS_DIR / source) for source in sources),
                    "-o", f"{name}.chain"], cwd=directory, check=True,
                   env={**os.environ, "PYTHONPATH": ROOT})
    return directory / f"{name}.chain"


@pytest.fixture(scope="module")
def sum_bundle(tmp_path_factory):
    return build(tmp_path_factory, "sum_reads", "sum_reads.c", "misbehaving.c")


@pytest.fixture(scope="module")
def oob_bundle(tmp_path_factory):
    return build(tmp_path_factory, "oob", "out_of_bounds.c")


async def sum_reads(fd, chunk, path):
    buffer = bytearray(chunk)
    view = memoryview(buffer)
    return await bpf.run("sum_reads", fd, bpf.buffer_address(buffer), chunk,
                         keepalive=(buffer, view), path=path)


def test_user_program_runs_in_the_kernel(sum_bundle, tmp_path):
    data = os.urandom(50_000)
    (tmp_path / "in.bin").write_bytes(data)

    async def main():
        loop = asyncio.get_running_loop()
        assert loop.bpf.register(sum_bundle) == ["sum_reads", "spin", "idle", "bad_sqe", "twice"]
        # register() started the program ring with the bundle's dispatcher
        assert loop._program_stats()["program_ring"] is not None
        results = []
        for path in ("kernel", "loop-side", None):
            with open(tmp_path / "in.bin", "rb") as f:
                results.append(await sum_reads(f.fileno(), 4096, path))
        # the built-ins still run in the same dispatcher
        results.append(await bpf.nop_chain(100, path="kernel"))
        with pytest.raises(OSError) as info:
            await sum_reads(9999, 4096, "kernel")
        results.append(info.value.errno)
        return results, loop._program_stats()

    results, stats = aiouring.run(main())
    assert results == [len(data)] * 3 + [100, errno.EBADF]
    assert stats["kernel"] == 4 and stats["loop_side"] == 1
    # 13 reads (12 full chunks, a partial one, then EOF) per file read
    assert stats["kernel_steps"] == 2 * 14 + 100 + 1
    assert stats["loop_side_steps"] == 14


def test_user_runaway_and_double_request_end_with_errors_in_the_kernel(sum_bundle):
    async def main():
        loop = asyncio.get_running_loop()
        loop.bpf.register(sum_bundle)
        with pytest.raises(OSError) as info:
            await bpf.run("spin", max_steps=50, path="kernel")
        assert info.value.errno == errno.ELOOP
        for path in ("kernel", "loop-side"):
            with pytest.raises(OSError) as info:
                await bpf.run("twice", path=path)
            assert info.value.errno == errno.EINVAL
        assert await bpf.nop_chain(3, path="kernel") == 3
        return loop._program_stats()

    stats = aiouring.run(main())
    assert stats["kernel"] == 3 and stats["loop_side"] == 1
    assert stats["program_ring"]["slots_free"] == 64


def test_register_replaces_an_idle_program_ring(sum_bundle):
    async def main():
        loop = asyncio.get_running_loop()
        assert await bpf.nop_chain(5, path="kernel") == 5   # built-in dispatcher
        first = loop._program_stats()["program_ring"]["fd"]
        loop.bpf.register(sum_bundle)
        second = loop._program_stats()["program_ring"]["fd"]
        with pytest.raises(OSError) as info:
            await bpf.run("spin", max_steps=5, path="kernel")
        return first, second, info.value.errno, loop._program_stats()

    first, second, code, stats = aiouring.run(main())
    assert code == errno.ELOOP
    assert stats["kernel"] == 2          # the replaced ring's chain still counts
    assert stats["kernel_steps"] == 5 + 5
    assert stats["loop_side"] == 0


def test_verifier_rejection_raises_verifier_error_with_the_log(oob_bundle):
    async def main():
        loop = asyncio.get_running_loop()
        with pytest.raises(bpf.VerifierError) as info:
            loop.bpf.register(oob_bundle)
        # nothing registered; the built-ins still run in the kernel
        assert "oob" not in bpf.program_names()
        assert await bpf.nop_chain(10, path="kernel") == 10
        return info.value

    error = aiouring.run(main())
    assert isinstance(error, bpf.ChainProgramError)
    assert error.log and error.log in str(error)
    assert "BEGIN PROG LOAD LOG" in error.log and "END PROG LOAD LOG" in error.log
    reason = "math between map_value pointer and register with unbounded min value"
    # the first line gives the verifier's reason; the log points at the source
    assert reason in str(error).splitlines()[0], error.log
    assert reason in error.log and "c->var[c->arg[0]] = 1;" in error.log
    assert "out_of_bounds.c:" in error.log


def kernel_messages():
    """The kernel log so far (/dev/kmsg), one record per line."""
    fd = os.open("/dev/kmsg", os.O_RDONLY | os.O_NONBLOCK)
    records = []
    try:
        while True:
            try:
                records.append(os.read(fd, 8192).decode(errors="replace"))
            except BlockingIOError:
                return records
            except BrokenPipeError:      # overwritten records: go on
                continue
    finally:
        os.close(fd)


def test_misbehaving_programs_leave_no_kernel_warning(sum_bundle):
    before = len(kernel_messages())
    assert before > 0                     # the boot messages: the log is readable

    async def main():
        loop = asyncio.get_running_loop()
        loop.bpf.register(sum_bundle)
        codes = []
        for name, kwargs in (("bad_sqe", {}), ("twice", {}), ("spin", {"max_steps": 200})):
            for _ in range(3):
                with pytest.raises(OSError) as info:
                    await bpf.run(name, path="kernel", **kwargs)
                codes.append(info.value.errno)
        codes.append(await bpf.nop_chain(4, path="kernel"))
        return codes, loop._program_stats()["program_ring"]["slots_free"]

    codes, free = aiouring.run(main())
    assert codes == [errno.EINVAL] * 6 + [errno.ELOOP] * 3 + [4]
    assert free == 64
    new = kernel_messages()[before:]
    bad = [r for r in new if any(w in r for w in ("WARNING", "BUG:", "Oops", "Call Trace"))]
    assert not bad, bad
