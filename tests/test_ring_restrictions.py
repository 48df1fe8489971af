"""A loop's ring is locked, before it is enabled, to the opcodes, SQE flags
and register operations aiouring issues (IORING_REGISTER_RESTRICTIONS):
anything else fails with EACCES in the kernel, chain programs' requests
included; a RingPolicy or AIOURING_RING_RESTRICTIONS widens or narrows the
set. (The rest of the suite runs with the restrictions on: every request
kind the loop issues is allowed.)"""

import asyncio
import ctypes
import errno
import os
import pathlib
import re
import subprocess
import sys

import pytest

import aiouring
import program_bundles
import aiouring.bpf as bpf
from aiouring import ops
from aiouring._ring import Ring
from aiouring.restrictions import RingPolicy, ring_policy, set_ring_policy

NOP, SOCKET, URING_CMD = 0, 45, 46
IOSQE_IO_DRAIN, IOSQE_ASYNC = 2, 16
IORING_REGISTER_PROBE, IORING_REGISTER_PERSONALITY = 8, 9
SYS_IO_URING_REGISTER = 427

ROOT = pathlib.Path(__file__).resolve().parent.parent
PROGRAMS_DIR = ROOT / "tests" / "programs"


@pytest.fixture
def process_policy():
    """set_ring_policy for the test; the default comes back afterwards."""
    yield set_ring_policy
    set_ring_policy(None)


def bare(policy, opcode, flags=0):
    """The CQE res of an SQE with only opcode and flags set, on a new ring."""
    ring = Ring(policy)
    try:
        return ring._submit_bare_sqe(opcode, flags)
    finally:
        ring.close()


def io_uring_register(fd, op):
    libc = ctypes.CDLL(None, use_errno=True)
    ret = libc.syscall(SYS_IO_URING_REGISTER, fd, op, None, 0)
    return ret if ret >= 0 else -ctypes.get_errno()


def test_a_loop_ring_is_locked_to_what_aiouring_issues():
    loop = aiouring.new_event_loop()
    try:
        ring = loop._ring
        assert ring.restricted and ring.policy == RingPolicy() == ring_policy()
        assert ring._submit_bare_sqe(NOP) == 0
        assert ring._submit_bare_sqe(SOCKET) == -errno.EACCES
        assert ring._submit_bare_sqe(URING_CMD) == -errno.EACCES
        assert ring._submit_bare_sqe(NOP, IOSQE_ASYNC) == -errno.EACCES
        assert ring._submit_bare_sqe(NOP, IOSQE_IO_DRAIN) == -errno.EACCES
    finally:
        loop.close()


def test_without_restrictions_the_same_requests_reach_their_operation():
    assert bare(RingPolicy(enabled=False), SOCKET) == -errno.EAFNOSUPPORT    # socket(-1, 0, 0)
    assert bare(RingPolicy(enabled=False), NOP, IOSQE_ASYNC) == 0


def test_a_register_operation_outside_the_policy_fails_with_eacces():
    for policy, expected in ((RingPolicy(), -errno.EACCES),
                             (RingPolicy().allow("REGISTER_PERSONALITY"), None)):
        ring = Ring(policy)
        try:
            assert ring._submit_bare_sqe(NOP) == 0          # enables the ring
            ret = io_uring_register(ring.fd, IORING_REGISTER_PERSONALITY)
            if expected is None:
                assert ret > 0                              # a personality id
            else:
                assert ret == expected
            assert io_uring_register(ring.fd, IORING_REGISTER_PROBE) == -errno.EFAULT \
                if policy.allows("REGISTER_PROBE") else -errno.EACCES
        finally:
            ring.close()


def test_a_policy_widens_and_narrows_the_set(process_policy):
    wider = RingPolicy().allow("SOCKET", "IOSQE_ASYNC")
    assert bare(wider, SOCKET) == -errno.EAFNOSUPPORT
    assert bare(wider, NOP, IOSQE_ASYNC) == 0
    narrower = RingPolicy().deny("nop")
    assert bare(narrower, NOP) == -errno.EACCES

    process_policy(narrower)

    async def nop_chain():
        return await aiouring.chain(ops.nop())

    with pytest.raises(aiouring.ChainError) as info:
        aiouring.run(nop_chain())
    assert (info.value.errno, info.value.step) == (errno.EACCES, 0)
    process_policy(None)
    assert aiouring.run(nop_chain()) is not None


def test_policy_names_take_kernel_prefixes_and_refuse_unknown_names():
    policy = RingPolicy()
    assert policy.allow("IORING_OP_SOCKET") == policy.allow("socket") == policy.allow(SOCKET)
    assert policy.allow("SOCKET").allows("SOCKET") and not policy.allows("SOCKET")
    assert policy.deny("IOSQE_IO_LINK").sqe_flags == tuple(
        f for f in policy.sqe_flags if f != "IO_LINK")
    assert policy.allow("IORING_REGISTER_PROBE").allows("REGISTER_PROBE")
    assert RingPolicy(enabled=False).allows("SOCKET")
    with pytest.raises(ValueError, match="SOKET"):
        policy.allow("SOKET")
    with pytest.raises(ValueError):
        policy.allow(300)
    with pytest.raises(ValueError):
        RingPolicy(opcodes=("IO_LINK",))         # a flag where opcodes go
    with pytest.raises(TypeError):
        set_ring_policy("off")


