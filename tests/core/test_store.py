"""The SQL store, run against a fresh SQLite file and a fresh PostgreSQL database each."""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest
import sqlalchemy as sa

import papersift.core.store
from papersift.core import limits
from papersift.core.errors import InvalidInput, StoreUnavailable, TooLarge
from papersift.core.store import Revisions, Store
from papersift.core.types import (
    EventId,
    Interaction,
    InteractionKind,
    Paper,
    PaperId,
    RecordResult,
    UpsertResult,
    UserId,
)

_A = TypeVar("_A")
_T = TypeVar("_T")

DAY = dt.date(2025, 5, 1)
NEXT_DAY = dt.date(2025, 5, 2)
MORNING = dt.datetime(2025, 5, 1, 9, 0, tzinfo=dt.UTC)
ALICE = UserId("alice")
BOB = UserId("bob")
CAROL = UserId("carol")


def make_paper(number: int, *, date: dt.date = DAY, title: str | None = None) -> Paper:
    return Paper(
        paper_id=PaperId(f"arxiv:2505.{number:05d}"),
        title=title if title is not None else f"Paper {number}",
        date=date,
        abstract=f"Abstract of paper {number}.",
        authors=("Ada Lovelace", f"Author {number}"),
        categories=("cs.IR", "cs.LG"),
        url=f"https://arxiv.org/abs/2505.{number:05d}",
        source="arxiv",
    )


def make_event(
    name: str,
    *,
    user: UserId = ALICE,
    paper: int = 0,
    kind: InteractionKind = InteractionKind.CLICK,
    at: dt.datetime = MORNING,
) -> Interaction:
    return Interaction(
        event_id=EventId(name),
        user_id=user,
        paper_id=make_paper(paper).paper_id,
        kind=kind,
        occurred_at=at,
    )


def pid(number: int) -> PaperId:
    return make_paper(number).paper_id


def run_in_threads(function: Callable[[_A], _T], arguments: Sequence[_A]) -> list[_T]:
    """Call ``function`` on every argument at once, one thread each."""
    with ThreadPoolExecutor(max_workers=len(arguments)) as pool:
        return list(pool.map(function, arguments))


def test_exports_the_store_its_records_the_digest_event_id_and_the_url_checks() -> None:
    assert papersift.core.store.__all__ == [
        "URL_EXAMPLES",
        "DatabaseUrlError",
        "ModelRecord",
        "Revisions",
        "Store",
        "digest_event_id",
        "require_existing",
        "resolve_url",
        "sqlite_path",
    ]


def test_migrate_twice_is_harmless(store: Store) -> None:
    store.upsert_papers([make_paper(1)])
    store.migrate()
    store.ping()
    assert store.get_papers([pid(1)]) == {pid(1): make_paper(1)}


# -- papers ------------------------------------------------------------------------------------


def test_upsert_counts_inserted_updated_and_unchanged(store: Store) -> None:
    assert store.upsert_papers([make_paper(1), make_paper(2)]) == UpsertResult(2, 0, 0)
    result = store.upsert_papers([make_paper(1), make_paper(2, title="Better"), make_paper(3)])
    assert result == UpsertResult(inserted=1, updated=1, unchanged=1)
    assert store.get_papers([pid(2)])[pid(2)].title == "Better"


@pytest.mark.parametrize(
    "changed",
    [
        dataclasses.replace(make_paper(1), abstract="New abstract."),
        dataclasses.replace(make_paper(1), authors=("Ada Lovelace",)),
        dataclasses.replace(make_paper(1), authors=("Author 1", "Ada Lovelace")),
        dataclasses.replace(make_paper(1), categories=("cs.IR",)),
        dataclasses.replace(make_paper(1), url="https://example.org/paper"),
        dataclasses.replace(make_paper(1), source="biorxiv"),
    ],
    ids=["abstract", "fewer-authors", "author-order", "categories", "url", "source"],
)
def test_any_changed_field_counts_as_update(store: Store, changed: Paper) -> None:
    store.upsert_papers([make_paper(1)])
    assert store.upsert_papers([changed]) == UpsertResult(0, 1, 0)
    assert store.get_papers([pid(1)]) == {pid(1): changed}


