"""Micro-benchmarks as pytest-benchmark tests (benchmarks/test_micro.py).

    pytest benchmarks/ --benchmark-only      measure (calibrated rounds, stats table)
    pytest benchmarks/                       each benchmark once, as a smoke test

Not collected by the main suite (setup.cfg's testpaths is tests/).
pytest-benchmark's `benchmark` fixture is synchronous, so each test drives
its loop with run_until_complete: the loop is created by the same factories
aiouring's pytest plugin hands to pytest-asyncio (asyncio, uvloop, aiouring).
"""
import asyncio
import gc

import pytest

from aiouring.pytest_plugin import LOOP_FACTORIES

LOOPS = ("asyncio", "uvloop", "aiouring")


def pytest_configure(config):
    # Without --benchmark-only (or --benchmark-enable) run every benchmark
    # once, unmeasured: a plain `pytest benchmarks/` is then quick.
    if not (config.getoption("benchmark_only", False)
            or config.getoption("benchmark_enable", False)):
        config.option.benchmark_disable = True
    # One table per benchmark, its rows the loops (unless asked otherwise).
    if getattr(config.option, "benchmark_group_by", None) == "group":
        config.option.benchmark_group_by = "func"


@pytest.fixture(params=LOOPS)
def loop_name(request):
    if request.param == "uvloop":
        pytest.importorskip("uvloop")
    return request.param


@pytest.fixture
def loop(loop_name):
    loop = LOOP_FACTORIES[loop_name]()
    asyncio.set_event_loop(loop)
    try:
        yield loop
    finally:
        asyncio.set_event_loop(None)
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
        gc.collect()
