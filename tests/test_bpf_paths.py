"""Choosing where chain programs run, on any kernel: the kernel path is
refused with a reason where it does not exist, and loop-side always works.
(The kernel path itself is tested in tests/kernel/, in a Linux 7.x guest.)"""

import asyncio

import pytest

import aiouring
import aiouring.bpf as bpf

FEATURES = aiouring.features()
no_kernel_path = pytest.mark.skipif(FEATURES["bpf_loop"], reason="this kernel has the kernel path")


def test_features_say_why_there_is_no_kernel_path():
    assert isinstance(FEATURES["bpf_loop"], bool)
    if FEATURES["bpf_loop"]:
        assert FEATURES["bpf_loop_reason"] is None
    else:
        assert FEATURES["bpf_loop_reason"]


@no_kernel_path
def test_forcing_the_kernel_path_raises_with_the_reason():
    async def main():
        with pytest.raises(RuntimeError, match="cannot run in the kernel"):
            await bpf.nop_chain(3, path="kernel")
        return await bpf.nop_chain(3), asyncio.get_running_loop()._program_stats()

    result, stats = aiouring.run(main())
    assert result == 3
    assert stats["loop_side"] == 1 and stats["kernel"] == 0
    assert stats["kernel_unavailable"]
    assert bpf.path() == "loop-side"


def test_loop_side_path_counts_its_steps():
    async def main():
        result = await bpf.nop_chain(7, path="loop-side")
        return result, asyncio.get_running_loop()._program_stats()

    result, stats = aiouring.run(main())
    assert result == 7
    assert stats["loop_side"] == 1 and stats["loop_side_steps"] == 7


def test_unknown_path_is_a_value_error():
    async def main():
        with pytest.raises(ValueError):
            await bpf.nop_chain(1, path="gpu")

    aiouring.run(main())


def test_env_var_forces_a_path(monkeypatch):
    monkeypatch.setenv("AIOURING_BPF", "loop-side")
    assert bpf.path() == "loop-side"

    async def main():
        await bpf.nop_chain(2)
        return asyncio.get_running_loop()._program_stats()

    assert aiouring.run(main())["loop_side"] == 1