def test_papers_round_trip_every_field(store: Store) -> None:
    paper = Paper(
        paper_id=PaperId("arxiv:2505.00001v2"),
        title="Ünïcode — “quotes” and 数学",
        date=DAY,
        abstract="Line one.\nLine two.",
        authors=("Émile Borel", "李四"),
        categories=("math.PR",),
        url="https://arxiv.org/abs/2505.00001v2",
        source="arxiv",
    )
    bare = Paper(paper_id=PaperId("doi:10.1000/1"), title="Bare", date=DAY)
    store.upsert_papers([paper, bare])
    assert store.get_papers([paper.paper_id, bare.paper_id, PaperId("missing")]) == {
        paper.paper_id: paper,
        bare.paper_id: bare,
    }
    assert store.upsert_papers([paper, bare]) == UpsertResult(0, 0, 2)


def test_papers_for_date_are_ordered_by_id(store: Store) -> None:
    store.upsert_papers([make_paper(3), make_paper(1), make_paper(2, date=NEXT_DAY)])
    assert store.papers_for_date(DAY) == [make_paper(1), make_paper(3)]
    assert store.papers_for_date(NEXT_DAY) == [make_paper(2, date=NEXT_DAY)]
    assert store.papers_for_date(dt.date(2025, 1, 1)) == []


def test_dates_with_papers_are_distinct_and_ascending(store: Store) -> None:
    assert store.dates_with_papers() == []
    store.upsert_papers([make_paper(1, date=NEXT_DAY), make_paper(2), make_paper(3)])
    assert store.dates_with_papers() == [DAY, NEXT_DAY]


def test_day_counts_in_a_range_and_the_latest_days_of_a_limit(store: Store) -> None:
    later = dt.date(2025, 5, 5)
    store.upsert_papers([make_paper(1), make_paper(2), make_paper(3, date=NEXT_DAY)])
    store.upsert_papers([make_paper(4, date=later)])

    assert store.day_counts() == [(DAY, 2), (NEXT_DAY, 1), (later, 1)]
    assert store.day_counts(start=NEXT_DAY) == [(NEXT_DAY, 1), (later, 1)]
    assert store.day_counts(end=NEXT_DAY) == [(DAY, 2), (NEXT_DAY, 1)]
    assert store.day_counts(limit=2) == [(NEXT_DAY, 1), (later, 1)]
    assert store.nearest_days(dt.date(2025, 5, 3)) == (NEXT_DAY, later)
    assert store.nearest_days(DAY) == (None, NEXT_DAY)
    assert store.nearest_days(dt.date(2025, 6, 1)) == (later, None)


def test_global_revisions_grow_with_any_paper_and_any_like(store: Store) -> None:
    assert store.global_revisions() == (0, 0)
    store.upsert_papers([make_paper(1), make_paper(2, date=NEXT_DAY)])
    papers_rev, activity_rev = store.global_revisions()
    store.record_interactions([make_event("e1", paper=2)])
    store.upsert_papers([make_paper(1, title="Retitled")])

    after = store.global_revisions()

    assert after[0] > papers_rev and after[1] > activity_rev


def test_latest_papers_and_the_most_liked(store: Store) -> None:
    store.upsert_papers([make_paper(n) for n in (1, 2, 3)] + [make_paper(4, date=NEXT_DAY)])
    store.record_interactions(
        [
            make_event("a1", user=ALICE, paper=2),
            make_event("b1", user=UserId("bob"), paper=2, kind=InteractionKind.SAVE),
            make_event("b2", user=UserId("bob"), paper=3),
            make_event("b3", user=UserId("bob"), paper=3),  # the same reader counts once
            make_event("b4", user=UserId("bob"), paper=1, kind=InteractionKind.IMPRESSION),
        ]
    )

    assert [p.paper_id for p in store.latest_papers(2)] == [pid(3), pid(4)]
    assert store.liked_counts(10) == {pid(2): 2, pid(3): 1}
    assert list(store.liked_counts(1)) == [pid(2)]


