"""aiouring under real servers, started as their documentation says: uvicorn
with two worker processes, a gunicorn master with two workers of each of
aiouring's worker classes (aiohttp and ASGI), and aiohttp's web.run_app.
Each worker process reports the loop it runs on when its application
starts, every request answers with the loop that served it, and the server
then shuts down cleanly on a signal, leaving no worker behind."""

import os
import signal
import sys
import textwrap
import time

import pytest

from servers import Server, alive, clean_exit, http_get

# Every worker writes <report dir>/<pid> with its loop's class on start-up.
APP = textwrap.dedent("""
    import asyncio, os

    def loop_name():
        loop = asyncio.get_running_loop()
        return type(loop).__module__ + "." + type(loop).__qualname__

    def report():
        path = os.path.join(os.environ["LOOP_REPORT_DIR"], str(os.getpid()))
        with open(path + ".part", "w") as f:
            f.write(loop_name())
        os.rename(path + ".part", path)     # whole reports only

    def answer():
        return f"{os.getpid()} {loop_name()}".encode()

    async def asgi(scope, receive, send):
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                report()
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": answer()})

    async def make_aiohttp_app():
        from aiohttp import web

        async def handler(request):
            return web.Response(body=answer())

        report()
        app = web.Application()
        app.router.add_get("/", handler)
        return app
""")

RUN_APP = textwrap.dedent("""
    import sys
    import aiouring
    from aiohttp import web
    from app import make_aiohttp_app

    web.run_app(make_aiohttp_app(), host="127.0.0.1", port=int(sys.argv[1]),
                loop=aiouring.new_event_loop(), print=None)
""")

AIOURING = "aiouring.loop.Loop"


@pytest.fixture
def app_dir(tmp_path):
    (tmp_path / "app.py").write_text(APP)
    (tmp_path / "run_app.py").write_text(RUN_APP)
    (tmp_path / "reports").mkdir()
    return tmp_path


def wait_for_reports(server, reports, count, timeout=60):
    """{pid: loop name} of the count worker processes, once all reported."""
    def done():
        return [name for name in os.listdir(reports) if name.isdigit()]

    deadline = time.monotonic() + timeout
    while len(done()) < count:
        if time.monotonic() > deadline or server.proc.poll() is not None:
            server.stop(signal.SIGKILL)
            raise AssertionError(f"{len(done())} of {count} workers "
                                 f"reported:\n{server.output}")
        time.sleep(0.05)
    return {int(pid): (reports / pid).read_text() for pid in done()}


def check_served_by_workers(server, workers, requests=6):
    for _ in range(requests):
        pid, loop = http_get(server.port, "/").decode().split()
        assert int(pid) in workers
        assert loop == AIOURING


def check_clean_exit(server, workers, sig=signal.SIGTERM):
    assert clean_exit(server.stop(sig), sig), server.output
    assert not [pid for pid in workers if alive(pid)]
    assert "Traceback" not in server.output, server.output


def check_two_aiouring_workers(server, reports):
    """Two worker processes (not the master) run aiouring, serve, and go
    away with the master."""
    workers = wait_for_reports(server, reports, 2)
    assert list(workers.values()) == [AIOURING] * 2
    assert server.proc.pid not in workers
    server.wait_until_listening()
    check_served_by_workers(server, workers)
    check_clean_exit(server, workers)


def serve(app_dir, *args):
    return Server([sys.executable, "-m", *args], cwd=app_dir,
                  env={"LOOP_REPORT_DIR": str(app_dir / "reports")})


def test_uvicorn_workers_each_run_aiouring(app_dir):
    with serve(app_dir, "uvicorn", "app:asgi", "--loop", "aiouring:new_event_loop",
               "--workers", "2", "--port", "{port}", "--lifespan", "on") as server:
        check_two_aiouring_workers(server, app_dir / "reports")


def gunicorn_options():
    """No control socket where gunicorn has one: its default path is shared
    by every gunicorn of the user."""
    from gunicorn.config import Config
    return ["--no-control-socket"] if "control_socket_disable" in Config().settings else []


@pytest.mark.parametrize("worker_class, app", [("AiohttpWorker", "app:make_aiohttp_app"),
                                               ("UvicornWorker", "app:asgi")])
def test_gunicorn_master_with_two_aiouring_workers(app_dir, worker_class, app):
    with serve(app_dir, "gunicorn", app, "--worker-class",
               f"aiouring.gunicorn.{worker_class}", "--workers", "2",
               "--bind", "127.0.0.1:{port}", "--graceful-timeout", "10",
               *gunicorn_options()) as server:
        check_two_aiouring_workers(server, app_dir / "reports")
    assert "Booting worker" in server.output


def test_aiohttp_run_app_on_aiouring(app_dir):
    with Server([sys.executable, "run_app.py", "{port}"], cwd=app_dir,
                env={"LOOP_REPORT_DIR": str(app_dir / "reports")}) as server:
        server.wait_until_listening()
        workers = wait_for_reports(server, app_dir / "reports", 1)
        assert workers == {server.proc.pid: AIOURING}
        check_served_by_workers(server, workers)
        # run_app stops on SIGINT and SIGTERM through loop.add_signal_handler.
        check_clean_exit(server, (), signal.SIGINT)
