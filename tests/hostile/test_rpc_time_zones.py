"""The earliest timestamp protobuf can carry, stored and read back on PostgreSQL.

``0001-01-01T00:00:00Z`` is a valid ``Timestamp`` in the past, so ``RecordInteractions`` and
``RecordDigest`` accept it. Every later read of the row (``ListSentDigests``, ``RankPapers`` for
that reader) must still answer OK, whatever ``TimeZone`` the database hands its sessions.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import sqlalchemy as sa
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy.engine import make_url

from papersift.v1 import ranker_pb2 as pb
from tests.conftest import ThreadedServer
from tests.hostile.fuzz_target import OK, FuzzTarget

EARLIEST = Timestamp(seconds=-62_135_596_800)
DAY = "2025-04-01"
# West of UTC, psycopg cannot represent the earliest instant in the session's zone ("timestamp
# too small"): the store pins its PostgreSQL sessions to UTC (core/store/_engine.py).
ZONES = ("UTC", "Asia/Tokyo", "America/New_York")


@pytest.mark.parametrize("zone", ZONES)
def test_the_earliest_timestamp_reads_back_in_the_databases_time_zone(
    zone: str,
    postgres_admin_url: str,
    postgres_url: str,
    start_server: Callable[..., ThreadedServer],
) -> None:
    admin = sa.create_engine(postgres_admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        database = make_url(postgres_url).database
        connection.execute(sa.text(f"ALTER DATABASE \"{database}\" SET timezone = '{zone}'"))
    admin.dispose()
    server = start_server(database_url=postgres_url)
    target = FuzzTarget(server, postgres_url)
    try:
        paper = pb.Paper(paper_id="arxiv:2504.00001", title="T", date=DAY)
        assert target.checked("UpsertPapers", pb.UpsertPapersRequest(papers=[paper])).code is OK
        digest = pb.RecordDigestRequest(
            user_id="reader", date=DAY, paper_ids=[paper.paper_id], sent_at=EARLIEST
        )
        assert target.checked("RecordDigest", digest).code is OK
        event = pb.Interaction(
            event_id="e1",
            user_id="clicker",
            paper_id=paper.paper_id,
            kind=pb.INTERACTION_KIND_CLICK,
            occurred_at=EARLIEST,
        )
        record = pb.RecordInteractionsRequest(interactions=[event])
        assert target.checked("RecordInteractions", record).code is OK

        sent = target.checked(
            "ListSentDigests", pb.ListSentDigestsRequest(date=DAY, user_ids=["reader"])
        )
        assert sent.code is OK and [d.sent_at for d in sent.reply.digests] == [EARLIEST]
        for reader in ("reader", "clicker"):
            ranked = target.checked("RankPapers", pb.RankPapersRequest(user_id=reader, date=DAY))
            assert ranked.code is OK
    finally:
        target.close()
        server.stop()  # before the fixture drops the database under it