def test_papers_revision_counts_changes_of_the_day(store: Store) -> None:
    assert store.revisions(ALICE, DAY) == Revisions(user=0, papers=0, activity=0)
    store.upsert_papers([make_paper(1), make_paper(2)])
    first = store.revisions(ALICE, DAY).papers
    assert first > 0
    store.upsert_papers([make_paper(1), make_paper(2)])
    assert store.revisions(ALICE, DAY).papers == first
    store.upsert_papers([make_paper(1, title="Retitled")])
    assert store.revisions(ALICE, DAY).papers > first
    assert store.revisions(ALICE, NEXT_DAY).papers == 0


def test_paper_moving_to_another_day_bumps_both_days(store: Store) -> None:
    store.upsert_papers([make_paper(1), make_paper(2, date=NEXT_DAY)])
    before = {day: store.revisions(ALICE, day).papers for day in (DAY, NEXT_DAY)}
    assert store.upsert_papers([make_paper(1, date=NEXT_DAY)]) == UpsertResult(0, 1, 0)
    assert store.revisions(ALICE, DAY).papers > before[DAY]
    assert store.revisions(ALICE, NEXT_DAY).papers > before[NEXT_DAY]
    assert store.papers_for_date(DAY) == []
    assert [paper.paper_id for paper in store.papers_for_date(NEXT_DAY)] == [pid(1), pid(2)]
    assert store.dates_with_papers() == [NEXT_DAY]


def test_batch_with_one_bad_paper_writes_nothing(store: Store) -> None:
    store.upsert_papers([make_paper(1)])
    before = store.revisions(ALICE, DAY)
    batch = [make_paper(1, title="Changed"), make_paper(2), make_paper(3, title=" ")]
    with pytest.raises(InvalidInput) as caught:
        store.upsert_papers(batch)
    assert caught.value.field == "papers[2].title"
    assert store.get_papers([pid(1), pid(2), pid(3)]) == {pid(1): make_paper(1)}
    assert store.revisions(ALICE, DAY) == before


def test_paper_id_repeated_in_a_batch_is_rejected(store: Store) -> None:
    batch = [make_paper(number) for number in range(8)]
    batch[7] = make_paper(2, title="Again")
    with pytest.raises(InvalidInput) as caught:
        store.upsert_papers(batch)
    assert caught.value.field == "papers[7].paper_id"
    assert caught.value.problem.startswith("repeats papers[2]")
    assert store.dates_with_papers() == []


def test_empty_batches_are_rejected(store: Store) -> None:
    with pytest.raises(InvalidInput, match="papers: must contain at least one paper"):
        store.upsert_papers([])
    with pytest.raises(InvalidInput, match="interactions: must contain at least one"):
        store.record_interactions([])


def test_oversized_batches_are_too_large(store: Store) -> None:
    papers = [make_paper(number) for number in range(limits.MAX_BATCH_SIZE + 1)]
    with pytest.raises(TooLarge) as caught:
        store.upsert_papers(papers)
    assert str(caught.value) == "papers: has 1001 entries; at most 1000"
    events = [make_event(f"e{n}") for n in range(limits.MAX_BATCH_SIZE + 1)]
    with pytest.raises(TooLarge, match="interactions: has 1001 entries"):
        store.record_interactions(events)
    assert store.dates_with_papers() == []


def test_a_full_batch_is_accepted(store: Store) -> None:
    papers = [make_paper(number) for number in range(limits.MAX_BATCH_SIZE)]
    assert store.upsert_papers(papers).inserted == limits.MAX_BATCH_SIZE
    events = [make_event(f"e{n}", paper=n) for n in range(limits.MAX_BATCH_SIZE)]
    assert store.record_interactions(events) == RecordResult(limits.MAX_BATCH_SIZE, 0)
    assert len(store.get_papers([paper.paper_id for paper in papers])) == limits.MAX_BATCH_SIZE


# -- interactions ------------------------------------------------------------------------------


