"""The `abenchmark` fixture: the engine on the test's own loop (both loops),
then whole pytest runs (pytester, in a subprocess each) with and without
pytest-benchmark, on one loop, several, and one that cannot be created.
Nothing here checks a speed: rounds are tiny, assertions are on structure
and on relations that hold on a loaded machine."""

import asyncio
import gc
import json
import os
import sys

import pytest

import no_io_uring
from aiouring.benchmarking import report
from aiouring.benchmarking.measure import Measurement, PrecisionGoal, Settings
from aiouring.benchmarking.results import Measured, NotMeasured, Results
from aiouring.benchmarking.summary import Summary

QUICK = Settings(max_time=0.002, min_rounds=3)


class CountingClock:
    """A timer that advances by exactly one unit per read: a round's
    elapsed time is then the number of reads inside it plus one."""

    def __init__(self):
        self.reads = 0

    def __call__(self):
        self.reads += 1
        return float(self.reads)


# -- the engine, on the loop the test runs on --------------------------------

async def test_every_call_runs_on_the_running_loop(aloop):
    seen = []

    async def note_loop():
        seen.append(asyncio.get_running_loop())
        await asyncio.sleep(0)
        return len(seen)

    samples = await Measurement(note_loop, (), {}, QUICK).run()
    assert samples.loop is aloop
    assert seen and all(loop is aloop for loop in seen)
    assert len(samples.durations) >= QUICK.min_rounds
    assert samples.result == len(seen)          # the last timed call's
    assert all(d >= 0 for d in samples.durations)


async def test_timer_overhead_is_subtracted_from_every_round(aloop):
    clock = CountingClock()

    def read_clock():       # one read per call, so one unit per call
        return clock()

    settings = Settings(timer=clock, min_rounds=1)
    samples = await Measurement(read_clock, (), {}, settings).run_pedantic(
        setup=None, teardown=None, rounds=4, warmup_rounds=1, iterations=5)
    # Raw rounds last 5 + 1 units: the extra one is the timer's own read.
    assert samples.timer_overhead == 1.0
    assert samples.durations == [1.0] * 4
    assert samples.call_overhead == 0.0     # an empty call reads no clock


async def test_calibration_raises_iterations_for_quick_calls(aloop):
    settings = Settings(min_time=0.0002, max_time=0.002, min_rounds=2)
    samples = await Measurement(len, ("abc",), {}, settings).run()
    assert samples.result == 3
    # A call to len() takes far less than 0.2 ms: many per round.
    assert samples.iterations >= 10
    assert len(samples.durations) >= 2


async def test_sync_callables_and_callables_returning_awaitables(aloop):
    samples = await Measurement(sum, ([1, 2, 3],), {}, QUICK).run()
    assert samples.result == 6

    async def double(x):
        await asyncio.sleep(0)
        return 2 * x

    measurement = Measurement(lambda: double(21), (), {}, QUICK)
    assert measurement.target.awaits is None        # found out on the first call
    samples = await measurement.run()
    assert samples.result == 42
    assert measurement.target.awaits is True


async def test_garbage_collection_is_off_only_inside_rounds(aloop):
    states = []

    def note_gc():
        states.append(gc.isenabled())

    assert gc.isenabled()
    await Measurement(note_gc, (), {}, Settings(max_time=0.001, min_rounds=2,
                                                disable_gc=True)).run()
    assert states and not any(states)
    assert gc.isenabled()
    states.clear()
    await Measurement(note_gc, (), {}, Settings(max_time=0.001, min_rounds=2)).run()
    assert states and all(states)


async def test_tracing_and_debug_mode_are_paused_while_measuring(aloop):
    def tracer(frame, event, arg):
        return None

    inside = []

    async def note():
        inside.append((sys.gettrace(), asyncio.get_running_loop().get_debug()))

    old_trace = sys.gettrace()
    aloop.set_debug(True)
    sys.settrace(tracer)
    try:
        samples = await Measurement(note, (), {}, QUICK).run()
        assert sys.gettrace() is tracer
        assert aloop.get_debug()
    finally:
        sys.settrace(old_trace)
        aloop.set_debug(False)
    assert samples.debug_paused
    assert inside and set(inside) == {(None, False)}


