"""The per-loop comparison: one table per benchmark, and the same as JSON.

Each row is one loop: min, median and interquartile range of the time per
call, rounds x iterations, and the speed relative to the baseline loop
(baseline median / this median, so 2.00x is twice as fast). The baseline is
the one asked for, else the first selected loop; a benchmark that has no
result on it is compared with its first measured loop instead, and says so.
"""

import importlib.metadata
import os
import platform
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from .results import Measured, Outcome, Results

UNITS = ((1.0, "s"), (1e-3, "ms"), (1e-6, "us"), (1e-9, "ns"))
STATS = ("min", "max", "mean", "stddev", "median", "q1", "q3", "iqr", "rounds")


def ordered_loops(results: Results, selected: Sequence[str]) -> list[str]:
    """The selected loops in their order, then any other loop seen."""
    return list(dict.fromkeys([*selected, *results.loops()]))


def baseline_of(outcomes: Mapping[str, Outcome], loops: Sequence[str],
                wanted: str | None) -> str | None:
    """The loop a benchmark's rows are compared with, or None."""
    measured = [loop for loop in loops if isinstance(outcomes.get(loop), Measured)]
    if wanted in measured:
        return wanted
    return measured[0] if measured else None


def speedup(outcome: Measured, base: Measured) -> float | None:
    if outcome.stats.median <= 0:
        return None
    ratio: float = base.stats.median / outcome.stats.median
    return ratio


def _unit(seconds: float) -> tuple[float, str]:
    for scale, name in UNITS:
        if seconds >= scale:
            return scale, name
    return UNITS[-1]


def _time(seconds: float, scale: float, name: str) -> str:
    return f"{seconds / scale:.2f} {name}"


def table(benchmark: str, outcomes: Mapping[str, Outcome], loops: Sequence[str],
          wanted: str | None) -> list[str]:
    """The lines of one benchmark's table (none if nothing was measured)."""
    base = baseline_of(outcomes, loops, wanted)
    if base is None:
        return []
    measured = [o for o in outcomes.values() if isinstance(o, Measured)]
    scale, unit = _unit(max(o.stats.min for o in measured))
    note = "" if base == wanted or wanted is None else f" ({wanted} has no result)"
    lines = [f"{benchmark}: time per call; vs {base}{note}: >1 is faster than {base}"]
    rows: list[tuple[str, ...]] = [
        ("loop", "min", "median", "IQR", "rounds x iterations", f"vs {base}")]
    for loop in loops:
        outcome = outcomes.get(loop)
        if outcome is None:
            continue
        if not isinstance(outcome, Measured):
            rows.append((loop, f"{outcome.status}: {outcome.reason}"))
            continue
        # The baseline is a measured loop (baseline_of).
        ratio = speedup(outcome, outcomes[base])    # type: ignore[arg-type]
        rows.append((loop, _time(outcome.stats.min, scale, unit),
                     _time(outcome.stats.median, scale, unit),
                     _time(outcome.stats.iqr, scale, unit),
                     f"{outcome.stats.rounds} x {outcome.iterations}",
                     "-" if ratio is None else f"{ratio:.2f}x"))
    full = [row for row in rows if len(row) > 2]
    widths = [max(len(row[i]) for row in full) for i in range(len(rows[0]))]
    for row in rows:
        if len(row) == 2:       # skipped or failed: the reason spans the row
            lines.append(f"{row[0]:<{widths[0]}}  {row[1]}")
        else:
            lines.append("  ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                                   for i, (cell, w) in enumerate(zip(row, widths))).rstrip())
    timer = max(o.timer_overhead for o in measured)
    calls = sorted(f"{o.call_overhead * 1e9:.0f}" for o in measured)
    lines.append(f"timer overhead {timer * 1e9:.0f} ns per round, subtracted; an empty "
                 f"call costs {'-'.join(dict.fromkeys([calls[0], calls[-1]]))} ns, "
                 "not subtracted")
    if any(o.debug_paused for o in measured):
        lines.append("the loop's debug mode was paused while measuring")
    return lines


def tables(results: Results, loops: Sequence[str], wanted: str | None) -> list[list[str]]:
    """Every benchmark's table, each a list of lines."""
    return [lines for benchmark, outcomes in results.benchmarks.items()
            if (lines := table(benchmark, outcomes, loops, wanted))]


def _version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def machine() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "kernel": platform.release(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "versions": {name: _version(name) for name in
                     ("aiouring", "uvloop", "pytest", "pytest-asyncio", "pytest-benchmark")},
        "argv": sys.argv[1:],
    }


def as_json(results: Results, loops: Sequence[str], wanted: str | None) -> dict[str, Any]:
    """The comparison as a JSON-ready dict: per benchmark, per loop."""
    benchmarks = []
    for benchmark, outcomes in results.benchmarks.items():
        base = baseline_of(outcomes, loops, wanted)
        rows = []
        for loop in loops:
            outcome = outcomes.get(loop)
            if outcome is None:
                continue
            row: dict[str, Any] = {"loop": loop, "status": outcome.status}
            if isinstance(outcome, Measured):
                row.update({name: getattr(outcome.stats, name) for name in STATS})
                row.update(iterations=outcome.iterations, loop_class=outcome.loop_class,
                           timer_overhead=outcome.timer_overhead,
                           call_overhead=outcome.call_overhead,
                           debug_paused=outcome.debug_paused,
                           # The baseline is a measured loop (baseline_of).
                           speedup=speedup(outcome, outcomes[base]),  # type: ignore[arg-type,index]
                           data=list(outcome.stats.data))
            else:
                row["reason"] = outcome.reason
            rows.append(row)
        benchmarks.append({"name": benchmark, "baseline": base, "loops": rows})
    return {"format": "aiouring-abenchmark/1", "machine": machine(),
            "baseline": wanted, "benchmarks": benchmarks}