def test_duplicate_events_are_counted_not_stored_again(store: Store) -> None:
    store.upsert_papers([make_paper(0), make_paper(1)])
    first = make_event("e1")
    again = make_event("e1", paper=1, kind=InteractionKind.SAVE)
    batch = [first, make_event("e2"), again]
    assert store.record_interactions(batch) == RecordResult(accepted=2, duplicates=1)
    assert store.record_interactions([make_event("e2"), make_event("e3")]) == RecordResult(1, 1)
    stored = store.user_interactions(ALICE)
    assert [event.event_id for event in stored] == ["e1", "e2", "e3"]
    assert stored[0] == first


def test_unknown_paper_rejects_the_whole_batch(store: Store) -> None:
    store.upsert_papers([make_paper(0)])
    batch = [make_event("e1"), make_event("e2", paper=9), make_event("e3", paper=9)]
    with pytest.raises(InvalidInput) as caught:
        store.record_interactions(batch)
    assert caught.value.field == "interactions[1].paper_id"
    assert caught.value.problem == f"unknown paper {pid(9)!r}; upsert the paper first"
    assert store.user_interactions(ALICE) == []
    revisions = store.revisions(ALICE, DAY)
    assert (revisions.user, revisions.activity) == (0, 0)


def test_invalid_interaction_names_its_field(store: Store) -> None:
    store.upsert_papers([make_paper(0)])
    naive = dataclasses.replace(make_event("e2"), occurred_at=dt.datetime(2025, 5, 1, 9))
    with pytest.raises(InvalidInput) as caught:
        store.record_interactions([make_event("e1"), naive])
    assert caught.value.field == "interactions[1].occurred_at"
    assert store.user_interactions(ALICE) == []


def test_timestamps_are_kept_as_utc_instants(store: Store) -> None:
    store.upsert_papers([make_paper(0)])
    india = dt.timezone(dt.timedelta(hours=5, minutes=30))
    local = dt.datetime(2025, 5, 1, 1, 15, 30, 123456, tzinfo=india)
    store.record_interactions([make_event("e1", at=local)])
    [stored] = store.user_interactions(ALICE)
    assert stored.occurred_at == local
    assert stored.occurred_at.utcoffset() == dt.timedelta(0)
    assert stored.occurred_at == dt.datetime(2025, 4, 30, 19, 45, 30, 123456, tzinfo=dt.UTC)


def test_user_interactions_are_ordered_by_time_then_insertion(store: Store) -> None:
    store.upsert_papers([make_paper(0)])
    early = MORNING - dt.timedelta(hours=1)
    store.record_interactions([make_event("z"), make_event("a"), make_event("m")])
    store.record_interactions([make_event("late", at=early), make_event("b", user=BOB)])
    order = [event.event_id for event in store.user_interactions(ALICE)]
    assert order == ["late", "z", "a", "m"]
    assert store.user_interactions(CAROL) == []


def test_user_paper_ids_filters_by_kind(store: Store) -> None:
    store.upsert_papers([make_paper(n) for n in range(4)])
    store.record_interactions(
        [
            make_event("e1", paper=0, kind=InteractionKind.SAVE),
            make_event("e2", paper=1, kind=InteractionKind.CLICK),
            make_event("e3", paper=2, kind=InteractionKind.DISMISS),
            make_event("e4", paper=0, kind=InteractionKind.CLICK),
            make_event("e5", paper=3, kind=InteractionKind.SAVE, user=BOB),
        ]
    )
    saved_or_clicked = {InteractionKind.SAVE, InteractionKind.CLICK}
    assert store.user_paper_ids(ALICE, saved_or_clicked) == {pid(0), pid(1)}
    assert store.user_paper_ids(ALICE, [InteractionKind.DISMISS]) == {pid(2)}
    assert store.user_paper_ids(ALICE, []) == set()
    assert store.user_paper_ids(CAROL, saved_or_clicked) == set()


# -- revisions, popularity, deletion -----------------------------------------------------------


def test_user_revision_grows_and_never_returns_after_delete(store: Store) -> None:
    store.upsert_papers([make_paper(0)])
    store.record_interactions([make_event("a1"), make_event("a2")])
    first = store.revisions(ALICE, DAY).user
    store.record_interactions([make_event("b1", user=BOB)])
    assert store.revisions(ALICE, DAY).user == first
    store.record_interactions([make_event("a3")])
    second = store.revisions(ALICE, DAY).user
    assert second > first
    store.record_interactions([make_event("a3")])
    assert store.revisions(ALICE, DAY).user == second

    assert store.delete_user(ALICE).interactions == 3
    assert store.revisions(ALICE, DAY).user == 0
    store.record_interactions([make_event("a4")])
    assert store.revisions(ALICE, DAY).user > second


