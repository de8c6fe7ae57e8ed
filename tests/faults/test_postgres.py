"""PostgreSQL cut off from a running server: between requests, and in the middle of a write.

The server reaches its own fresh database through a loopback proxy (``proxy.py``) that the test
cuts and restores; the test checks the database directly, never through the proxy.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import grpc
import sqlalchemy as sa
from grpc_health.v1 import health_pb2, health_pb2_grpc

from papersift.v1 import ranker_pb2 as pb
from tests.conftest import ThreadedServer
from tests.faults.conftest import ProxiedDatabase
from tests.faults.report import FaultReport
from tests.server.api import Api, Failure, error_of, make_event, make_paper

T = TypeVar("T")

STORE_DOWN = "the store is unavailable;"
"""How the message of a store outage starts (it goes on to say to retry later)."""


def says_store_down(failure: Failure) -> bool:
    """A clear message: the store is down, retry; no host, database or driver detail."""
    return (
        failure.details.startswith(STORE_DOWN)
        and "retry later" in failure.details
        and "127.0.0.1" not in failure.details
        and "psycopg" not in failure.details
    )


RECOVER_WITHIN = 15.0


@dataclass(frozen=True)
class Snapshot:
    """What the store holds, read directly: row counts and a digest of every paper's text."""

    papers: int
    interactions: int
    papers_digest: str
    revisions: int


def snapshot(url: str) -> Snapshot:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            row = connection.execute(
                sa.text(
                    "SELECT (SELECT count(*) FROM papers),"
                    " (SELECT count(*) FROM interactions),"
                    " (SELECT coalesce(md5(string_agg(paper_id || title || abstract, '|'"
                    "   ORDER BY paper_id)), '') FROM papers),"
                    " (SELECT coalesce(sum(papers_rev + activity_rev), 0) FROM day_revisions)"
                )
            ).one()
    finally:
        engine.dispose()
    return Snapshot(int(row[0]), int(row[1]), str(row[2]), int(row[3]))


def sessions_left(url: str) -> list[str]:
    """Wait (bounded) until the database's other client sessions are gone; those that remain.

    A cut session that stayed open would still hold its transaction's locks.
    """
    # Autocommit: within one transaction pg_stat_activity is a snapshot taken at first use.
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            deadline = time.monotonic() + 10
            while True:
                rows = connection.execute(
                    sa.text(
                        "SELECT backend_type, state, left(query, 60) FROM pg_stat_activity"
                        " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                        " AND backend_type = 'client backend'"  # not autovacuum workers
                    )
                ).all()
                if not rows or time.monotonic() > deadline:
                    return [" ".join(str(part) for part in row) for row in rows]
                time.sleep(0.05)
    finally:
        engine.dispose()


async def health(api: Api) -> str:
    reply = await health_pb2_grpc.HealthStub(api.channel).Check(
        health_pb2.HealthCheckRequest(), timeout=5
    )
    return str(health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status))


async def timed_failure(call: Awaitable[Any]) -> tuple[Failure, float]:
    start = time.perf_counter()
    failure = await error_of(call)
    return failure, time.perf_counter() - start


async def until_it_works(attempt: Callable[[], Awaitable[T]]) -> tuple[T, int, float]:
    """Retry a call until it succeeds; (its reply, attempts, seconds). Fails past the bound."""
    start = time.monotonic()
    attempts = 0
    while True:
        attempts += 1
        try:
            return await attempt(), attempts, time.monotonic() - start
        except grpc.aio.AioRpcError as exc:
            if time.monotonic() - start > RECOVER_WITHIN:
                raise AssertionError(f"not recovered in {RECOVER_WITHIN} s: {exc}") from exc
            await asyncio.sleep(0.1)


