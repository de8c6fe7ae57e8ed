"""Digest records in the store, on SQLite and PostgreSQL: idempotent, atomic, erased with a user."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from papersift.core.errors import InvalidInput
from papersift.core.store import Store, digest_event_id
from papersift.core.types import (
    DigestDelivery,
    DigestRecordResult,
    InteractionKind,
    PaperId,
    UserId,
)
from tests.core.test_store import ALICE, BOB, DAY, MORNING, make_paper, pid

EVENING = MORNING + dt.timedelta(hours=10)


def delivery(
    *numbers: int, user: UserId = ALICE, message_id: str = "<d1@papersift>"
) -> DigestDelivery:
    return DigestDelivery(
        user_id=user,
        date=DAY,
        paper_ids=tuple(pid(number) for number in numbers),
        sent_at=EVENING,
        message_id=message_id,
    )


@pytest.fixture
def papers(store: Store) -> Store:
    store.upsert_papers([make_paper(number) for number in range(1, 6)])
    return store


def test_a_digest_is_recorded_once_with_its_papers_as_impressions(papers: Store) -> None:
    assert papers.record_digest(delivery(3, 1)) == DigestRecordResult(recorded=True, impressions=2)
    again = papers.record_digest(delivery(3, 1, 2, message_id="<other@papersift>"))
    assert again == DigestRecordResult(recorded=False, impressions=0)
    events = papers.user_interactions(ALICE)
    assert [(e.paper_id, e.kind, e.occurred_at) for e in events] == [
        (pid(3), InteractionKind.IMPRESSION, EVENING),
        (pid(1), InteractionKind.IMPRESSION, EVENING),
    ]
    assert {e.event_id for e in events} == {
        digest_event_id(ALICE, DAY, pid(3)),
        digest_event_id(ALICE, DAY, pid(1)),
    }
    sent = papers.sent_digests(DAY, [ALICE, BOB])
    assert list(sent) == [ALICE]
    assert (sent[ALICE].paper_count, sent[ALICE].message_id) == (2, "<d1@papersift>")
    assert sent[ALICE].sent_at == EVENING


def test_an_empty_digest_is_recorded_too(papers: Store) -> None:
    assert papers.record_digest(delivery()) == DigestRecordResult(recorded=True, impressions=0)
    assert papers.sent_digests(DAY, [ALICE])[ALICE].paper_count == 0
    assert papers.sent_digests(DAY + dt.timedelta(days=1), [ALICE]) == {}


def test_an_unknown_paper_rejects_the_whole_digest(papers: Store) -> None:
    bad = dataclasses.replace(delivery(1), paper_ids=(pid(1), PaperId("arxiv:nope")))
    with pytest.raises(InvalidInput, match=r"paper_ids\[1\]: unknown paper"):
        papers.record_digest(bad)
    assert papers.sent_digests(DAY, [ALICE]) == {}
    assert papers.user_interactions(ALICE) == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"paper_ids": (pid(1), pid(1))}, r"paper_ids\[1\]: repeats paper_ids\[0\]"),
        ({"paper_ids": tuple(PaperId(f"p{i}") for i in range(101))}, "at most 100"),
        ({"sent_at": dt.datetime(2025, 5, 1, 20)}, "sent_at: must carry a time zone"),
        ({"message_id": "<a\r\nBcc: x@y>"}, "message_id: must be printable ASCII"),
        ({"user_id": ""}, "user_id: must not be empty"),
    ],
)
def test_invalid_digests_name_the_field(
    papers: Store, change: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        papers.record_digest(dataclasses.replace(delivery(1), **change))  # type: ignore[arg-type]
    assert papers.sent_digests(DAY, [ALICE]) == {}


def test_deleting_a_user_erases_their_digest_records(papers: Store) -> None:
    papers.record_digest(delivery(1, 2))
    papers.record_digest(delivery(3, user=BOB))
    erased = papers.delete_user(ALICE)
    assert (erased.interactions, erased.digests) == (2, 1)
    assert papers.sent_digests(DAY, [ALICE, BOB]).keys() == {BOB}


def test_digest_event_ids_are_short_and_distinct() -> None:
    long_user = "u" * 256
    first = digest_event_id(long_user, DAY, "p" * 256)
    assert len(first) <= 256
    assert first != digest_event_id(long_user, DAY, "q" * 256)
    assert first != digest_event_id(long_user, DAY + dt.timedelta(days=1), "p" * 256)
