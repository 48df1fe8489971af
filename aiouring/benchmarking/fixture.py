"""The object an async test gets as `abenchmark`.

    result = await abenchmark(fetch, url)                 # calibrated
    result = await abenchmark.pedantic(fetch, args=(url,), setup=..., rounds=20)

Each measures on the running loop (the one pytest-asyncio runs the test
on), checks that loop is the one the test was selected for, and hands the
samples to `record` (the plugin: its own summary, or pytest-benchmark's
statistics). Used once per test, like pytest-benchmark's `benchmark`; a call
that raises marks the benchmark as failed and re-raises, so the test fails.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, ParamSpec, TypeVar, overload

from ..pytest_plugin import LOOP_FACTORIES, loop_name
from .measure import Measurement, Samples, Settings, check_pedantic

_T = TypeVar("_T")
_P = ParamSpec("_P")


class AsyncBenchmarkFixture:
    """Also what pytest-benchmark's Metadata reads a benchmark's identity
    from: name, fullname, group, param, params, extra_info, has_error."""

    cprofile_stats = None

    def __init__(self, *, name: str, fullname: str, benchmark: str, loop: str | None,
                 group: str, param: str | None, params: dict[str, Any], settings: Settings,
                 record: Callable[[AsyncBenchmarkFixture, Samples], Any],
                 claim: Callable[[str], None] | None = None, disabled: bool = False) -> None:
        self.name = name
        self.fullname = fullname
        self.benchmark = benchmark  # the test's id without its loop
        self.loop = loop            # the selected loop's name (None: pytest-asyncio's default)
        self.group = group
        self.param = param
        self.params = params
        self.settings = settings
        self.extra_info: dict[str, Any] = {}
        self.has_error = False
        self.disabled = disabled
        self.samples: Samples | None = None
        self.stats: Any = None      # summary.Summary, or pytest-benchmark's Stats
        self._record = record
        self._claim = claim
        self._used_as: str | None = None

    @overload
    async def __call__(self, function: Callable[_P, Awaitable[_T]], *args: _P.args,
                       **kwargs: _P.kwargs) -> _T: ...
    @overload
    async def __call__(self, function: Callable[_P, _T], *args: _P.args,
                       **kwargs: _P.kwargs) -> _T: ...
    async def __call__(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Time `await function(*args, **kwargs)` (or a plain call) on the
        running loop; return what the last call returned."""
        measurement = self._begin("abenchmark(...)", function, args, kwargs)
        if self.disabled:
            return (await self._guard(measurement.round(1)))[1]
        samples = await self._guard(measurement.run())
        self._finish(samples)
        return samples.result

    @overload
    async def pedantic(self, target: Callable[..., Awaitable[_T]], args: Iterable[Any] = (),
                       kwargs: Mapping[str, Any] | None = None,
                       setup: Callable[[], Any] | None = None,
                       teardown: Callable[..., Any] | None = None, rounds: int = 1,
                       warmup_rounds: int = 0, iterations: int = 1) -> _T: ...
    @overload
    async def pedantic(self, target: Callable[..., _T], args: Iterable[Any] = (),
                       kwargs: Mapping[str, Any] | None = None,
                       setup: Callable[[], Any] | None = None,
                       teardown: Callable[..., Any] | None = None, rounds: int = 1,
                       warmup_rounds: int = 0, iterations: int = 1) -> _T: ...
    async def pedantic(self, target: Callable[..., Any], args: Iterable[Any] = (),
                       kwargs: Mapping[str, Any] | None = None,
                       setup: Callable[[], Any] | None = None,
                       teardown: Callable[..., Any] | None = None, rounds: int = 1,
                       warmup_rounds: int = 0, iterations: int = 1) -> Any:
        """Exactly `rounds` timed rounds of `iterations` calls (after
        `warmup_rounds` untimed ones), `setup()` before and
        `teardown(*args, **kwargs)` after each, untimed; `setup` may return
        `(args, kwargs)` for the round. Any of them may be async."""
        check_pedantic(rounds, warmup_rounds, iterations, setup)
        measurement = self._begin("abenchmark.pedantic(...)", target,
                                  tuple(args), dict(kwargs or {}))
        if self.disabled:
            rounds, warmup_rounds, iterations = 1, 0, 1
        samples = await self._guard(measurement.run_pedantic(
            setup, teardown, rounds, warmup_rounds, iterations))
        if not self.disabled:
            self._finish(samples)
        return samples.result

    def _begin(self, mode: str, function: Callable[..., Any], args: tuple[Any, ...],
               kwargs: dict[str, Any]) -> Measurement:
        if self._used_as:
            self.has_error = True
            raise RuntimeError(f"abenchmark measures once per test; it was already "
                               f"used as {self._used_as}")
        if self._claim is not None:
            self._claim(mode)
        self._used_as = mode
        try:
            return Measurement(function, args, kwargs, self.settings)
        except Exception:
            self.has_error = True
            raise

    async def _guard(self, awaitable: Awaitable[_T]) -> _T:
        try:
            return await awaitable
        except BaseException:
            self.has_error = True
            raise

    def _finish(self, samples: Samples) -> None:
        measured_on = loop_name(samples.loop)
        if self.loop in LOOP_FACTORIES and measured_on != self.loop:
            self.has_error = True
            raise RuntimeError(f"abenchmark ran on a {measured_on} loop "
                               f"({type(samples.loop).__qualname__}), but the test "
                               f"was selected for {self.loop}")
        self.loop = self.loop or measured_on
        loop_class = type(samples.loop)
        self.extra_info["aiouring"] = {
            "loop": self.loop,
            "loop_class": f"{loop_class.__module__}.{loop_class.__qualname__}",
            "timer_overhead": samples.timer_overhead,
            "call_overhead": samples.call_overhead,
            "debug_paused": samples.debug_paused,
        }
        self.samples = samples
        self.stats = self._record(self, samples)
