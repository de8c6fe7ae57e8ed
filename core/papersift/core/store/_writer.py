"""Group commit: one thread runs a store's writes, several to a transaction.

SQLite has one writer at a time. Writers of one process that each open their own transaction
queue on ``busy_timeout``, which polls with sleeps of up to 100 ms: the lock sits free while
every waiter sleeps, and a writer that has waited long loses to each newcomer (p99 of seconds
at 8 concurrent writers, half the throughput of one). Here the process's writes queue in
order instead, and one thread takes every write waiting, runs each in a SAVEPOINT of one
transaction and commits once: a write that fails is rolled back alone while the others
commit, one fsync covers them all, and no caller is answered before the COMMIT returns.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import sqlalchemy as sa

__all__ = ["GroupWriter"]

logger = logging.getLogger("papersift.core.store")

_T = TypeVar("_T")

Work = Callable[[sa.Connection], Any]


@dataclass(eq=False)
class _Job(Generic[_T]):
    work: Callable[[sa.Connection], _T]
    future: Future[_T] = field(default_factory=Future)
    # (succeeded, what the work returned or raised) in the group's transaction; set on the
    # future only once the group committed (or failed as a whole).
    outcome: tuple[bool, Any] | None = None


class _Stop:
    """Tells a writer thread to end once it has run everything queued before it."""


class GroupWriter:
    """Runs writes on one thread, as many as are waiting in one transaction.

    Args:
        begin: Opens a write transaction (committed when its block ends without error).
        retry_alone: Runs a write again in its own transaction(s): used for a write that lost
            a race inside the group (``retryable``), so it gets the retries it would get alone.
        retryable: Whether an error of a write is worth running it again.
        max_group: Most writes in one transaction (bounds how long it holds the lock).
    """

    def __init__(
        self,
        begin: Callable[[], contextlib.AbstractContextManager[sa.Connection]],
        *,
        retry_alone: Callable[[Work], Any],
        retryable: Callable[[Exception], bool],
        max_group: int = 32,
    ) -> None:
        """Prepare the writer; its thread starts with the first write."""
        if max_group < 1:
            raise ValueError(f"max_group must be at least 1, got {max_group}")
        self._begin = begin
        self._retry_alone = retry_alone
        self._retryable = retryable
        self._max_group = max_group
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._queue: queue.SimpleQueue[_Job[Any] | _Stop] = queue.SimpleQueue()
        self._pid = os.getpid()

    def run(self, work: Callable[[sa.Connection], _T]) -> _T:
        """Run ``work`` in a write transaction; return once it is committed.

        Raises what ``work`` raised (nothing of it is written then), or what failed the whole
        transaction (nothing of the group is written).
        """
        job: _Job[_T] = _Job(work)
        with self._lock:
            self._running().put(job)
        return job.future.result()

    def pending(self) -> int:
        """Writes queued and not yet taken into a transaction (approximate while writing)."""
        return self._queue.qsize()

    def close(self) -> None:
        """Finish the writes queued so far, then stop the thread (a later write starts one)."""
        with self._lock:
            thread, self._thread = self._thread, None
            if thread is None or not thread.is_alive() or self._pid != os.getpid():
                return
            self._queue.put(_Stop())
        thread.join()

    def _running(self) -> queue.SimpleQueue[_Job[Any] | _Stop]:
        # A forked child inherits the parent's state but not its thread, and a closed writer's
        # queue ends with a stop: both start on a new queue. A thread that died keeps its
        # queue, so the writes waiting in it are still run.
        if self._pid != os.getpid() or self._thread is None:
            self._pid = os.getpid()
            self._queue = queue.SimpleQueue()
            self._thread = None
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(
                target=self._loop, args=(self._queue,), name="papersift-store-writer", daemon=True
            )
            self._thread.start()
        return self._queue

    def _loop(self, jobs: queue.SimpleQueue[_Job[Any] | _Stop]) -> None:
        stopping = False
        while not stopping:
            first = jobs.get()
            if isinstance(first, _Stop):
                return
            group: list[_Job[Any]] = [first]
            while len(group) < self._max_group:
                try:
                    more = jobs.get_nowait()
                except queue.Empty:
                    break
                if isinstance(more, _Stop):
                    stopping = True
                    break
                group.append(more)
            self._commit(group)

    def _commit(self, group: list[_Job[Any]]) -> None:
        try:
            with self._begin() as connection:
                for job in group:
                    self._attempt(connection, job)
        except BaseException as exc:  # BEGIN or COMMIT failed: nothing of the group is written
            # Even a SystemExit goes to the callers (as if each had run its write) while the
            # thread carries on with the writes queued behind them.
            for job in group:
                if job.outcome is None or job.outcome[0]:
                    job.outcome = (False, exc)
        for job in group:
            outcome = job.outcome
            if outcome is not None and not outcome[0] and self._lost_race(outcome[1]):
                job.outcome = self._alone(job)
        _answer(group)

    def _attempt(self, connection: sa.Connection, job: _Job[Any]) -> None:
        savepoint = connection.begin_nested()
        try:
            result = job.work(connection)
        except Exception as exc:
            # A failed ROLLBACK TO (SQLite already rolled the whole transaction back, or the
            # connection is gone) raises here and fails the group.
            savepoint.rollback()
            job.outcome = (False, exc)
        else:
            savepoint.commit()
            job.outcome = (True, result)

    def _lost_race(self, error: BaseException) -> bool:
        return isinstance(error, Exception) and self._retryable(error)

    def _alone(self, job: _Job[Any]) -> tuple[bool, Any]:
        try:
            return (True, self._retry_alone(job.work))
        except Exception as exc:
            return (False, exc)


def _answer(group: list[_Job[Any]]) -> None:
    for job in group:
        assert job.outcome is not None  # every job is run, or failed with its group
        succeeded, value = job.outcome
        if succeeded:
            job.future.set_result(value)
        else:
            job.future.set_exception(value)
