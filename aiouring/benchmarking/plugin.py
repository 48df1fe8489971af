"""pytest wiring of the `abenchmark` fixture (loaded by aiouring's plugin).

    async def test_fetch(abenchmark):
        assert await abenchmark(fetch, url) == expected

    pytest --aiouring-loops=asyncio,uvloop,aiouring [--aiouring-baseline=uvloop]
           [--aiouring-bench-json=PATH]

Each async test that takes `abenchmark` is measured on every selected loop
(pytest-asyncio runs it once per loop); at the end one table per benchmark
compares the loops. A selected loop that cannot be created (io_uring
disabled, uvloop not installed) skips that benchmark on it, with the
reason. With pytest-benchmark loaded, the results are its results too
(pytest_benchmark_bridge); without it (or with `-p no:benchmark`) the
fixture measures with pytest-benchmark's default settings, overridden by the
same `@pytest.mark.benchmark(...)` marker.
"""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import Callable, Generator
from typing import Any, cast

import pytest

from .. import pytest_plugin as loops
from . import pytest_benchmark_bridge as bridge
from . import report
from .fixture import AsyncBenchmarkFixture
from .measure import Samples, Settings
from .results import Measured, NotMeasured, Results
from .summary import Summary

FIXTURE = "abenchmark"
STATE: pytest.StashKey[AsyncBenchmarks] = pytest.StashKey()
# The marker's options, as pytest-benchmark accepts them (cprofile is
# accepted and ignored: a profile of awaits is not a profile of the code).
MARKER_OPTIONS = {"min_rounds", "max_time", "min_time", "precision", "confidence",
                  "timer", "group", "disable_gc", "warmup", "warmup_iterations",
                  "calibration_precision", "cprofile"}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("aiouring")
    group.addoption("--aiouring-baseline", metavar="LOOP",
                    help="the loop abenchmark's per-loop report compares the "
                         "others with (default: the first of --aiouring-loops)")
    group.addoption("--aiouring-bench-json", metavar="PATH",
                    help="write abenchmark's per-loop comparison to PATH as JSON")