async def test_pedantic_setup_and_teardown_may_be_async(aloop):
    calls = []

    async def setup():
        calls.append("setup")
        await asyncio.sleep(0)
        return (len(calls),), {"power": 2}

    async def teardown(n, power):
        calls.append("teardown")

    async def raise_to(n, power):
        return n ** power

    samples = await Measurement(raise_to, (), {}, QUICK).run_pedantic(
        setup, teardown, rounds=3, warmup_rounds=2, iterations=1)
    assert calls == ["setup", "teardown"] * 5
    assert len(samples.durations) == 3
    assert samples.result == 9 ** 2       # the 5th setup saw 9 calls before it


async def test_a_failing_call_raises_out_of_the_measurement(aloop):
    async def boom():
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        await Measurement(boom, (), {}, QUICK).run()


async def test_bad_arguments_are_clear_errors(aloop):
    async def coro_fn():
        pass

    with pytest.raises(TypeError, match="not an awaitable"):
        Measurement(coro_fn(), (), {}, QUICK)         # closed: no "never awaited"
    with pytest.raises(TypeError, match="needs a callable"):
        Measurement(42, (), {}, QUICK)
    with pytest.raises(ValueError, match="min_rounds"):
        Settings(min_rounds=0)
    measurement = Measurement(coro_fn, (1,), {}, QUICK)
    with pytest.raises(TypeError, match="setup returned arguments"):
        await measurement.run_pedantic(lambda: ((2,), {}), None, 1, 0, 1)
    measurement = Measurement(coro_fn, (), {}, QUICK)
    with pytest.raises(TypeError, match="setup must return"):
        await measurement.run_pedantic(lambda: 7, None, 1, 0, 1)


def test_settings_from_pytest_benchmark_style_options():
    class Wrapped:              # pytest-benchmark hands its timer over wrapped
        target = staticmethod(CountingClock())

    settings = Settings.from_options({"timer": Wrapped(), "max_time": "0.5",
                                      "precision": None, "cprofile": False})
    assert settings.timer is Wrapped.target
    assert settings.max_time == 0.5 and settings.precision is None


def test_precision_goal():
    goal = PrecisionGoal(Settings(min_rounds=3, precision=0.01))
    assert [goal.reached(d) for d in (1.0, 1.0, 1.0)] == [False, False, True]
    noisy = PrecisionGoal(Settings(min_rounds=3, precision=0.01))
    assert not any(noisy.reached(d) for d in (1.0, 3.0, 1.0, 3.0))
    assert not PrecisionGoal(Settings()).reached(1.0)     # no goal asked for


# -- statistics and the per-loop table ---------------------------------------

def test_summary_of_samples():
    s = Summary([5.0, 1.0, 4.0, 2.0, 3.0])
    assert (s.min, s.max, s.median, s.rounds, s.total) == (1.0, 5.0, 3.0, 5, 15.0)
    assert (s.q1, s.q3, s.iqr) == (2.0, 4.0, 2.0)
    assert s.mean == 3.0 and s.ops == 5 / 15
    with pytest.raises(ValueError):
        Summary([])


def measured(*data):
    return Measured(Summary(data), 10, 4e-8, 3e-7, "x.Loop", False)


