"""The RPC rows of the table: what each sends, from which pool of readers, at each concurrency.

Each row runs ``repeats`` times at each number of clients (each run next to a run of the
floor). Readers never ranked are a finite resource (a cache-miss request spends one):
:func:`pools` splits them between the runs, repeat by repeat, before any starts, sized by
generous rates so that a run ends by its duration, not by running dry. Writes get new events
and papers for every run.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from bench.speed import data, workload
from bench.speed.data import World
from bench.speed.load import CHECK_METHOD, RANKER, Checked
from bench.speed.options import Options

__all__ = [
    "BATCH_MISS_CALLS",
    "BATCH_MISS_RATE",
    "FLOOR_LABEL",
    "HIT_LABEL",
    "MISS_RATE",
    "REDIS_HIT_KEY",
    "REDIS_HIT_LABEL",
    "PoolKey",
    "RowDef",
    "RowPlan",
    "floor_plan",
    "hit_plan",
    "pools",
    "row_defs",
    "unique_budget",
]


@dataclass(frozen=True)
class RowPlan:
    """How to load one RPC row at one concurrency."""

    method: str
    requests: list[bytes]
    unique: bool = False
    check: Checked = "none"
    check_every: int = 1
    warmup: int = 3
    warmup_requests: list[bytes] = field(default_factory=list)
    min_requests: int = 1


@dataclass(frozen=True)
class RowDef:
    """An RPC row: its label, and how to plan its run ``repeat`` at a number of clients."""

    key: str
    label: str
    plan: Callable[[int, int], RowPlan]
    items_per_request: int = 1
    item: str = ""
    #: Measured at the fewest clients only (when more would not fit the time budget).
    fewest_clients_only: bool = False


def unique_budget(options: Options, clients: int, per_second_single: float) -> int:
    """How many unique requests a run may use: enough for its duration at a generous rate."""
    rate = per_second_single * (2 if clients > 1 else 1)
    return max(clients, math.ceil(options.duration * rate))


FLOOR_LABEL = "Check (health; the floor)"
HIT_LABEL = "RankPapers, cache hit"
#: The hit row again, on a server whose cache is Redis.
REDIS_HIT_KEY, REDIS_HIT_LABEL = "rank_hit_redis", "RankPapers, cache hit (Redis)"

#: Generous single-client rates (requests/s) that size the pools of never-ranked readers.
MISS_RATE = 60.0
BATCH_MISS_RATE = 0.5
#: Calls of the never-ranked batch row per run (each a batch of new readers), at least.
BATCH_MISS_CALLS = 2

#: A pool of readers: (kind, clients, repeat).
PoolKey = tuple[str, int, int]


def pools(
    options: Options, personal: Sequence[str], newcomers: Sequence[str]
) -> dict[PoolKey, list[str]]:
    """Readers never ranked, split between the runs that need them (one reader, one run)."""
    batch = workload.BATCH_SIZE
    fewest = min(options.clients)
    wants: dict[PoolKey, int] = {}
    for repeat in range(options.repeats):
        for clients in options.clients:
            wants["miss", clients, repeat] = unique_budget(options, clients, MISS_RATE)
        calls = max(BATCH_MISS_CALLS, unique_budget(options, fewest, BATCH_MISS_RATE))
        wants["batch", fewest, repeat] = batch * calls
    if options.profile:
        wants["profile", 1, 0] = math.ceil(options.profile_seconds * MISS_RATE)
    pools = workload.allocate(personal, wants, {key: batch for key in wants if key[0] == "batch"})
    fold_in = workload.allocate(
        newcomers,
        {
            ("fold_in", clients, repeat): unique_budget(options, clients, MISS_RATE)
            for repeat in range(options.repeats)
            for clients in options.clients
        },
    )
    return {**pools, **fold_in}


def floor_plan() -> RowPlan:
    """The floor: the health ``Check`` of the whole server."""
    return RowPlan(CHECK_METHOD, [workload.check_request()])


def hit_plan(hit_users: Sequence[str], date: dt.date) -> RowPlan:
    """Cache hits: the readers ranked before, cycled (a sample of answers checked)."""
    return RowPlan(
        RANKER + "RankPapers", workload.rank_requests(hit_users, date), check="rank", check_every=10
    )


def row_defs(
    options: Options,
    world: World,
    hit_users: Sequence[str],
    pools: dict[PoolKey, list[str]],
) -> list[RowDef]:
    """The RPC rows in table order, each planned lazily per number of clients."""
    date = world.date
    hit_requests = workload.rank_requests(hit_users, date)  # warm-ups of the miss rows
    write_day = date + dt.timedelta(days=1)  # nobody ranks it: writes touch no cached list

    def check(clients: int, repeat: int) -> RowPlan:
        return floor_plan()

    def rank_hit(clients: int, repeat: int) -> RowPlan:
        return hit_plan(hit_users, date)

    def rank_fresh(pool: str) -> Callable[[int, int], RowPlan]:
        """A row ranking readers of ``pool`` never ranked today: every request a cache miss."""

        def plan(clients: int, repeat: int) -> RowPlan:
            return RowPlan(
                RANKER + "RankPapers",
                workload.rank_requests(pools[pool, clients, repeat], date),
                unique=True,
                check="rank",
                warmup=1,
                warmup_requests=hit_requests,
            )

        return plan

    def batch_hit(clients: int, repeat: int) -> RowPlan:
        return RowPlan(
            RANKER + "RankPapersBatch",
            workload.rank_batch_requests(hit_users, date),
            check="batch",
            warmup=1,
        )

    def batch_miss(clients: int, repeat: int) -> RowPlan:
        users = pools["batch", clients, repeat]
        return RowPlan(
            RANKER + "RankPapersBatch",
            workload.rank_batch_requests(users, date),
            unique=True,
            check="batch",
            warmup=1,
            warmup_requests=workload.rank_batch_requests(hit_users, date),
            min_requests=BATCH_MISS_CALLS,
        )

    def record(clients: int, repeat: int) -> RowPlan:
        n = unique_budget(options, clients, 150)
        events = data.synthetic_events(
            world,
            (n + 1) * workload.BATCH_SIZE,
            prefix=f"writer-{clients}c{repeat}r-",
            per_user=10,
            seed=options.seed + 2 + 100 * repeat + clients,
        )
        requests = workload.record_requests(world, events)
        return RowPlan(
            RANKER + "RecordInteractions",
            requests[1:],
            unique=True,
            warmup=2,
            warmup_requests=requests[:1],  # recorded once, then duplicates
        )

    def upsert(clients: int, repeat: int) -> RowPlan:
        n = unique_budget(options, clients, 100)
        requests = workload.upsert_requests(
            world.history, write_day, n + 1, prefix=f"speed-{clients}c{repeat}r-"
        )
        return RowPlan(
            RANKER + "UpsertPapers",
            requests[1:],
            unique=True,
            warmup=2,
            warmup_requests=requests[:1],  # inserted once, then unchanged
        )

    batch = workload.BATCH_SIZE
    return [
        RowDef("check", FLOOR_LABEL, check),
        RowDef("rank_hit", HIT_LABEL, rank_hit),
        RowDef("rank_miss", "RankPapers, cache miss (PERSONAL)", rank_fresh("miss")),
        RowDef("fold_in_miss", "RankPapers, FOLD_IN reader (miss)", rank_fresh("fold_in")),
        RowDef(
            "batch_hit", f"RankPapersBatch, {batch} cached readers", batch_hit, batch, "readers/s"
        ),
        RowDef(
            "batch_miss",
            f"RankPapersBatch, {batch} readers never ranked",
            batch_miss,
            batch,
            "readers/s",
            fewest_clients_only=True,
        ),
        RowDef("record", f"RecordInteractions, {batch} new events", record, batch, "events/s"),
        RowDef("upsert", f"UpsertPapers, {batch} new papers", upsert, batch, "papers/s"),
    ]
