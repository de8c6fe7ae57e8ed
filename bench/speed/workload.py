"""What the benchmark sends: the store's contents, and the serialized requests of each row.

Readers come in pools that are never mixed: the PERSONAL readers of the served model (a few
ranked ahead, for cache hits; every other one ranked at most once, for cache misses), FOLD_IN
readers (recorded after training, so not in the model), and writers whose new events and
papers touch neither the serving day nor any ranked reader.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from google.protobuf.timestamp_pb2 import Timestamp
from grpc_health.v1 import health_pb2

from bench.speed.data import Events, World, interactions
from papersift.client import Client, Paper
from papersift.v1 import ranker_pb2 as pb

__all__ = [
    "BATCH_SIZE",
    "PAGE",
    "allocate",
    "check_request",
    "ingest",
    "rank_batch_requests",
    "rank_requests",
    "record_requests",
    "upsert_requests",
    "warm",
]

#: Readers per RankPapersBatch call, events per RecordInteractions, papers per UpsertPapers.
BATCH_SIZE = 100
#: Papers per ranked page (RankPapers' default).
PAGE = 20
_INGEST_CHUNK = 1_000

K = TypeVar("K")


def allocate(
    ids: Sequence[str], wants: Mapping[K, int], units: Mapping[K, int] | None = None
) -> dict[K, list[str]]:
    """Disjoint slices of ``ids``, one per key and of the size it wants.

    When there are too few ids, every slice shrinks by the same factor, so each run still gets
    its share of readers never ranked before; a slice stays a multiple of its unit (a batch of
    readers) and keeps at least one unit.
    """
    units = units or {}
    total = sum(wants.values())
    scale = min(1.0, len(ids) / total) if total else 1.0
    slices: dict[K, list[str]] = {}
    start = 0
    for key, want in wants.items():
        unit = units.get(key, 1)
        size = max(unit, int(want * scale) // unit * unit) if want else 0
        slices[key] = list(ids[start : start + size])
        start += len(slices[key])
    return slices


def ingest(client: Client, papers: Sequence[Paper], events: Iterable[Sequence[object]]) -> None:
    """Upsert the papers, then record each chunk of events, with the project's own client."""
    for start in range(0, len(papers), _INGEST_CHUNK):
        client.upsert_papers(papers[start : start + _INGEST_CHUNK])
    for chunk in events:
        client.record_interactions(chunk)  # type: ignore[arg-type]


def event_chunks(world: World, events: Events) -> Iterator[list[object]]:
    """The events as client ``Interaction`` lists of at most 1,000 (one call each)."""
    for start in range(0, len(events), _INGEST_CHUNK):
        yield list(
            interactions(world, events, range(start, min(start + _INGEST_CHUNK, len(events))))
        )


def check_request() -> bytes:
    """The health ``Check`` of the whole server (service ``""``)."""
    request: bytes = health_pb2.HealthCheckRequest(service="").SerializeToString()
    return request


def rank_requests(user_ids: Sequence[str], date: dt.date) -> list[bytes]:
    """A first-page ``RankPapers`` request per reader."""
    day = date.isoformat()
    return [
        pb.RankPapersRequest(user_id=user, date=day, limit=PAGE).SerializeToString()
        for user in user_ids
    ]


def rank_batch_requests(user_ids: Sequence[str], date: dt.date) -> list[bytes]:
    """``RankPapersBatch`` requests of ``BATCH_SIZE`` consecutive readers each (rest dropped)."""
    day = date.isoformat()
    return [
        pb.RankPapersBatchRequest(
            user_ids=user_ids[start : start + BATCH_SIZE], date=day, limit=PAGE
        ).SerializeToString()
        for start in range(0, len(user_ids) - BATCH_SIZE + 1, BATCH_SIZE)
    ]


def record_requests(world: World, events: Events) -> list[bytes]:
    """``RecordInteractions`` requests of ``BATCH_SIZE`` events each (the rest dropped)."""
    requests = []
    for start in range(0, len(events) - BATCH_SIZE + 1, BATCH_SIZE):
        batch = interactions(world, events, range(start, start + BATCH_SIZE))
        messages = []
        for event in batch:
            moment = Timestamp()
            moment.FromDatetime(event.occurred_at)
            messages.append(
                pb.Interaction(
                    event_id=event.event_id,
                    user_id=event.user_id,
                    paper_id=event.paper_id,
                    kind=pb.INTERACTION_KIND_SAVE
                    if event.kind == "save"
                    else pb.INTERACTION_KIND_CLICK,
                    occurred_at=moment,
                )
            )
        requests.append(pb.RecordInteractionsRequest(interactions=messages).SerializeToString())
    return requests


def upsert_requests(
    templates: Sequence[Paper], date: dt.date, n_requests: int, *, prefix: str
) -> list[bytes]:
    """``UpsertPapers`` requests of ``BATCH_SIZE`` new papers each, listed on ``date``.

    The papers are copies of ``templates`` (real text, so real sizes) under new ids, so every
    call inserts; ``date`` should be a day nobody ranks, so no cached list is touched.
    """
    requests = []
    for request in range(n_requests):
        papers = []
        for offset in range(BATCH_SIZE):
            n = request * BATCH_SIZE + offset
            paper = templates[n % len(templates)]
            papers.append(
                pb.Paper(
                    paper_id=f"{prefix}{n}",
                    title=paper.title,
                    abstract=paper.abstract,
                    authors=paper.authors,
                    categories=paper.categories,
                    url=paper.url,
                    date=date.isoformat(),
                    source="speed-bench",
                )
            )
        requests.append(pb.UpsertPapersRequest(papers=papers).SerializeToString())
    return requests


@dataclass(frozen=True)
class Warmed:
    """What warming did: the strategy of the day-preparing request and its time."""

    prepare_seconds: float
    strategy: str


def warm(client: Client, date: dt.date, prepare_user: str, cached_users: Sequence[str]) -> Warmed:
    """Prepare the day's item matrix (one reader's request) and cache ``cached_users``' lists.

    The server prepares a day's candidates once per model and day and keeps them; measuring
    misses after that isolates what every further reader costs.
    """
    import time

    start = time.perf_counter()
    first = client.rank_papers(prepare_user, date, limit=PAGE, timeout=300)
    seconds = time.perf_counter() - start
    for user in cached_users:
        client.rank_papers(user, date, limit=PAGE)
    return Warmed(prepare_seconds=seconds, strategy=str(first.strategy))
