"""abenchmark's results as pytest-benchmark's, when that plugin is loaded.

Each measured (test, loop) becomes one of pytest-benchmark's `Metadata`
records in its session, so its statistics, table, `--benchmark-json`,
`--benchmark-save`/`--benchmark-compare`, histograms and regression checks
cover async benchmarks too. The `abenchmark` fixture then requests
pytest-benchmark's `benchmark` fixture: that makes `--benchmark-only` keep
and `--benchmark-skip` skip async benchmarks, and the sync fixture, marked as
used, cannot measure the same test a second time.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import pytest

from .measure import Samples, Settings

if TYPE_CHECKING:
    from .fixture import AsyncBenchmarkFixture

PLUGIN = "benchmark"        # pytest-benchmark's name among pytest's plugins


def loaded(config: pytest.Config) -> bool:
    return config.pluginmanager.has_plugin(PLUGIN)


def _session(config: pytest.Config) -> Any:
    # pytest-benchmark's BenchmarkSession (it has no type information).
    return config._benchmarksession     # type: ignore[attr-defined]


def disabled(config: pytest.Config) -> bool:
    """--benchmark-disable (or xdist): run each benchmark once, unmeasured."""
    return bool(_session(config).disabled)


def settings(config: pytest.Config, marker_options: Mapping[str, Any]) -> Settings:
    """The session's options (--benchmark-min-rounds, --benchmark-max-time,
    --benchmark-timer, ...), overridden by the test's benchmark marker."""
    return Settings.from_options(dict(_session(config).options, **marker_options))


def claim(sync_fixture: Any) -> Callable[[str], None]:
    """A check that the test's `benchmark` fixture was not used, which then
    marks it used: it neither warns of being unused nor measures again."""
    def claim_for(mode: str) -> None:
        # `_mode` is how pytest-benchmark's fixture knows it was used.
        used_as = getattr(sync_fixture, "_mode", None)
        if used_as:
            raise RuntimeError(f"this test already measured with {used_as}")
        sync_fixture._mode = mode
    return claim_for


def record(config: pytest.Config, fixture: AsyncBenchmarkFixture, samples: Samples) -> Any:
    """Hand one measurement to pytest-benchmark; returns its statistics."""
    from pytest_benchmark.stats import Metadata
    options = {
        "disable_gc": fixture.settings.disable_gc,
        "timer": fixture.settings.timer,
        "min_rounds": fixture.settings.min_rounds,
        "max_time": fixture.settings.max_time,
        "min_time": fixture.settings.min_time,
        "precision": fixture.settings.precision,
        "confidence": fixture.settings.confidence,
        "warmup": fixture.settings.warmup,
    }
    metadata = Metadata(fixture, iterations=samples.iterations, options=options)
    for duration in samples.durations:
        # Already per iteration: Metadata.update would divide again.
        metadata.stats.update(duration)
    _session(config).benchmarks.append(metadata)
    return metadata.stats
