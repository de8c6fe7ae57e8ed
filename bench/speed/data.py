"""The benchmark's world: real arXiv papers, one 3,000-paper day, synthetic readers.

The serving day is the latest listing days of ``arxiv-2025q2`` merged into one date until it
holds ``day_size`` papers (no single day has more than 649). Every earlier paper is history:
what the synthetic readers clicked and saved. A reader likes one to three topics (clusters of
the papers' TF-IDF vectors) and picks most of their papers from them, the rest at random, so
that the model has real structure to learn and to rank the day's cold papers with.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from sklearn.cluster import MiniBatchKMeans
from sklearn.feature_extraction.text import TfidfVectorizer

from papersift.client import Interaction, InteractionKind, Paper
from papersift.core import limits

__all__ = [
    "ARXIV_PATH",
    "Events",
    "World",
    "build_world",
    "load_papers",
    "synthetic_events",
    "write_events_jsonl",
    "write_papers_jsonl",
]

REPO_ROOT = Path(__file__).resolve().parents[2]
ARXIV_PATH = REPO_ROOT.parent / "shared" / "data" / "arxiv-2025q2" / "papers.jsonl.gz"

IntArray = npt.NDArray[np.int64]

#: Share of a reader's events on papers of their own topics (the rest: any paper).
FOCUS = 0.85
#: Share of events that are saves (the rest are clicks).
SAVE_SHARE = 0.2


def load_papers(path: Path = ARXIV_PATH) -> list[Paper]:
    """Every paper of an arXiv listing export (``arxiv_id``, ``first_listed``, ...)."""
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        rows = [json.loads(line) for line in lines if line.strip()]
    return [
        Paper(
            paper_id=f"arxiv:{row['arxiv_id']}",
            title=row["title"],
            date=dt.date.fromisoformat(row["first_listed"]),
            abstract=row.get("abstract", ""),
            # A few listings carry an affiliation in an author's name, or long ACM/MSC classes
            # among the categories: the API refuses values that long, so they are left out.
            authors=_within(row.get("authors", ()), limits.MAX_AUTHOR_LENGTH, limits.MAX_AUTHORS),
            categories=_within(
                row.get("categories", ()), limits.MAX_CATEGORY_LENGTH, limits.MAX_CATEGORIES
            ),
            url=f"https://arxiv.org/abs/{row['arxiv_id']}",
            source="arxiv",
        )
        for row in rows
    ]


def _within(values: Sequence[str], length: int, count: int) -> tuple[str, ...]:
    return tuple(value for value in values if len(value) <= length)[:count]


@dataclass(frozen=True)
class World:
    """Papers split into history and the serving day, with a topic per history paper."""

    history: list[Paper]
    day: list[Paper]
    date: dt.date
    merged_days: tuple[dt.date, ...]
    topics: IntArray
    n_topics: int

    @property
    def papers(self) -> list[Paper]:
        """Every paper the store holds: history first, then the serving day."""
        return [*self.history, *self.day]


def build_world(
    papers: Sequence[Paper], *, day_size: int = 3_000, n_topics: int = 20, seed: int = 0
) -> World:
    """Merge the latest listing days into one serving day of ``day_size`` papers.

    The merged papers all get the latest of those days as their date; whatever of the oldest
    merged day is not needed to reach ``day_size`` stays in the history.
    """
    if day_size < 1:
        raise ValueError(f"day_size must be at least 1, got {day_size}")
    by_date = sorted(papers, key=lambda paper: (paper.date, paper.paper_id), reverse=True)
    if len(by_date) <= day_size:
        raise ValueError(f"need more than {day_size} papers to keep a history, got {len(by_date)}")
    chosen = by_date[:day_size]
    history = sorted(by_date[day_size:], key=lambda paper: (paper.date, paper.paper_id))
    date = chosen[0].date
    merged = tuple(sorted({paper.date for paper in chosen}))
    day = [_moved(paper, date) for paper in sorted(chosen, key=lambda paper: paper.paper_id)]
    return World(
        history=history,
        day=day,
        date=date,
        merged_days=merged,
        topics=assign_topics(history, n_topics, seed),
        n_topics=n_topics,
    )


def _moved(paper: Paper, date: dt.date) -> Paper:
    return Paper(
        paper_id=paper.paper_id,
        title=paper.title,
        date=date,
        abstract=paper.abstract,
        authors=paper.authors,
        categories=paper.categories,
        url=paper.url,
        source=paper.source,
    )


def assign_topics(papers: Sequence[Paper], n_topics: int, seed: int) -> IntArray:
    """A topic per paper: k-means clusters of title + abstract TF-IDF vectors."""
    texts = [f"{paper.title} {paper.abstract}" for paper in papers]
    vectors = TfidfVectorizer(max_features=10_000, stop_words="english", min_df=2).fit_transform(
        texts
    )
    kmeans = MiniBatchKMeans(n_clusters=n_topics, random_state=seed, n_init=1, batch_size=2048)
    return np.asarray(kmeans.fit_predict(vectors), dtype=np.int64)


@dataclass(frozen=True)
class Events:
    """Synthetic interactions as parallel arrays (compact enough for millions of events).

    Reader ``u`` is ``f"{prefix}{u}"``; ``paper`` indexes ``World.history``; ``save`` marks a
    save (else a click); ``minute`` is the event's minute after 08:00 UTC of the paper's day.
    """

    prefix: str
    n_users: int
    user: IntArray
    paper: IntArray
    save: npt.NDArray[np.bool_]
    minute: IntArray

    def __len__(self) -> int:
        return len(self.user)

    def user_id(self, user: int) -> str:
        """The id of reader ``user``."""
        return f"{self.prefix}{user}"

    @property
    def user_ids(self) -> list[str]:
        """Every reader's id, reader 0 first."""
        return [self.user_id(user) for user in range(self.n_users)]