def test_activity_revision_counts_new_interactions_on_the_day(store: Store) -> None:
    store.upsert_papers([make_paper(0), make_paper(1, date=NEXT_DAY)])
    assert store.revisions(ALICE, DAY).activity == 0
    store.record_interactions([make_event("e1", user=BOB)])
    first = store.revisions(ALICE, DAY).activity
    assert first > 0
    assert store.revisions(ALICE, NEXT_DAY).activity == 0
    store.record_interactions([make_event("e1", user=BOB)])
    assert store.revisions(ALICE, DAY).activity == first
    # Impressions and dismissals do not change popularity, so they leave the day's lists alone.
    store.record_interactions([make_event("e2", user=CAROL, kind=InteractionKind.IMPRESSION)])
    store.record_interactions([make_event("e4", user=CAROL, kind=InteractionKind.DISMISS)])
    assert store.revisions(ALICE, DAY).activity == first
    store.record_interactions([make_event("e5", user=CAROL, kind=InteractionKind.SAVE)])
    assert store.revisions(ALICE, DAY).activity > first
    store.record_interactions([make_event("e3", paper=1)])
    assert store.revisions(ALICE, NEXT_DAY).activity > 0


def test_popularity_counts_distinct_clicking_or_saving_users(store: Store) -> None:
    store.upsert_papers([make_paper(n) for n in range(4)] + [make_paper(9, date=NEXT_DAY)])
    store.record_interactions(
        [
            make_event("e1", user=ALICE, paper=0, kind=InteractionKind.CLICK),
            make_event("e2", user=ALICE, paper=0, kind=InteractionKind.SAVE),
            make_event("e3", user=ALICE, paper=0, kind=InteractionKind.CLICK),
            make_event("e4", user=BOB, paper=0, kind=InteractionKind.SAVE),
            make_event("e5", user=BOB, paper=1, kind=InteractionKind.CLICK),
            make_event("e6", user=ALICE, paper=2, kind=InteractionKind.IMPRESSION),
            make_event("e7", user=BOB, paper=2, kind=InteractionKind.DISMISS),
            make_event("e8", user=CAROL, paper=2, kind=InteractionKind.UNSAVE),
            make_event("e9", user=CAROL, paper=9, kind=InteractionKind.SAVE),
        ]
    )
    assert store.popularity(DAY) == {pid(0): 2, pid(1): 1}
    assert store.popularity(NEXT_DAY) == {pid(9): 1}
    assert store.popularity(dt.date(2025, 1, 1)) == {}


def test_delete_user_removes_only_their_interactions(store: Store) -> None:
    store.upsert_papers([make_paper(0)])
    store.record_interactions(
        [make_event("a1"), make_event("a2", kind=InteractionKind.SAVE), make_event("b1", user=BOB)]
    )
    activity = store.revisions(ALICE, DAY).activity
    assert store.delete_user(ALICE).interactions == 2
    assert store.user_interactions(ALICE) == []
    assert [event.event_id for event in store.user_interactions(BOB)] == ["b1"]
    assert store.popularity(DAY) == {pid(0): 1}
    assert store.revisions(ALICE, DAY).activity > activity
    assert store.delete_user(ALICE).interactions == 0
    assert store.delete_user(CAROL).interactions == 0


# -- failures and concurrency ------------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [Store.ping, Store.migrate, lambda store: store.upsert_papers([make_paper(0)])],
    ids=["ping", "migrate", "upsert"],
)
def test_unreachable_postgres_is_unavailable(call: Callable[[Store], object]) -> None:
    store = Store("postgresql+psycopg://papersift:s3cret-pw@127.0.0.1:1/papersift")
    with pytest.raises(StoreUnavailable) as caught:
        call(store)
    message = str(caught.value)
    assert "127.0.0.1:1" in message
    assert "s3cret-pw" not in message
    store.close()


