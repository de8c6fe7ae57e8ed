"""The store's bulk reads: many readers' interactions at once, equal to one by one."""

from __future__ import annotations

import datetime as dt

from papersift.core.store import Store
from papersift.core.types import InteractionKind, UserId
from tests.core.test_store import ALICE, BOB, CAROL, MORNING, NEXT_DAY, make_event, make_paper

NOBODY = UserId("nobody")


def fill(store: Store) -> None:
    store.upsert_papers([make_paper(n) for n in range(4)] + [make_paper(9, date=NEXT_DAY)])
    later = MORNING + dt.timedelta(hours=1)
    store.record_interactions(
        [
            make_event("a-late", paper=1, at=later),
            make_event("a-early", paper=2),
            make_event("a-tie", paper=3, kind=InteractionKind.SAVE),
            make_event("b1", user=BOB, paper=0, kind=InteractionKind.DISMISS),
            make_event("c1", user=CAROL, paper=9),
        ]
    )


def test_interactions_of_many_readers_are_each_readers_own_in_order(store: Store) -> None:
    fill(store)
    users = [ALICE, BOB, CAROL, NOBODY]

    found = store.interactions_of(users)

    assert found == {user: store.user_interactions(user) for user in users}
    assert [event.event_id for event in found[ALICE]] == ["a-early", "a-tie", "a-late"]
    assert found[NOBODY] == []
    assert store.interactions_of([]) == {}


def test_bulk_reads_chunk_long_id_lists(store: Store) -> None:
    fill(store)
    # More ids than one IN (...) list holds.
    users = [UserId(f"reader-{n}") for n in range(2_500)] + [ALICE, CAROL]

    interactions = store.interactions_of(users)

    assert len(interactions) == len(users)
    assert interactions[ALICE] == store.user_interactions(ALICE)
    assert interactions[CAROL] == store.user_interactions(CAROL)
    assert interactions[UserId("reader-7")] == []
