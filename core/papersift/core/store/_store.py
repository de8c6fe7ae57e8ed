"""The store: papers, interactions and the revisions that key the ranking cache."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from papersift.core.errors import InvalidInput
from papersift.core.store import _migrations
from papersift.core.store._checks import check_interactions, check_papers
from papersift.core.store._engine import (
    UNAVAILABLE_ERRORS,
    WRITE_OPTION,
    create_engine,
    lost_race,
    one_writer,
    parse_url,
    unavailable,
)
from papersift.core.store._links import (
    arxiv_papers_keyed,
    link_title_papers,
    title_keys_to_look_up,
)
from papersift.core.store._writer import GroupWriter
from papersift.core.store.schema import (
    UtcDateTime,
    day_revisions,
    digests,
    erased_users,
    interactions,
    models,
    papers,
)
from papersift.core.titles import title_key
from papersift.core.types import (
    DigestDelivery,
    DigestRecordResult,
    EventId,
    Interaction,
    InteractionKind,
    Paper,
    PaperId,
    RecordResult,
    SentDigest,
    UpsertResult,
    UserDeletion,
    UserId,
)
from papersift.core.validation import check_digest

__all__ = ["ModelRecord", "Revisions", "Store", "digest_event_id"]

_T = TypeVar("_T")

# A write that lost a race (a deadlock, or a paper inserted by a concurrent batch) is run again.
_WRITE_ATTEMPTS = 3
# Ids per IN (...) list: far below the bound-parameter limits of SQLite and PostgreSQL.
_IDS_PER_QUERY = 1_000
# Advisory-lock key (class, object) serialising concurrent migrations on PostgreSQL.
_MIGRATION_LOCK = (0x70617065, 1)
_POPULAR_KINDS = (InteractionKind.CLICK.value, InteractionKind.SAVE.value)
_PAPER_FIELDS = tuple(column.name for column in papers.c if column.name != "paper_id")

_RevisionColumn = Literal["papers_rev", "activity_rev"]


@dataclass(frozen=True, slots=True)
class Revisions:
    """Cache-key parts of a ranked list for one user and day.

    Each grows whenever that list could change: ``user`` (the user's largest interaction id,
    0 for none) with every new interaction of the user, and never returns to an old value
    after the user is deleted; ``papers`` with every paper of the day inserted, changed or
    moved away; ``activity`` with every interaction recorded on (or deleted from) the day's
    papers. ``erased_at`` is when the user was last deleted, if ever (see
    :meth:`Store.delete_user`): a model trained before it must not serve them.
    """

    user: int
    papers: int
    activity: int
    erased_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class ModelRecord:
    """A published model bundle as the registry knows it."""

    version: str
    created_at: dt.datetime
    trained_at: dt.datetime | None
    data_start: dt.date | None
    data_end: dt.date | None
    metrics: dict[str, float]
    path: str


class Store:
    """Papers and interactions in SQLite or PostgreSQL.

    Synchronous and thread-safe: each call checks out its own connection and runs in its own
    transaction, so a batch is written whole or not at all. On a SQLite file, writes run on
    one thread of the store's, several in one transaction, each in a savepoint of its own
    (see ``_writer``); a call returns once its write is committed. Connection failures
    surface as :class:`~papersift.core.errors.StoreUnavailable`.
    """

    def __init__(self, database_url: str) -> None:
        """Prepare the engine for ``database_url``; nothing connects until the first call."""
        self._url = parse_url(database_url)
        self._engine = create_engine(self._url)
        self._writer = self._engine.execution_options(**{WRITE_OPTION: True})
        self._backend = self._url.get_backend_name()
        # SQLite writes one transaction at a time anyway: queue this process's writes in order
        # and commit them in groups, rather than let threads poll for the lock. PostgreSQL
        # writers run side by side (row and advisory locks queue them fairly).
        self._group = (
            GroupWriter(self._writer.begin, retry_alone=self._retry_alone, retryable=_retryable)
            if one_writer(self._url)
            else None
        )

    def __repr__(self) -> str:
        return f"Store({self._url.render_as_string(hide_password=True)!r})"

    def migrate(self) -> None:
        """Bring the schema up to date; safe to call on every start, also from several servers."""
        with self._guard(), self._writer.begin() as connection:
            if self._backend == "postgresql":
                connection.execute(
                    sa.text("SELECT pg_advisory_xact_lock(:kind, :key)"),
                    {"kind": _MIGRATION_LOCK[0], "key": _MIGRATION_LOCK[1]},
                )
            _migrations.upgrade(connection)

    def ping(self) -> None:
        """Check that the database answers; raise ``StoreUnavailable`` when it does not."""
        self._read(lambda connection: connection.execute(sa.select(1)).scalar_one())

    def close(self) -> None:
        """Finish the writes under way, then close every pooled connection."""
        if self._group is not None:
            self._group.close()
        self._engine.dispose()

    def upsert_papers(self, papers: Sequence[Paper]) -> UpsertResult:
        """Insert new papers and update changed ones, keyed by ``paper_id``.

        A paper known only by its title (id ``title:...``) that matches exactly one arXiv paper
        by title, stored or in the batch, takes that paper's URL and authors, and its categories
        and abstract where it has none (see ``papersift.core.store._links``).

        Raises ``InvalidInput`` or ``TooLarge`` (naming the field) before anything is written.
        """
        check_papers(papers)
        return self._write(lambda connection: self._upsert_papers(connection, papers))

    def record_interactions(self, interactions: Sequence[Interaction]) -> RecordResult:
        """Store new interactions; an ``event_id`` seen before counts as a duplicate.

        Every paper must be in the store already, else nothing of the batch is written.
        """
        check_interactions(interactions)
        return self._write(lambda connection: self._record(connection, interactions))

    def papers_for_date(self, date: dt.date) -> list[Paper]:
        """The papers listed on ``date``, ordered by ``paper_id``."""
        statement = sa.select(papers).where(papers.c.date == date)
        rows = self._read(lambda connection: connection.execute(statement).mappings().all())
        return sorted((_paper_from_row(row) for row in rows), key=lambda paper: paper.paper_id)

    def get_papers(self, paper_ids: Collection[PaperId]) -> dict[PaperId, Paper]:
        """The stored papers among ``paper_ids``; unknown ids are left out."""
        if not paper_ids:
            return {}

        def fetch(connection: sa.Connection) -> dict[PaperId, Paper]:
            found: dict[PaperId, Paper] = {}
            for chunk in _chunks(sorted(set(paper_ids))):
                statement = sa.select(papers).where(papers.c.paper_id.in_(chunk))
                for row in connection.execute(statement).mappings():
                    paper = _paper_from_row(row)
                    found[paper.paper_id] = paper
            return found

        return self._read(fetch)

    def revisions(self, user_id: UserId, date: dt.date) -> Revisions:
        """The cache-key revisions of ``user_id``'s list for ``date``, in one round trip."""
        user = (
            sa.select(sa.func.max(interactions.c.id))
            .where(interactions.c.user_id == user_id)
            .scalar_subquery()
        )
        day = day_revisions.c.date == date
        erased = (
            sa.select(erased_users.c.erased_at)
            .where(erased_users.c.user_hash == user_hash(user_id))
            .scalar_subquery()
        )
        statement = sa.select(
            sa.func.coalesce(user, 0),
            sa.func.coalesce(sa.select(day_revisions.c.papers_rev).where(day).scalar_subquery(), 0),
            sa.func.coalesce(
                sa.select(day_revisions.c.activity_rev).where(day).scalar_subquery(), 0
            ),
            sa.type_coerce(erased, UtcDateTime()),
        )
        row = self._read(lambda connection: connection.execute(statement).one())
        return Revisions(
            user=int(row[0]), papers=int(row[1]), activity=int(row[2]), erased_at=row[3]
        )

    def interactions_of(self, user_ids: Collection[UserId]) -> dict[UserId, list[Interaction]]:
        """Per user: what :meth:`user_interactions` gives (an empty list for none)."""
        wanted = sorted(set(user_ids))

        def fetch(connection: sa.Connection) -> dict[UserId, list[Interaction]]:
            found: dict[UserId, list[Interaction]] = {UserId(user): [] for user in wanted}
            for chunk in _chunks(wanted):
                statement = (
                    sa.select(interactions)
                    .where(interactions.c.user_id.in_(chunk))
                    .order_by(interactions.c.occurred_at, interactions.c.id)
                )
                for row in connection.execute(statement).mappings():
                    interaction = _interaction_from_row(row)
                    found[interaction.user_id].append(interaction)
            return found

        return self._read(fetch)

    def popularity(self, date: dt.date) -> dict[PaperId, int]:
        """Per paper of ``date``: how many distinct users clicked or saved it (only counts > 0)."""
        statement = (
            sa.select(interactions.c.paper_id, sa.func.count(sa.distinct(interactions.c.user_id)))
            .join(papers, papers.c.paper_id == interactions.c.paper_id)
            .where(papers.c.date == date, interactions.c.kind.in_(_POPULAR_KINDS))
            .group_by(interactions.c.paper_id)
        )
        rows = self._read(lambda connection: connection.execute(statement).all())
        return {PaperId(paper_id): int(count) for paper_id, count in rows}

    def user_paper_ids(self, user_id: UserId, kinds: Collection[InteractionKind]) -> set[PaperId]:
        """Ids of the papers ``user_id`` had an interaction of one of ``kinds`` with."""
        if not kinds:
            return set()
        statement = (
            sa.select(interactions.c.paper_id)
            .distinct()
            .where(
                interactions.c.user_id == user_id,
                interactions.c.kind.in_(sorted(InteractionKind(kind).value for kind in kinds)),
            )
        )
        ids = self._read(lambda connection: connection.execute(statement).scalars().all())
        return {PaperId(paper_id) for paper_id in ids}

    def user_interactions(self, user_id: UserId) -> list[Interaction]:
        """Every interaction of ``user_id``, oldest first (ties in the order they were stored)."""
        statement = (
            sa.select(interactions)
            .where(interactions.c.user_id == user_id)
            .order_by(interactions.c.occurred_at, interactions.c.id)
        )
        rows = self._read(lambda connection: connection.execute(statement).mappings().all())
        return [_interaction_from_row(row) for row in rows]

    def delete_user(self, user_id: UserId) -> UserDeletion:
        """Delete every interaction and digest record of ``user_id``; return how many there were.

        The activity revision of every day the user touched grows too: popularity changed. The
        SHA-256 of the id is kept with the time of the erasure (and nothing else), so that a
        model trained before it stops serving the reader; :meth:`purge_erasures` drops it once
        no model that old is served.
        """
        return self._write(lambda connection: self._delete_user(connection, user_id))

    def purge_erasures(self, before: dt.datetime) -> int:
        """Forget erasures older than ``before`` (the training time of the oldest model any
        server may still serve); returns how many were dropped."""

        def purge(connection: sa.Connection) -> int:
            statement = sa.delete(erased_users).where(erased_users.c.erased_at < before)
            return int(connection.execute(statement).rowcount)

        return self._write(purge)

    def record_digest(self, digest: DigestDelivery) -> DigestRecordResult:
        """Record a sent digest and its papers as ``IMPRESSION``s, in one transaction.

        Idempotent by (user, date): a digest recorded before is left as it was
        (``recorded=False``). Every paper must be in the store, else nothing is written.
        """
        check_digest(digest)
        return self._write(lambda connection: self._record_digest(connection, digest))

    def sent_digests(self, date: dt.date, user_ids: Collection[UserId]) -> dict[UserId, SentDigest]:
        """The digests of ``date`` recorded as sent to any of ``user_ids``."""

        def fetch(connection: sa.Connection) -> dict[UserId, SentDigest]:
            found: dict[UserId, SentDigest] = {}
            for chunk in _chunks(sorted(set(user_ids))):
                statement = sa.select(digests).where(
                    digests.c.date == date, digests.c.user_id.in_(chunk)
                )
                for row in connection.execute(statement).mappings():
                    found[UserId(row["user_id"])] = SentDigest(
                        user_id=UserId(row["user_id"]),
                        date=row["date"],
                        sent_at=row["sent_at"],
                        paper_count=row["paper_count"],
                        message_id=row["message_id"],
                    )
            return found

        return self._read(fetch)

    def iter_papers(self, batch_size: int = 5_000) -> Iterator[Paper]:
        """Every stored paper, ordered by listing day then ``paper_id`` (for training)."""
        statement = sa.select(papers).order_by(papers.c.date, papers.c.paper_id)
        rows = self._read(lambda connection: connection.execute(statement).mappings().all())
        for start in range(0, len(rows), batch_size):
            yield from (_paper_from_row(row) for row in rows[start : start + batch_size])

    def all_interactions(self) -> list[Interaction]:
        """Every stored interaction, oldest first (for training)."""
        statement = sa.select(interactions).order_by(interactions.c.occurred_at, interactions.c.id)
        rows = self._read(lambda connection: connection.execute(statement).mappings().all())
        return [_interaction_from_row(row) for row in rows]

    def register_model(self, record: ModelRecord) -> None:
        """Record a published model bundle in the registry (replacing a same-version entry)."""
        values = {
            "version": record.version,
            "created_at": record.created_at,
            "trained_at": record.trained_at,
            "data_start": record.data_start,
            "data_end": record.data_end,
            "metrics": dict(record.metrics),
            "path": record.path,
        }

        def write(connection: sa.Connection) -> None:
            connection.execute(sa.delete(models).where(models.c.version == record.version))
            connection.execute(sa.insert(models).values(**values))

        self._write(write)

    def model_records(self) -> list[ModelRecord]:
        """The registered models, newest first."""
        statement = sa.select(models).order_by(models.c.created_at.desc())
        rows = self._read(lambda connection: connection.execute(statement).mappings().all())
        return [
            ModelRecord(
                version=row["version"],
                created_at=row["created_at"],
                trained_at=row["trained_at"],
                data_start=row["data_start"],
                data_end=row["data_end"],
                metrics={str(k): float(v) for k, v in row["metrics"].items()},
                path=row["path"],
            )
            for row in rows
        ]

    def dates_with_papers(self) -> list[dt.date]:
        """Every listing day that has papers, ascending."""
        statement = sa.select(papers.c.date).distinct().order_by(papers.c.date)
        return list(self._read(lambda connection: connection.execute(statement).scalars().all()))

    def day_counts(
        self,
        start: dt.date | None = None,
        end: dt.date | None = None,
        limit: int | None = None,
    ) -> list[tuple[dt.date, int]]:
        """Listing days with papers from ``start`` to ``end`` (inclusive), with their counts.

        Oldest first; with ``limit``, only the latest ``limit`` days of the range.
        """
        statement = sa.select(papers.c.date, sa.func.count()).group_by(papers.c.date)
        if start is not None:
            statement = statement.where(papers.c.date >= start)
        if end is not None:
            statement = statement.where(papers.c.date <= end)
        statement = statement.order_by(papers.c.date.desc())
        if limit is not None:
            statement = statement.limit(limit)
        rows = self._read(lambda connection: connection.execute(statement).all())
        return [(row[0], int(row[1])) for row in reversed(rows)]

    def nearest_days(self, date: dt.date) -> tuple[dt.date | None, dt.date | None]:
        """The latest listing day before ``date`` and the first after it (``None``: none)."""
        before = sa.select(sa.func.max(papers.c.date)).where(papers.c.date < date)
        after = sa.select(sa.func.min(papers.c.date)).where(papers.c.date > date)
        statement = sa.select(before.scalar_subquery(), after.scalar_subquery())
        row = self._read(lambda connection: connection.execute(statement).one())
        return _as_date(row[0]), _as_date(row[1])

    def global_revisions(self) -> tuple[int, int]:
        """The sums of every day's papers and activity revisions.

        The first grows whenever any paper is inserted or changed, the second with every
        interaction recorded or deleted anywhere: cheap change detectors for the whole store.
        """
        statement = sa.select(
            sa.func.coalesce(sa.func.sum(day_revisions.c.papers_rev), 0),
            sa.func.coalesce(sa.func.sum(day_revisions.c.activity_rev), 0),
        )
        row = self._read(lambda connection: connection.execute(statement).one())
        return int(row[0]), int(row[1])

    def user_stamps(
        self, user_ids: Collection[UserId]
    ) -> dict[UserId, tuple[int, dt.datetime | None]]:
        """Per user: the ``user`` revision and ``erased_at`` that :meth:`revisions` gives."""
        wanted = sorted(set(user_ids))

        def fetch(connection: sa.Connection) -> dict[UserId, tuple[int, dt.datetime | None]]:
            latest: dict[str, int] = {}
            erased: dict[str, dt.datetime] = {}
            for chunk in _chunks(wanted):
                statement = (
                    sa.select(interactions.c.user_id, sa.func.max(interactions.c.id))
                    .where(interactions.c.user_id.in_(chunk))
                    .group_by(interactions.c.user_id)
                )
                latest.update({user: int(rev) for user, rev in connection.execute(statement)})
                hashes = {user_hash(user): user for user in chunk}
                statement = sa.select(erased_users.c.user_hash, erased_users.c.erased_at).where(
                    erased_users.c.user_hash.in_(sorted(hashes))
                )
                erased.update({hashes[key]: at for key, at in connection.execute(statement)})
            return {UserId(user): (latest.get(user, 0), erased.get(user)) for user in wanted}

        return self._read(fetch)

    def day_stamps(self, dates: Collection[dt.date]) -> dict[dt.date, tuple[int, int]]:
        """Per date: the ``papers`` and ``activity`` revisions that :meth:`revisions` gives."""
        wanted = sorted(set(dates))
        if not wanted:
            return {}
        statement = sa.select(
            day_revisions.c.date, day_revisions.c.papers_rev, day_revisions.c.activity_rev
        ).where(day_revisions.c.date.in_(wanted))
        rows = self._read(lambda connection: connection.execute(statement).all())
        found = {_as_date(row[0]): (int(row[1]), int(row[2])) for row in rows}
        return {date: found.get(date, (0, 0)) for date in wanted}

    def latest_papers(self, limit: int) -> list[Paper]:
        """Up to ``limit`` papers of the latest listing days, ordered by day then ``paper_id``."""
        statement = (
            sa.select(papers).order_by(papers.c.date.desc(), papers.c.paper_id.desc()).limit(limit)
        )
        rows = self._read(lambda connection: connection.execute(statement).mappings().all())
        return [_paper_from_row(row) for row in reversed(rows)]

    def liked_counts(self, limit: int) -> dict[PaperId, int]:
        """The ``limit`` papers the most distinct readers saved or clicked, over all days.

        Most liked first (ties by ``paper_id``), with their reader counts. The community's
        taste: ``POPULAR`` lists of a day nobody has touched yet rank by similarity to them.
        """
        readers = sa.func.count(sa.distinct(interactions.c.user_id))
        statement = (
            sa.select(interactions.c.paper_id, readers)
            .where(interactions.c.kind.in_(_POPULAR_KINDS))
            .group_by(interactions.c.paper_id)
            .order_by(readers.desc(), interactions.c.paper_id)
            .limit(limit)
        )
        rows = self._read(lambda connection: connection.execute(statement).all())
        return {PaperId(paper_id): int(count) for paper_id, count in rows}

    # -- transactions -------------------------------------------------------------------------

    @contextlib.contextmanager
    def _guard(self) -> Iterator[None]:
        try:
            yield
        except UNAVAILABLE_ERRORS as exc:
            raise unavailable(exc, self._url) from exc

    def _read(self, work: Callable[[sa.Connection], _T]) -> _T:
        with self._guard(), self._engine.connect() as connection:
            return work(connection)

    def _write(self, work: Callable[[sa.Connection], _T]) -> _T:
        # Either way the caller returns only after the COMMIT of its write.
        with self._guard():
            if self._group is not None:
                return self._group.run(work)
            return self._write_alone(work, _WRITE_ATTEMPTS)

    def _write_alone(self, work: Callable[[sa.Connection], _T], attempts: int) -> _T:
        attempt = 1
        while True:
            try:
                with self._writer.begin() as connection:
                    return work(connection)
            except (sa.exc.IntegrityError, sa.exc.OperationalError) as exc:
                if attempt >= attempts or not lost_race(exc):
                    raise
                attempt += 1

    def _retry_alone(self, work: Callable[[sa.Connection], _T]) -> _T:
        # A write that lost a race in a group already had its first attempt there.
        return self._write_alone(work, _WRITE_ATTEMPTS - 1)

    def _insert(self, table: sa.Table) -> sqlite.Insert | postgresql.Insert:
        if self._backend == "sqlite":
            return sqlite.insert(table)
        return postgresql.insert(table)

    # -- papers -------------------------------------------------------------------------------

    def _upsert_papers(self, connection: sa.Connection, batch: Sequence[Paper]) -> UpsertResult:
        # Rows are locked and written in paper_id order so that concurrent batches sharing
        # papers wait for each other instead of deadlocking.
        incoming = sorted(batch, key=lambda paper: paper.paper_id)
        keys = title_keys_to_look_up(incoming)
        if keys:
            rows = connection.execute(arxiv_papers_keyed(keys)).mappings()
            incoming = link_title_papers(incoming, [_paper_from_row(row) for row in rows])
        stored = self._lock_papers(connection, [paper.paper_id for paper in incoming])
        new: list[dict[str, Any]] = []
        changed: list[dict[str, Any]] = []
        touched_dates: set[dt.date] = set()
        for paper in incoming:
            values = _paper_values(paper)
            old = stored.get(paper.paper_id)
            if old == values:
                continue
            (new if old is None else changed).append(values)
            touched_dates.add(paper.date)
            if old is not None:
                touched_dates.add(old["date"])
        if new:
            connection.execute(sa.insert(papers), new)
        if changed:
            connection.execute(_update_paper_statement(), [_update_params(row) for row in changed])
        self._bump(connection, touched_dates, "papers_rev")
        unchanged = len(batch) - len(new) - len(changed)
        return UpsertResult(inserted=len(new), updated=len(changed), unchanged=unchanged)

    def _lock_papers(
        self, connection: sa.Connection, paper_ids: Sequence[str]
    ) -> dict[str, dict[str, Any]]:
        # FOR NO KEY UPDATE (not FOR UPDATE) so that recording interactions on these papers,
        # whose foreign key check takes a KEY SHARE lock, is not blocked. SQLite ignores it.
        statement = (
            sa.select(papers)
            .where(papers.c.paper_id.in_(paper_ids))
            .order_by(papers.c.paper_id)
            .with_for_update(key_share=True)
        )
        rows = connection.execute(statement).mappings()
        return {row["paper_id"]: dict(row) for row in rows}

    def _bump(
        self, connection: sa.Connection, dates: Iterable[dt.date], column: _RevisionColumn
    ) -> None:
        ordered = sorted(set(dates))
        if not ordered:
            return
        insert = self._insert(day_revisions)
        # An upsert that adds 1 to the stored value, so concurrent bumps never overwrite each
        # other; dates go in order so that concurrent writers lock the rows in the same order.
        statement = insert.on_conflict_do_update(
            index_elements=[day_revisions.c.date],
            set_={column: day_revisions.c[column] + 1},
        )
        rows = [
            {"date": date, "papers_rev": 0, "activity_rev": 0} | {column: 1} for date in ordered
        ]
        connection.execute(statement, rows)

    # -- interactions -------------------------------------------------------------------------

    def _record(self, connection: sa.Connection, batch: Sequence[Interaction]) -> RecordResult:
        dates = self._paper_dates(connection, {interaction.paper_id for interaction in batch})
        for index, interaction in enumerate(batch):
            if interaction.paper_id not in dates:
                raise InvalidInput(
                    f"interactions[{index}].paper_id",
                    f"unknown paper {interaction.paper_id!r}; upsert the paper first",
                )
        unique = _first_occurrences(batch)
        self._lock_users(connection, {interaction.user_id for interaction in unique})
        statement = (
            self._insert(interactions)
            .on_conflict_do_nothing(index_elements=[interactions.c.event_id])
            .returning(interactions.c.paper_id, interactions.c.kind)
        )
        rows = [_interaction_values(interaction) for interaction in unique]
        inserted = connection.execute(statement, rows).all()
        # Only what popularity counts changes a day's POPULAR lists; impressions (the digest
        # records many) and dismissals (they change the dismisser's own list only) do not.
        popular_days = (dates[paper_id] for paper_id, kind in inserted if kind in _POPULAR_KINDS)
        self._bump(connection, popular_days, "activity_rev")
        return RecordResult(accepted=len(inserted), duplicates=len(batch) - len(inserted))

    def _paper_dates(self, connection: sa.Connection, paper_ids: set[str]) -> dict[str, dt.date]:
        dates: dict[str, dt.date] = {}
        for chunk in _chunks(sorted(paper_ids)):
            statement = sa.select(papers.c.paper_id, papers.c.date).where(
                papers.c.paper_id.in_(chunk)
            )
            dates.update({paper_id: date for paper_id, date in connection.execute(statement)})
        return dates

    def _lock_users(self, connection: sa.Connection, user_ids: set[str]) -> None:
        # On PostgreSQL, ids come from a sequence when a row is inserted, and rows become
        # visible when their transaction commits, in whatever order. Serialising the writers
        # of each user makes that user's ids visible in increasing order, so the user
        # revision (their largest id) changes with every commit. Locks are taken in key
        # order to rule out deadlocks. SQLite needs none of this: it has a single writer.
        if self._backend != "postgresql":
            return
        keys = sorted({_lock_key(user_id) for user_id in user_ids})
        connection.execute(
            sa.text("SELECT pg_advisory_xact_lock(key) FROM unnest(CAST(:keys AS BIGINT[])) key"),
            {"keys": keys},
        )

    def _record_digest(
        self, connection: sa.Connection, digest: DigestDelivery
    ) -> DigestRecordResult:
        known = self._paper_dates(connection, set(digest.paper_ids))
        for index, paper_id in enumerate(digest.paper_ids):
            if paper_id not in known:
                raise InvalidInput(
                    f"paper_ids[{index}]", f"unknown paper {paper_id!r}; upsert the paper first"
                )
        statement = (
            self._insert(digests)
            .on_conflict_do_nothing(index_elements=[digests.c.user_id, digests.c.date])
            .returning(digests.c.user_id)
        )
        row = {
            "user_id": digest.user_id,
            "date": digest.date,
            "sent_at": digest.sent_at,
            "paper_count": len(digest.paper_ids),
            "message_id": digest.message_id,
        }
        if connection.execute(statement, row).first() is None:
            return DigestRecordResult(recorded=False, impressions=0)
        if not digest.paper_ids:
            return DigestRecordResult(recorded=True, impressions=0)
        impressions = [
            Interaction(
                event_id=digest_event_id(digest.user_id, digest.date, paper_id),
                user_id=digest.user_id,
                paper_id=paper_id,
                kind=InteractionKind.IMPRESSION,
                occurred_at=digest.sent_at,
            )
            for paper_id in digest.paper_ids
        ]
        result = self._record(connection, impressions)
        return DigestRecordResult(recorded=True, impressions=result.accepted)

    def _delete_user(self, connection: sa.Connection, user_id: UserId) -> UserDeletion:
        # Deleting changes the popularity of the user's papers: their days' lists may change.
        dates = (
            sa.select(papers.c.date)
            .distinct()
            .join(interactions, interactions.c.paper_id == papers.c.paper_id)
            .where(interactions.c.user_id == user_id)
        )
        self._bump(connection, connection.execute(dates).scalars().all(), "activity_rev")
        deleted = connection.execute(
            sa.delete(interactions).where(interactions.c.user_id == user_id)
        )
        mailed = connection.execute(sa.delete(digests).where(digests.c.user_id == user_id))
        tombstone = self._insert(erased_users).values(
            user_hash=user_hash(user_id), erased_at=dt.datetime.now(dt.UTC)
        )
        connection.execute(
            tombstone.on_conflict_do_update(
                index_elements=[erased_users.c.user_hash],
                set_={"erased_at": tombstone.excluded.erased_at},
            )
        )
        return UserDeletion(interactions=int(deleted.rowcount), digests=int(mailed.rowcount))


