"""Issue 12's goals, judged on one run's numbers: measured value, ratio with its range, met.

A goal is met when the median over the repeats is on the right side of its target; the range
(min-max over the repeats) says how far the noise could move it. A goal whose rows were not
measured says so instead of passing or failing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bench.speed.stats import Measured, Spread, bounds_of_ratio

if TYPE_CHECKING:
    from bench.speed.report import SpeedResults

__all__ = ["Goal", "goals"]

#: Cache-hit RankPapers throughput at least this share of the floor's.
HIT_SHARE = 0.70
#: FOLD_IN miss p99 at most this many times the floor's p99 (fewest clients).
FOLD_IN_P99 = 5.0
#: FOLD_IN miss p50 at most this (ms).
FOLD_IN_P50_MS = 10.0
#: RankPapersBatch of 100 never-ranked readers at most this (ms, p50 of the calls).
BATCH_MISS_MS = 500.0
#: RankPapersBatch of 100 cached readers at most this (ms, p50 of the calls).
BATCH_HIT_MS = 50.0
#: Write p99 at the most clients at most this (ms), on SQLite.
WRITE_P99_MS = 100.0
#: Cache-hit throughput of --workers 2 at least this many times --workers 1's.
WORKERS = 1.8
#: The Redis-backed hit row within this factor of the in-process one.
REDIS = 1.5


@dataclass(frozen=True)
class Goal:
    """A target of issue 12 and what the run reached.

    ``ratio`` is the median and range of the compared quantity (``basis`` says against what);
    ``met`` is ``None`` when the rows it needs were not measured.
    """

    name: str
    target: str
    measured: str
    ratio: Spread
    basis: str
    met: bool | None

    def ratio_text(self) -> str:
        """``0.80x (0.75-0.85) of the floor``, or ``-``."""
        text = self.ratio.text(lambda value: f"{value:.2f}", "x")
        return f"{text} {self.basis}" if self.ratio.measured else "-"

    def as_json(self) -> dict[str, Any]:
        """Every field, the ratio as ``{median, low, high}``."""
        return {
            "name": self.name,
            "target": self.target,
            "measured": self.measured,
            "ratio": self.ratio.as_json(),
            "basis": self.basis,
            "met": self.met,
        }


def _ms(value: float) -> str:
    return f"{value:.2f}" if value < 10 else f"{value:,.1f}"


def _per_s(value: float) -> str:
    return f"{value:,.1f}" if value < 100 else f"{value:,.0f}"


def _clients(n: int) -> str:
    return f"{n} client{'s' if n != 1 else ''}"


def _cached_share(measured: Measured) -> str:
    """Warn when a row meant to miss was answered from the cache (e.g. precomputed lists)."""
    checks = measured.checks()
    total = sum(checks.values())
    cached = sum(count for label, count in checks.items() if label.endswith(" cached"))
    return f"; {cached:,} of {total:,} checked answers were cached" if cached else ""


def _missing(name: str, target: str) -> Goal:
    return Goal(name, target, "not measured", Spread.of(()), "", None)


def _at_most(
    name: str,
    target: float,
    unit: str,
    measured: Measured | None,
    value: Spread | None,
    *,
    misses: bool = False,
) -> Goal:
    """An absolute goal: the value's median at most ``target``; the ratio is value ÷ target.

    ``misses``: the row is meant to miss the cache (say how many answers were hits).
    """
    limit = f"≤ {target:g} {unit}"
    if measured is None or value is None or not value.measured:
        return _missing(name, limit)
    return Goal(
        name,
        limit,
        f"{value.text(_ms, ' ' + unit)}{_cached_share(measured) if misses else ''}",
        Spread(value.median / target, value.low / target, value.high / target),
        "of the target",
        value.median <= target,
    )


def goals(results: SpeedResults) -> list[Goal]:
    """Every goal of issue 12 the options allowed, in the issue's order."""
    floor_key = "check"
    rows = {row.key: row.results for row in results.rows}
    fewest, most = min(results.concurrencies), max(results.concurrencies)
    out: list[Goal] = []

    def at(key: str, clients: int) -> Measured | None:
        measured = rows.get(key, {}).get(clients)
        return measured if measured is not None and measured.answered else None

    for clients in sorted({fewest, most}):
        name = f"cache-hit RankPapers throughput vs the floor ({_clients(clients)})"
        hit = at("rank_hit", clients)
        if hit is None or at(floor_key, clients) is None:
            out.append(_missing(name, f"≥ {HIT_SHARE:.0%}"))
            continue
        ratio = hit.throughput_ratio()
        floor = Spread.of(run.throughput for run in hit.floors)
        out.append(
            Goal(
                name,
                f"≥ {HIT_SHARE:.0%} of the floor",
                f"{hit.throughput().text(_per_s)} vs {floor.text(_per_s)} req/s",
                ratio,
                "of the floor",
                ratio.median >= HIT_SHARE,
            )
        )

    fold_in = at("fold_in_miss", fewest)
    name = f"FOLD_IN miss p99 vs the floor's p99 ({_clients(fewest)})"
    if fold_in is None:
        out.append(_missing(name, f"≤ {FOLD_IN_P99:g}x"))
    else:
        ratio = fold_in.latency_ratio(99)
        floor_p99 = Spread.of(run.latency_ms(99) for run in fold_in.floors)
        out.append(
            Goal(
                name,
                f"≤ {FOLD_IN_P99:g}x the floor's p99",
                f"p99 {fold_in.latency_ms(99).text(_ms)} vs {floor_p99.text(_ms)} ms"
                f"{_cached_share(fold_in)}",
                ratio,
                "of the floor's p99",
                ratio.median <= FOLD_IN_P99,
            )
        )
    out.append(
        _at_most(
            f"FOLD_IN miss p50 ({_clients(fewest)})",
            FOLD_IN_P50_MS,
            "ms",
            fold_in,
            fold_in.latency_ms(50) if fold_in else None,
            misses=True,
        )
    )
    for key, label, target in (
        ("batch_miss", "RankPapersBatch of 100 never-ranked readers", BATCH_MISS_MS),
        ("batch_hit", "RankPapersBatch of 100 cached readers", BATCH_HIT_MS),
    ):
        batch = at(key, fewest)
        out.append(
            _at_most(
                f"{label}, p50 of the calls ({_clients(fewest)})",
                target,
                "ms",
                batch,
                batch.latency_ms(50) if batch else None,
                misses=key == "batch_miss",
            )
        )
    for key, label in (("record", "RecordInteractions"), ("upsert", "UpsertPapers")):
        write = at(key, most)
        out.append(
            _at_most(
                f"{label} p99 on SQLite ({_clients(most)})",
                WRITE_P99_MS,
                "ms",
                write,
                write.latency_ms(99) if write else None,
            )
        )
    out.append(_workers_goal(results))
    out += _redis_goals(rows, results.concurrencies)
    return out