def test_sqlite_in_a_missing_directory_is_unavailable(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'missing' / 'papersift.db'}")
    with pytest.raises(StoreUnavailable, match="unable to open database file"):
        store.ping()
    with pytest.raises(StoreUnavailable):
        store.migrate()
    store.close()


@pytest.mark.parametrize(
    "url", ["not a url", "mysql://user@localhost/papersift", "oracle://scott:tiger@db/x"]
)
def test_unsupported_urls_are_refused_without_echoing_them(url: str) -> None:
    with pytest.raises(ValueError) as caught:
        Store(url)
    assert "tiger" not in str(caught.value)


def test_concurrent_batches_count_every_event_once(store: Store) -> None:
    store.upsert_papers([make_paper(n) for n in range(10)])
    users = [UserId(f"user{n}") for n in range(5)]
    pool = [make_event(f"e{n:03d}", user=users[n % len(users)], paper=n % 10) for n in range(300)]
    rng = random.Random(7)
    batches = [rng.sample(pool, 150) for _ in range(8)]
    results = run_in_threads(store.record_interactions, batches)

    distinct = {event.event_id for batch in batches for event in batch}
    assert sum(result.accepted for result in results) == len(distinct)
    assert sum(result.duplicates for result in results) == 8 * 150 - len(distinct)
    stored = [event for user in users for event in store.user_interactions(user)]
    assert sorted(event.event_id for event in stored) == sorted(distinct)


def test_concurrent_upserts_of_the_same_new_papers_insert_each_once(store: Store) -> None:
    batch = [make_paper(n) for n in range(50)]
    rotations = [batch[offset:] + batch[:offset] for offset in range(0, 50, 7)]
    results = run_in_threads(store.upsert_papers, rotations)
    assert sum(result.inserted for result in results) == 50
    assert sum(result.unchanged for result in results) == 50 * (len(rotations) - 1)
    assert store.papers_for_date(DAY) == sorted(batch, key=lambda paper: paper.paper_id)


# -- erasures ----------------------------------------------------------------------------------


def test_deleting_a_user_keeps_only_a_hash_and_the_time(store: Store) -> None:
    store.upsert_papers([make_paper(1)])
    store.record_interactions([make_event("e1", paper=1)])
    assert store.revisions(ALICE, DAY).erased_at is None

    store.delete_user(ALICE)

    erased_at = store.revisions(ALICE, DAY).erased_at
    assert erased_at is not None
    assert abs(erased_at - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=5)
    assert store.revisions(BOB, DAY).erased_at is None


def test_purge_forgets_erasures_older_than_the_given_time(store: Store) -> None:
    store.delete_user(ALICE)
    cut = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)
    assert store.purge_erasures(before=cut - dt.timedelta(days=1)) == 0
    assert store.purge_erasures(before=cut) == 1
    assert store.revisions(ALICE, DAY).erased_at is None


# -- papers known by title only ----------------------------------------------------------------

HF_DAY = dt.date(2025, 5, 9)
ARXIV_TITLE = "Discovering Knowledge Deficiencies of Language Models on Massive Knowledge Base"


def hf_paper(title: str = ARXIV_TITLE, **fields: Any) -> Paper:
    """A paper of the Hugging Face Daily Papers page text: a title id, no URL, no authors."""
    paper = Paper(
        paper_id=PaperId("title:0123456789abcdef"),
        title=title,
        date=HF_DAY,
        abstract="The abstract as the Hugging Face page gives it.",
        source="hf-daily",
    )
    return dataclasses.replace(paper, **fields)


def test_a_title_paper_takes_the_link_and_authors_of_its_arxiv_listing(store: Store) -> None:
    arxiv = make_paper(1, title=ARXIV_TITLE)
    store.upsert_papers([arxiv, make_paper(2)])

    assert store.upsert_papers([hf_paper()]) == UpsertResult(1, 0, 0)

    [stored] = store.papers_for_date(HF_DAY)
    # Its own id, title, day, abstract and source: it is the listing of the Hugging Face day.
    assert stored == hf_paper(url=arxiv.url, authors=arxiv.authors, categories=arxiv.categories)
    # Upserting it again as the page gives it changes nothing.
    assert store.upsert_papers([hf_paper()]) == UpsertResult(0, 0, 1)