def test_table_compares_each_loop_with_the_baseline():
    results = Results()
    results.add("t.py::test_a", "asyncio", measured(2e-6, 2e-6, 3e-6))
    results.add("t.py::test_a", "uvloop", NotMeasured("skipped", "no uvloop here"))
    results.add("t.py::test_a", "aiouring", measured(1e-6, 1e-6, 1e-6))
    loops = report.ordered_loops(results, ["asyncio", "uvloop", "aiouring"])
    lines = report.table("t.py::test_a", results.benchmarks["t.py::test_a"], loops, "asyncio")
    assert lines[0].startswith("t.py::test_a: time per call; vs asyncio")
    rows = {line.split()[0]: line for line in lines[2:5]}
    assert rows["asyncio"].split()[-1] == "1.00x"
    assert rows["aiouring"].split()[-1] == "2.00x"
    assert "skipped: no uvloop here" in rows["uvloop"]
    assert lines[1].split()[:4] == ["loop", "min", "median", "IQR"]
    assert "us" in rows["aiouring"] and "3 x 10" in rows["aiouring"]

    # Without a result on the asked-for baseline: the first measured loop.
    results.add("t.py::test_b", "asyncio", NotMeasured("failed", "call: ValueError"))
    results.add("t.py::test_b", "aiouring", measured(1e-3))
    lines = report.table("t.py::test_b", results.benchmarks["t.py::test_b"], loops, "asyncio")
    assert "vs aiouring (asyncio has no result)" in lines[0]
    assert not report.table("t.py::test_c", {"asyncio": NotMeasured("skipped", "x")},
                            loops, "asyncio")


# -- whole runs --------------------------------------------------------------

BENCHMARKS = """
import asyncio
import pytest

QUICK = pytest.mark.benchmark(max_time=0.002, min_rounds=3)
seen = []


async def note_loop():
    seen.append(asyncio.get_running_loop())
    await asyncio.sleep(0)
    return "done"


@QUICK
async def test_measured(abenchmark):
    seen.clear()
    assert await abenchmark(note_loop) == "done"
    running = asyncio.get_running_loop()
    assert seen and all(loop is running for loop in seen)
    assert abenchmark.samples.loop is running
    print("MEASURED", abenchmark.loop, type(running).__module__, type(running).__qualname__)


@QUICK
async def test_sync_callable(abenchmark):
    assert await abenchmark(sorted, [3, 1, 2]) == [1, 2, 3]


async def test_pedantic(abenchmark):
    calls = []

    async def setup():
        calls.append("setup")
        return (len(calls),), {}

    async def square(n):
        return n * n

    assert await abenchmark.pedantic(square, setup=setup, rounds=3, warmup_rounds=1) == 16
    assert calls == ["setup"] * 4
    assert abenchmark.stats.rounds == 3


async def boom():
    await asyncio.sleep(0)
    raise ValueError("boom from the benchmarked coroutine")


@QUICK
async def test_failing(abenchmark):
    await abenchmark(boom)
"""

INI = ("[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"
       "asyncio_default_test_loop_scope = function\n")
LOOP_CLASSES = {"asyncio": "asyncio.unix_events._UnixSelectorEventLoop",
                "uvloop": "uvloop.Loop", "aiouring": "aiouring.loop.Loop"}


@pytest.fixture
def project(pytester):
    pytester.makeini(INI)
    return pytester


def run(project, *args):
    # Hypothesis's plugin costs a second per run and nothing here uses it.
    return project.runpytest_subprocess("-p", "no:cacheprovider",
                                        "-p", "no:hypothesispytest", *args)


def loop_lines(result, test):
    """The comparison table's rows of one test, by loop."""
    lines = result.outlines
    start = next(i for i, line in enumerate(lines) if line.startswith(f"{test}: time per call"))
    rows = {}
    for line in lines[start + 2:]:
        if not line or line.startswith("timer overhead"):
            break
        rows[line.split()[0]] = line
    return rows


