"""How interactions turn into a reader's preferences (shared by training and serving)."""

from __future__ import annotations

import datetime as dt

from papersift.core.signals import CLICK_WEIGHT, SAVE_WEIGHT, user_signals
from papersift.core.types import EventId, Interaction, InteractionKind, PaperId, UserId

START = dt.datetime(2025, 4, 1, tzinfo=dt.UTC)


def events(*steps: tuple[str, InteractionKind]) -> list[Interaction]:
    return [
        Interaction(
            EventId(f"e{n}"), UserId("u"), PaperId(paper), kind, START + dt.timedelta(minutes=n)
        )
        for n, (paper, kind) in enumerate(steps)
    ]


def test_saves_weigh_more_than_clicks_and_repeated_clicks_count_once() -> None:
    signals = user_signals(
        events(
            ("a", InteractionKind.CLICK),
            ("a", InteractionKind.CLICK),
            ("b", InteractionKind.SAVE),
            ("c", InteractionKind.CLICK),
            ("c", InteractionKind.SAVE),
        )
    )
    assert signals.positive == {
        "a": CLICK_WEIGHT,
        "b": SAVE_WEIGHT,
        "c": SAVE_WEIGHT + CLICK_WEIGHT,
    }
    assert signals.has_preferences


def test_unsave_cancels_an_earlier_save_but_not_a_later_one() -> None:
    cancelled = user_signals(events(("a", InteractionKind.SAVE), ("a", InteractionKind.UNSAVE)))
    assert cancelled.positive == {}
    resaved = user_signals(
        events(
            ("a", InteractionKind.SAVE),
            ("a", InteractionKind.UNSAVE),
            ("a", InteractionKind.SAVE),
        )
    )
    assert resaved.positive == {"a": SAVE_WEIGHT}


def test_dismissal_is_negative_and_overrides_positive_signals() -> None:
    signals = user_signals(
        events(
            ("a", InteractionKind.CLICK),
            ("a", InteractionKind.DISMISS),
            ("b", InteractionKind.DISMISS),
        )
    )
    assert signals.positive == {}
    assert signals.negative == {"a", "b"}
    assert not signals.has_preferences


def test_impressions_only_mark_papers_seen() -> None:
    signals = user_signals(events(("a", InteractionKind.IMPRESSION), ("b", InteractionKind.CLICK)))
    assert signals.positive == {"b": CLICK_WEIGHT}
    assert signals.seen == {"a", "b"}
    assert signals.negative == frozenset()
