"""The public API: install(), run(), the policy, features() and errors."""

import asyncio
import errno
import os
import subprocess
import sys
import textwrap

import pytest

import aiouring
import io_uring_blocker


def test_run_uses_an_aiouring_loop_and_closes_it():
    seen = []

    async def main():
        seen.append(asyncio.get_running_loop())
        return "result"

    assert aiouring.run(main()) == "result"
    assert isinstance(seen[0], aiouring.Loop)
    assert seen[0].is_closed()


def test_run_debug_flag():
    async def main():
        return asyncio.get_running_loop().get_debug()

    assert aiouring.run(main(), debug=True) is True


def test_install_makes_asyncio_run_use_aiouring():
    old = asyncio.get_event_loop_policy()
    try:
        aiouring.install()
        assert isinstance(asyncio.get_event_loop_policy(), aiouring.EventLoopPolicy)

        async def main():
            return type(asyncio.get_running_loop())

        assert asyncio.run(main()) is aiouring.Loop
        loop = asyncio.new_event_loop()
        assert isinstance(loop, aiouring.Loop)
        loop.close()
    finally:
        asyncio.set_event_loop_policy(old)


def test_runner_with_loop_factory():
    async def main():
        return isinstance(asyncio.get_running_loop(), aiouring.Loop)

    with asyncio.Runner(loop_factory=aiouring.new_event_loop) as runner:
        assert runner.run(main()) is True


def test_loop_is_an_asyncio_event_loop():
    loop = aiouring.new_event_loop()
    try:
        assert isinstance(loop, asyncio.AbstractEventLoop)
    finally:
        loop.close()


def test_features_reports_the_kernel():
    features = aiouring.features()
    assert features["io_uring"] is True
    assert features["kernel"]
    for op in ("NOP", "READ", "WRITE", "RECV", "SEND", "ACCEPT", "CONNECT",
               "POLL_ADD", "ASYNC_CANCEL", "RECVMSG", "SENDMSG"):
        assert op in features["opcodes"]
    assert "EXT_ARG" in features["features"]
    assert features["loop_setup"] in (
        "single_issuer+defer_taskrun", "coop_taskrun", "plain")
    assert isinstance(features["bpf_ops"], bool)
    release = tuple(int(part) for part in features["kernel"].split(".")[:2])
    assert features["provided_buffer_rings"] is (release >= (5, 19))    # PBUF_RING
    # A copy: callers cannot change what the next call returns.
    features["opcodes"].clear()
    assert aiouring.features()["opcodes"]


def test_loop_uses_the_best_setup_the_kernel_accepts():
    features = aiouring.features()
    loop = aiouring.new_event_loop()
    try:
        setup = loop._ring_stats()["setup"]
    finally:
        loop.close()
    if {"SINGLE_ISSUER", "DEFER_TASKRUN"} <= set(features["setup_flags"]):
        assert setup == "single_issuer+defer_taskrun"
    assert setup == features["loop_setup"]


def test_one_enter_per_iteration_submits_many_operations():
    async def main():
        loop = asyncio.get_running_loop()
        import socket
        pairs = [socket.socketpair() for _ in range(50)]
        for a, b in pairs:
            a.setblocking(False)
            b.setblocking(False)
        before = loop._ring_stats()["enters"]
        receives = [loop.create_task(loop.sock_recv(b, 10)) for a, b in pairs]
        await asyncio.sleep(0)
        for a, b in pairs:
            a.send(b"x")
        results = await asyncio.gather(*receives)
        enters = loop._ring_stats()["enters"] - before
        for a, b in pairs:
            a.close()
            b.close()
        return results, enters

    results, enters = aiouring.run(main())
    assert results == [b"x"] * 50
    assert enters < 20      # 50 receives, not one syscall each


SECCOMP_PROGRAM = textwrap.dedent("""
    import sys
    sys.path.insert(0, {tests!r})
    import io_uring_blocker
    io_uring_blocker.block({err})
    import aiouring
    try:
        aiouring.new_event_loop()
    except aiouring.RingUnavailableError as exc:
        print(exc.errno, exc.strerror)
        print(aiouring.features()["io_uring"])
        sys.exit(0)
    sys.exit("no error raised")
""")


@pytest.mark.skipif(not io_uring_blocker.SUPPORTED,
                    reason="the seccomp filter is written for x86_64")
@pytest.mark.parametrize("err", [errno.ENOSYS, errno.EPERM])
def test_seccomp_blocking_io_uring_gives_a_clear_error(err):
    program = SECCOMP_PROGRAM.format(tests=os.path.dirname(__file__), err=err)
    proc = subprocess.run([sys.executable, "-c", program],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    first, second = proc.stdout.splitlines()
    assert first.startswith(str(err))
    assert "seccomp" in first
    assert second == "False"


def test_disabled_by_sysctl_gives_a_clear_error():
    path = "/proc/sys/kernel/io_uring_disabled"
    try:
        with open(path) as f:
            old = f.read().strip()
        with open(path, "w") as f:
            f.write("2")
    except OSError as exc:
        pytest.skip(f"cannot change {path}: {exc}")
    try:
        with pytest.raises(aiouring.RingUnavailableError) as info:
            aiouring.new_event_loop()
    finally:
        with open(path, "w") as f:
            f.write(old)
    assert info.value.errno == errno.EPERM
    assert "io_uring_disabled" in str(info.value)
    assert isinstance(info.value, OSError)
