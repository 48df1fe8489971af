"""Timing a coroutine function (or a plain callable) on the running loop.

A round is `iterations` calls back to back between two reads of the timer,
awaited on the loop the caller runs on: no loop is created or entered inside
a round. Calibration raises `iterations` until a round lasts long enough for
the timer's resolution, the rounds then fill `max_time`. The cost of the two
timer reads is measured once per timer and subtracted from every round; the
cost of one empty call (an `async def` that does nothing, awaited) is
measured on the same loop and reported, not subtracted: it is the floor no
benchmark can go below. Tracing, profiling and the loop's debug mode are
paused while measuring, garbage collection optionally (`disable_gc`), as
pytest-benchmark does for synchronous code.
"""

import asyncio
import contextlib
import dataclasses
import gc
import inspect
import math
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import Any, Self

# How long the timer's resolution and overhead may take to measure.
TIMER_PROBE_SECONDS = 0.25
TIMER_PROBE_PAIRS = 2000
# Wall-clock seconds calibration may take at least (normally: microseconds).
CALIBRATION_SECONDS = 1.0
# Rounds of an empty call measured for the reported call overhead.
EMPTY_CALL_ROUNDS = 3


@dataclasses.dataclass(frozen=True)
class Settings:
    """How to measure; the defaults are pytest-benchmark's."""
    min_rounds: int = 5
    max_time: float = 1.0
    min_time: float = 0.000005
    timer: Callable[[], float] = time.perf_counter
    calibration_precision: int = 10
    disable_gc: bool = False
    warmup: bool = False
    warmup_iterations: int = 100000
    precision: float | None = None      # stop once the mean is this precise
    confidence: float = 0.99

    def __post_init__(self) -> None:
        if not callable(self.timer):
            raise TypeError(f"timer must be callable, not {self.timer!r}")
        if not isinstance(self.min_rounds, int) or self.min_rounds < 1:
            raise ValueError(f"min_rounds must be a positive int, not {self.min_rounds!r}")
        for name in ("max_time", "min_time"):
            if float(getattr(self, name)) < 0:
                raise ValueError(f"{name} must not be negative")
        if self.calibration_precision < 1:
            raise ValueError("calibration_precision must be at least 1")
        if self.precision is not None and not 0 < self.confidence < 1:
            raise ValueError("confidence must be between 0 and 1")

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> Self:
        """Settings from a dict of option names (unknown names are ignored;
        pytest-benchmark wraps its timer in an object with a `target`)."""
        fields = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in options.items() if k in fields and v is not None}
        if "timer" in values:
            values["timer"] = getattr(values["timer"], "target", values["timer"])
        for name in ("max_time", "min_time", "precision", "confidence"):
            if name in values:
                values[name] = float(values[name])
        if not values.get("precision"):
            values.pop("precision", None)
        return cls(**values)


@dataclasses.dataclass
class Samples:
    """What a measurement found."""
    durations: list[float]   # seconds per iteration, one per round, overhead subtracted
    iterations: int          # calls per round
    timer_overhead: float    # seconds per round, subtracted from each round
    call_overhead: float     # seconds per iteration of an empty call, reported only
    debug_paused: bool       # the loop was in debug mode, paused while measuring
    loop: asyncio.AbstractEventLoop
    result: Any              # what the last call returned


_timer_facts: dict[Callable[[], float], tuple[float, float]] = {}


def timer_facts(timer: Callable[[], float]) -> tuple[float, float]:
    """(resolution, overhead) of a timer, in its own units: the smallest
    step it was seen to take, and the least time between two reads."""
    if timer in _timer_facts:
        return _timer_facts[timer]
    resolution = overhead = math.inf
    deadline = time.perf_counter() + TIMER_PROBE_SECONDS
    pairs = 0
    while pairs < TIMER_PROBE_PAIRS or resolution == math.inf:
        first = timer()
        second = timer()
        step = second - first
        overhead = min(overhead, step)
        if step > 0:
            resolution = min(resolution, step)
        pairs += 1
        if time.perf_counter() > deadline:
            break
    if resolution == math.inf:
        raise ValueError(f"the timer {timer!r} did not advance in {TIMER_PROBE_SECONDS} s")
    _timer_facts[timer] = resolution, max(overhead, 0)
    return _timer_facts[timer]


class Target:
    """A callable and whether calling it gives something to await: known
    up front for coroutine functions, found on the first call otherwise."""

    def __init__(self, function: object) -> None:
        # Checked at run time: users pass coroutines by mistake.
        if inspect.iscoroutine(function) or inspect.isawaitable(function):
            if inspect.iscoroutine(function):
                function.close()        # never awaited, on purpose
            raise TypeError(
                "abenchmark times calls: pass the coroutine function and its "
                "arguments (abenchmark(fetch, url)), not an awaitable (fetch(url))")
        if not callable(function):
            raise TypeError(f"abenchmark needs a callable, not {function!r}")
        self.function: Callable[..., Any] = function
        self.awaits: bool | None = True if _is_coroutine_function(function) else None

    async def timed(self, iterations: int, args: tuple[Any, ...], kwargs: dict[str, Any],
                    timer: Callable[[], float], disable_gc: bool) -> tuple[float, Any]:
        """One round: (elapsed timer units, last result)."""
        if self.awaits is None:
            timed = _time_calls_finding_awaits
        else:
            timed = _time_awaits if self.awaits else _time_calls
        gc_was_enabled = gc.isenabled()
        if disable_gc:
            gc.disable()
        try:
            elapsed, result, awaited = await timed(
                self.function, args, kwargs, iterations, timer)
        finally:
            if gc_was_enabled:
                gc.enable()
        self.awaits = awaited
        return elapsed, result


