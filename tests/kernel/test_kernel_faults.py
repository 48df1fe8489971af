"""The kernel path under faults (Linux 7.1+, run in the guest): 64 chains in
flight at once, cancellation mid-chain, a loop closed mid-chain, programs
that never submit or never finish, requests outside what was handed over.
Each must leave no kernel warning in the log, no chain slot taken, no
descriptor open and no buffer held."""

import asyncio
import errno
import os
import socket
import time

import pytest

import aiouring
import aiouring.bpf as bpf

from test_user_programs import misbehaving  # noqa: F401 -- the misbehaving bundle


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


@pytest.fixture
def clean_kernel_log():
    """Fails the test if the kernel logged a warning while it ran."""
    before = len(kernel_messages())
    assert before > 0                     # the boot messages: the log is readable
    yield
    new = kernel_messages()[before:]
    bad = [r for r in new if any(w in r for w in ("WARNING", "BUG:", "Oops", "Call Trace"))]
    assert not bad, bad


def open_fds():
    return len(os.listdir("/proc/self/fd"))


def test_64_fanned_out_chains_in_flight_at_once(clean_kernel_log):
    """64 kernel chains, each with 8 reads in flight on a pipe, all at once:
    every slot taken, every one completes when its data arrives."""
    async def main():
        loop = asyncio.get_running_loop()
        await bpf.nop_chain(1, path="kernel")
        fds = open_fds()
        pipes = [os.pipe() for _ in range(64)]
        buffers = [bytearray(8 * 16) for _ in range(64)]
        chains = [bpf.start("multi_read", 8, 16, buffers=[buffers[i], bytes(64)],
                            files=[pipes[i][0]], context=32, path="kernel")
                  for i in range(64)]
        waiting = [asyncio.ensure_future(_await(c)) for c in chains]
        await asyncio.sleep(0.05)
        taken = loop._program_stats()["program_ring"]
        for i, (_r, w) in enumerate(pipes):
            os.write(w, bytes([i]) * 128)
        results = await asyncio.gather(*waiting)
        for r, w in pipes:
            os.close(r)
            os.close(w)
        for b in buffers:
            b.extend(b"!")                  # none is held any more
        return taken, results, buffers, loop._program_stats()["program_ring"], open_fds() - fds

    taken, results, buffers, after, leaked = aiouring.run(main())
    assert taken["slots_free"] == 0 and taken["inflight"] == 64 * 8
    assert [int(r) for r in results] == [8] * 64
    assert all(r.path == "kernel" for r in results)
    assert all(bytes(b[:128]) == bytes([i]) * 128 for i, b in enumerate(buffers))
    assert after["slots_free"] == 64 and after["inflight"] == 0
    assert leaked == 0


async def _await(awaitable):
    return await awaitable


def test_cancelling_chains_mid_way_frees_slots_descriptors_and_buffers(clean_kernel_log,
                                                                        tmp_path):
    async def main():
        loop = asyncio.get_running_loop()
        await bpf.nop_chain(1, path="kernel")
        fds = open_fds()
        pairs = [socket.socketpair() for _ in range(16)]
        buffers = [bytearray(64) for _ in range(16)]
        tasks = [asyncio.ensure_future(bpf.run("read_frame", 60, buffers=[buffers[i]],
                                               files=[pairs[i][0]], path="kernel"))
                 for i in range(16)]
        await asyncio.sleep(0.05)
        for t in tasks:
            t.cancel()
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
        for b in buffers:
            b.extend(b"!")
        for a, b in pairs:
            a.close()
            b.close()
        return outcomes, loop._program_stats()["program_ring"], open_fds() - fds

    outcomes, ring, leaked = aiouring.run(main())
    assert all(isinstance(o, asyncio.CancelledError) for o in outcomes)
    assert ring["slots_free"] == 64 and ring["inflight"] == 0
    assert leaked == 0


def test_closing_the_loop_mid_chain_leaves_nothing_behind(clean_kernel_log, tmp_path):
    (tmp_path / "f").write_bytes(b"x" * 100)
    fds = open_fds()
    pairs = [socket.socketpair() for _ in range(8)]
    loop = aiouring.new_event_loop()
    try:
        async def start():
            tasks = [asyncio.ensure_future(bpf.read_frame(a, path="kernel")) for a, _ in pairs]
            await asyncio.sleep(0.05)
            return tasks

        tasks = loop.run_until_complete(start())
        assert not any(t.done() for t in tasks)
        started = time.monotonic()
    finally:
        loop.close()
    elapsed = time.monotonic() - started
    for a, b in pairs:
        a.close()
        b.close()
    assert elapsed < 5
    assert open_fds() == fds          # the program ring and its descriptors are gone


def test_programs_that_never_submit_or_never_finish(clean_kernel_log, misbehaving):  # noqa: F811 -- the fixture
    async def main():
        loop = asyncio.get_running_loop()
        loop.bpf.register(misbehaving)
        codes = []
        for _ in range(3):
            for name, kwargs in (("idle", {}), ("spin", {"max_steps": 500}),
                                 ("bad_opcode", {})):
                with pytest.raises(OSError) as info:
                    await bpf.run(name, path="kernel", **kwargs)
                codes.append(info.value.errno)
        with pytest.raises(OSError) as info:
            await bpf.run("spin", path="kernel")          # 2**20 steps, in the kernel
        codes.append(info.value.errno)
        codes.append(await bpf.nop_chain(4, path="kernel"))
        return codes, loop._program_stats()["program_ring"]

    codes, ring = aiouring.run(main())
    assert codes == [errno.EIO, errno.ELOOP, errno.EINVAL] * 3 + [errno.ELOOP, 4]
    assert ring["slots_free"] == 64 and ring["inflight"] == 0 and ring["refused"] == 0


def test_requests_outside_what_was_handed_over_never_reach_the_kernel(clean_kernel_log,
                                                                      misbehaving, tmp_path):  # noqa: F811 -- the fixture
    """The dispatcher refuses them before submitting: the program ring's
    request count does not move."""
    (tmp_path / "f").write_bytes(b"y" * 8192)

    async def main():
        loop = asyncio.get_running_loop()
        loop.bpf.register(misbehaving)
        await bpf.nop_chain(1, path="kernel")
        before = loop._program_stats()["program_ring"]["requests"]
        codes = []
        with open(tmp_path / "f", "rb") as f:
            for args in ((0, 3, 0), (1, 4000, 200), (1, 0xFFFFFFF0, 0x20), (2, 1, 0),
                         (3, 5, 0), (4, 0, 0), (5, 0, 0), (7, 9, 0)):
                with pytest.raises(bpf.ChainRequestError) as info:
                    await bpf.run("misuse", *args, buffers=[bytearray(4096), b"abc"], files=[f],
                                  path="kernel")
                codes.append(info.value.errno)
        after = loop._program_stats()["program_ring"]["requests"]
        return codes, after - before

    codes, submitted = aiouring.run(main())
    assert codes == [errno.EFAULT] * 4 + [errno.EBADF, errno.EFAULT, errno.EBUSY, errno.EBADF]
    assert submitted == 0
