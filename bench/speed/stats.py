"""Repeated measurements: a row's runs, each next to a run of the floor, as medians and ranges.

The machine is shared and noisy, so one run says little: every row runs several times, each
run just after a run of the floor (the health ``Check``) with the same clients, and a row's
ratio to the floor is taken run by run (row run ``i`` against floor run ``i``). The table
gives the median of those ratios and their range (min-max), so the reader sees the noise.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from bench.speed.load import LoadResult

__all__ = ["Measured", "Spread", "bounds_of_ratio"]


@dataclass(frozen=True)
class Spread:
    """The median of some values and their range; ``nan`` everywhere when there are none."""

    median: float
    low: float
    high: float

    @classmethod
    def of(cls, values: Iterable[float]) -> Spread:
        """The median, min and max of the values that are numbers (``nan`` ones are left out)."""
        kept = [value for value in values if not math.isnan(value)]
        if not kept:
            return cls(math.nan, math.nan, math.nan)
        return cls(statistics.median(kept), min(kept), max(kept))

    @property
    def measured(self) -> bool:
        """Whether there was any value."""
        return not math.isnan(self.median)

    def text(self, number: Callable[[float], str], suffix: str = "") -> str:
        """``median (low-high)`` with ``number`` formatting each value; ``-`` when empty."""
        if not self.measured:
            return "-"
        middle = number(self.median) + suffix
        if self.low == self.high:
            return middle
        return f"{middle} ({number(self.low)}-{number(self.high)})"

    def as_json(self) -> dict[str, float | None]:
        """``{"median", "low", "high"}``, ``None`` for missing values."""
        return {
            name: None if math.isnan(value) else value
            for name, value in (("median", self.median), ("low", self.low), ("high", self.high))
        }


def _div(a: float, b: float) -> float:
    return a / b if b > 0 and not math.isnan(a) and not math.isnan(b) else math.nan


def bounds_of_ratio(top: Spread, bottom: Spread) -> Spread:
    """``top ÷ bottom`` for runs that were not paired: the medians' ratio, and the widest range
    (lowest top over highest bottom to highest top over lowest bottom)."""
    return Spread(
        _div(top.median, bottom.median), _div(top.low, bottom.high), _div(top.high, bottom.low)
    )


@dataclass(frozen=True)
class Measured:
    """One row at one number of clients: its runs, and the floor run just before each.

    ``floors`` is empty for the floor row itself, whose ratios are each run against the median
    of its runs (how much the floor moves from run to run).
    """

    runs: tuple[LoadResult, ...]
    floors: tuple[LoadResult, ...] = ()

    def __post_init__(self) -> None:
        """Refuse floors that do not pair with the runs."""
        if self.floors and len(self.floors) != len(self.runs):
            raise ValueError(f"floors: need one per run ({len(self.runs)}), got {len(self.floors)}")

    @property
    def answered(self) -> tuple[LoadResult, ...]:
        """The runs in which at least one request completed."""
        return tuple(run for run in self.runs if run.requests)

    @property
    def requests(self) -> int:
        """Requests completed over every run."""
        return sum(run.requests for run in self.runs)

    @property
    def clients(self) -> int:
        """Concurrent clients of the runs."""
        return self.runs[0].clients if self.runs else 0

    def throughput(self) -> Spread:
        """Requests per second, over the runs."""
        return Spread.of(run.throughput for run in self.answered)

    def latency_ms(self, q: float) -> Spread:
        """The ``q``-th latency percentile of each run, over the runs."""
        return Spread.of(run.latency_ms(q) for run in self.answered)

    def throughput_ratio(self) -> Spread:
        """Each run's throughput over its floor's (or over the floor's median)."""
        return self._ratio(lambda run: run.throughput)

    def latency_ratio(self, q: float) -> Spread:
        """Each run's ``q``-th latency percentile over its floor's (or the floor's median)."""
        return self._ratio(lambda run: run.latency_ms(q) if run.requests else math.nan)

    def _ratio(self, value: Callable[[LoadResult], float]) -> Spread:
        if not self.floors:
            middle = Spread.of(value(run) for run in self.runs).median
            return Spread.of(_div(value(run), middle) for run in self.runs)
        return Spread.of(
            _div(value(run), value(floor))
            for run, floor in zip(self.runs, self.floors, strict=True)
        )

    def seconds(self) -> float:
        """Measured seconds over every run."""
        return sum(run.seconds for run in self.runs)

    def server_cpu_seconds(self) -> float:
        """Server CPU seconds over every run."""
        return sum(run.server_cpu_seconds for run in self.runs)

    def client_cpu_seconds(self) -> float:
        """Load-generator CPU seconds over every run."""
        return sum(run.client_cpu_seconds for run in self.runs)

    def checks(self) -> dict[str, int]:
        """What the checked answers said, summed over the runs."""
        return dict(_summed(run.checks for run in self.runs))

    def errors(self) -> dict[str, int]:
        """Failed calls by status code, summed over the runs."""
        return dict(_summed(run.errors for run in self.runs))


def _summed(counts: Iterable[dict[str, int]]) -> Counter[str]:
    total: Counter[str] = Counter()
    for count in counts:
        total.update(count)
    return total