def run_python(code, **env):
    return subprocess.run([sys.executable, "-c", code], env={**os.environ, **env},
                          capture_output=True, text=True, timeout=60)


PROBE_CODE = """
import aiouring
loop = aiouring.new_event_loop()
ring = loop._ring
print(ring.restricted, ring._submit_bare_sqe(45), ring._submit_bare_sqe(0))
loop.close()
"""


@pytest.mark.parametrize("value,expected", [
    ("", f"True {-errno.EACCES} 0"),
    ("off", f"False {-errno.EAFNOSUPPORT} 0"),
    ("+SOCKET, -NOP", f"True {-errno.EAFNOSUPPORT} {-errno.EACCES}"),
])
def test_the_environment_sets_the_process_default(value, expected):
    done = run_python(PROBE_CODE, AIOURING_RING_RESTRICTIONS=value)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == expected.split()


def test_a_bad_environment_value_is_a_clear_error():
    done = run_python(PROBE_CODE, AIOURING_RING_RESTRICTIONS="SOCKET")
    assert done.returncode == 1
    assert "ValueError: AIOURING_RING_RESTRICTIONS: 'SOCKET' must start with +" in done.stderr


@pytest.fixture(scope="module")
def any_opcode():
    return program_bundles.bundle("any_opcode_native")


def test_chain_program_requests_are_held_to_the_policy(any_opcode, process_policy):
    """An opcode the driver accepts from a program (NOP) still meets the
    ring's policy: narrowed, the request fails with EACCES."""
    async def main():
        asyncio.get_running_loop().bpf.register(any_opcode)
        try:
            return await bpf.run("any_opcode", NOP)
        except OSError as refused:
            return -refused.errno

    assert aiouring.run(main()) == 0
    process_policy(RingPolicy().deny("NOP"))
    assert aiouring.run(main()) == -errno.EACCES


def test_features_report_the_restrictions(process_policy):
    found = aiouring.features()
    assert found["ring_restricted"] is True
    assert found["ring_restrictions"] == RingPolicy().as_dict()
    assert "SOCKET" not in found["ring_restrictions"]["opcodes"]
    process_policy(RingPolicy(enabled=False))
    assert aiouring.features()["ring_restrictions"]["enabled"] is False


# -- every request aiouring writes is in the default set ---------------------

# The opcode each liburing prep function writes.
PREP_OPCODES = {
    "accept": "ACCEPT", "accept_direct": "ACCEPT", "multishot_accept": "ACCEPT",
    "cancel64": "ASYNC_CANCEL",
    "close": "CLOSE", "close_direct": "CLOSE", "connect": "CONNECT", "fadvise": "FADVISE",
    "fallocate": "FALLOCATE", "fsync": "FSYNC", "link_timeout": "LINK_TIMEOUT",
    "linkat": "LINKAT", "mkdirat": "MKDIRAT", "msg_ring": "MSG_RING", "nop": "NOP",
    "openat": "OPENAT", "openat_direct": "OPENAT", "poll_add": "POLL_ADD", "read": "READ",
    "read_fixed": "READ_FIXED", "readv": "READV", "recv": "RECV", "recvmsg": "RECVMSG",
    "renameat": "RENAMEAT", "send": "SEND", "send_zc": "SEND_ZC", "sendmsg": "SENDMSG",
    "shutdown": "SHUTDOWN", "splice": "SPLICE", "statx": "STATX", "symlinkat": "SYMLINKAT",
    "tee": "TEE", "timeout": "TIMEOUT", "unlinkat": "UNLINKAT", "write": "WRITE",
    "write_fixed": "WRITE_FIXED", "writev": "WRITEV",
}


def test_every_request_the_core_writes_is_allowed_by_default():
    policy = RingPolicy()
    sources = [p for p in (ROOT / "src").rglob("*.p*") if p.suffix in (".pyx", ".pxd")
               and "includes" not in p.parts]
    written = set()
    for path in sources:
        text = path.read_text()
        for prep in re.findall(r"\bio_uring_prep_(\w+)\(", text):
            if prep == "rw":
                continue            # the opcode is its first argument
            assert prep in PREP_OPCODES, (
                f"{path.name} writes io_uring_prep_{prep}: add its opcode to "
                "LOOP_OPCODES (src/ring/restrictions.pyx) and to PREP_OPCODES here")
            written.add(PREP_OPCODES[prep])
        written.update(re.findall(r"io_uring_prep_rw\(AIOURING_OP_(\w+)", text))
    assert {"RECV", "SEND", "OPENAT", "READ", "SPLICE", "MSG_RING", "FTRUNCATE"} <= written
    refused = sorted(op for op in written if not policy.allows(op))
    assert not refused, f"the default policy refuses what the core writes: {refused}"


def test_every_opcode_of_the_chain_program_helpers_is_allowed_by_default():
    policy = RingPolicy()
    header = (ROOT / "aiouring" / "bpf" / "chain.h").read_text()
    opcodes = [int(value) for value in re.findall(r"#define CHAIN_OP_\w+ (\d+)", header)]
    assert len(opcodes) >= 5
    assert all(policy.allows(op) for op in opcodes)
    dispatcher = (ROOT / "bpf" / "io_uring_bpf.h").read_text()
    for value in re.findall(r"#define IOU_OP_\w+ (\d+)", dispatcher):
        assert policy.allows(int(value))