def _workers_goal(results: SpeedResults) -> Goal:
    runs = {run.workers: run for run in results.workers}
    cache = "Redis" if results.setup.get("workers_cache") == "Redis" else "in-process caches"
    name = f"--workers 2 vs --workers 1, cache-hit RankPapers with {cache}"
    one, two = runs.get(1), runs.get(2)
    if one is None or two is None or not one.measured.answered or not two.measured.answered:
        return _missing(name, f"≥ {WORKERS:g}x")
    ratio = bounds_of_ratio(two.measured.throughput(), one.measured.throughput())
    return Goal(
        f"{name} ({_clients(two.measured.clients)})",
        f"≥ {WORKERS:g}x",
        f"{two.measured.throughput().text(_per_s)} vs {one.measured.throughput().text(_per_s)} "
        f"req/s; load spread: {two.spread_text()}",
        ratio,
        "of --workers 1",
        ratio.median >= WORKERS,
    )


def _redis_goals(
    rows: Mapping[str, Mapping[int, Measured]], concurrencies: tuple[int, ...]
) -> list[Goal]:
    out: list[Goal] = []
    for clients in concurrencies:
        redis, local = (
            rows.get("rank_hit_redis", {}).get(clients),
            rows.get("rank_hit", {}).get(clients),
        )
        checks: tuple[tuple[str, str, Callable[[Measured], Spread], bool], ...] = (
            ("p50 latency", "ms", lambda m: m.latency_ms(50), False),
            ("throughput", "req/s", lambda m: m.throughput(), True),
        )
        for what, unit, value, higher_is_better in checks:
            name = f"Redis-backed cache hit vs in-process, {what} ({_clients(clients)})"
            target = f"within {REDIS:g}x"
            if redis is None or local is None or not redis.answered or not local.answered:
                out.append(_missing(name, target))
                continue
            slow, fast = (local, redis) if higher_is_better else (redis, local)
            ratio = bounds_of_ratio(value(slow), value(fast))
            number = _per_s if higher_is_better else _ms
            out.append(
                Goal(
                    name,
                    target,
                    f"Redis {value(redis).text(number)} vs in-process "
                    f"{value(local).text(number)} {unit}",
                    ratio,
                    "slower with Redis",
                    ratio.median <= REDIS,
                )
            )
    return out
