"""Time the server's background precompute: from a model's publication until every reader the
model knows has a cached list of the day.

The server reports its progress as Prometheus metrics on ``--metrics-listen``: the counter
``papersift_precompute_lists_total`` (lists computed and cached) and the gauge
``papersift_precompute_pending_readers`` (readers still to do). Only ``/metrics`` and
``GetModelInfo`` are polled, never ``RankPapers``: a ranking request would compute the list
itself (a miss) and spoil the measurement. A server without the metrics is reported as such.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

import grpc

from bench.speed.serve import scrape_metrics
from papersift.core.bundle import publish
from papersift.v1 import ranker_pb2, ranker_pb2_grpc

__all__ = [
    "LISTS_METRIC",
    "NOT_AVAILABLE",
    "PENDING_METRIC",
    "PrecomputeRun",
    "extrapolate",
    "measure",
    "settle",
]

LISTS_METRIC = "papersift_precompute_lists_total"
PENDING_METRIC = "papersift_precompute_pending_readers"
#: Seconds between polls of /metrics and GetModelInfo.
POLL = 0.1
NOT_AVAILABLE = "not available (metric absent)"
#: A precompute that reports nothing pending and no new list for this long has stopped.
QUIET = 3.0


@dataclass(frozen=True)
class PrecomputeRun:
    """One model's precompute: how long until its known readers were all cached.

    Times are seconds after the model was published (``CURRENT`` pointed at it); ``nan`` for
    what did not happen; ``last_list_seconds`` is when the last list counted was cached.
    ``status`` is ``done``, ``stopped`` (nothing pending, fewer lists than readers), ``timed
    out`` or ``not available (metric absent)``.
    """

    readers: int
    status: str
    loaded_seconds: float = math.nan
    first_list_seconds: float = math.nan
    last_list_seconds: float = math.nan
    lists: int = 0
    most_pending: int = 0

    @property
    def available(self) -> bool:
        """Whether the server reported a precompute at all."""
        return self.status != NOT_AVAILABLE

    @property
    def cached_seconds(self) -> float:
        """When every known reader was cached (``nan`` unless ``done``)."""
        return self.last_list_seconds if self.status == "done" else math.nan

    @property
    def readers_per_second(self) -> float:
        """Lists cached per second, from the model's load to the last list."""
        end = self.last_list_seconds
        if math.isnan(end) or self.lists == 0 or end <= self.loaded_seconds:
            return math.nan
        return self.lists / (end - self.loaded_seconds)


def _progress(address: str) -> tuple[float, float] | None:
    """(lists so far, readers pending), or ``None`` when the server has no such metrics."""
    samples = scrape_metrics(address)
    if LISTS_METRIC not in samples or PENDING_METRIC not in samples:
        return None
    return samples[LISTS_METRIC], samples[PENDING_METRIC]


def _loaded_version(address: str) -> str:
    with grpc.insecure_channel(address) as channel:
        info = ranker_pb2_grpc.RankerStub(channel).GetModelInfo(
            ranker_pb2.GetModelInfoRequest(), timeout=5
        )
        return str(info.version) if info.loaded else ""


def measure(
    *,
    address: str,
    metrics_address: str,
    model_dir: Path,
    version: str,
    readers: int,
    timeout: float,
) -> PrecomputeRun:
    """Publish ``version`` in the server's ``model_dir`` and time its precompute.

    ``readers``: how many readers the model knows (the lists to wait for). Bounded by
    ``timeout`` seconds after the publication.
    """
    before = _progress(metrics_address)
    if before is None:
        return PrecomputeRun(readers, NOT_AVAILABLE)
    lists_before = before[0]
    start = time.perf_counter()
    publish(model_dir, version)
    loaded = first = math.nan
    last_change, lists, most_pending = start, 0, 0
    while (now := time.perf_counter()) - start < timeout:
        if math.isnan(loaded) and _loaded_version(address) == version:
            loaded = now - start
        progress = _progress(metrics_address)
        if progress is None:
            return PrecomputeRun(readers, NOT_AVAILABLE, loaded)
        done, pending = int(progress[0] - lists_before), int(progress[1])
        most_pending = max(most_pending, pending)
        if done != lists:
            lists, last_change = done, now
            if math.isnan(first):
                first = now - start
        if not math.isnan(loaded) and pending == 0:
            if lists >= readers:
                return PrecomputeRun(
                    readers, "done", loaded, first, last_change - start, lists, most_pending
                )
            if lists and now - last_change > QUIET:
                return PrecomputeRun(
                    readers, "stopped", loaded, first, last_change - start, lists, most_pending
                )
        time.sleep(POLL)
    return PrecomputeRun(
        readers, "timed out", loaded, first, last_change - start, lists, most_pending
    )


def settle(metrics_address: str | None, timeout: float) -> float | None:
    """Wait until the server has no reader pending (bounded); the seconds waited, or ``None``
    when the server has no precompute metrics (or no metrics at all)."""
    if metrics_address is None:
        return None
    start = time.perf_counter()
    quiet_since: float | None = None
    polls = 0
    while (now := time.perf_counter()) - start < timeout:
        progress = _progress(metrics_address)
        polls += 1
        if progress is None:
            return None
        if progress[1] == 0 and polls == 1:
            return 0.0  # nothing was pending: not at work (or off)
        if progress[1] > 0:
            quiet_since = None
        elif quiet_since is None:
            quiet_since = now
        elif now - quiet_since >= 1.0:  # a second of nothing pending: not between two blocks
            return now - start
        time.sleep(POLL)
    return time.perf_counter() - start


def extrapolate(run: PrecomputeRun, readers: int) -> float:
    """Seconds from publication until ``readers`` are cached, on paper, from ``run``.

    ``T(N) = L + N / r``: ``L`` the model's load time and ``r`` the readers per second of
    ``run``; it assumes a reader costs the same whatever the number of readers (blocks of
    fixed size, bounded memory) and that loading does not grow with them.
    """
    rate = run.readers_per_second
    if math.isnan(rate) or rate <= 0:
        return math.nan
    return run.loaded_seconds + readers / rate
