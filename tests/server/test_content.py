"""A server that was never trained, on real arXiv days: CONTENT lists from a reader's first
saves, and POPULAR lists of an untouched day ordered by the community's taste.

Over a real gRPC channel to a real server with the content model on (as deployed).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import gzip
import json
import re
import time
from collections.abc import Awaitable, Callable, Iterator

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from papersift.core import limits
from papersift.v1 import ranker_pb2 as pb
from tests.conftest import SHARED_DATA, ThreadedServer, require_shared
from tests.server.conftest import Api

QUARTER = SHARED_DATA / "arxiv-2025q2" / "papers.jsonl.gz"
DAYS = ("2025-04-01", "2025-04-02", "2025-04-03", "2025-04-04", "2025-04-07", "2025-04-08")
UNTOUCHED = "2025-04-09"
_CATEGORY = re.compile(r"[a-z-]+(\.[A-Za-z-]+)?")
WAIT = 120.0
"""Seconds a background refresh may take on a loaded CI machine before a test gives up."""


def _real_papers(days: tuple[str, ...]) -> Iterator[pb.Paper]:
    """The quarter's papers of ``days``, as the client's ingest would send them (tidy ones)."""
    with gzip.open(QUARTER, "rt", encoding="utf-8") as lines:
        for line in lines:
            row = json.loads(line)
            if row["first_listed"] not in days:
                continue
            if any(len(author) > limits.MAX_AUTHOR_LENGTH for author in row["authors"]):
                continue
            yield pb.Paper(
                paper_id=f"arxiv:{row['arxiv_id']}",
                title=" ".join(row["title"].split()),
                abstract=" ".join(row["abstract"].split()),
                authors=row["authors"][: limits.MAX_AUTHORS],
                categories=[c for c in row["categories"] if _CATEGORY.fullmatch(c)],
                url=f"https://arxiv.org/abs/{row['arxiv_id']}",
                date=row["first_listed"],
                source="arxiv",
            )


def _event(event_id: str, user_id: str, paper_id: str, kind: int) -> pb.Interaction:
    at = Timestamp()
    at.FromDatetime(dt.datetime(2025, 4, 8, 12, tzinfo=dt.UTC))
    return pb.Interaction(
        event_id=event_id,
        user_id=user_id,
        paper_id=paper_id,
        kind=kind,  # type: ignore[arg-type]
        occurred_at=at,
    )


async def _eventually(check: Callable[[], Awaitable[bool]], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not await check():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {WAIT:.0f} s")
        await asyncio.sleep(0.2)


@pytest.fixture
async def untrained(
    start_server: Callable[..., ThreadedServer], connect: Callable[[ThreadedServer], Api]
) -> Api:
    """A never-trained server (content model on) holding six real arXiv days plus one more."""
    require_shared(QUARTER)
    api = connect(start_server(content_model=True, content_refresh_interval=0.5))
    papers = list(_real_papers((*DAYS, UNTOUCHED)))
    for start in range(0, len(papers), 500):
        await api.upsert(papers[start : start + 500])

    async def fitted() -> bool:
        info = await api.stub.GetModelInfo(pb.GetModelInfoRequest(), timeout=10)
        return "content model is fitted" in info.message

    await _eventually(fitted, "fitting the content model")
    return api


def _language_papers(ranking: pb.RankPapersResponse) -> int:
    return sum(1 for ranked in ranking.papers if ranked.paper.categories[:1] == ["cs.CL"])


async def _three_language_saves(api: Api, user_id: str) -> list[str]:
    day = await api.rank("nobody-yet", date=DAYS[-1], limit=100)
    saved = [
        ranked.paper.paper_id
        for ranked in day.papers
        if list(ranked.paper.categories) == ["cs.CL"]
        and "language model" in ranked.paper.abstract.lower()
    ][:3]
    assert len(saved) == 3
    await api.record(
        [_event(f"s{n}", user_id, pid, pb.INTERACTION_KIND_SAVE) for n, pid in enumerate(saved)]
    )
    return saved


async def test_model_info_describes_the_content_model(untrained: Api) -> None:
    info = await untrained.stub.GetModelInfo(pb.GetModelInfoRequest(), timeout=10)

    assert not info.loaded
    assert "CONTENT" in info.message
    assert "listed 2025-04-01 to 2025-04-09" in info.message


async def test_a_new_reader_gets_a_content_list_of_their_field_from_three_saves(
    untrained: Api,
) -> None:
    baseline = await untrained.rank("someone-else", date=UNTOUCHED, limit=20)
    await _three_language_saves(untrained, "new-reader")

    ranking = await untrained.rank("new-reader", date=UNTOUCHED, limit=20, explain=True)

    assert ranking.strategy == pb.STRATEGY_CONTENT
    assert ranking.model_version == ""  # no trained model ranked it
    # cs.CL is about a quarter of the day; the reader's list is mostly cs.CL.
    assert _language_papers(ranking) >= 15
    assert _language_papers(ranking) > _language_papers(baseline) + 5
    scores = [ranked.score for ranked in ranking.papers]
    assert scores == sorted(scores, reverse=True)
    assert all(ranked.reasons for ranked in ranking.papers)


async def test_dismissals_and_rules_work_on_a_content_list(untrained: Api) -> None:
    await _three_language_saves(untrained, "reader")
    first = await untrained.rank("reader", date=UNTOUCHED, limit=5)
    top = first.papers[0].paper.paper_id

    await untrained.record([_event("d", "reader", top, pb.INTERACTION_KIND_DISMISS)])
    after = await untrained.rank("reader", date=UNTOUCHED, limit=100)
    only_vision = await untrained.rank(
        "reader",
        date=UNTOUCHED,
        limit=100,
        filters=pb.RankFilters(include_categories=["cs.CV"]),
    )

    assert after.strategy == pb.STRATEGY_CONTENT
    assert top not in [ranked.paper.paper_id for ranked in after.papers]
    assert only_vision.papers
    assert all("cs.CV" in ranked.paper.categories for ranked in only_vision.papers)


async def test_an_untouched_day_is_ordered_by_the_community_then_newest(untrained: Api) -> None:
    before = await untrained.rank("unknown", date=UNTOUCHED, limit=100, explain=True)
    assert before.strategy == pb.STRATEGY_POPULAR
    scores = [ranked.score for ranked in before.papers]
    assert scores == sorted(set(scores), reverse=True)  # ordered, not tied
    assert before.papers[0].reasons[0] == (
        "nobody here has clicked or saved a paper yet, so the newest come first"
    )
    first_page = await untrained.rank("unknown", date=UNTOUCHED, limit=20)

    await _three_language_saves(untrained, "someone")

    async def by_taste() -> bool:
        ranking = await untrained.rank("unknown", date=UNTOUCHED, limit=20, explain=True)
        return "close to what readers here saved" in ranking.papers[0].reasons[0]

    await _eventually(by_taste, "ordering POPULAR lists by the community's saves")
    after = await untrained.rank("unknown", date=UNTOUCHED, limit=20)
    assert after.strategy == pb.STRATEGY_POPULAR
    scores = [ranked.score for ranked in after.papers]
    assert scores == sorted(set(scores), reverse=True)
    assert _language_papers(after) > _language_papers(first_page) + 5
