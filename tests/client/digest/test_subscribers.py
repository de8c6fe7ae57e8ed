"""Reading subscriber files: every bad row is reported with its line, good rows are kept."""

from __future__ import annotations

from pathlib import Path

import pytest

from papersift.client.digest import (
    Subscriber,
    SubscriberFileError,
    load_subscribers,
    parse_subscribers,
)


def problems_of(text: str, *, jsonl: bool = False) -> list[str]:
    return [str(p) for p in parse_subscribers(text, source="subs", jsonl=jsonl).problems]


def test_csv_with_optional_columns() -> None:
    text = (
        "user_id,email,name,limit\n"
        "alice,alice@example.org,Alice Liddell,5\n"
        "\n"
        'bob, bob@example.org ,"Bob, the builder",\n'
    )
    loaded = parse_subscribers(text, source="subs.csv", jsonl=False)
    assert loaded.problems == ()
    assert loaded.subscribers == (
        Subscriber("alice", "alice@example.org", "Alice Liddell", 5, line=2),
        Subscriber("bob", "bob@example.org", "Bob, the builder", None, line=4),
    )


def test_csv_reports_every_bad_row_with_its_line() -> None:
    text = (
        "user_id,email,name\n"
        "alice,alice@example.org,Alice\n"
        ",bob@example.org,Bob\n"
        "carol,carol-at-example.org,Carol\n"
        "dave,dave@example.org\n"
        '"erin",erin@example.org,"Erin\n'
        'Second line"\n'
        "alice,alice2@example.org,\n"
    )
    assert problems_of(text) == [
        "subs:3: user_id: missing",
        "subs:4: email: 'carol-at-example.org' is not an email address like reader@example.org",
        "subs:5: row: has 2 cells; the header has 3",
        "subs:6: name: must not contain control characters (line breaks, tabs)",
        "subs:8: user_id: 'alice' repeats line 2",
    ]


def test_csv_header_must_name_the_required_columns() -> None:
    text = "id,mail\nalice,alice@example.org\n"
    assert problems_of(text) == [
        "subs:1: user_id: missing column; the header has id, mail",
        "subs:1: email: missing column; the header has id, mail",
        "subs:1: id: unknown column; expected user_id, email, name, limit",
        "subs:1: mail: unknown column; expected user_id, email, name, limit",
    ]


def test_jsonl_checks_types_ranges_and_unknown_fields() -> None:
    text = (
        '{"user_id": "alice", "email": "alice@example.org", "limit": 3}\n'
        '{"user_id": 7, "email": "bob@example.org"}\n'
        "not json\n"
        '["a list"]\n'
        '{"user_id": "carol", "email": "carol@example.org", "limit": 0, "plan": "pro"}\n'
        '{"user_id": " dave", "email": "dave@example.org", "limit": true}\n'
        '{"user_id": "erin", "email": "erin@example.org", "name": null, "limit": "12"}\n'
    )
    loaded = parse_subscribers(text, source="subs", jsonl=True)
    assert [str(p) for p in loaded.problems] == [
        "subs:2: user_id: must be a string, got 7",
        "subs:3: row: not valid JSON (Expecting value at column 1)",
        "subs:4: row: expected a JSON object, got list",
        "subs:5: plan: unknown field; expected user_id, email, name, limit",
        "subs:5: limit: must be 1 to 100, got 0",
        "subs:6: user_id: must not start or end with whitespace",
        "subs:6: limit: true is not a whole number",
    ]
    assert loaded.invalid_rows == 5
    assert [(s.user_id, s.limit) for s in loaded.subscribers] == [("alice", 3), ("erin", 12)]


def test_format_follows_the_name_then_the_content(tmp_path: Path) -> None:
    jsonl = tmp_path / "subs.txt"
    jsonl.write_text('{"user_id": "alice", "email": "alice@example.org"}\n', encoding="utf-8")
    csv = tmp_path / "subs"
    csv.write_text("user_id,email\nalice,alice@example.org\n", encoding="utf-8")
    for path in (jsonl, csv):
        [subscriber] = load_subscribers(path).subscribers
        assert (subscriber.user_id, subscriber.email) == ("alice", "alice@example.org")


@pytest.mark.parametrize(
    ("text", "message"),
    [("", "is empty; expected a header row"), ("user_id,email\n", "holds no subscribers")],
)
def test_a_file_without_rows_is_an_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "subs.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SubscriberFileError, match=message):
        load_subscribers(path)


def test_a_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SubscriberFileError, match="cannot read"):
        load_subscribers(tmp_path / "nope.csv")
