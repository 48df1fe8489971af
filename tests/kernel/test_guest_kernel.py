"""Run inside the Linux 7.x guest (tools/kernelvm.py): the kernel really is
one with the io_uring BPF struct_ops, and aiouring's loop works on it."""

import asyncio
import os
import platform

import aiouring


def test_guest_runs_a_kernel_with_io_uring_bpf_ops():
    major, minor = (int(part) for part in platform.release().split(".")[:2])
    assert (major, minor) >= (7, 1)
    features = aiouring.features()
    assert features["bpf_ops"] is True
    assert features["io_uring"] is True
    assert {"SINGLE_ISSUER", "DEFER_TASKRUN"} <= set(features["setup_flags"])


def test_loop_on_the_guest_kernel_uses_defer_taskrun():
    async def main():
        loop = asyncio.get_running_loop()
        await asyncio.sleep(0.001)
        return loop._ring_stats()["setup"]

    assert aiouring.run(main()) == "single_issuer+defer_taskrun"


def test_guest_flag_is_set():
    assert os.environ.get("AIOURING_IN_KERNELVM") == "1"
