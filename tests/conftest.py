"""Every loop test runs twice: on asyncio's own loop and on aiouring's.

Sync tests take the parametrized `loop` fixture; async tests are run by
pytest-asyncio once per loop, through aiouring's own pytest plugin
(`aiouring_loops = asyncio,aiouring` in setup.cfg), and take `aloop`. Both
fail on any unexpected call of the loop's exception handler; the loop is
closed and garbage collected afterwards.

A test of a known aiouring defect carries `@pytest.mark.aiouring_defect("name:
cause")`: its aiouring run is a strict xfail (the suite stays green, and the
mark fails once the defect is fixed, so it gets removed), its asyncio run an
ordinary test.
"""

import asyncio
import gc
import os
import ssl

import pytest
from hypothesis import settings

import aiouring
from aiouring.pytest_plugin import LOOP_FACTORIES

pytest_plugins = ["pytester"]

# tests/kernel/ runs inside the Linux 7.x guest (make test-kernel) only.
collect_ignore = [] if os.environ.get("AIOURING_IN_KERNELVM") else ["kernel"]

FACTORIES = {name: LOOP_FACTORIES[name] for name in ("asyncio", "aiouring")}

# CI explores the same examples on every run, so its verdict depends on the
# change, not on luck; local runs keep exploring new ones.
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


def is_aiouring(loop):
    return isinstance(loop, aiouring.Loop)


def _runs_on_asyncio(item):
    callspec = getattr(item, "callspec", None)
    params = callspec.params if callspec else {}
    return (params.get("loop_name") == "asyncio"
            or params.get("_asyncio_loop_factory") is FACTORIES["asyncio"])


def _runs_on_aiouring(item):
    callspec = getattr(item, "callspec", None)
    params = callspec.params if callspec else {}
    if "loop_name" in params or "_asyncio_loop_factory" in params:
        return not _runs_on_asyncio(item)
    return True     # not parametrized by loop: an aiouring-only test


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "aiouring_only(reason): a guarantee asyncio's loop does not give")
    config.addinivalue_line(
        "markers", "aiouring_defect(reason): a known aiouring defect; the aiouring "
                   "run is a strict xfail")
    config.addinivalue_line(
        "markers", "host_only(reason): collected again under tests/kernel/ but about "
                   "nothing the guest's kernel changes; the host's lanes run it")


def pytest_collection_modifyitems(config, items):
    """Tests marked aiouring_only check guarantees beyond asyncio's: they are
    not collected for asyncio's loop (rather than skipped there), nor are
    host_only tests that tests/kernel/ collects again. Tests marked
    aiouring_defect are strict xfails on aiouring only."""
    keep, drop = [], []
    for item in items:
        defect = item.get_closest_marker("aiouring_defect")
        if defect and _runs_on_aiouring(item):
            item.add_marker(pytest.mark.xfail(strict=True, reason=defect.args[0]))
        if item.get_closest_marker("aiouring_only") and _runs_on_asyncio(item):
            drop.append(item)
        elif item.get_closest_marker("host_only") and item.path.parent.name == "kernel":
            drop.append(item)
        else:
            keep.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


class ExceptionHandlerCalls(list):
    """Records exception-handler calls; a test that expects them pops them."""

    def __call__(self, loop, context):
        self.append(context)


@pytest.fixture
def handler_calls():
    return ExceptionHandlerCalls()


@pytest.fixture(params=list(FACTORIES))
def loop_name(request):
    return request.param


@pytest.fixture
def loop(loop_name, handler_calls):
    loop = FACTORIES[loop_name]()
    loop.set_exception_handler(handler_calls)
    asyncio.set_event_loop(loop)
    yield loop
    try:
        if not loop.is_closed():
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
    finally:
        loop.close()
        asyncio.set_event_loop(None)
        gc.collect()
    assert not handler_calls, f"unexpected exception handler calls: {handler_calls}"


# Async files run on aiouring's loop (io_uring) and on any other (threads):
# their tests run on each of these.
FILE_LOOPS = ("aiouring", "asyncio", "uvloop")


class LoopRunner:
    """Runs coroutines on one loop of the kind asked for; `name` says which."""

    def __init__(self, name, handler_calls):
        self.name = name
        self._runner = asyncio.Runner(loop_factory=LOOP_FACTORIES[name])
        self._handler_calls = handler_calls

    def __call__(self, coro):
        self._runner.get_loop().set_exception_handler(self._handler_calls)
        return self._runner.run(coro)

    @property
    def threads(self):
        """True where files run in the executor (every loop but aiouring's)."""
        return self.name != "aiouring"

    def close(self):
        self._runner.close()


@pytest.fixture(params=FILE_LOOPS)
def on_loop(request, handler_calls):
    """A callable that runs a coroutine to completion on aiouring's,
    asyncio's or uvloop's loop (one per test, kept across its examples)."""
    runner = LoopRunner(request.param, handler_calls)
    yield runner
    runner.close()
    gc.collect()
    assert not handler_calls, f"unexpected exception handler calls: {handler_calls}"


@pytest.fixture
async def aloop(request, handler_calls):
    """The running loop of an async test, checked to be the one asked for."""
    running = asyncio.get_running_loop()
    assert is_aiouring(running) == (not _runs_on_asyncio(request.node))
    running.set_exception_handler(handler_calls)
    yield running
    assert not handler_calls, f"unexpected exception handler calls: {handler_calls}"


@pytest.fixture(scope="session")
def tls_contexts():
    """(server, client) SSL contexts: a certificate for localhost and
    127.0.0.1 issued by a throwaway CA (trustme) that the client trusts."""
    import trustme
    ca = trustme.CA()
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost", "127.0.0.1").configure_cert(server)
    client = ssl.create_default_context()
    ca.configure_trust(client)
    return server, client