async def test_postgres_unreachable_fails_writes_cleanly_and_recovers_without_restart(
    proxied_postgres: ProxiedDatabase,
    start_server: Callable[..., ThreadedServer],
    connect: Callable[[ThreadedServer], Api],
    fault_report: FaultReport,
) -> None:
    db = proxied_postgres
    api = connect(start_server(database_url=db.server_url))
    await api.upsert([make_paper(n) for n in range(1, 41)])
    await api.record([make_event(f"seed-{n}", f"reader-{n % 5}", n) for n in range(1, 21)])
    ranked_before = await api.rank("reader-1")
    before = snapshot(db.direct_url)
    health_before = await health(api)

    db.proxy.cut()
    new_papers = [make_paper(n) for n in range(41, 46)]
    new_events = [make_event(f"cut-{n}", "reader-9", n) for n in range(1, 6)]
    upsert_failed, upsert_seconds = await timed_failure(api.upsert(new_papers))
    record_failed, record_seconds = await timed_failure(api.record(new_events))
    # A reader never ranked needs the store; one ranked before is served from the cache,
    # whose revisions no write can change while every write fails.
    rank_failed, rank_seconds = await timed_failure(api.rank("reader-3"))
    cached_during = await api.rank("reader-1")
    health_during = await health(api)
    during = snapshot(db.direct_url)

    db.proxy.restore()
    upserted, attempts, recovered_after = await until_it_works(lambda: api.upsert(new_papers))
    recorded = await api.record(new_events)
    ranked_after = await api.rank("reader-1")
    health_after = await health(api)
    after = snapshot(db.direct_url)

    failures = [upsert_failed, record_failed, rank_failed]
    slowest = max(upsert_seconds, record_seconds, rank_seconds)
    half_written = during != before
    fault_report(
        "PostgreSQL unreachable (proxy cut: connections dropped, new ones refused)",
        f"UpsertPapers, RecordInteractions, RankPapers (a reader never ranked) all "
        f"{'/'.join(sorted({f.code.name for f in failures}))} within {slowest * 1000:.0f} ms: "
        f'"{upsert_failed.details}" (a reader ranked before the cut still got their cached '
        f"list: {cached_during.cached}); health {health_before} -> {health_during} -> "
        f"{health_after}; proxy restored, no restart: the write succeeded on attempt "
        f"{attempts} ({recovered_after:.1f} s), then {upserted.inserted} papers + "
        f"{recorded.accepted} events written and rankings served again",
        data_lost=half_written or after.interactions != before.interactions + 5,
        evidence=f"rows during the outage: papers {before.papers}->{during.papers}, "
        f"interactions {before.interactions}->{during.interactions}, paper texts and day "
        f"revisions unchanged: {not half_written}; after: papers {after.papers}, "
        f"interactions {after.interactions}",
    )

    assert [f.code for f in failures] == [grpc.StatusCode.UNAVAILABLE] * 3
    assert all(says_store_down(f) for f in failures), failures
    assert cached_during.cached
    assert [p.paper.paper_id for p in cached_during.papers] == [
        p.paper.paper_id for p in ranked_before.papers
    ]
    assert not half_written
    assert (upserted.inserted, recorded.accepted) == (5, 5)
    assert ranked_after.total == ranked_before.total + 5
    assert (after.papers, after.interactions) == (before.papers + 5, before.interactions + 5)
    assert health_after == "SERVING"


def long_paper(number: int, version: str) -> pb.Paper:
    """A paper with a ~2 KB abstract, so a batch of them takes many TCP segments."""
    words = " ".join(f"{version}-word-{number}-{k}" for k in range(100))
    return make_paper(number, title=f"{version} title {number}", abstract=words)


@dataclass(frozen=True)
class CutWrite(Generic[T]):
    """One write cut off by the proxy, and the same write retried once the proxy was back."""

    failure: Failure
    cut_at: int
    """Bytes of the write the proxy forwarded before it cut."""
    size: int
    """Bytes the whole write takes (measured on the retry)."""
    before: Snapshot
    after_cut: Snapshot
    sessions_left: list[str]
    retry: T
    attempts: int


async def cut_during(
    db: ProxiedDatabase,
    arm: Callable[[], threading.Event],
    write: Callable[[], Awaitable[T]],
) -> CutWrite[T]:
    """Arm the proxy, send the write, look at the database, restore, retry the write."""
    before = snapshot(db.direct_url)
    sent = db.proxy.bytes_up
    cut = arm()
    failure = await error_of(write())
    cut_at = db.proxy.bytes_up - sent
    assert cut.is_set(), "the proxy never cut: the write was not what the test expected"
    left = sessions_left(db.direct_url)
    after_cut = snapshot(db.direct_url)
    db.proxy.restore()
    sent = db.proxy.bytes_up
    retry, attempts, _ = await until_it_works(write)
    size = db.proxy.bytes_up - sent
    return CutWrite(failure, cut_at, size, before, after_cut, left, retry, attempts)


def described(cut: CutWrite[Any]) -> str:
    return (
        f'{cut.failure.code.name} "{cut.failure.details}"; the cut came after {cut.cut_at:,} '
        f"bytes of the write had gone through (the whole write, retried: {cut.size:,})"
    )


