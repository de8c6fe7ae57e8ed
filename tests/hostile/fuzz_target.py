"""A real server under fuzzing: a real gRPC channel to it, and a fingerprint of its store.

Every call is checked the same way: the status is OK or a documented one, a refusal names the
field, and a refused call (or any read) leaves every table of the store exactly as it was.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

import grpc
import sqlalchemy as sa
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from grpc_health.v1 import health_pb2, health_pb2_grpc

from papersift.v1 import ranker_pb2 as pb
from papersift.v1 import ranker_pb2_grpc as pb_grpc
from tests.conftest import ThreadedServer
from tests.hostile.requests import SEED_DAYS, SEED_EVENTS, SEED_PAPERS, SEED_USERS

OK = grpc.StatusCode.OK
DOCUMENTED = frozenset(
    {
        OK,
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.NOT_FOUND,
    }
)
"""Every status a well-formed request may get from a healthy server (never UNKNOWN, INTERNAL)."""
NAMES_A_FIELD = re.compile(r"[a-z_]+(?:\[[0-9]+\])?(?:\.[a-z_]+(?:\[[0-9]+\])?)*: \S")
CALL_TIMEOUT = 30.0
"""Seconds a call may take; a call that hangs fails the property as DEADLINE_EXCEEDED."""
RANKER = pb.DESCRIPTOR.services_by_name["Ranker"]
READS = frozenset({"RankPapers", "RankPapersBatch", "GetModelInfo", "ListSentDigests", "ListDays"})
"""RPCs that must never change the store, whatever they answer."""


@dataclass(frozen=True)
class Answer:
    """What one call got back."""

    code: grpc.StatusCode
    details: str
    reply: Any


class FuzzTarget:
    """A running server, a channel to it, and read access to its store."""

    def __init__(self, server: ThreadedServer, database_url: str) -> None:
        self.server = server
        self.channel = grpc.insecure_channel(server.address)
        self.stub = pb_grpc.RankerStub(self.channel)
        # Our own reads in UTC: what the test sees must not depend on the database's TimeZone.
        utc = {"options": "-c TimeZone=UTC"} if database_url.startswith("postgresql") else {}
        self.engine = sa.create_engine(database_url, connect_args=utc)
        self.tally: Counter[str] = Counter()
        """Calls made, by method and status (``pytest -s`` prints them after each test)."""

    def close(self) -> None:
        """Close the channel and the store connections."""
        self.channel.close()
        self.engine.dispose()

    def fingerprint(self) -> str:
        """A hash of every row of every table of the store."""
        digest = hashlib.sha256()
        with self.engine.connect() as connection:
            for table in sorted(sa.inspect(connection).get_table_names()):
                digest.update(f"\0table {table}\0".encode())
                rows = connection.execute(sa.text(f'SELECT * FROM "{table}"')).all()
                for row in sorted(repr(tuple(row)) for row in rows):
                    digest.update(row.encode("utf-8", "backslashreplace"))
        return digest.hexdigest()

    def rows(self, sql: str, **params: object) -> list[sa.Row[Any]]:
        """Rows of a query on the store."""
        with self.engine.connect() as connection:
            return list(connection.execute(sa.text(sql), params).all())

    def call(self, method: str, request: Message | bytes) -> Answer:
        """Call ``method`` with ``request``; the status, its message and the reply (if OK).

        ``request`` may be bytes already serialised, e.g. with fields no message declares.
        """
        try:
            if isinstance(request, bytes):
                output = RANKER.methods_by_name[method].output_type.name
                send: grpc.UnaryUnaryMultiCallable[bytes, Any] = self.channel.unary_unary(
                    f"/{RANKER.full_name}/{method}",
                    request_serializer=None,
                    response_deserializer=getattr(pb, output).FromString,
                )
                reply = send(request, timeout=CALL_TIMEOUT)
            else:
                reply = getattr(self.stub, method)(request, timeout=CALL_TIMEOUT)
        except grpc.RpcError as exc:
            assert isinstance(exc, grpc.Call)
            answer = Answer(exc.code(), exc.details() or "", None)
        else:
            answer = Answer(OK, "", reply)
        self.tally[f"{method}: {answer.code.name}"] += 1
        return answer

    def checked(self, method: str, request: Message | bytes) -> Answer:
        """Call ``method`` and check the answer against the contract (see the module docs)."""
        before = self.fingerprint()
        answer = self.call(method, request)
        assert answer.code in DOCUMENTED, f"{method} answered {answer.code.name}: {answer.details}"
        if answer.code in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.RESOURCE_EXHAUSTED):
            assert NAMES_A_FIELD.match(answer.details), f"names no field: {answer.details!r}"
        if answer.code is not OK:
            assert self.fingerprint() == before, f"{method} was refused but changed the store"
        elif method in READS:
            assert self.fingerprint() == before, f"{method} is a read but changed the store"
        return answer

    def assert_still_serving(self) -> None:
        """Health is SERVING, and ordinary calls of every kind still work."""
        print("calls made:", dict(sorted(self.tally.items())))
        health = health_pb2_grpc.HealthStub(self.channel).Check(
            health_pb2.HealthCheckRequest(), timeout=CALL_TIMEOUT
        )
        assert health.status == health_pb2.HealthCheckResponse.SERVING
        self.stub.GetModelInfo(pb.GetModelInfoRequest(), timeout=CALL_TIMEOUT)
        paper = pb.Paper(paper_id="arxiv:2504.99999", title="After the fuzz", date=SEED_DAYS[0])
        self.stub.UpsertPapers(pb.UpsertPapersRequest(papers=[paper]), timeout=CALL_TIMEOUT)
        ranking = self.stub.RankPapers(
            pb.RankPapersRequest(user_id="after-the-fuzz", date=SEED_DAYS[0], limit=100),
            timeout=CALL_TIMEOUT,
        )
        assert "arxiv:2504.99999" in [entry.paper.paper_id for entry in ranking.papers]

    def seed(self) -> None:
        """The world the requests refer to: papers on two days, readers, events, a digest."""
        papers = [
            pb.Paper(
                paper_id=paper_id,
                title=f"Graph neural networks, part {number}",
                abstract="We study message passing on graphs. Schrödinger's cat is unrelated.",
                authors=["Ada Lovelace", "Alan Turing"][: 1 + number % 2],
                categories=["cs.CL", "cs.LG"][: 1 + number % 2],
                url=f"https://arxiv.org/abs/{paper_id.removeprefix('arxiv:')}",
                date=SEED_DAYS[number % 2],
                source="arxiv",
            )
            for number, paper_id in enumerate(SEED_PAPERS)
        ]
        self.stub.UpsertPapers(pb.UpsertPapersRequest(papers=papers), timeout=CALL_TIMEOUT)
        an_hour_ago = Timestamp()
        an_hour_ago.FromDatetime(dt.datetime.now(dt.UTC) - dt.timedelta(hours=1))
        kinds = [pb.INTERACTION_KIND_CLICK, pb.INTERACTION_KIND_SAVE, pb.INTERACTION_KIND_DISMISS]
        events = [
            pb.Interaction(
                event_id=f"{SEED_EVENTS[number % 2]}-{number}"
                if number > 1
                else SEED_EVENTS[number],
                user_id=SEED_USERS[number % len(SEED_USERS)],
                paper_id=SEED_PAPERS[number],
                kind=kinds[number % len(kinds)],
                occurred_at=an_hour_ago,
            )
            for number in range(len(SEED_PAPERS))
        ]
        self.stub.RecordInteractions(
            pb.RecordInteractionsRequest(interactions=events), timeout=CALL_TIMEOUT
        )
        self.stub.RecordDigest(
            pb.RecordDigestRequest(
                user_id=SEED_USERS[0],
                date=SEED_DAYS[0],
                paper_ids=[SEED_PAPERS[0], SEED_PAPERS[2]],
                sent_at=an_hour_ago,
                message_id="<seed@papersift.example>",
            ),
            timeout=CALL_TIMEOUT,
        )
