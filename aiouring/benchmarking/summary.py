"""Statistics of one benchmark's samples, when pytest-benchmark is absent.

The attribute names are the ones pytest-benchmark's statistics carry (min,
median, q1, q3, iqr, rounds, ...), so the per-loop report reads either.
Quartiles are the inclusive ones of `statistics.quantiles`.
"""

import statistics
from collections.abc import Iterable
from typing import Any


class Summary:
    FIELDS = ("min", "max", "mean", "stddev", "median", "q1", "q3", "iqr",
              "rounds", "ops", "total")

    def __init__(self, data: Iterable[float]) -> None:
        if not data:
            raise ValueError("no samples to summarize")
        self.data = list(data)
        ordered = sorted(self.data)
        self.rounds = len(ordered)
        self.min = ordered[0]
        self.max = ordered[-1]
        self.total = sum(ordered)
        self.mean = self.total / self.rounds
        self.stddev = statistics.stdev(ordered) if self.rounds > 1 else 0.0
        self.median = statistics.median(ordered)
        if self.rounds > 1:
            self.q1, _, self.q3 = statistics.quantiles(ordered, n=4, method="inclusive")
        else:
            self.q1 = self.q3 = ordered[0]
        self.iqr = self.q3 - self.q1
        self.ops = self.rounds / self.total if self.total else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.FIELDS}