async def test_postgres_cut_mid_write_leaves_nothing_half_written(
    proxied_postgres: ProxiedDatabase,
    start_server: Callable[..., ThreadedServer],
    connect: Callable[[ThreadedServer], Api],
    fault_report: FaultReport,
) -> None:
    db = proxied_postgres
    api = connect(start_server(database_url=db.server_url))
    await api.upsert([long_paper(n, "old") for n in range(1, 501)])
    await api.record([make_event(f"seed-{n}", "reader-1", n) for n in range(1, 11)])

    # 500 changed and 500 new papers in one batch: the INSERT goes first (~1 MB), then the
    # UPDATEs, the day's revision, COMMIT. Cut at 1.5 MB: inside the UPDATEs.
    batch = [long_paper(n, "new") for n in range(1, 1001)]
    papers = await cut_during(db, lambda: db.proxy.cut_after(1_500_000), lambda: api.upsert(batch))
    fault_report(
        "PostgreSQL cut in the middle of UpsertPapers (500 updates + 500 inserts)",
        f"{described(papers)}; re-sent after the proxy came back (attempt {papers.attempts}): "
        f"{papers.retry.inserted} inserted, {papers.retry.updated} updated",
        data_lost=papers.after_cut != papers.before,
        evidence=f"papers {papers.before.papers}->{papers.after_cut.papers}, paper texts "
        f"unchanged: {papers.after_cut.papers_digest == papers.before.papers_digest}, day "
        f"revisions unchanged: {papers.after_cut.revisions == papers.before.revisions}; "
        f"{len(papers.sessions_left)} cut sessions left open",
    )

    # Every statement run, the COMMIT never arrives.
    events = [make_event(f"bulk-{n}", f"reader-{n % 50}", 1 + n % 1000) for n in range(1000)]
    uncommitted = await cut_during(
        db, lambda: db.proxy.cut_at(b"COMMIT", forward=False), lambda: api.record(events)
    )
    fault_report(
        "PostgreSQL cut as RecordInteractions' COMMIT (1,000 events, all inserted) was sent",
        f"{described(uncommitted)}; re-sent after the proxy came back: "
        f"{uncommitted.retry.accepted} accepted, {uncommitted.retry.duplicates} duplicates",
        data_lost=uncommitted.after_cut != uncommitted.before,
        evidence=f"interactions {uncommitted.before.interactions}->"
        f"{uncommitted.after_cut.interactions} after the cut, activity revisions unchanged: "
        f"{uncommitted.after_cut.revisions == uncommitted.before.revisions}; "
        f"{len(uncommitted.sessions_left)} cut sessions left open",
    )

    # The COMMIT arrives and commits; its answer never reaches the server.
    more = [make_event(f"late-{n}", f"reader-{n % 50}", 1 + n % 1000) for n in range(1000)]
    unanswered = await cut_during(
        db, lambda: db.proxy.cut_at(b"COMMIT", forward=True), lambda: api.record(more)
    )
    committed = unanswered.after_cut.interactions - unanswered.before.interactions
    fault_report(
        "PostgreSQL cut after RecordInteractions' COMMIT arrived, before its answer did",
        f"{described(unanswered)}, though PostgreSQL had committed {committed} events; "
        f"re-sent after the proxy came back: {unanswered.retry.accepted} accepted, "
        f"{unanswered.retry.duplicates} duplicates (event ids make the retry safe)",
        data_lost=committed + unanswered.retry.accepted != len(more),
        evidence=f"interactions {unanswered.before.interactions}->"
        f"{unanswered.after_cut.interactions} after the cut; every event stored once",
    )

    for cut in (papers, uncommitted, unanswered):
        assert cut.failure.code == grpc.StatusCode.UNAVAILABLE
        assert cut.sessions_left == []
    assert all(says_store_down(cut.failure) for cut in (papers, uncommitted, unanswered))
    assert papers.after_cut == papers.before
    assert (papers.retry.inserted, papers.retry.updated) == (500, 500)
    assert uncommitted.after_cut == uncommitted.before
    assert (uncommitted.retry.accepted, uncommitted.retry.duplicates) == (1000, 0)
    # Committed though reported as failed: the outcome of a lost COMMIT is unknown to the
    # server, and the retry the message asks for is safe.
    assert committed == 1000
    assert (unanswered.retry.accepted, unanswered.retry.duplicates) == (0, 1000)