def test_a_title_paper_keeps_its_own_abstract_and_categories_when_it_has_them(
    store: Store,
) -> None:
    arxiv = make_paper(1, title=ARXIV_TITLE)
    store.upsert_papers([arxiv])

    store.upsert_papers([hf_paper(abstract="", categories=("cs.CL",), url="https://hf.co/x")])

    [stored] = store.papers_for_date(HF_DAY)
    assert (stored.abstract, stored.categories) == (arxiv.abstract, ("cs.CL",))
    assert (stored.url, stored.authors) == (arxiv.url, arxiv.authors)


def test_titles_match_ignoring_case_and_in_the_same_batch(store: Store) -> None:
    store.upsert_papers([make_paper(1, title=ARXIV_TITLE)])
    shouted = hf_paper(ARXIV_TITLE.upper())
    later = make_paper(2, title="Sparse Attention Heads Retrieve Long Contexts", date=HF_DAY)
    same_batch = hf_paper(later.title.lower(), paper_id=PaperId("title:fedcba9876543210"))

    store.upsert_papers([shouted, same_batch, later])

    urls = {paper.paper_id: paper.url for paper in store.papers_for_date(HF_DAY)}
    assert urls[shouted.paper_id] == make_paper(1).url
    assert urls[same_batch.paper_id] == later.url


def test_short_ambiguous_or_unknown_titles_stay_unlinked(store: Store) -> None:
    twins = "Scaling Laws for Speculative Decoding"
    store.upsert_papers(
        [
            make_paper(1, title=twins),
            make_paper(2, title=twins),  # two arXiv papers of one title: which one is it?
            make_paper(3, title="Attention Is Enough"),  # under four words: too common
        ]
    )
    unlinked = [
        hf_paper(twins, paper_id=PaperId("title:0000000000000001")),
        hf_paper("Attention is enough", paper_id=PaperId("title:0000000000000002")),
        hf_paper("A Paper Nobody Listed On arXiv", paper_id=PaperId("title:0000000000000003")),
    ]

    store.upsert_papers(unlinked)

    assert sorted(store.papers_for_date(HF_DAY), key=lambda paper: paper.paper_id) == unlinked


def test_versions_of_one_arxiv_paper_link_to_its_latest_listing(store: Store) -> None:
    first = make_paper(1, title=ARXIV_TITLE)
    second = dataclasses.replace(
        first, paper_id=PaperId(f"{first.paper_id}v2"), date=NEXT_DAY, url=f"{first.url}v2"
    )
    store.upsert_papers([first, second])

    store.upsert_papers([hf_paper()])

    [stored] = store.papers_for_date(HF_DAY)
    assert stored.url == second.url


def test_linking_asks_one_query_for_the_whole_batch(store: Store) -> None:
    store.upsert_papers([make_paper(n, title=f"{ARXIV_TITLE} part {n}") for n in range(40)])
    batch = [
        hf_paper(f"{ARXIV_TITLE} part {n}", paper_id=PaperId(f"title:{n:016x}")) for n in range(40)
    ]
    statements: list[str] = []
    engine = store._writer.engine  # the test counts the queries a write sends

    def count(*args: Any) -> None:
        statements.append(str(args[2]))

    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        store.upsert_papers(batch)
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)

    lookups = [s for s in statements if "papers.title_key IN" in s and s.startswith("SELECT")]
    assert len(lookups) == 1
    assert all(paper.url for paper in store.papers_for_date(HF_DAY))


def test_a_title_written_with_other_punctuation_accents_or_spacing_still_links(
    store: Store,
) -> None:
    arxiv = make_paper(1, title="Retrieval-Augmented  Generation for Long   Documents, Revisited")
    store.upsert_papers([arxiv])

    store.upsert_papers([hf_paper("retrieval augmented generation for long documents: revisited")])

    [stored] = store.papers_for_date(HF_DAY)
    assert stored.url == arxiv.url
    assert stored.authors == arxiv.authors