def _is_coroutine_function(function: Callable[..., Any]) -> bool:
    call = getattr(type(function), "__call__", None)  # noqa: B004 (the class's, not callable())
    return inspect.iscoroutinefunction(function) or inspect.iscoroutinefunction(call)


# Each times `iterations` calls: (elapsed timer units, last result, whether
# the calls gave awaitables).
_Timed = tuple[float, Any, bool]


async def _time_awaits(function: Callable[..., Awaitable[Any]], args: tuple[Any, ...],
                       kwargs: dict[str, Any], iterations: int,
                       timer: Callable[[], float]) -> _Timed:
    start = timer()
    for _ in range(iterations):
        result = await function(*args, **kwargs)
    end = timer()
    return end - start, result, True


async def _time_calls(function: Callable[..., Any], args: tuple[Any, ...],
                      kwargs: dict[str, Any], iterations: int,
                      timer: Callable[[], float]) -> _Timed:
    start = timer()
    for _ in range(iterations):
        result = function(*args, **kwargs)
    end = timer()
    return end - start, result, False


async def _time_calls_finding_awaits(function: Callable[..., Any], args: tuple[Any, ...],
                                     kwargs: dict[str, Any], iterations: int,
                                     timer: Callable[[], float]) -> _Timed:
    # Only until the first call has shown whether the callable returns
    # awaitables (a lambda around a coroutine function, say).
    awaited = False
    start = timer()
    for _ in range(iterations):
        result = function(*args, **kwargs)
        if inspect.isawaitable(result):
            result = await result
            awaited = True
    end = timer()
    return end - start, result, awaited


async def _nothing() -> None:
    pass


def _nothing_sync() -> None:
    pass


@contextlib.contextmanager
def quiet_instrumentation(loop: asyncio.AbstractEventLoop) -> Iterator[bool]:
    """Pause tracing, profiling and the loop's debug mode; yields whether
    debug mode was on. A C-level tracer or profiler that Python cannot set
    back (cProfile's shows as a non-callable object) is left running."""
    tracer, profiler = sys.gettrace(), sys.getprofile()
    tracer = tracer if callable(tracer) else None
    profiler = profiler if callable(profiler) else None
    debug = loop.get_debug()
    if tracer:
        sys.settrace(None)
    if profiler:
        sys.setprofile(None)
    if debug:
        loop.set_debug(False)
    try:
        yield debug
    finally:
        if debug:
            loop.set_debug(True)
        if tracer:
            sys.settrace(tracer)
        if profiler:
            sys.setprofile(profiler)


