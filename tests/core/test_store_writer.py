"""Writes under concurrency: group commit on SQLite, concurrent transactions on PostgreSQL.

The store-level tests run on both backends: whatever runs the writes, every acknowledged write
is committed and readable, a bad batch is rejected whole while the others commit, and the
revisions grow as they would one write at a time. The ``GroupWriter`` tests hold the writer
busy so that the writes queued meanwhile share one transaction, deterministically.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from papersift.core.errors import InvalidInput, StoreUnavailable
from papersift.core.store import Store
from papersift.core.store._engine import WRITE_OPTION, create_engine, lost_race, parse_url
from papersift.core.store._writer import GroupWriter
from papersift.core.types import (
    EventId,
    Interaction,
    InteractionKind,
    Paper,
    PaperId,
    RecordResult,
    UserId,
)

DAY = dt.date(2025, 5, 1)
MORNING = dt.datetime(2025, 5, 1, 9, 0, tzinfo=dt.UTC)
THREADS = 16
BATCHES_PER_THREAD = 6


def make_paper(number: int) -> Paper:
    return Paper(
        paper_id=PaperId(f"arxiv:2505.{number:05d}"),
        title=f"Paper {number}",
        date=DAY,
        abstract=f"Abstract of paper {number}.",
        authors=("Ada Lovelace",),
        categories=("cs.IR",),
        url=f"https://arxiv.org/abs/2505.{number:05d}",
        source="arxiv",
    )


def make_event(name: str, user: str, paper: int) -> Interaction:
    return Interaction(
        event_id=EventId(name),
        user_id=UserId(user),
        paper_id=make_paper(paper).paper_id,
        kind=InteractionKind.CLICK,
        occurred_at=MORNING,
    )


# -- the store, both backends -------------------------------------------------------------------


def test_concurrent_writers_lose_nothing_and_each_ack_is_readable(store: Store) -> None:
    store.upsert_papers([make_paper(n) for n in range(20)])

    def writer(thread: int) -> list[RecordResult]:
        results = []
        for batch in range(BATCHES_PER_THREAD):
            # Every second batch repeats its predecessor's first events: duplicates, not errors.
            start = batch * 10 - (5 if batch % 2 else 0)
            events = [
                make_event(f"t{thread}-e{n}", f"user{thread}", n % 20)
                for n in range(start, start + 10)
            ]
            results.append(store.record_interactions(events))
            # Acknowledged means committed: readable at once, from any connection.
            stored = {event.event_id for event in store.user_interactions(UserId(f"user{thread}"))}
            assert {event.event_id for event in events} <= stored
        return results

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        results = [result for rs in pool.map(writer, range(THREADS)) for result in rs]

    distinct_per_thread = 10 * BATCHES_PER_THREAD - 5 * (BATCHES_PER_THREAD // 2)
    assert sum(result.accepted for result in results) == THREADS * distinct_per_thread
    assert sum(result.duplicates for result in results) == THREADS * 5 * (BATCHES_PER_THREAD // 2)
    for thread in range(THREADS):
        stored = store.user_interactions(UserId(f"user{thread}"))
        assert len(stored) == distinct_per_thread
    # One activity bump per batch that added a click on the day (every batch here).
    assert store.revisions(UserId("user0"), DAY).activity == THREADS * BATCHES_PER_THREAD


def test_a_bad_batch_among_concurrent_good_ones_is_rejected_whole(store: Store) -> None:
    store.upsert_papers([make_paper(n) for n in range(5)])
    good = [[make_event(f"g{b}-{n}", f"good{b}", n) for n in range(5)] for b in range(12)]
    # Four known papers, then one the store does not have: none of the five may be written.
    bad = [make_event(f"bad-{n}", "bad", n) for n in range(4)] + [make_event("bad-4", "bad", 99)]
    batches: list[list[Interaction]] = [*good[:6], bad, *good[6:]]

    def record(batch: Sequence[Interaction]) -> RecordResult | Exception:
        try:
            return store.record_interactions(batch)
        except InvalidInput as exc:
            return exc

    with ThreadPoolExecutor(max_workers=len(batches)) as pool:
        outcomes = list(pool.map(record, batches))

    rejected = outcomes.pop(6)
    assert isinstance(rejected, InvalidInput)
    assert rejected.field == "interactions[4].paper_id"
    assert outcomes == [RecordResult(accepted=5, duplicates=0)] * len(good)
    assert store.user_interactions(UserId("bad")) == []
    assert store.revisions(UserId("bad"), DAY).user == 0
    for b in range(len(good)):
        assert len(store.user_interactions(UserId(f"good{b}"))) == 5
    assert store.revisions(UserId("good0"), DAY).activity == len(good)


def test_concurrent_upserts_and_records_keep_every_revision_step(store: Store) -> None:
    store.upsert_papers([make_paper(0)])

    def upsert(n: int) -> None:
        store.upsert_papers([make_paper(100 + n)])

    def record(n: int) -> None:
        store.record_interactions([make_event(f"r{n}", "reader", 0)])

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        futures = [pool.submit(upsert, n) for n in range(20)]
        futures += [pool.submit(record, n) for n in range(20)]
        for future in futures:
            future.result()

    revisions = store.revisions(UserId("reader"), DAY)
    assert revisions.papers == 21  # the first paper, then one bump per upsert
    assert revisions.activity == 20
    ids = sorted(event.event_id for event in store.user_interactions(UserId("reader")))
    assert ids == sorted(f"r{n}" for n in range(20))


def test_writes_after_close_still_commit(store: Store) -> None:
    store.upsert_papers([make_paper(0)])
    store.close()
    assert store.record_interactions([make_event("late", "reader", 0)]).accepted == 1
    assert [event.event_id for event in store.user_interactions(UserId("reader"))] == ["late"]


# -- the group writer (SQLite) ------------------------------------------------------------------


class Harness:
    """A ``GroupWriter`` on a SQLite file with a ``notes`` table, and the BEGINs it issued."""

    def __init__(self, path: Path, max_group: int = 32) -> None:
        self.url = parse_url(f"sqlite:///{path}")
        self.engine = create_engine(self.url)
        with self.engine.begin() as connection:
            connection.execute(sa.text("CREATE TABLE notes (name TEXT PRIMARY KEY)"))
        self.writes = self.engine.execution_options(**{WRITE_OPTION: True})
        self.begins = 0
        self.fail_commit = False
        self.retried: list[str] = []
        self.writer = GroupWriter(
            self._begin,
            retry_alone=self._retry_alone,
            retryable=lambda exc: isinstance(exc, sa.exc.DBAPIError) and lost_race(exc),
            max_group=max_group,
        )

    @contextlib.contextmanager
    def _begin(self) -> Iterator[sa.Connection]:
        self.begins += 1
        with self.writes.begin() as connection:
            yield connection
            if self.fail_commit:
                raise sa.exc.OperationalError("COMMIT", {}, Exception("disk I/O error"))

    def _retry_alone(self, work: Callable[[sa.Connection], Any]) -> Any:
        with self.writes.begin() as connection:
            result = work(connection)
        self.retried.append(str(result))
        return result

    def notes(self) -> list[str]:
        with self.engine.connect() as connection:
            rows = connection.execute(sa.text("SELECT name FROM notes ORDER BY name"))
            return [str(name) for (name,) in rows]

    def close(self) -> None:
        self.writer.close()
        self.engine.dispose()


def add(name: str) -> Callable[[sa.Connection], str]:
    def work(connection: sa.Connection) -> str:
        connection.execute(sa.text("INSERT INTO notes (name) VALUES (:name)"), {"name": name})
        return name

    return work


def refuse(name: str) -> Callable[[sa.Connection], str]:
    def work(connection: sa.Connection) -> str:
        add(name)(connection)  # written, then rolled back with the savepoint
        raise InvalidInput("name", f"{name} is refused")

    return work


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    made = Harness(tmp_path / "notes.db")
    yield made
    made.close()


def queued_behind_a_held_write(
    harness: Harness, works: Sequence[Callable[[sa.Connection], str]]
) -> tuple[Future[str], list[Future[str]]]:
    """Run ``works`` queued while one write holds the writer; the held one's and their futures.

    The held write is released only once all of ``works`` wait in the queue, so they are
    taken together (in groups of at most ``max_group``).
    """
    started = threading.Event()
    release = threading.Event()

    def held(connection: sa.Connection) -> str:
        started.set()
        release.wait(timeout=30)
        return add("held")(connection)

    with ThreadPoolExecutor(max_workers=len(works) + 1) as pool:
        first = pool.submit(harness.writer.run, held)
        assert started.wait(timeout=30)
        futures = [pool.submit(harness.writer.run, work) for work in works]
        deadline = time.monotonic() + 30
        while harness.writer.pending() < len(works) and time.monotonic() < deadline:
            time.sleep(0.001)
        release.set()
    return first, futures


def test_queued_writes_share_one_transaction_and_a_failed_one_is_rolled_back_alone(
    harness: Harness,
) -> None:
    held, futures = queued_behind_a_held_write(
        harness, [add("a"), refuse("b"), add("c"), refuse("d"), add("e")]
    )
    assert held.result() == "held"
    assert harness.begins == 2  # the held write's transaction, then one for all five
    assert [future.result() for future in (futures[0], futures[2], futures[4])] == ["a", "c", "e"]
    for refused in (futures[1], futures[3]):
        with pytest.raises(InvalidInput, match="is refused"):
            refused.result()
    assert harness.notes() == ["a", "c", "e", "held"]


def test_a_group_is_at_most_max_group_writes(tmp_path: Path) -> None:
    harness = Harness(tmp_path / "notes.db", max_group=2)
    try:
        _, futures = queued_behind_a_held_write(harness, [add(name) for name in "abcde"])
        assert [future.result() for future in futures] == list("abcde")
        assert harness.begins == 1 + 3  # groups of 2, 2 and 1
    finally:
        harness.close()


def test_a_failed_commit_fails_every_write_of_the_group_and_writes_nothing(
    harness: Harness,
) -> None:
    harness.fail_commit = True
    held, futures = queued_behind_a_held_write(harness, [add("a"), add("b")])
    for future in (held, *futures):
        with pytest.raises(sa.exc.OperationalError, match="disk I/O error"):
            future.result()
    assert harness.notes() == []
    harness.fail_commit = False
    assert harness.writer.run(add("after")) == "after"  # the writer carries on
    assert harness.notes() == ["after"]


def test_a_write_that_lost_a_race_runs_again_alone(harness: Harness) -> None:
    harness.writer.run(add("taken"))
    attempts: list[int] = []

    def racy(connection: sa.Connection) -> str:
        attempts.append(1)
        name = "taken" if len(attempts) == 1 else "second try"
        return add(name)(connection)  # the first attempt hits the primary key: IntegrityError

    _, futures = queued_behind_a_held_write(harness, [add("a"), racy, add("b")])
    assert [future.result() for future in futures] == ["a", "second try", "b"]
    assert len(attempts) == 2
    assert harness.retried == ["second try"]
    assert harness.notes() == ["a", "b", "held", "second try", "taken"]


def test_close_finishes_the_queued_writes_and_a_later_write_starts_again(
    harness: Harness,
) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = [pool.submit(harness.writer.run, add(f"n{n}")) for n in range(8)]
        for future in futures:
            future.result()
    harness.writer.close()
    assert harness.writer.run(add("reopened")) == "reopened"
    assert len(harness.notes()) == 9


def test_a_write_that_exits_fails_only_its_caller_and_the_writer_carries_on(
    harness: Harness,
) -> None:
    def leave(connection: sa.Connection) -> str:
        add("never")(connection)
        raise SystemExit(3)

    with pytest.raises(SystemExit):
        harness.writer.run(leave)
    assert harness.writer.run(add("after")) == "after"
    assert harness.notes() == ["after"]


# -- writers of several processes on one SQLite file --------------------------------------------


def test_two_stores_on_one_file_write_at_once_and_lose_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    first, second = Store(url), Store(url)  # as two server workers: two writers, one lock
    try:
        first.migrate()
        first.upsert_papers([make_paper(n) for n in range(10)])

        def write(index: int) -> RecordResult:
            store = (first, second)[index % 2]
            return store.record_interactions(
                [make_event(f"w{index}-{n}", f"user{index % 4}", n) for n in range(10)]
            )

        with ThreadPoolExecutor(max_workers=8) as pool:
            results = list(pool.map(write, range(40)))
        assert results == [RecordResult(accepted=10, duplicates=0)] * 40
        stored = [len(second.user_interactions(UserId(f"user{u}"))) for u in range(4)]
        assert stored == [100] * 4
    finally:
        first.close()
        second.close()


def test_a_lock_held_past_busy_timeout_fails_the_write_and_then_it_recovers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("papersift.core.store._engine.SQLITE_BUSY_TIMEOUT_MS", 200)
    path = tmp_path / "locked.db"
    store = Store(f"sqlite:///{path}")
    try:
        store.migrate()
        store.upsert_papers([make_paper(0)])
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another process's writer, in a long transaction
        try:
            with pytest.raises(StoreUnavailable, match="database is locked"):
                store.record_interactions([make_event("blocked", "reader", 0)])
        finally:
            other.execute("ROLLBACK")
            other.close()
        assert store.record_interactions([make_event("later", "reader", 0)]).accepted == 1
        assert [e.event_id for e in store.user_interactions(UserId("reader"))] == ["later"]
    finally:
        store.close()
