"""The opt-in fallback: where a seccomp filter refuses io_uring, a process
that asked for a fallback (AIOURING_FALLBACK or fallback=) runs on uvloop's
or asyncio's loop and logs why once; one that did not ask still gets
RingUnavailableError. Each case runs in a subprocess under a real seccomp
filter (tests/no_io_uring.py). The sysctl case runs in the Linux 7.x guest
(tests/kernel/test_io_uring_disabled.py)."""

import errno
import signal
import subprocess
import sys
import textwrap

import pytest

import aiouring
import no_io_uring

pytestmark = pytest.mark.skipif(not no_io_uring.SUPPORTED, reason="the seccomp "
                                "filter knows x86_64 and arm64 only")

# Prints the class of every loop each way in gives, one per line.
LOOPS_PROGRAM = textwrap.dedent("""
    import asyncio, logging, sys
    logging.basicConfig(format="%(name)s %(levelname)s %(message)s")
    if "--no-uvloop" in sys.argv:
        sys.modules["uvloop"] = None        # as if uvloop were not installed
    import aiouring

    def name(loop):
        return type(loop).__module__ + "." + type(loop).__qualname__

    async def running():
        return name(asyncio.get_running_loop())

    print(aiouring.run(running()))
    loop = aiouring.new_event_loop()
    print(name(loop))
    loop.close()
    with asyncio.Runner(loop_factory=aiouring.new_event_loop) as runner:
        print(runner.run(running()))
    aiouring.install()
    print(asyncio.run(running()))
""")

UVLOOP = "uvloop.Loop"
ASYNCIO = "asyncio.unix_events._UnixSelectorEventLoop"


def run_without_io_uring(err, program, *args, **env):
    return subprocess.run(no_io_uring.command(err, sys.executable, "-c", program, *args),
                          capture_output=True, text=True, timeout=60,
                          env=no_io_uring.environ(**env))


@pytest.mark.parametrize("err", [errno.ENOSYS, errno.EPERM])
@pytest.mark.parametrize("choice, expected", [("uvloop", UVLOOP), ("asyncio", ASYNCIO)])
def test_environment_variable_selects_the_fallback(err, choice, expected):
    proc = run_without_io_uring(err, LOOPS_PROGRAM, AIOURING_FALLBACK=choice)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [expected] * 4
    # The reason, logged once for the four loops: the error's own message.
    logged = proc.stderr.splitlines()
    assert len(logged) == 1, proc.stderr
    assert logged[0].startswith(f"aiouring WARNING io_uring is unavailable, so this "
                                f"process runs on {expected} (fallback '{choice}'): ")
    assert f"[Errno {err}]" in logged[0] and "seccomp" in logged[0]


def test_uvloop_choice_without_uvloop_uses_asyncio():
    proc = run_without_io_uring(errno.ENOSYS, LOOPS_PROGRAM, "--no-uvloop",
                                AIOURING_FALLBACK="uvloop")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [ASYNCIO] * 4


def test_without_the_opt_in_io_uring_refused_is_an_error():
    proc = run_without_io_uring(errno.EPERM, LOOPS_PROGRAM)
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert "aiouring.errors.RingUnavailableError: [Errno 1]" in proc.stderr
    assert "seccomp" in proc.stderr


PARAMETER_PROGRAM = textwrap.dedent("""
    import asyncio, aiouring
    print(type(aiouring.new_event_loop(fallback="asyncio")).__name__)
    print(type(aiouring.EventLoopPolicy(fallback="asyncio").new_event_loop()).__name__)

    async def main():
        return type(asyncio.get_running_loop()).__name__
    print(aiouring.run(main(), fallback="asyncio"))
    try:
        aiouring.new_event_loop(fallback=False)
    except aiouring.RingUnavailableError as exc:
        print("refused", exc.errno)
""")


def test_parameter_overrides_the_environment():
    proc = run_without_io_uring(errno.ENOSYS, PARAMETER_PROGRAM, AIOURING_FALLBACK="uvloop")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["_UnixSelectorEventLoop"] * 3 + [
        f"refused {errno.ENOSYS}"]


def test_fallback_is_unused_where_io_uring_works(monkeypatch, caplog):
    monkeypatch.setenv("AIOURING_FALLBACK", "uvloop")
    loop = aiouring.new_event_loop()
    try:
        assert isinstance(loop, aiouring.Loop)
    finally:
        loop.close()
    assert not caplog.records


@pytest.mark.parametrize("value", ["uvlop", "yes", "1", "Asyncio"])
def test_unknown_fallback_is_a_clear_error_everywhere(monkeypatch, value):
    monkeypatch.delenv("AIOURING_FALLBACK", raising=False)
    with pytest.raises(ValueError, match=f"fallback={value!r} is not a fallback"):
        aiouring.new_event_loop(fallback=value)
    with pytest.raises(ValueError, match="choose one of uvloop, asyncio"):
        aiouring.EventLoopPolicy(fallback=value)
    coro = aiouring.fs.stat(".")
    with pytest.raises(ValueError):
        aiouring.run(coro, fallback=value)
    coro.close()
    monkeypatch.setenv("AIOURING_FALLBACK", value)
    with pytest.raises(ValueError, match=f"AIOURING_FALLBACK={value!r} is not a fallback"):
        aiouring.new_event_loop()


# The point of the fallback: one image that serves on every host. A real
# uvicorn server, started as its documentation says, under the filter.
ASGI_APP = textwrap.dedent("""
    import asyncio

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        body = type(asyncio.get_running_loop()).__module__.encode()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})
""")


def test_uvicorn_serves_under_seccomp_with_the_fallback(tmp_path):
    from servers import Server, clean_exit, http_get
    (tmp_path / "loopapp.py").write_text(ASGI_APP)
    server = Server(no_io_uring.command(
        errno.EPERM, sys.executable, "-m", "uvicorn", "loopapp:app", "--loop",
        "aiouring:new_event_loop", "--port", "{port}", "--no-access-log"),
        cwd=tmp_path, env={"AIOURING_FALLBACK": "uvloop"})
    with server:
        server.wait_until_listening()
        assert http_get(server.port, "/") == b"uvloop"
        assert clean_exit(server.stop(), signal.SIGTERM), server.output
    assert "Finished server process" in server.output
    assert "io_uring is unavailable, so this process runs on uvloop.Loop" in server.output

    with Server(no_io_uring.command(
            errno.EPERM, sys.executable, "-m", "uvicorn", "loopapp:app", "--loop",
            "aiouring:new_event_loop", "--port", "{port}"), cwd=tmp_path) as refused:
        assert refused.wait(60) != 0
    assert "RingUnavailableError" in refused.output
    assert "seccomp" in refused.output