class Measurement:
    """One benchmark's measurement on the running loop."""

    def __init__(self, function: Callable[..., Any], args: tuple[Any, ...],
                 kwargs: dict[str, Any], settings: Settings) -> None:
        self.target = Target(function)
        self.args = args
        self.kwargs = kwargs
        self.settings = settings
        self.resolution, self.timer_overhead = timer_facts(settings.timer)

    async def round(self, iterations: int, args: tuple[Any, ...] | None = None,
                    kwargs: dict[str, Any] | None = None) -> tuple[float, Any]:
        """One round in the timer's units (seconds for the default one) net
        of the timer's overhead, and the last call's result."""
        elapsed, result = await self.target.timed(
            iterations, self.args if args is None else args,
            self.kwargs if kwargs is None else kwargs,
            self.settings.timer, self.settings.disable_gc)
        return max(elapsed - self.timer_overhead, 0.0), result

    async def calibrate(self) -> tuple[int, float]:
        """(iterations, seconds of a round with that many)."""
        settings = self.settings
        wanted = max(settings.min_time, self.resolution * settings.calibration_precision)
        # Only a timer that lags the wall clock (process_time around awaits
        # that sleep, a broken custom timer) makes calibration use this.
        deadline = time.perf_counter() + max(settings.max_time, CALIBRATION_SECONDS)
        # A first call, untimed: it pays for cold caches and lazy set-up, and
        # shows whether the callable returns something to await.
        await self.round(1)
        iterations = 1
        elapsed, _ = await self.round(iterations)
        while elapsed < wanted and time.perf_counter() < deadline:
            if elapsed * 10 >= wanted:
                # Close enough to scale in one step.
                iterations = math.ceil(iterations * wanted / elapsed)
                elapsed, _ = await self.round(iterations)
                break
            iterations *= 10
            elapsed, _ = await self.round(iterations)
        # The rounds so far were also the first calls (cold caches, lazy
        # imports): the round time that sets the round count is a warm one.
        elapsed = min(elapsed, (await self.round(iterations))[0])
        return iterations, elapsed

    async def warm_up(self, iterations: int) -> None:
        """Untimed rounds until `warmup_iterations` calls or `max_time`."""
        deadline = time.perf_counter() + self.settings.max_time
        done = 0
        while done < self.settings.warmup_iterations and time.perf_counter() < deadline:
            await self.round(iterations)
            done += iterations

    async def rounds(self, iterations: int, count: int) -> tuple[list[float], Any]:
        durations: list[float] = []
        stop = PrecisionGoal(self.settings)
        result = None
        for _ in range(count):
            elapsed, result = await self.round(iterations)
            durations.append(elapsed / iterations)
            if stop.reached(durations[-1]):
                break
        return durations, result

    async def empty_call_cost(self, iterations: int) -> float:
        """Seconds per iteration of the harness around an empty call."""
        empty = Measurement(_nothing if self.target.awaits else _nothing_sync,
                            (), {}, self.settings)
        costs = [(await empty.round(iterations))[0] / iterations
                 for _ in range(EMPTY_CALL_ROUNDS)]
        return min(costs)

    async def run(self) -> Samples:
        """Calibrate, warm up, measure: the whole `abenchmark(...)`."""
        loop = asyncio.get_running_loop()
        with quiet_instrumentation(loop) as debug:
            iterations, round_time = await self.calibrate()
            if self.settings.warmup:
                await self.warm_up(iterations)
            count = max(self.settings.min_rounds,
                        math.ceil(self.settings.max_time / max(round_time, self.resolution)))
            durations, result = await self.rounds(iterations, min(count, sys.maxsize))
            call_overhead = await self.empty_call_cost(iterations)
        return Samples(durations, iterations, self.timer_overhead, call_overhead,
                       debug, loop, result)

    async def run_pedantic(self, setup: Callable[[], Any] | None,
                           teardown: Callable[..., Any] | None, rounds: int,
                           warmup_rounds: int, iterations: int) -> Samples:
        """Fixed rounds and iterations, with set-up and tear-down around
        each round (not timed); both may be coroutine functions."""
        loop = asyncio.get_running_loop()
        durations: list[float] = []
        result = None
        with quiet_instrumentation(loop) as debug:
            for number in range(warmup_rounds + rounds):
                args, kwargs = await self._set_up(setup)
                elapsed, result = await self.round(iterations, args, kwargs)
                if teardown is not None:
                    await _maybe_await(teardown(*args, **kwargs))
                if number >= warmup_rounds:
                    durations.append(elapsed / iterations)
            call_overhead = await self.empty_call_cost(iterations)
        return Samples(durations, iterations, self.timer_overhead, call_overhead,
                       debug, loop, result)

    async def _set_up(self, setup: Callable[[], Any] | None,
                      ) -> tuple[tuple[Any, ...], dict[str, Any]]:
        if setup is None:
            return self.args, self.kwargs
        made = await _maybe_await(setup())
        if made is None:
            return self.args, self.kwargs
        if self.args or self.kwargs:
            raise TypeError("setup returned arguments, but args or kwargs were given too")
        try:
            args, kwargs = made
        except (TypeError, ValueError):
            raise TypeError(f"setup must return None or (args, kwargs), not {made!r}") from None
        return tuple(args), dict(kwargs or {})


async def _maybe_await(value: Any) -> Any:
    if inspect.isawaitable(value):
        return await value
    return value


class PrecisionGoal:
    """Whether enough rounds ran for the mean to be within `precision` (a
    fraction of it) at `confidence`; never, when no precision was asked."""

    def __init__(self, settings: Settings) -> None:
        self.precision = settings.precision
        self.min_rounds = max(settings.min_rounds, 2)
        if self.precision is not None:
            self.z = statistics.NormalDist().inv_cdf(0.5 + settings.confidence / 2)
        self.count = 0
        self.mean = 0.0
        self.squares = 0.0

    def reached(self, duration: float) -> bool:
        if self.precision is None:
            return False
        # Running mean and variance, so each round costs O(1).
        self.count += 1
        delta = duration - self.mean
        self.mean += delta / self.count
        self.squares += delta * (duration - self.mean)
        if self.count < self.min_rounds or self.mean <= 0:
            return False
        stddev = math.sqrt(self.squares / (self.count - 1))
        return self.z * stddev / math.sqrt(self.count) / self.mean <= self.precision


def check_pedantic(rounds: int, warmup_rounds: int, iterations: int,
                   setup: Callable[[], Any] | None) -> None:
    """The pedantic form's numbers, or a clear error."""
    for name, value, least in (("rounds", rounds, 1), ("iterations", iterations, 1),
                               ("warmup_rounds", warmup_rounds, 0)):
        if not isinstance(value, int) or isinstance(value, bool) or value < least:
            raise ValueError(f"{name} must be an int >= {least}, not {value!r}")
    if setup is not None and iterations > 1:
        raise ValueError("setup runs once per round, so iterations must be 1 with setup")
