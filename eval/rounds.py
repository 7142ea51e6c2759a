"""Timing rounds that go on until every row has settled (the benchmarks of ``make bench``).

A benchmark times each of its rows (a system, a configuration) once per round, the rows
interleaved so that a machine that slows down for a while slows every row alike, and reports
each row's best round.  On a shared VM a fixed number of rounds is not enough: one row's best
can be a lucky round, or every round of it can fall in a slow minute, and the row then moves by
up to 10 % between two runs (``recipes/RESULTS.md``, "Performance").  :class:`Rounds` runs at least
``min_rounds`` rounds, then more, up to ``max_rounds``, until the two best rounds of every row agree
within ``tolerance``: a best that a second round confirms is not an outlier, and a row that keeps
moving gets more rounds.  The report says how many rounds ran and each row's spread.
"""

from __future__ import annotations

import sys
from typing import Dict, Hashable, Iterator, List, Optional

#: two best rounds this close count as settled: half the 5 % a row may move between runs
TOLERANCE = 0.025


class Rounds:
    """Round indices (iterate) and every row's times (:meth:`add`); iteration stops after
    ``min_rounds`` once :meth:`settled`, and after ``max_rounds`` in any case (default: twice
    ``min_rounds``, or one round when one is asked for)."""

    def __init__(self, min_rounds: int, max_rounds: Optional[int] = None, tolerance: float = TOLERANCE,
                 what: str = "timing"):
        if min_rounds < 1:
            raise ValueError(f"--rounds must be at least 1, got {min_rounds}")
        self.min_rounds = min_rounds
        if max_rounds is None:  # one round asked for: a quick look, taken as it is
            max_rounds = 1 if min_rounds == 1 else 2 * min_rounds
        self.max_rounds = max(min_rounds, max_rounds)
        self.tolerance = tolerance
        self.what = what
        self.times: Dict[Hashable, List[float]] = {}
        self.done = 0

    def __iter__(self) -> Iterator[int]:
        for r in range(self.max_rounds):
            if r >= self.min_rounds and self.settled():
                return
            if r >= self.min_rounds:
                print(f"{self.what}: rows not settled after {r} rounds (worst spread {100 * self.worst_spread():.1f} % "
                      f"> {100 * self.tolerance:.1f} %): round {r + 1} of at most {self.max_rounds}",
                      file=sys.stderr, flush=True)
            yield r
            self.done = r + 1

    def add(self, key: Hashable, seconds: float) -> float:
        """Record one round of a row; returns the row's best so far."""
        self.times.setdefault(key, []).append(seconds)
        return self.best(key)

    def best(self, key: Hashable) -> float:
        return min(self.times[key])

    def spread(self, key: Hashable) -> Optional[float]:
        """How far the row's second-best round is above its best (``None`` after one round)."""
        t = sorted(self.times[key])
        return None if len(t) < 2 else t[1] / t[0] - 1

    def worst_spread(self) -> float:
        spreads = [s for s in (self.spread(k) for k in self.times) if s is not None]
        return max(spreads, default=float("inf"))

    def settled(self) -> bool:
        """Every row timed at least twice has its two best rounds within the tolerance (rows
        timed once, such as emulated-bf16 rows, do not hold the others back)."""
        return bool(self.times) and self.worst_spread() <= self.tolerance

    def report(self) -> dict:
        """For the JSON: rounds run, the tolerance, and the worst row's spread."""
        worst = self.worst_spread()
        return {"rounds_run": self.done, "min_rounds": self.min_rounds, "max_rounds": self.max_rounds,
                "tolerance": self.tolerance, "worst_spread": None if worst == float("inf") else worst}

    def summary(self) -> str:
        return describe(self.report())


def describe(report: dict) -> str:
    """One line for a benchmark's report from :meth:`Rounds.report` (also one read back from JSON)."""
    spread = report["worst_spread"]
    within = "" if spread is None else f", the two best rounds of every row within {100 * spread:.1f} %"
    return f"best of {report['rounds_run']} rounds ({report['min_rounds']} to {report['max_rounds']}){within}"
