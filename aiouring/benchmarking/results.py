"""What each benchmark gave on each loop: measured, skipped or failed."""

import dataclasses
from typing import Any


@dataclasses.dataclass
class Measured:
    stats: Any              # summary.Summary, or pytest-benchmark's Stats
    iterations: int
    timer_overhead: float   # seconds per round, subtracted
    call_overhead: float    # seconds per iteration of an empty call, reported
    loop_class: str         # the class of the loop the rounds ran on
    debug_paused: bool
    status: str = "measured"


@dataclasses.dataclass
class NotMeasured:
    status: str             # "skipped" or "failed"
    reason: str


Outcome = Measured | NotMeasured


class Results:
    """Outcomes by benchmark (a test without its loop) and loop, in the
    order they arrived."""

    def __init__(self) -> None:
        self.benchmarks: dict[str, dict[str, Outcome]] = {}

    def add(self, benchmark: str, loop: str, outcome: Outcome) -> None:
        self.benchmarks.setdefault(benchmark, {})[loop] = outcome

    def get(self, benchmark: str, loop: str) -> Outcome | None:
        return self.benchmarks.get(benchmark, {}).get(loop)

    def loops(self) -> list[str]:
        """Every loop with an outcome, in order of first appearance."""
        seen: dict[str, None] = {}
        for outcomes in self.benchmarks.values():
            seen.update(dict.fromkeys(outcomes))
        return list(seen)
