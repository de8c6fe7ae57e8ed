"""The Hugging Face Daily Papers JSON parser and the arxiv-2025q2 JSON Lines parser."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from papersift.client.feeds import FeedError, parse_hf_json, parse_jsonl
from tests.client.feed_samples import assert_is_l2m

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "feeds"


def _read(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def _hf_item(**paper: object) -> dict[str, object]:
    base: dict[str, object] = {
        "id": "2503.04723",
        "title": "Shifting Long-Context LLMs Research from Input to Output",
        "summary": "An abstract.",
        "authors": [{"_id": "x", "name": "Yuhao Wu", "hidden": False}],
        "publishedAt": "2025-03-06T18:59:37.000Z",
    }
    base.update(paper)
    return {"paper": base, "publishedAt": "2025-03-06T18:59:37.000Z", "title": base["title"]}


# --- hf-json ----------------------------------------------------------------------------------


def test_hf_json_items() -> None:
    papers = parse_hf_json(_read("hf_daily_papers.json"), source_name="hf.json")

    assert [p.paper_id for p in papers] == [
        "arxiv:2503.04725",
        "arxiv:2503.04723",
        "arxiv:2503.04722",
    ]
    first = papers[0]
    assert_is_l2m(first)
    assert "\n" not in first.abstract
    assert first.url == "https://arxiv.org/abs/2503.04725"
    assert first.source == "hf-daily"
    assert first.categories == ()
    # The day it was featured on Daily Papers (paper.submittedOnDailyAt), not the arXiv day.
    assert {p.date for p in papers} == {dt.date(2025, 3, 7)}
    assert papers[1].authors[1] == "Yushi Bai"


def test_hf_json_day_fallbacks_and_override() -> None:
    item = _hf_item()

    (from_published,) = parse_hf_json(json.dumps([item]))
    (overridden,) = parse_hf_json(json.dumps([item]), date=dt.date(2025, 3, 9))

    assert from_published.date == dt.date(2025, 3, 6)
    assert overridden.date == dt.date(2025, 3, 9)


def test_hf_json_title_and_summary_fall_back_to_the_item() -> None:
    item = _hf_item(title=None, summary=None)
    item["title"] = "Shifting Long-Context LLMs Research from Input to Output"
    item["summary"] = "Top-level  summary."

    (paper,) = parse_hf_json(json.dumps([item]))

    assert paper.title == "Shifting Long-Context LLMs Research from Input to Output"
    assert paper.abstract == "Top-level summary."


@pytest.mark.parametrize(
    ("items", "message"),
    [
        ([_hf_item(), "nope"], "entry 2: the item is a string, not an object"),
        ([{"title": "x"}], "entry 1: missing 'paper'"),
        ([_hf_item(id="")], "entry 1: missing 'paper.id'"),
        ([_hf_item(id="not-an-id")], "entry 1: 'paper.id' 'not-an-id' is not an arXiv id"),
        ([_hf_item(authors=[{"name": 7}])], "entry 1: 'paper.authors[1].name' is a number"),
        ([_hf_item(authors="Ada")], "entry 1: 'paper.authors' is a string, not a list"),
        (
            [_hf_item(submittedOnDailyAt="soon")],
            "entry 1: 'paper.submittedOnDailyAt' 'soon' is not an ISO 8601 timestamp",
        ),
        ([_hf_item(title=["x"])], "entry 1: 'paper.title' is a list, not a string"),
    ],
)
def test_hf_json_entry_problems(items: list[object], message: str) -> None:
    with pytest.raises(FeedError) as caught:
        parse_hf_json(json.dumps(items), source_name="hf.json")

    assert str(caught.value).startswith(f"hf.json {message}")


def test_hf_json_missing_title_and_day() -> None:
    untitled = _hf_item(title=None)
    untitled["title"] = None
    undated = _hf_item(publishedAt=None)
    undated["publishedAt"] = None

    with pytest.raises(FeedError, match=r"^hf\.json entry 1: missing 'paper\.title'$"):
        parse_hf_json(json.dumps([untitled]), source_name="hf.json")
    with pytest.raises(
        FeedError, match=r"entry 1: no 'paper\.submittedOnDailyAt' or 'publishedAt'"
    ):
        parse_hf_json(json.dumps([undated]), source_name="hf.json")


def test_hf_json_document_problems() -> None:
    with pytest.raises(FeedError) as caught:
        parse_hf_json('[\n  {"paper": {}},\n  {"paper": \n', source_name="hf.json")
    assert str(caught.value).startswith("hf.json line 4: invalid JSON (Expecting value")

    with pytest.raises(
        FeedError, match=r"^hf\.json: expected a JSON list of papers, got an object"
    ):
        parse_hf_json('{"papers": []}', source_name="hf.json")
    with pytest.raises(FeedError, match=r"^hf\.json: the API answered with an error: Bad date"):
        parse_hf_json('{"error": "Bad date"}', source_name="hf.json")
    assert parse_hf_json("[]") == []


# --- jsonl ------------------------------------------------------------------------------------


def test_jsonl_sample_of_the_real_file() -> None:
    papers = parse_jsonl(_read("arxiv_2025q2_sample.jsonl"), source_name="sample.jsonl")

    assert len(papers) == 30
    assert [p.date for p in papers].count(dt.date(2025, 4, 1)) == 15
    assert [p.date for p in papers].count(dt.date(2025, 4, 2)) == 15
    first = papers[0]
    assert first.paper_id == "arxiv:2503.22698"
    assert first.title == (
        "Fragile Mastery: Are Domain-Specific Trade-Offs Undermining On-Device Language Models?"
    )
    assert first.authors == ("Basab Jha", "Firoj Paudel")
    assert first.categories == ("cs.CL",)
    assert first.url == "https://arxiv.org/abs/2503.22698"
    assert first.source == "arxiv"
    fact_checking = papers[11]
    assert fact_checking.paper_id == "arxiv:2503.22877"
    assert "Christina Pöpper" in fact_checking.authors
    assert papers[24].categories == ("cs.CL", "cs.AI", "quant-ph", "I.2")
    assert papers[-1].paper_id == "arxiv:2504.00139"


def test_jsonl_bad_line_3_fails_the_whole_file() -> None:
    with pytest.raises(FeedError) as caught:
        parse_jsonl(_read("bad_line3.jsonl"), source_name="feed.jsonl")

    message = str(caught.value)
    assert message.startswith("feed.jsonl line 3: invalid JSON (")
    assert caught.value.location == "line 3"


def _line(**fields: object) -> str:
    record: dict[str, object] = {
        "arxiv_id": "2504.00016",
        "first_listed": "2025-04-02",
        "title": "Medical Reasoning",
        "abstract": None,
        "authors": ["A B"],
        "categories": ["cs.CL"],
        "comment": None,
    }
    record.update(fields)
    return json.dumps(record)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("[1, 2]", "line 2: the line is a list, not an object"),
        (_line(arxiv_id=None), "line 2: missing 'arxiv_id'"),
        (_line(arxiv_id="paper-1"), "line 2: 'arxiv_id' 'paper-1' is not an arXiv id"),
        (_line(title=""), "line 2: missing 'title'"),
        (_line(title=5), "line 2: 'title' is a number, not a string"),
        (_line(authors="A B"), "line 2: 'authors' is not a list of strings"),
        (_line(first_listed="2025-13-01"), "line 2: 'first_listed' '2025-13-01' is not a"),
        (_line(first_listed=None), "line 2: missing 'first_listed'; pass --date YYYY-MM-DD"),
    ],
)
def test_jsonl_line_problems(line: str, message: str) -> None:
    with pytest.raises(FeedError) as caught:
        parse_jsonl(f"{_line()}\n{line}\n", source_name="f.jsonl")

    assert str(caught.value).startswith(f"f.jsonl {message}")


def test_jsonl_blank_lines_versions_and_date_override() -> None:
    text = f"\n{_line(arxiv_id='2504.00016v2', first_listed=None)}\r\n\n"

    (paper,) = parse_jsonl(text, date=dt.date(2025, 4, 3))

    assert paper.paper_id == "arxiv:2504.00016"
    assert paper.date == dt.date(2025, 4, 3)
    assert paper.abstract == ""