def _retryable(exc: Exception) -> bool:
    return isinstance(exc, sa.exc.IntegrityError | sa.exc.OperationalError) and lost_race(exc)


def _as_date(value: Any) -> dt.date | None:
    # An aggregate over a Date column comes back as text on SQLite.
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


def user_hash(user_id: str) -> str:
    """The SHA-256 (hex) of a user id, as the erasure records keep it."""
    return hashlib.sha256(user_id.encode()).hexdigest()


def digest_event_id(user_id: str, date: dt.date, paper_id: str) -> EventId:
    """The event id of the ``IMPRESSION`` a digest records: stable, and short whatever the ids."""
    digest = hashlib.sha256(f"{user_id}\0{paper_id}".encode()).hexdigest()[:32]
    return EventId(f"digest:{date.isoformat()}:{digest}")


def _paper_values(paper: Paper) -> dict[str, Any]:
    return {
        "paper_id": paper.paper_id,
        "title": paper.title,
        "abstract": paper.abstract,
        "authors": list(paper.authors),
        "categories": list(paper.categories),
        "url": paper.url,
        "source": paper.source,
        "date": paper.date,
        "title_key": title_key(paper.title),
    }


def _paper_from_row(row: sa.RowMapping) -> Paper:
    return Paper(
        paper_id=PaperId(row["paper_id"]),
        title=row["title"],
        date=row["date"],
        abstract=row["abstract"],
        authors=tuple(row["authors"]),
        categories=tuple(row["categories"]),
        url=row["url"],
        source=row["source"],
    )


