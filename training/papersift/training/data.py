"""Training inputs: papers and interactions from the store or JSONL exports, turned into
matrices with a time-ordered validation split whose papers are all unseen in training.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from papersift.core.errors import PaperSiftError, StoreUnavailable
from papersift.core.signals import UserSignals, user_signals
from papersift.core.store import Store
from papersift.core.types import EventId, Interaction, InteractionKind, Paper, PaperId, UserId


class TrainingError(PaperSiftError):
    """Training cannot go on; the message says why and what to do."""


@dataclass(frozen=True)
class DataSummary:
    """What training read, printed first, put in the report and in the bundle's manifest.

    Attributes:
        readers: Distinct readers with at least one interaction.
        papers: Papers read.
        interactions: Interactions read.
        by_kind: Interactions of each kind, every kind listed (``CLICK``, ``SAVE``, ...).
        first_day: Earliest listing day of the papers.
        last_day: Latest listing day of the papers.
        days: Distinct listing days of the papers.
        interaction_days: Distinct (UTC) days with an interaction.
        unknown_papers: Interactions naming a paper that is not among the papers read.
    """

    readers: int
    papers: int
    interactions: int
    by_kind: dict[str, int]
    first_day: dt.date | None
    last_day: dt.date | None
    days: int
    interaction_days: int
    unknown_papers: int

    @classmethod
    def of(cls, papers: Sequence[Paper], interactions: Sequence[Interaction]) -> DataSummary:
        """Count ``papers`` and ``interactions``."""
        kinds = Counter(interaction.kind for interaction in interactions)
        dates = {paper.date for paper in papers}
        known = {paper.paper_id for paper in papers}
        return cls(
            readers=len({interaction.user_id for interaction in interactions}),
            papers=len(papers),
            interactions=len(interactions),
            by_kind={kind.name: kinds.get(kind, 0) for kind in InteractionKind},
            first_day=min(dates, default=None),
            last_day=max(dates, default=None),
            days=len(dates),
            interaction_days=len({i.occurred_at.astimezone(dt.UTC).date() for i in interactions}),
            unknown_papers=sum(i.paper_id not in known for i in interactions),
        )

    @property
    def day_range(self) -> str:
        """``first..last`` listing day, or ``none``."""
        if self.first_day is None or self.last_day is None:
            return "none"
        return f"{self.first_day.isoformat()}..{self.last_day.isoformat()}"

    def lines(self) -> list[str]:
        """The summary as printed: readers, papers, interactions by kind, days."""
        kinds = ", ".join(f"{name} {count:,}" for name, count in self.by_kind.items())
        lines = [
            f"data: {self.readers:,} readers, {self.papers:,} papers, "
            f"{self.interactions:,} interactions",
            f"  interactions by kind: {kinds}",
            f"  days: {self.day_range} ({_count(self.days, 'listing day')} of papers; "
            f"interactions on {_count(self.interaction_days, 'day')})",
        ]
        if self.unknown_papers:
            what = (
                "interaction names a paper that is"
                if self.unknown_papers == 1
                else "interactions name papers that are"
            )
            lines.append(f"  {self.unknown_papers:,} {what} not in the data (not learned from)")
        return lines

    def to_json(self) -> dict[str, Any]:
        """JSON-ready data for the manifest's ``params["data"]``."""
        return {
            "readers": self.readers,
            "papers": self.papers,
            "interactions": self.interactions,
            "by_kind": dict(self.by_kind),
            "first_day": self.first_day.isoformat() if self.first_day else None,
            "last_day": self.last_day.isoformat() if self.last_day else None,
            "days": self.days,
            "interaction_days": self.interaction_days,
            "unknown_papers": self.unknown_papers,
        }


@dataclass(frozen=True)
class Corpus:
    """Everything training reads: papers and interactions (oldest first).

    ``read_at`` is when reading began: the model knows nothing that happened after it, and is
    stamped with it (``trained_at``), which is what erasures are compared with.
    """

    papers: list[Paper]
    interactions: list[Interaction]
    read_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))

    @cached_property
    def summary(self) -> DataSummary:
        """Readers, papers, interactions by kind and days (computed once)."""
        return DataSummary.of(self.papers, self.interactions)

    @property
    def window(self) -> tuple[dt.date | None, dt.date | None]:
        """First and last listing day of the papers."""
        if not self.papers:
            return None, None
        dates = [paper.date for paper in self.papers]
        return min(dates), max(dates)


def load_store(database_url: str) -> Corpus:
    """Read every paper and interaction from the store."""
    store = Store(database_url)
    read_at = dt.datetime.now(dt.UTC)
    try:
        return Corpus(list(store.iter_papers()), store.all_interactions(), read_at)
    except StoreUnavailable as exc:
        raise TrainingError(f"cannot read the store: {exc}") from exc
    except Exception as exc:  # e.g. a database that was never migrated
        raise TrainingError(
            f"cannot read the store ({type(exc).__name__}: {exc}); "
            "is it a papersift database? run `papersift-server migrate` first"
        ) from exc
    finally:
        store.close()


def load_jsonl(papers_path: Path, interactions_path: Path) -> Corpus:
    """Read JSONL exports: papers (papersift or arXiv-listing fields) and interactions."""
    papers = [_paper_from_json(row, papers_path, line) for line, row in _rows(papers_path)]
    interactions = [
        _interaction_from_json(row, interactions_path, line)
        for line, row in _rows(interactions_path)
    ]
    interactions.sort(key=lambda interaction: interaction.occurred_at)
    return Corpus(papers, interactions)