def test_each_selected_loop_is_measured_and_compared(project):
    pytest.importorskip("pytest_benchmark")
    pytest.importorskip("uvloop")
    project.makepyfile(test_bench=BENCHMARKS)
    result = run(project, "-s", "--aiouring-loops=asyncio,uvloop,aiouring",
                 "--aiouring-baseline=aiouring", "--benchmark-json=pb.json",
                 "--aiouring-bench-json=loops.json")
    result.assert_outcomes(passed=9, failed=3)
    result.stdout.fnmatch_lines(["*ValueError: boom from the benchmarked coroutine*"])

    # The loop measured is the loop the test ran on, and the one selected.
    measured = sorted(line[line.index("MEASURED"):].split()[1:]
                      for line in result.outlines if "MEASURED" in line)
    assert measured == [["aiouring", "aiouring.loop", "Loop"],
                        ["asyncio", "asyncio.unix_events", "_UnixSelectorEventLoop"],
                        ["uvloop", "uvloop", "Loop"]]

    # pytest-benchmark's JSON: one record per test and loop, failures left out.
    records = json.loads((project.path / "pb.json").read_text())["benchmarks"]
    assert sorted(r["name"] for r in records) == sorted(
        f"{test}[{loop}]" for test in ("test_measured", "test_sync_callable", "test_pedantic")
        for loop in ("asyncio", "uvloop", "aiouring"))
    for r in records:
        loop = r["params"]["loop"]
        assert r["name"].endswith(f"[{loop}]")
        assert r["group"] == "test_bench.py::" + r["name"].split("[")[0]
        facts = r["extra_info"]["aiouring"]
        assert facts["loop"] == loop and facts["loop_class"] == LOOP_CLASSES[loop]
        assert facts["timer_overhead"] > 0 and facts["call_overhead"] > 0
        assert r["stats"]["rounds"] == (3 if "pedantic" in r["name"] else len(r["stats"]["data"]))
        assert r["stats"]["rounds"] >= 3
        assert 0 <= r["stats"]["min"] <= r["stats"]["median"] <= r["stats"]["max"]

    # The per-loop comparison, against the chosen baseline.
    rows = loop_lines(result, "test_bench.py::test_measured")
    assert list(rows) == ["asyncio", "uvloop", "aiouring"]
    assert rows["aiouring"].endswith("1.00x")
    assert all(row.split()[-1].endswith("x") for row in rows.values())
    # Failed everywhere: nothing to compare, so no table; JSON says why.
    assert not any(line.startswith("test_bench.py::test_failing") for line in result.outlines)
    compared = json.loads((project.path / "loops.json").read_text())
    assert compared["baseline"] == "aiouring"
    by_name = {b["name"]: b for b in compared["benchmarks"]}
    rows = {row["loop"]: row for row in by_name["test_bench.py::test_measured"]["loops"]}
    assert rows["aiouring"]["speedup"] == 1.0
    assert rows["asyncio"]["speedup"] > 0 and rows["uvloop"]["speedup"] > 0
    assert {row["loop_class"] for row in rows.values()} == set(LOOP_CLASSES.values())
    failures = by_name["test_bench.py::test_failing"]["loops"]
    assert [row["status"] for row in failures] == ["failed"] * 3
    assert all("ValueError: boom" in row["reason"] for row in failures)


def test_without_pytest_benchmark_on_one_loop_in_debug_mode(project):
    project.makepyfile(test_alone="""
        import asyncio
        import pytest

        @pytest.mark.benchmark(max_time=0.002, min_rounds=2)
        async def test_debug_paused(abenchmark):
            loop = asyncio.get_running_loop()
            modes = []

            async def note():
                modes.append(loop.get_debug())

            assert loop.get_debug()
            await abenchmark(note)
            assert modes and not any(modes)
            assert loop.get_debug()
            assert type(abenchmark.stats).__module__ == "aiouring.benchmarking.summary"

        async def test_used_twice(abenchmark):
            await abenchmark.pedantic(asyncio.sleep, args=(0,), rounds=2)
            with pytest.raises(RuntimeError, match="once per test"):
                await abenchmark(asyncio.sleep, 0)

        def test_sync_test(abenchmark):
            pass
    """)
    result = run(project, "-p", "no:benchmark", "--strict-markers", "--aiouring",
                 "--asyncio-debug", "--aiouring-bench-json=loops.json")
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(["*abenchmark is awaited, so it needs an async def test*"])
    assert "benchmark-" not in "\n".join(result.outlines)   # no pytest-benchmark table
    rows = loop_lines(result, "test_alone.py::test_debug_paused")
    assert list(rows) == ["aiouring"] and rows["aiouring"].endswith("1.00x")
    result.stdout.fnmatch_lines(["the loop's debug mode was paused while measuring"])
    compared = json.loads((project.path / "loops.json").read_text())
    by_name = {b["name"]: b["loops"] for b in compared["benchmarks"]}
    (row,) = by_name["test_alone.py::test_debug_paused"]
    assert row["loop"] == "aiouring" and row["debug_paused"] is True
    assert row["rounds"] == len(row["data"]) >= 2
    (row,) = by_name["test_alone.py::test_used_twice"]
    assert row["rounds"] == 2


