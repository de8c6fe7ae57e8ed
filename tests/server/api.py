"""A stub on a real grpc.aio channel with shortcuts, sample messages, and failure capture."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from papersift.v1 import ranker_pb2 as pb
from papersift.v1 import ranker_pb2_grpc as pb_grpc

DAY = "2025-04-01"


def make_paper(number: int, date: str = DAY, **fields: Any) -> pb.Paper:
    """A valid paper ``arxiv:2504.<number>`` listed on ``date``."""
    values: dict[str, Any] = {
        "paper_id": f"arxiv:2504.{number:05d}",
        "title": f"Paper number {number}",
        "abstract": f"Abstract of paper {number}.",
        "authors": ["Ada Lovelace", "Alan Turing"],
        "categories": ["cs.CL"],
        "url": f"https://arxiv.org/abs/2504.{number:05d}",
        "date": date,
        "source": "arxiv",
    }
    values.update(fields)
    return pb.Paper(**values)


def make_event(
    event_id: str, user_id: str, paper_number: int, kind: int = pb.INTERACTION_KIND_CLICK
) -> pb.Interaction:
    """A valid interaction that happened an hour ago."""
    occurred_at = Timestamp()
    occurred_at.FromDatetime(dt.datetime.now(dt.UTC) - dt.timedelta(hours=1))
    return pb.Interaction(
        event_id=event_id,
        user_id=user_id,
        paper_id=f"arxiv:2504.{paper_number:05d}",
        kind=kind,  # type: ignore[arg-type]
        occurred_at=occurred_at,
    )


class Api:
    """A stub on a real channel, plus shortcuts used by many tests."""

    def __init__(self, channel: grpc.aio.Channel) -> None:
        self.channel = channel
        self.stub = pb_grpc.RankerStub(channel)

    async def upsert(self, papers: Sequence[pb.Paper]) -> pb.UpsertPapersResponse:
        return await self.stub.UpsertPapers(pb.UpsertPapersRequest(papers=papers), timeout=10)

    async def record(self, events: Sequence[pb.Interaction]) -> pb.RecordInteractionsResponse:
        return await self.stub.RecordInteractions(
            pb.RecordInteractionsRequest(interactions=events), timeout=10
        )

    async def rank(self, user_id: str, date: str = DAY, **fields: Any) -> pb.RankPapersResponse:
        request = pb.RankPapersRequest(user_id=user_id, date=date, **fields)
        return await self.stub.RankPapers(request, timeout=10)


@dataclass(frozen=True)
class Failure:
    """The status a call failed with."""

    code: grpc.StatusCode
    details: str


async def error_of(call: Any) -> Failure:
    """The gRPC status an awaited call fails with (the test fails if it succeeds)."""
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    return Failure(caught.value.code(), caught.value.details() or "")
