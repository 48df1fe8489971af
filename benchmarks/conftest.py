"""Micro-benchmarks of the loops as async pytest tests (benchmarks/test_micro.py).

    pytest benchmarks/ --benchmark-only      measure: calibrated rounds, one
                                             table per benchmark, loops compared
    pytest benchmarks/                       each benchmark once, as a smoke test

Not collected by the main suite (setup.cfg's testpaths is tests/). Each test
awaits aiouring's `abenchmark` fixture, which measures on the loop
pytest-asyncio runs it on: every loop below unless --aiouring-loops says
otherwise.
"""
import pytest

LOOPS = ("asyncio", "uvloop", "aiouring")


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    # Before aiouring's plugin reads the selection (setup.cfg's is the test
    # suite's: asyncio and aiouring only).
    if not config.getoption("aiouring_loops", None):
        config.option.aiouring_loops = ",".join(LOOPS)
    # Without --benchmark-only (or --benchmark-enable) run every benchmark
    # once, unmeasured: a plain `pytest benchmarks/` is then quick.
    if not (config.getoption("benchmark_only", False)
            or config.getoption("benchmark_enable", False)):
        config.option.benchmark_disable = True
