"""The public API: new_event_loop(), run(), the policy and install(),
features() and errors. (The sysctl that disables io_uring is global, so
its test runs in the Linux 7.x guest: tests/kernel/test_io_uring_disabled.py.)"""

import asyncio
import errno
import subprocess
import sys
import textwrap

import pytest

import aiouring
import no_io_uring


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


def test_run_takes_asyncio_runs_arguments():
    async def main():
        loop = asyncio.get_running_loop()
        return type(loop), loop.get_debug()

    assert aiouring.run(main(), loop_factory=asyncio.SelectorEventLoop,
                        debug=True) == (asyncio.SelectorEventLoop, True)
    coro = main()
    with pytest.raises(TypeError, match="fallback applies to aiouring's own"):
        aiouring.run(coro, loop_factory=asyncio.SelectorEventLoop, fallback="asyncio")
    with pytest.raises(TypeError):          # asyncio.Runner has no such argument
        aiouring.run(coro, no_such_argument=1)
    coro.close()


def test_run_refuses_a_running_loop():
    async def outer():
        coro = asyncio.sleep(0)
        try:
            aiouring.run(coro)
        finally:
            coro.close()

    with pytest.raises(RuntimeError, match="cannot be called from a running event loop"):
        aiouring.run(outer())


@pytest.mark.skipif(sys.version_info < (3, 12),
                    reason="asyncio.run() takes loop_factory from Python 3.12 on")
def test_asyncio_run_with_loop_factory():
    async def main():
        return type(asyncio.get_running_loop())

    assert asyncio.run(main(), loop_factory=aiouring.new_event_loop) is aiouring.Loop


def test_runner_with_loop_factory():
    async def main():
        return isinstance(asyncio.get_running_loop(), aiouring.Loop)

    with asyncio.Runner(loop_factory=aiouring.new_event_loop) as runner:
        assert runner.run(main()) is True
        assert runner.run(main()) is True       # one loop for several runs


@pytest.mark.skipif(sys.version_info >= (3, 16), reason="Python 3.16 has no policies")
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


# Every way in, with every warning an error: Python 3.14 deprecates the
# policy system, and using aiouring's must not warn on 3.11 to 3.15.
NO_WARNINGS_PROGRAM = textwrap.dedent("""
    import asyncio, sys
    import aiouring

    async def kind():
        return type(asyncio.get_running_loop()).__name__

    seen = [aiouring.run(kind())]
    with asyncio.Runner(loop_factory=aiouring.new_event_loop) as runner:
        seen.append(runner.run(kind()))
    if sys.version_info >= (3, 12):
        seen.append(asyncio.run(kind(), loop_factory=aiouring.new_event_loop))
    if sys.version_info < (3, 16):
        policy = aiouring.EventLoopPolicy(fallback="asyncio")
        loop = policy.new_event_loop()
        seen.append(type(loop).__name__)
        loop.close()
        aiouring.install()
        seen.append(asyncio.run(kind()))
    else:
        for name in ("install", "EventLoopPolicy"):
            try:
                getattr(aiouring, name)
            except AttributeError as exc:
                assert "loop_factory=aiouring.new_event_loop" in str(exc), exc
            else:
                raise AssertionError(name + " exists on Python 3.16")
    print(" ".join(seen))
""")


def test_no_warnings_from_any_way_in():
    proc = subprocess.run([sys.executable, "-W", "error", "-X", "dev", "-c",
                           NO_WARNINGS_PROGRAM], capture_output=True, text=True,
                          timeout=60, env=no_io_uring.environ())
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    expected = 2 + (sys.version_info >= (3, 12)) + 2 * (sys.version_info < (3, 16))
    assert proc.stdout.split() == ["Loop"] * expected


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
        for a, _ in pairs:
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


RING_UNAVAILABLE_PROGRAM = textwrap.dedent("""
    import sys
    import aiouring
    try:
        aiouring.new_event_loop()
    except aiouring.RingUnavailableError as exc:
        print(exc.errno, exc.strerror)
        print(aiouring.features()["io_uring"])
        sys.exit(0)
    sys.exit("no error raised")
""")


@pytest.mark.skipif(not no_io_uring.SUPPORTED, reason="the seccomp filter knows "
                    "x86_64 and arm64 only")
@pytest.mark.parametrize("err", [errno.ENOSYS, errno.EPERM])
def test_seccomp_blocking_io_uring_gives_a_clear_error(err):
    proc = subprocess.run(no_io_uring.command(err, sys.executable, "-c",
                                              RING_UNAVAILABLE_PROGRAM),
                          capture_output=True, text=True, timeout=60,
                          env=no_io_uring.environ())
    assert proc.returncode == 0, proc.stderr
    first, second = proc.stdout.splitlines()
    assert first.startswith(str(err))
    assert "seccomp" in first
    assert second == "False"