class AsyncBenchmarks:
    """The run's benchmarks: settings, outcomes, report."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.bridged = bridge.loaded(config)
        self.selected = loops.selected_loops(config)
        self.baseline: str | None = config.getoption("aiouring_baseline") or (
            self.selected[0] if self.selected else None)
        if self.selected and self.baseline not in self.selected:
            raise pytest.UsageError(
                f"aiouring: --aiouring-baseline={self.baseline} is not among the "
                f"selected loops ({', '.join(self.selected)})")
        self.json_path: str | None = config.getoption("aiouring_bench_json")
        self.results = Results()

    def fixture_for(self, item: pytest.Item,
                    claim: Callable[[str], None] | None = None) -> AsyncBenchmarkFixture:
        if not _is_async_test(item):
            pytest.fail(f"{item.nodeid}: abenchmark is awaited, so it needs an async def "
                        "test run by pytest-asyncio; sync tests have pytest-benchmark's "
                        "benchmark", pytrace=False)
        marker = item.get_closest_marker("benchmark")
        options = dict(marker.kwargs) if marker else {}
        unknown = set(options) - MARKER_OPTIONS
        if unknown or (marker and marker.args):
            raise ValueError(f"benchmark marker: unknown option(s) {sorted(unknown)} "
                             f"or positional arguments; known: {sorted(MARKER_OPTIONS)}")
        loop = loops.selected_loop_name(item)
        benchmark = benchmark_id(item, loop)
        callspec = getattr(item, "callspec", None)
        params = {name: value for name, value in (callspec.params if callspec else {}).items()
                  if name != "_asyncio_loop_factory"}
        params["loop"] = loop
        return AsyncBenchmarkFixture(
            name=item.name, fullname=item.nodeid, benchmark=benchmark, loop=loop,
            group=options.get("group") or benchmark,
            param=callspec.id if callspec else None, params=params,
            settings=(bridge.settings(self.config, options) if self.bridged
                      else Settings.from_options(options)),
            record=self.record, claim=claim,
            disabled=self.bridged and bridge.disabled(self.config))

    def record(self, fixture: AsyncBenchmarkFixture, samples: Samples) -> Any:
        """Where a fixture's samples go: pytest-benchmark's statistics or our
        own summary, and the per-loop results either way."""
        fixture.params["loop"] = fixture.loop
        stats: Any      # pytest-benchmark's Stats, or our Summary
        if self.bridged:
            stats = bridge.record(self.config, fixture, samples)
        else:
            stats = Summary(samples.durations)
        # The fixture named its loop (fixture._finish) before recording.
        self.results.add(fixture.benchmark, cast(str, fixture.loop), Measured(
            stats, samples.iterations, samples.timer_overhead, samples.call_overhead,
            fixture.extra_info["aiouring"]["loop_class"], samples.debug_paused))
        return stats

    def note_report(self, item: pytest.Item, call: pytest.CallInfo[None],
                    report_: pytest.TestReport) -> None:
        """Benchmarks that failed (in any phase) or were skipped."""
        fixture = getattr(item, "funcargs", {}).get(FIXTURE)
        selected = loops.selected_loop_name(item)
        # The fixture knows the loop it measured on; a test skipped before
        # it ran has only the selection (none: pytest-asyncio's default).
        loop = getattr(fixture, "loop", None) or selected or "default"
        benchmark = benchmark_id(item, selected)
        if report_.failed:
            if isinstance(fixture, AsyncBenchmarkFixture):
                fixture.has_error = True    # kept out of pytest-benchmark's JSON
            reason = call.excinfo.exconly().splitlines()[0] if call.excinfo else "failed"
            self.results.add(benchmark, loop, NotMeasured("failed", f"{report_.when}: {reason}"))
        elif report_.skipped and not isinstance(self.results.get(benchmark, loop), Measured):
            longrepr = report_.longrepr
            if hasattr(report_, "wasxfail"):
                reason = f"expected to fail {report_.wasxfail}".rstrip()
            elif isinstance(longrepr, tuple):
                reason = longrepr[2]
            else:
                reason = str(longrepr)
            self.results.add(benchmark, loop,
                             NotMeasured("skipped", reason.removeprefix("Skipped: ")))

    def loop_order(self) -> list[str]:
        return report.ordered_loops(self.results, self.selected)

    def write_json(self) -> None:
        data = report.as_json(self.results, self.loop_order(), self.baseline)
        # Only called when a path was asked for (pytest_sessionfinish).
        with open(cast(str, self.json_path), "w", encoding="utf-8") as f:
            json.dump(data, f, indent=2, default=repr)

    def display(self, terminal: pytest.TerminalReporter) -> None:
        found = report.tables(self.results, self.loop_order(), self.baseline)
        if found:
            terminal.write_sep("-", "abenchmark: per-loop comparison")
        for lines in found:
            terminal.write_line("")
            for line in lines:
                terminal.write_line(line)
        if self.json_path and self.results.benchmarks:
            terminal.write_line(f"abenchmark: wrote {self.json_path}")


def _is_async_test(item: pytest.Item) -> bool:
    try:
        from pytest_asyncio import is_async_test
    except ImportError:
        return inspect.iscoroutinefunction(getattr(item, "obj", None))
    return is_async_test(item)


def benchmark_id(item: pytest.Item, loop: str | None) -> str:
    """The item's node id without its loop's part: one id for all loops."""
    callspec = getattr(item, "callspec", None)
    if callspec is None or loop is None or not item.nodeid.endswith(f"[{callspec.id}]"):
        return item.nodeid
    base = item.nodeid[:-len(callspec.id) - 2]
    parts = callspec.id.split("-")
    if loop in parts:
        del parts[len(parts) - 1 - parts[::-1].index(loop)]
    return f"{base}[{'-'.join(parts)}]" if parts else base


class SkipWhenUnavailable:
    """A loop factory for benchmarks: a loop that cannot be created here
    skips the benchmark on it, with the reason, instead of erroring."""

    def __init__(self, name: str, factory: loops.LoopFactory) -> None:
        self.loop_name = name
        self.factory = factory

    def __call__(self) -> asyncio.AbstractEventLoop:
        try:
            return self.factory()
        except (OSError, ImportError) as exc:   # RingUnavailableError is an OSError
            pytest.skip(f"the {self.loop_name} loop could not be created: "
                        f"{type(exc).__name__}: {exc}")


class BenchmarkLoopFactories:
    """Answers pytest-asyncio's hook for benchmarks before aiouring's loop
    plugin does (for every other test it answers nothing)."""

    def __init__(self, names: list[str]) -> None:
        self.factories = {name: SkipWhenUnavailable(name, loops.LOOP_FACTORIES[name])
                          for name in names}

    @pytest.hookimpl(tryfirst=True, optionalhook=True)
    def pytest_asyncio_loop_factories(
            self, config: pytest.Config,
            item: pytest.Item) -> dict[str, SkipWhenUnavailable] | None:
        if FIXTURE in getattr(item, "fixturenames", ()):
            return self.factories
        return None


class Fixture:
    @pytest.fixture
    def abenchmark(self, request: pytest.FixtureRequest) -> AsyncBenchmarkFixture:
        """Measure an async callable on the running loop:
        `result = await abenchmark(coro_fn, *args, **kwargs)`, or
        `await abenchmark.pedantic(coro_fn, setup=..., rounds=..., iterations=...)`."""
        return request.config.stash[STATE].fixture_for(request.node)


class FixtureOverPytestBenchmark:
    @pytest.fixture
    def abenchmark(self, request: pytest.FixtureRequest,
                   benchmark: Any) -> AsyncBenchmarkFixture:
        """Measure an async callable on the running loop:
        `result = await abenchmark(coro_fn, *args, **kwargs)`, or
        `await abenchmark.pedantic(coro_fn, setup=..., rounds=..., iterations=...)`;
        results go to pytest-benchmark too."""
        return request.config.stash[STATE].fixture_for(request.node, bridge.claim(benchmark))


def pytest_configure(config: pytest.Config) -> None:
    state = config.stash[STATE] = AsyncBenchmarks(config)
    holder: object = FixtureOverPytestBenchmark() if state.bridged else Fixture()
    config.pluginmanager.register(holder, "aiouring-abenchmark")
    if not state.bridged:
        config.addinivalue_line(
            "markers", "benchmark(**options): abenchmark's settings (min_rounds, "
                       "max_time, min_time, timer, disable_gc, warmup, group, ...)")
    if state.selected and loops.has_loop_factories_hook():
        config.pluginmanager.register(BenchmarkLoopFactories(state.selected),
                                      "aiouring-benchmark-loop-factories")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None],
                              ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report_ = yield
    if FIXTURE in getattr(item, "fixturenames", ()) and STATE in item.config.stash:
        item.config.stash[STATE].note_report(item, call, report_)
    return report_


def pytest_sessionfinish(session: pytest.Session) -> None:
    state = session.config.stash.get(STATE, None)
    if state is not None and state.json_path and state.results.benchmarks:
        state.write_json()


@pytest.hookimpl(trylast=True)     # after pytest-benchmark's tables: the verdict last
def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter,
                            config: pytest.Config) -> None:
    state = config.stash.get(STATE, None)
    if state is not None:
        state.display(terminalreporter)
