"""Training inputs: JSONL and store loading, the time-ordered split, interaction matrices."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from papersift.core.store import Store
from papersift.core.types import EventId, Interaction, InteractionKind, Paper, PaperId, UserId
from papersift.training.data import (
    TrainingError,
    interaction_matrices,
    load_jsonl,
    load_store,
    signals_by_user,
    validation_days,
)

AT = dt.datetime(2025, 4, 10, 12, tzinfo=dt.UTC)


def paper(number: int, day: int) -> Paper:
    return Paper(PaperId(f"p{number}"), f"Title {number}", dt.date(2025, 4, day))


def event(number: int, user: str, paper_number: int, kind: InteractionKind) -> Interaction:
    return Interaction(EventId(f"e{number}"), UserId(user), PaperId(f"p{paper_number}"), kind, AT)


def test_validation_days_are_the_latest_days_with_about_the_asked_share() -> None:
    papers = [paper(n, day) for n, day in [(1, 1), (2, 2), (3, 3), (4, 4)]]
    interactions = [event(n, f"u{n}", n % 4 + 1, InteractionKind.CLICK) for n in range(20)]
    signals = signals_by_user(interactions)

    held = validation_days(papers, signals, fraction=0.3)

    assert held == {dt.date(2025, 4, 4)}
    assert validation_days(papers[:1], signals, fraction=0.3) == set()


def test_interaction_matrices_weigh_saves_and_keep_dismissals_apart() -> None:
    papers = [paper(1, 1), paper(2, 1), paper(3, 1)]
    signals = signals_by_user(
        [
            event(1, "a", 1, InteractionKind.SAVE),
            event(2, "a", 2, InteractionKind.CLICK),
            event(3, "b", 3, InteractionKind.DISMISS),
            event(4, "b", 9, InteractionKind.CLICK),  # a paper outside the list is ignored
        ]
    )
    matrices = interaction_matrices([UserId("a"), UserId("b")], signals, papers)

    assert matrices.positives.toarray().tolist() == [[3.0, 1.0, 0.0], [0.0, 0.0, 0.0]]
    assert matrices.negatives.toarray().tolist() == [[0.0, 0.0, 0.0], [0.0, 0.0, 1.0]]


def test_load_jsonl_reads_both_paper_formats_and_names_bad_lines(tmp_path: Path) -> None:
    papers = tmp_path / "papers.jsonl"
    papers.write_text(
        json.dumps({"arxiv_id": "2504.00001", "first_listed": "2025-04-01", "title": "A"})
        + "\n"
        + json.dumps({"paper_id": "x:1", "date": "2025-04-02", "title": "B"})
        + "\n"
    )
    events = tmp_path / "events.jsonl"
    events.write_text(
        json.dumps(
            {
                "event_id": "e1",
                "user_id": "u",
                "paper_id": "x:1",
                "kind": "SAVE",
                "occurred_at": "2025-04-02T10:00:00Z",
            }
        )
        + "\n"
    )
    corpus = load_jsonl(papers, events)
    assert [p.paper_id for p in corpus.papers] == ["arxiv:2504.00001", "x:1"]
    assert corpus.interactions[0].kind is InteractionKind.SAVE
    assert corpus.window == (dt.date(2025, 4, 1), dt.date(2025, 4, 2))

    events.write_text('{"event_id": "e1"}\nnot json\n')
    with pytest.raises(TrainingError, match=r"events.jsonl line 1: not an interaction"):
        load_jsonl(papers, events)


def test_load_store_reads_what_was_written(database_url: str) -> None:
    store = Store(database_url)
    store.migrate()
    store.upsert_papers([paper(1, 1), paper(2, 2)])
    store.record_interactions([event(1, "u", 2, InteractionKind.SAVE)])
    store.close()

    corpus = load_store(database_url)

    assert [p.paper_id for p in corpus.papers] == ["p1", "p2"]
    assert [i.event_id for i in corpus.interactions] == ["e1"]


def test_load_store_explains_an_unreachable_store() -> None:
    with pytest.raises(TrainingError, match="cannot read the store"):
        load_store("postgresql+psycopg://postgres@127.0.0.1:1/none")