def synthetic_events(
    world: World, n_interactions: int, *, prefix: str, per_user: float = 25.0, seed: int = 0
) -> Events:
    """``n_interactions`` clicks and saves of ``ceil(n / per_user)`` readers with tastes.

    Each reader has one to three favourite topics with random weights; ``FOCUS`` of their
    events fall on papers of those topics, the rest on any paper of the history.
    """
    if n_interactions < 1:
        raise ValueError(f"n_interactions must be at least 1, got {n_interactions}")
    rng = np.random.default_rng(seed)
    n_users = max(1, int(np.ceil(n_interactions / per_user)))
    # Every reader gets at least one event; the rest fall on readers at random.
    user = np.concatenate(
        [
            np.arange(min(n_users, n_interactions)),
            rng.integers(0, n_users, max(0, n_interactions - n_users)),
        ]
    )
    favourites = np.stack(
        [rng.choice(world.n_topics, size=3, replace=False) for _ in range(n_users)]
    )
    likes = rng.integers(1, 4, n_users)
    weights = rng.dirichlet(np.ones(3), n_users) * (np.arange(3)[None, :] < likes[:, None])
    weights /= weights.sum(axis=1, keepdims=True)
    slot = (rng.random(len(user))[:, None] > np.cumsum(weights[user], axis=1)).sum(axis=1)
    topic = favourites[user, np.minimum(slot, 2)]

    paper = rng.integers(0, len(world.history), len(user))
    focused = rng.random(len(user)) < FOCUS
    for t in range(world.n_topics):
        members = np.flatnonzero(world.topics == t)
        chosen = focused & (topic == t)
        if len(members) and chosen.any():
            paper[chosen] = members[rng.integers(0, len(members), int(chosen.sum()))]
    return Events(
        prefix=prefix,
        n_users=n_users,
        user=user.astype(np.int64),
        paper=paper.astype(np.int64),
        save=rng.random(len(user)) < SAVE_SHARE,
        minute=rng.integers(0, 14 * 60, len(user)),
    )


def _occurred_at(world: World, paper: int, minute: int) -> dt.datetime:
    start = dt.datetime.combine(world.history[paper].date, dt.time(8), dt.UTC)
    return start + dt.timedelta(minutes=minute)


def interactions(
    world: World, events: Events, rows: Sequence[int] | None = None
) -> list[Interaction]:
    """The events (all, or the given rows) as client ``Interaction`` values."""
    picked = range(len(events)) if rows is None else rows
    return [
        Interaction(
            event_id=f"{events.prefix}e{i}",
            user_id=events.user_id(int(events.user[i])),
            paper_id=world.history[int(events.paper[i])].paper_id,
            kind=InteractionKind.SAVE if events.save[i] else InteractionKind.CLICK,
            occurred_at=_occurred_at(world, int(events.paper[i]), int(events.minute[i])),
        )
        for i in picked
    ]


def rows_of_users(events: Events) -> list[list[int]]:
    """Per reader, the indices of their events."""
    order = np.argsort(events.user, kind="stable")
    bounds = np.searchsorted(events.user[order], np.arange(events.n_users + 1))
    return [order[bounds[u] : bounds[u + 1]].tolist() for u in range(events.n_users)]


def write_papers_jsonl(papers: Sequence[Paper], path: Path) -> Path:
    """Papers in papersift's JSONL export format (what ``papersift-train --papers`` reads)."""
    with path.open("w", encoding="utf-8") as out:
        for paper in papers:
            row = {
                "paper_id": paper.paper_id,
                "title": paper.title,
                "date": paper.date.isoformat(),
                "abstract": paper.abstract,
                "authors": list(paper.authors),
                "categories": list(paper.categories),
                "url": paper.url,
                "source": paper.source,
            }
            out.write(json.dumps(row) + "\n")
    return path


def write_events_jsonl(world: World, events: Events, path: Path) -> Path:
    """Events in papersift's JSONL format (what ``papersift-train --interactions`` reads)."""
    paper_ids = np.array([paper.paper_id for paper in world.history], dtype=object)
    day_starts = np.array(
        [
            np.datetime64(paper.date.isoformat(), "m") + np.timedelta64(8 * 60, "m")
            for paper in world.history
        ]
    )
    moments = np.datetime_as_string(
        day_starts[events.paper] + events.minute.astype("timedelta64[m]"), unit="s"
    )
    kinds = np.where(events.save, "save", "click")
    with path.open("w", encoding="utf-8") as out:
        for i, (user, paper, kind, moment) in enumerate(
            zip(events.user.tolist(), paper_ids[events.paper], kinds, moments, strict=True)
        ):
            out.write(
                f'{{"event_id": "{events.prefix}e{i}", "user_id": "{events.prefix}{user}", '
                f'"paper_id": "{paper}", "kind": "{kind}", "occurred_at": "{moment}+00:00"}}\n'
            )
    return path
