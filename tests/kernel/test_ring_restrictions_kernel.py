"""Ring restrictions on Linux 7.x (run in the guest): the loop's ring is
locked there too while chain programs hand over to the program ring; the
program ring is locked to what chain programs may issue; the io_uring BPF
filters (IORING_REGISTER_BPF_FILTER, Linux 7.0+) refuse the SQEs a policy's
filter refuses."""

import asyncio
import errno
import os
import pathlib

import pytest

import aiouring
import program_bundles
import aiouring.bpf as bpf
from aiouring import ops
from aiouring.restrictions import RingPolicy, set_ring_policy

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(aiouring.__file__)))
PROGRAMS_DIR = pathlib.Path(__file__).resolve().parent.parent / "programs"
NOP, SOCKET = 0, 45
WRITING = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


@pytest.fixture
def process_policy():
    yield set_ring_policy
    set_ring_policy(None)


def test_the_loop_ring_is_restricted_and_chains_still_run_in_the_kernel():
    found = aiouring.features()
    assert found["ring_restricted"] is True and found["bpf_loop"] is True

    async def main():
        return await bpf.nop_chain(5, path="kernel")

    assert aiouring.run(main()) == 5
    loop = aiouring.new_event_loop()
    try:
        assert loop._ring._submit_bare_sqe(SOCKET) == -errno.EACCES
    finally:
        loop.close()


@pytest.fixture(scope="module")
def any_opcode():
    return program_bundles.bundle("any_opcode")


@pytest.mark.parametrize("path", ["kernel", "loop-side"])
def test_a_chain_program_is_held_to_the_policy(any_opcode, process_policy, path):
    """An opcode the dispatcher accepts from a program (NOP) still meets the
    loop's policy on the program ring: narrowed, it fails with EACCES on
    either path."""
    async def main():
        asyncio.get_running_loop().bpf.register(any_opcode)
        try:
            return await bpf.run("any_opcode", NOP, path=path)
        except OSError as refused:
            return -refused.errno

    assert aiouring.run(main()) == 0
    process_policy(RingPolicy().deny("NOP"))
    assert aiouring.run(main()) == -errno.EACCES


@pytest.mark.parametrize("path", ["kernel", "loop-side"])
def test_a_chain_program_is_held_to_the_policy_filters(any_opcode, process_policy, path):
    """A filter of the loop's policy holds on the program ring too: the
    same request is refused on either path."""
    refuse_every_request = ((0x06, 0, 0, 0),)
    process_policy(RingPolicy().with_filter("NOP", refuse_every_request))

    async def main():
        asyncio.get_running_loop().bpf.register(any_opcode)
        with pytest.raises(OSError) as refused:
            await bpf.run("any_opcode", NOP, path=path)
        return refused.value.errno

    assert aiouring.run(main()) == errno.EACCES


def test_bpf_filters_are_there():
    assert aiouring.features()["bpf_filters"] is True


def test_an_open_flags_filter_refuses_opening_for_writing(tmp_path, process_policy):
    path = tmp_path / "data.bin"
    path.write_bytes(b"read me")
    process_policy(RingPolicy().deny_open_flags(WRITING))

    async def main():
        async with aiouring.open(path, "rb") as f:
            content = await f.read()
        with pytest.raises(PermissionError):
            await aiouring.open(path, "wb")
        with pytest.raises(aiouring.ChainError) as refused:
            await aiouring.chain(ops.openat(path, os.O_WRONLY))
        return content, refused.value.errno

    assert aiouring.run(main()) == (b"read me", errno.EACCES)
    assert path.read_bytes() == b"read me"
    with open(path, "ab") as f:           # the filter is the ring's, not the process's
        f.write(b"!")


def test_a_filter_program_decides_per_request():
    # Refuses a NOP with IOSQE_IO_LINK: the second byte of the context's
    # word at offset 8 holds the SQE flags.
    linked_nop = ((0x20, 0, 0, 8), (0x45, 0, 1, 0x4 << 8), (0x06, 0, 0, 0), (0x06, 0, 0, 1))
    ring = aiouring._ring.Ring(RingPolicy().with_filter("NOP", linked_nop))
    try:
        assert ring._submit_bare_sqe(NOP) == 0
        assert ring._submit_bare_sqe(NOP, 0x4) == -errno.EACCES
    finally:
        ring.close()
    ring = aiouring._ring.Ring(RingPolicy())
    try:
        assert ring._submit_bare_sqe(NOP, 0x4) == 0
    finally:
        ring.close()
