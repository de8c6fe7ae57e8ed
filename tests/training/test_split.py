"""Choosing the validation split: the latest days, else earlier days, random papers, none."""

from __future__ import annotations

import datetime as dt

from papersift.core.types import EventId, Interaction, InteractionKind, Paper, PaperId, UserId
from papersift.training.data import DataSummary, signals_by_user
from papersift.training.split import (
    EARLIER_DAYS,
    LATEST_DAYS,
    MIN_POSITIVES,
    NO_VALIDATION,
    RANDOM_PAPERS,
    choose_split,
    scorable,
)
from tests.synthetic import DAYS, make_world
from tests.training.worlds import (
    new_readers_on_the_latest_day,
    one_day_readers,
    one_paper_readers,
)


def test_the_latest_days_are_used_when_their_readers_are_known() -> None:
    world = make_world()
    choice = choose_split(world.papers, signals_by_user(world.interactions), 0.2)

    assert choice.name == LATEST_DAYS
    assert not choice.fallback and choice.reason is None
    assert choice.chosen is not None
    assert {p.date for p in choice.chosen.valid_papers} == {DAYS[1]}
    assert choice.to_json()["split"] == LATEST_DAYS
    assert choice.to_json()["fallback"] is False


def test_latest_day_of_new_readers_falls_back_to_an_earlier_time_split() -> None:
    world = new_readers_on_the_latest_day()
    signals = signals_by_user(world.interactions)

    choice = choose_split(world.papers, signals, 0.2)

    assert choice.name == EARLIER_DAYS
    assert choice.fallback
    assert choice.reason is not None
    assert "no reader of the training papers interacted" in choice.reason
    assert [c.name for c in choice.rejected] == [LATEST_DAYS]
    chosen = choice.chosen
    assert chosen is not None
    # Day 2 is held out, day 1 trains, day 3 (the validation window's future) takes no part.
    assert {p.date for p in chosen.valid_papers} == {DAYS[1]}
    assert {p.date for p in chosen.train_papers} == {DAYS[0]}
    assert chosen.readers == 24  # the old readers, all of whom read days 1 and 2
    assert (chosen.readers, chosen.positives) == scorable(
        chosen.train_papers, chosen.valid_papers, signals
    )


def test_readers_of_a_single_day_fall_back_to_random_papers_reproducibly() -> None:
    world = one_day_readers()
    signals = signals_by_user(world.interactions)

    choice = choose_split(world.papers, signals, 0.2, seed=3)
    again = choose_split(world.papers, signals, 0.2, seed=3)

    assert choice.name == RANDOM_PAPERS
    assert [c.name for c in choice.rejected] == [LATEST_DAYS, EARLIER_DAYS]
    assert choice.chosen is not None and again.chosen is not None
    assert [p.paper_id for p in choice.chosen.valid_papers] == [
        p.paper_id for p in again.chosen.valid_papers
    ]
    # Papers are held out whole (item cold start), from more than one day.
    held = {p.paper_id for p in choice.chosen.valid_papers}
    assert held.isdisjoint(p.paper_id for p in choice.chosen.train_papers)
    assert len({p.date for p in choice.chosen.valid_papers}) > 1


def test_a_single_day_of_interactions_goes_straight_to_random_papers() -> None:
    world = one_day_readers()
    first_day = [i for i in world.interactions if i.occurred_at.date() == DAYS[0]]

    choice = choose_split(world.papers, signals_by_user(first_day), 0.2)

    assert choice.name == RANDOM_PAPERS
    assert choice.unavailable == [(LATEST_DAYS, "the clicks and saves cover a single day")]
    assert choice.reason is not None and "single day" in choice.reason


def test_one_paper_per_reader_leaves_no_usable_split() -> None:
    world = one_paper_readers()

    choice = choose_split(world.papers, signals_by_user(world.interactions), 0.2)

    assert choice.name == NO_VALIDATION
    assert choice.chosen is None
    assert [c.name for c in choice.rejected] == [LATEST_DAYS, EARLIER_DAYS, RANDOM_PAPERS]
    data = choice.to_json()
    assert data["split"] == "none" and data["fallback"] is True
    assert data["early_stopping"] is False
    assert len(data["tried"]) == 3
    assert choice.summary().startswith("no usable validation split")


def _paper(number: int, day: int) -> Paper:
    return Paper(PaperId(f"p{number}"), f"Title {number}", dt.date(2025, 4, day))


def _click(user: str, paper: int, day: int) -> Interaction:
    at = dt.datetime(2025, 4, day, 12, tzinfo=dt.UTC)
    return Interaction(
        EventId(f"{user}-{paper}"), UserId(user), PaperId(f"p{paper}"), InteractionKind.CLICK, at
    )


def test_too_few_held_out_positives_make_a_split_unusable() -> None:
    # Two readers of day 1 click one day-2 paper each: 2 positives, fewer than MIN_POSITIVES.
    papers = [_paper(n, 1) for n in range(4)] + [_paper(10 + n, 2) for n in range(4)]
    clicks = [_click("a", 0, 1), _click("a", 1, 1), _click("a", 10, 2)]
    clicks += [_click("b", 2, 1), _click("b", 3, 1), _click("b", 11, 2)]

    choice = choose_split(papers, signals_by_user(clicks), 0.2)

    latest = choice.rejected[0]
    assert latest.name == LATEST_DAYS
    assert (latest.readers, latest.positives) == (2, 2)
    assert latest.problem == (
        f"only 2 held-out positives of readers of the training papers "
        f"(at least {MIN_POSITIVES} needed)"
    )
    assert choice.name != LATEST_DAYS


def test_data_summary_counts_every_kind_and_the_days() -> None:
    papers = [_paper(1, 1), _paper(2, 3)]
    at = dt.datetime(2025, 4, 4, 23, 30, tzinfo=dt.timezone(dt.timedelta(hours=-2)))
    interactions = [
        _click("a", 1, 1),
        Interaction(EventId("s"), UserId("b"), PaperId("p2"), InteractionKind.SAVE, at),
        Interaction(EventId("u"), UserId("b"), PaperId("p9"), InteractionKind.DISMISS, at),
    ]

    summary = DataSummary.of(papers, interactions)

    assert summary.by_kind == {"CLICK": 1, "SAVE": 1, "UNSAVE": 0, "DISMISS": 1, "IMPRESSION": 0}
    assert (summary.readers, summary.papers, summary.interactions) == (2, 2, 3)
    assert (summary.first_day, summary.last_day, summary.days) == (
        dt.date(2025, 4, 1),
        dt.date(2025, 4, 3),
        2,
    )
    assert summary.interaction_days == 2  # 2025-04-01 and (in UTC) 2025-04-05
    assert summary.unknown_papers == 1
    text = "\n".join(summary.lines())
    assert "data: 2 readers, 2 papers, 3 interactions" in text
    assert "CLICK 1, SAVE 1, UNSAVE 0, DISMISS 1, IMPRESSION 0" in text
    assert "days: 2025-04-01..2025-04-03 (2 listing days of papers" in text
    assert "1 interaction names a paper that is not in the data" in text