BENCH_AND_PLAIN = """
    import asyncio

    async def test_bench(abenchmark):
        calls = []

        async def note():
            calls.append(None)

        await abenchmark.pedantic(note, rounds=2)
        print("CALLS", len(calls))

    async def test_plain():
        await asyncio.sleep(0)
"""


def test_pytest_benchmark_only_skip_and_disable(project):
    pytest.importorskip("pytest_benchmark")
    project.makepyfile(test_mixed=BENCH_AND_PLAIN)
    only = run(project, "-s", "--benchmark-only")
    only.assert_outcomes(passed=1, skipped=1)
    # No loop selected: pytest-asyncio's default one, named by its kind.
    assert list(loop_lines(only, "test_mixed.py::test_bench")) == ["asyncio"]
    skip = run(project, "--benchmark-skip")
    skip.assert_outcomes(passed=1, skipped=1)
    assert "abenchmark: per-loop comparison" not in skip.stdout.str()
    disabled = run(project, "-s", "--benchmark-disable")
    disabled.assert_outcomes(passed=2)
    disabled.stdout.fnmatch_lines(["*CALLS 1*"])      # once, unmeasured
    assert "abenchmark: per-loop comparison" not in disabled.stdout.str()


def test_pytest_benchmark_saves_and_compares_each_loop(project):
    pytest.importorskip("pytest_benchmark")
    project.makepyfile(test_mixed=BENCH_AND_PLAIN)
    loops = "--aiouring-loops=asyncio,aiouring"
    run(project, loops, "--benchmark-save=first").assert_outcomes(passed=4)
    again = run(project, loops, "--benchmark-compare", "--benchmark-group-by=param:loop",
                "--benchmark-compare-fail=min:100000%")
    again.assert_outcomes(passed=4)
    again.stdout.fnmatch_lines_random([
        "*benchmark 'loop=asyncio': 2 tests*", "*benchmark 'loop=aiouring': 2 tests*",
        "test_bench?asyncio? (0001_first)*", "test_bench?asyncio? (NOW)*",
        "test_bench?aiouring? (0001_first)*", "test_bench?aiouring? (NOW)*"])


def test_baseline_must_be_a_selected_loop(project):
    project.makepyfile(test_mixed=BENCH_AND_PLAIN)
    result = run(project, "--aiouring-loops=asyncio,aiouring", "--aiouring-baseline=uvloop")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--aiouring-baseline=uvloop is not among the selected*"])


@pytest.mark.skipif(not no_io_uring.SUPPORTED,
                    reason="the seccomp filter is written for x86_64")
def test_a_loop_that_cannot_be_created_is_skipped_with_the_reason(project):
    project.makeconftest(f"""
        import errno, sys
        sys.path.insert(0, {os.path.dirname(__file__)!r})
        import no_io_uring
        no_io_uring.install(errno.EPERM)     # as Docker's default profile
    """)
    project.makepyfile(test_mixed=BENCH_AND_PLAIN)
    result = run(project, "-rs", "--aiouring-loops=asyncio,aiouring")
    # Only the benchmark is skipped there; an ordinary test still errors.
    result.assert_outcomes(passed=2, skipped=1, errors=1)
    rows = loop_lines(result, "test_mixed.py::test_bench")
    assert rows["asyncio"].endswith("1.00x")
    assert rows["aiouring"].split()[1:3] == ["skipped:", "the"]
    assert "could not be created: RingUnavailableError" in rows["aiouring"]
    assert "seccomp" in rows["aiouring"]