def _update_paper_statement() -> sa.Update:
    return (
        sa.update(papers)
        .where(papers.c.paper_id == sa.bindparam("key_paper_id"))
        .values({name: sa.bindparam(f"new_{name}") for name in _PAPER_FIELDS})
    )


def _update_params(values: dict[str, Any]) -> dict[str, Any]:
    params = {f"new_{name}": values[name] for name in _PAPER_FIELDS}
    params["key_paper_id"] = values["paper_id"]
    return params


def _interaction_values(interaction: Interaction) -> dict[str, Any]:
    return {
        "event_id": interaction.event_id,
        "user_id": interaction.user_id,
        "paper_id": interaction.paper_id,
        "kind": InteractionKind(interaction.kind).value,
        "occurred_at": interaction.occurred_at,
    }


def _interaction_from_row(row: sa.RowMapping) -> Interaction:
    return Interaction(
        event_id=EventId(row["event_id"]),
        user_id=UserId(row["user_id"]),
        paper_id=PaperId(row["paper_id"]),
        kind=InteractionKind(row["kind"]),
        occurred_at=row["occurred_at"],
    )


def _first_occurrences(batch: Sequence[Interaction]) -> list[Interaction]:
    seen: set[str] = set()
    unique: list[Interaction] = []
    for interaction in batch:
        if interaction.event_id not in seen:
            seen.add(interaction.event_id)
            unique.append(interaction)
    return unique


def _chunks(ids: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(ids), _IDS_PER_QUERY):
        yield ids[start : start + _IDS_PER_QUERY]


def _lock_key(user_id: str) -> int:
    digest = hashlib.blake2b(user_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)
