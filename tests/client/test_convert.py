"""Conversions between the client's dataclasses and the protobuf messages (no server needed)."""

from __future__ import annotations

import datetime as dt

import pytest

from papersift.client import Interaction, InteractionKind, RankFilters, Strategy, _convert
from papersift.v1 import ranker_pb2
from tests.client.conftest import DAY, make_event, make_paper


def test_a_paper_survives_the_round_trip() -> None:
    paper = make_paper(7)

    message = _convert.paper_to_proto(paper)

    assert message.date == "2025-03-07"
    assert list(message.authors) == ["Ada Lovelace", "Alan Turing"]
    assert _convert.paper_from_proto(message) == paper


def test_dates_are_written_as_iso_days_and_strings_pass_through() -> None:
    assert _convert.date_to_wire(DAY, "date") == "2025-03-07"
    # The server judges strings; the client does not duplicate its validation.
    assert _convert.date_to_wire("2025-3-7", "date") == "2025-3-7"
    with pytest.raises(TypeError, match=r"papers\[2\]\.date: expected a date, got a datetime"):
        _convert.date_to_wire(dt.datetime(2025, 3, 7, tzinfo=dt.UTC), "papers[2].date")


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        (InteractionKind.CLICK, ranker_pb2.INTERACTION_KIND_CLICK),
        (InteractionKind.SAVE, ranker_pb2.INTERACTION_KIND_SAVE),
        (InteractionKind.UNSAVE, ranker_pb2.INTERACTION_KIND_UNSAVE),
        (InteractionKind.DISMISS, ranker_pb2.INTERACTION_KIND_DISMISS),
        (InteractionKind.IMPRESSION, ranker_pb2.INTERACTION_KIND_IMPRESSION),
    ],
)
def test_every_kind_maps_to_its_enum_value(kind: InteractionKind, expected: int) -> None:
    message = _convert.interaction_to_proto(make_event("e", "u", 1, kind))
    assert message.kind == expected


def test_a_kind_may_be_given_as_its_string() -> None:
    event = Interaction("e", "u", "p", "save", dt.datetime.now(dt.UTC))  # type: ignore[arg-type]
    assert _convert.interaction_to_proto(event).kind == ranker_pb2.INTERACTION_KIND_SAVE

    unknown = Interaction("e", "u", "p", "like", dt.datetime.now(dt.UTC))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"interactions\[4\]\.kind: 'like' is not one of click"):
        _convert.interaction_to_proto(unknown, "interactions[4]")


def test_occurred_at_must_be_timezone_aware_and_is_sent_as_utc() -> None:
    plus_two = dt.timezone(dt.timedelta(hours=2))
    event = Interaction(
        "e", "u", "p", InteractionKind.CLICK, dt.datetime(2025, 3, 7, 11, 30, tzinfo=plus_two)
    )

    message = _convert.interaction_to_proto(event)

    assert message.occurred_at.ToDatetime(tzinfo=dt.UTC) == dt.datetime(
        2025, 3, 7, 9, 30, tzinfo=dt.UTC
    )
    naive = Interaction("e", "u", "p", InteractionKind.CLICK, dt.datetime(2025, 3, 7, 11, 30))
    with pytest.raises(ValueError, match="naive datetime 2025-03-07T11:30:00; give it a timezone"):
        _convert.record_request([naive])


def test_rank_request_leaves_filters_unset_unless_given() -> None:
    plain = _convert.rank_request(
        "u", DAY, limit=5, page_token="", filters=None, explain=False, diversity=0.0
    )
    assert not plain.HasField("filters")

    filters = RankFilters(
        include_categories=("cs.CL",),
        exclude_categories=("cs.CV",),
        must_have_keywords=("retrieval",),
        must_not_keywords=("survey",),
        followed_authors=("Ada Lovelace",),
        exclude_seen=True,
    )
    filtered = _convert.rank_request(
        "u", "2025-03-07", limit=5, page_token="t", filters=filters, explain=True, diversity=0.5
    )
    assert filtered.filters == ranker_pb2.RankFilters(
        include_categories=["cs.CL"],
        exclude_categories=["cs.CV"],
        must_have_keywords=["retrieval"],
        must_not_keywords=["survey"],
        followed_authors=["Ada Lovelace"],
        exclude_seen=True,
    )
    assert (filtered.date, filtered.page_token, filtered.explain) == ("2025-03-07", "t", True)
    assert filtered.diversity == pytest.approx(0.5)


def test_a_single_string_is_not_a_list_of_user_ids() -> None:
    with pytest.raises(TypeError, match="user_ids"):
        _convert.rank_batch_request(
            "alice", DAY, limit=5, filters=None, explain=False, diversity=0.0
        )
    with pytest.raises(TypeError, match="user_ids"):
        _convert.list_sent_digests_request(DAY, "alice")


def test_rank_batch_request_carries_filters_explain_and_diversity() -> None:
    request = _convert.rank_batch_request(
        ["a", "b"],
        DAY,
        limit=5,
        filters=RankFilters(followed_authors=("Ada Lovelace",), exclude_seen=True),
        explain=True,
        diversity=0.25,
    )
    assert list(request.user_ids) == ["a", "b"]
    assert list(request.filters.followed_authors) == ["Ada Lovelace"]
    assert request.filters.exclude_seen and request.explain
    assert request.diversity == pytest.approx(0.25)
    assert not _convert.rank_batch_request(
        ["a"], DAY, limit=5, filters=None, explain=False, diversity=0.0
    ).HasField("filters")


def test_ranking_conversion_and_an_unknown_strategy() -> None:
    message = ranker_pb2.RankPapersResponse(
        papers=[
            ranker_pb2.RankedPaper(
                paper=_convert.paper_to_proto(make_paper(1)),
                score=0.5,
                rank=1,
                reasons=["shares 'retrieval' with your saved papers"],
            )
        ],
        next_page_token="next",
        model_version="v7",
        strategy=ranker_pb2.STRATEGY_FOLD_IN,
        cached=True,
        total=9,
    )

    ranking = _convert.ranking_from_proto(message)

    assert ranking.strategy is Strategy.FOLD_IN
    assert (ranking.next_page_token, ranking.model_version, ranking.cached) == ("next", "v7", True)
    assert ranking.total == 9
    assert ranking.papers[0].paper == make_paper(1)
    assert ranking.papers[0].reasons == ("shares 'retrieval' with your saved papers",)

    message.strategy = 99  # type: ignore[assignment]
    assert _convert.ranking_from_proto(message).strategy is Strategy.UNSPECIFIED


def test_model_info_conversion() -> None:
    message = ranker_pb2.GetModelInfoResponse(
        loaded=True,
        version="2025-03-01T00-00-00",
        data_start="2025-01-01",
        data_end="2025-02-28",
        metrics=[ranker_pb2.Metric(name="recall@100", value=0.55)],
    )
    message.trained_at.FromDatetime(dt.datetime(2025, 3, 1, 4, 0, tzinfo=dt.UTC))

    info = _convert.model_info_from_proto(message)

    assert info.loaded is True
    assert info.trained_at == dt.datetime(2025, 3, 1, 4, 0, tzinfo=dt.UTC)
    assert info.metrics == {"recall@100": 0.55}
    assert _convert.model_info_from_proto(ranker_pb2.GetModelInfoResponse()).trained_at is None
