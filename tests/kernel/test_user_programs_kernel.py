"""User chain programs in the kernel (Linux 7.1+, run in the guest): a
program built with `python -m aiouring.bpf build` is verified at register()
and runs in the program ring's dispatcher with the same results as
loop-side; one the verifier refuses raises VerifierError with the verifier's
log. The host's tests of user programs (tests/test_user_programs.py) are
collected here again: their kernel parameter runs in this guest."""

import asyncio
import errno
import os
import pathlib

import pytest

import aiouring
import aiouring.bpf as bpf

import program_bundles
from test_user_programs import *        # noqa: F401,F403 -- every path, in this kernel
from test_user_programs import bundle, misbehaving  # noqa: F401 -- their fixtures

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(aiouring.__file__)))
PROGRAMS_DIR = pathlib.Path(__file__).resolve().parent.parent / "programs"


@pytest.fixture(scope="module")
def sum_bundle():
    return program_bundles.bundle("sum_reads")


@pytest.fixture(scope="module")
def oob_bundle():
    return program_bundles.bundle("oob")


async def sum_reads_on(fd, chunk, path):
    return await bpf.run("sum_reads", buffers=[bytearray(chunk)], files=[fd], path=path)


def test_user_program_runs_in_the_kernel(sum_bundle, tmp_path):
    data = os.urandom(50_000)
    (tmp_path / "in.bin").write_bytes(data)

    async def main():
        loop = asyncio.get_running_loop()
        assert loop.bpf.register(sum_bundle) == ["sum_reads", "spin", "idle", "bad_opcode",
                                                 "misuse"]
        # register() started the program ring with the bundle's dispatcher
        assert loop._program_stats()["program_ring"] is not None
        results = []
        for path in ("kernel", "loop-side", "kernel"):
            with open(tmp_path / "in.bin", "rb") as f:
                results.append(await sum_reads_on(f.fileno(), 4096, path))
        # the built-ins still run in the same dispatcher
        results.append(await bpf.nop_chain(100, path="kernel"))
        with pytest.raises(OSError) as info:
            await sum_reads_on(9999, 4096, "kernel")
        results.append(info.value.errno)
        return results, loop._program_stats()

    results, stats = aiouring.run(main())
    assert results == [len(data)] * 3 + [100, errno.EBADF]
    assert stats["kernel"] == 4 and stats["loop_side"] == 1
    # 13 reads (12 full chunks, a partial one, then EOF) per file read
    assert stats["kernel_steps"] == 2 * 14 + 100 + 1
    assert stats["loop_side_steps"] == 14


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