def _rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8") as lines:
            for number, text in enumerate(lines, start=1):
                if not text.strip():
                    continue
                try:
                    row = json.loads(text)
                except json.JSONDecodeError as exc:
                    raise TrainingError(f"{path} line {number}: invalid JSON ({exc.msg})") from exc
                if not isinstance(row, dict):
                    raise TrainingError(f"{path} line {number}: expected a JSON object")
                yield number, row
    except OSError as exc:
        raise TrainingError(f"cannot read {path}: {exc}") from exc


def _paper_from_json(row: dict[str, Any], path: Path, line: int) -> Paper:
    try:
        if "arxiv_id" in row:  # the arXiv listing export
            return Paper(
                paper_id=PaperId(f"arxiv:{row['arxiv_id']}"),
                title=str(row["title"]),
                date=dt.date.fromisoformat(row["first_listed"]),
                abstract=str(row.get("abstract", "")),
                authors=tuple(row.get("authors", ())),
                categories=tuple(row.get("categories", ())),
                url=f"https://arxiv.org/abs/{row['arxiv_id']}",
                source="arxiv",
            )
        return Paper(
            paper_id=PaperId(str(row["paper_id"])),
            title=str(row["title"]),
            date=dt.date.fromisoformat(row["date"]),
            abstract=str(row.get("abstract", "")),
            authors=tuple(row.get("authors", ())),
            categories=tuple(row.get("categories", ())),
            url=str(row.get("url", "")),
            source=str(row.get("source", "")),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise TrainingError(f"{path} line {line}: not a paper ({exc!r})") from exc


def _interaction_from_json(row: dict[str, Any], path: Path, line: int) -> Interaction:
    try:
        occurred_at = dt.datetime.fromisoformat(str(row["occurred_at"]).replace("Z", "+00:00"))
        if occurred_at.tzinfo is None:
            raise ValueError("occurred_at has no time zone")
        return Interaction(
            event_id=EventId(str(row["event_id"])),
            user_id=UserId(str(row["user_id"])),
            paper_id=PaperId(str(row["paper_id"])),
            kind=InteractionKind(str(row["kind"]).lower()),
            occurred_at=occurred_at,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise TrainingError(f"{path} line {line}: not an interaction ({exc!r})") from exc


def signals_by_user(interactions: Iterable[Interaction]) -> dict[UserId, UserSignals]:
    """Each reader's preferences, from their interactions in time order."""
    grouped: dict[UserId, list[Interaction]] = defaultdict(list)
    for interaction in sorted(interactions, key=lambda item: item.occurred_at):
        grouped[interaction.user_id].append(interaction)
    return {user: user_signals(events) for user, events in sorted(grouped.items())}


def validation_days(
    papers: Sequence[Paper], signals: dict[UserId, UserSignals], fraction: float
) -> set[dt.date]:
    """The latest listing days holding about ``fraction`` of the positive interactions.

    Empty when fewer than two days have positives: there is then nothing to hold out.
    """
    date_of = {paper.paper_id: paper.date for paper in papers}
    per_day: dict[dt.date, float] = defaultdict(float)
    for user_signals_ in signals.values():
        for paper_id in user_signals_.positive:
            if paper_id in date_of:
                per_day[date_of[paper_id]] += 1
    days = sorted(per_day)
    if len(days) < 2:
        return set()
    total = sum(per_day.values())
    held: set[dt.date] = set()
    held_count = 0.0
    for day in reversed(days[1:]):  # the first day always stays in training
        if held and held_count + per_day[day] > fraction * total:
            break
        held.add(day)
        held_count += per_day[day]
    return held


@dataclass(frozen=True)
class Matrices:
    """Users-by-papers weights for a list of papers, rows in ``user_ids`` order."""

    user_ids: list[UserId]
    positives: sp.csr_matrix
    negatives: sp.csr_matrix


def interaction_matrices(
    user_ids: Sequence[UserId], signals: dict[UserId, UserSignals], papers: Sequence[Paper]
) -> Matrices:
    """Positive weights and dismissals of ``user_ids`` on ``papers`` (columns in that order)."""
    column = {paper.paper_id: index for index, paper in enumerate(papers)}
    pos_rows: list[int] = []
    pos_cols: list[int] = []
    pos_values: list[float] = []
    neg_rows: list[int] = []
    neg_cols: list[int] = []
    for row, user in enumerate(user_ids):
        user_signals_ = signals.get(user, UserSignals())
        for paper_id, weight in user_signals_.positive.items():
            if paper_id in column:
                pos_rows.append(row)
                pos_cols.append(column[paper_id])
                pos_values.append(weight)
        for paper_id in user_signals_.negative:
            if paper_id in column:
                neg_rows.append(row)
                neg_cols.append(column[paper_id])
    shape = (len(user_ids), len(papers))
    positives = sp.csr_matrix(
        (np.asarray(pos_values, dtype=np.float32), (pos_rows, pos_cols)), shape=shape
    )
    negatives = sp.csr_matrix(
        (np.ones(len(neg_rows), dtype=np.float32), (neg_rows, neg_cols)), shape=shape
    )
    return Matrices(list(user_ids), positives, negatives)


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}{'' if number == 1 else 's'}"
