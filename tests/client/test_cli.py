"""The ``papersift`` command, run through ``main(argv)`` against a real server."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from papersift.client import Client, NotFound
from papersift.client.cli import main
from tests.client.cli_runs import run, usage_error
from tests.client.conftest import DAY
from tests.conftest import FIXTURES, REPO_ROOT

CLI_FIXTURES = FIXTURES / "cli"
PAPERS = str(CLI_FIXTURES / "papers.jsonl")
MORE_PAPERS = str(CLI_FIXTURES / "more_papers.jsonl")
BROKEN_FEED = str(CLI_FIXTURES / "broken_feed.jsonl")
EVENTS = str(CLI_FIXTURES / "events.jsonl")
BAD_EVENTS = str(CLI_FIXTURES / "events_bad_line3.jsonl")
DATE = DAY.isoformat()
COMMANDS = ["ingest", "record", "rank", "model-info", "delete-user"]


@pytest.fixture
def ingested(server_address: str, capsys: pytest.CaptureFixture[str]) -> str:
    """A real server holding the five papers of the CLI fixture feeds."""
    status, _, _ = run(
        capsys, "--server", server_address, "ingest", PAPERS, MORE_PAPERS, "--no-progress"
    )
    assert status == 0
    return server_address


def test_ingest_loads_merges_and_upserts_every_source(
    server_address: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = run(
        capsys, "--server", server_address, "ingest", PAPERS, MORE_PAPERS, "--no-progress"
    )
    assert status == 0, err
    assert out == (
        f"read 4 from {PAPERS}, 2 from {MORE_PAPERS}: 5 papers; "
        "inserted 5, updated 0, unchanged 0 (1 batch)\n"
    )

    status, out, _ = run(
        capsys, "ingest", PAPERS, "--batch-size", "3", "--server", server_address, "--no-progress"
    )
    assert status == 0
    # Merging had filled 2503.01003's empty abstract from more_papers.jsonl; alone, it has none.
    assert out.endswith("inserted 0, updated 1, unchanged 3 (2 batches)\n")


def test_ingest_with_a_bad_source_sends_nothing(
    server_address: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = run(
        capsys, "--server", server_address, "ingest", PAPERS, BROKEN_FEED, "--no-progress"
    )

    assert status == 2
    assert out == ""
    assert err == (
        f"error: {BROKEN_FEED}:2 (arxiv:2503.01007): missing 'title'\n"
        "error: 1 record cannot be sent, so nothing was sent; fix it or pass --skip-invalid "
        "to send the other 5 papers\n"
    )
    # papers.jsonl was read fine, but nothing is sent unless every source is.
    with Client(server_address) as client, pytest.raises(NotFound):
        client.rank_papers("anyone", DAY)


def test_ingest_rejects_an_unknown_format(capsys: pytest.CaptureFixture[str]) -> None:
    err = usage_error(capsys, "ingest", PAPERS, "--format", "csv")
    assert "'csv' is not one of markdown" in err


def test_ingest_rejects_an_oversized_batch_before_sending(
    server_address: str, capsys: pytest.CaptureFixture[str]
) -> None:
    err = usage_error(capsys, "--server", server_address, "ingest", PAPERS, "--batch-size", "1001")
    assert "argument --batch-size: " in err
    with Client(server_address) as client, pytest.raises(NotFound):
        client.rank_papers("anyone", DAY)


def test_ingest_date_overrides_the_listing_day(
    server_address: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, _ = run(
        capsys,
        *("--server", server_address, "ingest", PAPERS, "--date", "2025-03-10", "--no-progress"),
    )
    assert status == 0

    with Client(server_address) as client:
        assert client.rank_papers("anyone", "2025-03-10").total == 4


def test_record_one_event_then_its_duplicate(
    ingested: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ("--server", ingested, "record", "--user", "alice", "--paper", "arxiv:2503.01002")
    status, out, _ = run(capsys, *argv, "--kind", "save", "--event-id", "e1")
    assert (status, out) == (0, "accepted 1, duplicates 0\n")

    status, out, _ = run(capsys, *argv, "--kind", "save", "--event-id", "e1")
    assert (status, out) == (0, "accepted 0, duplicates 1\n")

    # Without --event-id every run is a new event (a fresh UUID).
    for _ in range(2):
        status, out, _ = run(capsys, *argv, "--kind", "click", "--at", "2025-03-07T09:30:00Z")
        assert (status, out) == (0, "accepted 1, duplicates 0\n")


def test_record_refuses_a_time_without_a_timezone(capsys: pytest.CaptureFixture[str]) -> None:
    err = usage_error(
        capsys,
        "record",
        "--user",
        "u",
        "--paper",
        "p",
        "--kind",
        "save",
        "--at",
        "2025-03-07T09:30",
    )
    assert "has no timezone" in err


def test_record_needs_an_event_or_a_file_but_not_both(capsys: pytest.CaptureFixture[str]) -> None:
    assert "--kind" in usage_error(capsys, "record", "--user", "u", "--paper", "p")
    err = usage_error(capsys, "record", "--file", EVENTS, "--user", "u")
    assert "--file cannot be combined with --user" in err
    assert "invalid choice: 'like'" in usage_error(
        capsys, "record", "--user", "u", "--paper", "p", "--kind", "like"
    )


def test_record_file_sends_every_event(ingested: str, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "--server", ingested, "record", "--file", EVENTS)
    assert (status, out) == (0, "accepted 3, duplicates 0\n")

    status, out, _ = run(capsys, "--server", ingested, "record", "--file", EVENTS)
    assert (status, out) == (0, "accepted 0, duplicates 3\n")


def test_record_file_dash_reads_standard_input(
    ingested: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(Path(EVENTS).read_text(encoding="utf-8")))

    status, out, _ = run(capsys, "--server", ingested, "record", "--file", "-")

    assert (status, out) == (0, "accepted 3, duplicates 0\n")


def test_record_file_with_a_bad_line_names_it_and_sends_nothing(
    ingested: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = run(capsys, "--server", ingested, "record", "--file", BAD_EVENTS)

    assert status == 2
    assert out == ""
    assert err.startswith(f"error: {BAD_EVENTS} line 3: kind 'like' is not one of click, save")
    with Client(ingested) as client:
        assert client.delete_user("alice").interactions_deleted == 0


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("not json", "not valid JSON"),
        ("[1, 2]", "expected a JSON object, got list"),
        ('{"event_id": "e"}', "missing field 'user_id'"),
        ('{"evnt_id": "e"}', "unknown field 'evnt_id'"),
        (
            '{"event_id": 7, "user_id": "u", "paper_id": "p", "kind": "save", '
            '"occurred_at": "2025-03-07T09:30:00Z"}',
            "event_id must be a string, got 7",
        ),
        (
            '{"event_id": "e", "user_id": "u", "paper_id": "p", "kind": "save", '
            '"occurred_at": "2025-03-07 09:30"}',
            "occurred_at: '2025-03-07 09:30' has no timezone",
        ),
        (
            '{"event_id": "e", "user_id": "u", "paper_id": "p", "kind": "save", '
            '"occurred_at": "yesterday"}',
            "occurred_at: 'yesterday' is not an ISO 8601 time",
        ),
    ],
)
def test_record_file_problems_are_explained(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], line: str, problem: str
) -> None:
    events = tmp_path / "events.jsonl"
    events.write_text("\n" + line + "\n", encoding="utf-8")

    # Nothing listens on the default address: a problem must stop the command before any call.
    status, _, err = run(capsys, "--server", "127.0.0.1:9", "record", "--file", str(events))

    assert status == 2
    assert err.startswith(f"error: {events} line 2: {problem}")


def test_record_file_that_is_missing_or_empty(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n", encoding="utf-8")

    status, _, err = run(capsys, "record", "--file", str(empty))
    assert (status, err) == (2, f"error: {empty} holds no events\n")

    status, _, err = run(capsys, "record", "--file", str(tmp_path / "absent.jsonl"))
    assert status == 2
    assert err.startswith("error: cannot read ")


def test_rank_prints_a_table_fitted_to_the_terminal(
    ingested: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "90")
    status, out, _ = run(
        capsys, "--server", ingested, "rank", "--user", "alice", "--date", DATE, "--limit", "5"
    )

    assert status == 0
    lines = out.splitlines()
    assert lines[0].split() == ["#", "score", "paper", "title", "authors"]
    rows = lines[1:-1]
    assert len(rows) == 5
    assert all(len(line) <= 90 for line in lines[:-1])
    assert [row.split()[0] for row in rows] == ["1", "2", "3", "4", "5"]
    long_title = next(row for row in rows if "arxiv:2503.01001" in row)
    assert "Sparse Retrieval Heads" in long_title
    assert "…" in long_title
    assert long_title.endswith("Mira Patel et al.")
    assert lines[-1] == "strategy: popular; model: (none); cached: no; total: 5"


def test_rank_shows_the_next_page_token_and_follows_it(
    ingested: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ("--server", ingested, "rank", "--user", "alice", "--date", DATE, "--limit", "2")
    status, out, _ = run(capsys, *argv)
    assert status == 0
    status_line = out.splitlines()[-1]
    assert "next page: --page-token " in status_line
    token = status_line.split("--page-token ")[1]

    status, out, _ = run(capsys, *argv, "--page-token", token)
    assert status == 0
    assert [row.split()[0] for row in out.splitlines()[1:3]] == ["3", "4"]


def test_rank_explain_lists_reasons_under_each_paper(
    ingested: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = run(
        capsys,
        *("--server", ingested, "rank", "--user", "alice", "--date", DATE, "--limit", "1"),
        "--explain",
    )

    assert status == 0
    lines = out.splitlines()
    assert lines[1].startswith("1  ")
    assert lines[2].startswith("   - ")


def test_rank_rules_and_diversity_reach_the_server(
    ingested: str, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ("--server", ingested, "rank", "--user", "alice", "--date", DATE, "--json")
    status, out, _ = run(
        capsys,
        *base,
        *("--category", "CS.LG", "--exclude-keyword", "graph transformers"),
        *("--follow", "mira patel", "--exclude-seen", "--diversity", "0.5"),
    )
    assert status == 0
    ids = [paper["paper_id"] for paper in json.loads(out)["papers"]]
    assert ids == ["arxiv:2503.01001"]

    status, out, _ = run(capsys, *base, "--keyword", "diffusion", "--follow", "Ana Souza")
    assert [paper["paper_id"] for paper in json.loads(out)["papers"]] == ["arxiv:2503.01004"]


def test_rank_rejects_a_diversity_outside_zero_to_one(capsys: pytest.CaptureFixture[str]) -> None:
    err = usage_error(capsys, "rank", "--user", "a", "--date", DATE, "--diversity", "1.5")
    assert "must be between 0 and 1, got 1.5" in err


def test_rank_json_is_one_object_for_scripts(
    ingested: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = run(
        capsys,
        *("--server", ingested, "rank", "--user", "alice", "--date", DATE, "--limit", "2"),
        "--json",
    )

    assert status == 0
    ranking = json.loads(out)
    assert ranking["user_id"] == "alice"
    assert ranking["date"] == DATE
    assert ranking["strategy"] == "popular"
    assert ranking["total"] == 5
    assert ranking["cached"] in (True, False)
    assert ranking["next_page_token"]
    assert [paper["rank"] for paper in ranking["papers"]] == [1, 2]
    first = ranking["papers"][0]
    assert set(first) >= {"paper_id", "title", "authors", "score", "url", "date", "reasons"}
    assert first["date"] == DATE


def test_rank_a_day_without_papers_fails_without_a_traceback(
    ingested: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = run(
        capsys, "--server", ingested, "rank", "--user", "alice", "--date", "2025-03-08"
    )

    assert status == 1
    assert out == ""
    assert err.startswith("error: ")
    assert "Traceback" not in err


def test_rank_rejects_a_bad_date_as_usage(capsys: pytest.CaptureFixture[str]) -> None:
    err = usage_error(capsys, "rank", "--user", "alice", "--date", "7 March")
    assert "'7 March' is not a date; write YYYY-MM-DD" in err


def test_model_info_text_and_json(server_address: str, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "--server", server_address, "model-info")
    assert status == 0
    assert out.startswith("model: none loaded")

    status, out, _ = run(capsys, "--server", server_address, "model-info", "--json")
    assert status == 0
    info = json.loads(out)
    assert info["loaded"] is False
    assert info["trained_at"] is None
    assert info["metrics"] == {}


def test_delete_user_needs_yes(ingested: str, capsys: pytest.CaptureFixture[str]) -> None:
    record = ("--server", ingested, "record", "--user", "alice", "--paper", "arxiv:2503.01001")
    assert run(capsys, *record, "--kind", "save")[0] == 0

    err = usage_error(capsys, "--server", ingested, "delete-user", "--user", "alice")
    assert "add --yes to confirm" in err

    status, out, _ = run(capsys, "--server", ingested, "delete-user", "--user", "alice", "--yes")
    assert status == 0
    assert out.startswith("deleted alice: 1 interaction, ")


def test_unreachable_server_gets_a_hint(
    closed_address: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = run(capsys, "--server", closed_address, "--timeout", "5", "model-info")

    assert status == 1
    assert out == ""
    first, hint = err.splitlines()
    assert first.startswith("error: ")
    assert hint == f"hint: is papersift-server running at {closed_address}?"


def test_server_comes_from_the_environment_and_options_go_either_side(
    server_address: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAPERSIFT_SERVER", server_address)
    assert run(capsys, "model-info")[0] == 0

    monkeypatch.setenv("PAPERSIFT_SERVER", "127.0.0.1:9")
    assert run(capsys, "model-info", "--server", server_address, "--timeout", "5")[0] == 0
    assert run(capsys, "--server", server_address, "model-info")[0] == 0


def test_bad_global_options_are_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert "must be more than 0 seconds" in usage_error(capsys, "--timeout", "0", "model-info")
    assert "required" in usage_error(capsys)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_with_examples(
    capsys: pytest.CaptureFixture[str], command: str
) -> None:
    with pytest.raises(SystemExit) as exited:
        main([command, "--help"])

    assert exited.value.code == 0
    help_text = capsys.readouterr().out
    assert f"usage: papersift {command}" in help_text
    assert "example" in help_text
    assert "--server" in help_text


def test_the_bare_install_ingests_and_ranks_without_optional_packages(
    server_address: str,
) -> None:
    # A fresh interpreter in which httpx, tqdm, rich and defusedxml cannot be imported, as
    # after `pip install papersift` without extras.
    script = textwrap.dedent(
        """
        import sys
        for name in ("httpx", "tqdm", "rich", "defusedxml"):
            sys.modules[name] = None
        from papersift.client.cli import main
        assert main(["--server", sys.argv[1], "ingest", sys.argv[2]]) == 0
        assert main(["--server", sys.argv[1], "rank", "--user", "u", "--date", "2025-03-07"]) == 0
        heavy = {"numpy", "sqlalchemy", "papersift.core", "papersift.server"} & set(sys.modules)
        assert not heavy, heavy
        """
    )
    completed = subprocess.run(
        [sys.executable, "-c", script, server_address, PAPERS],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=60,
        check=False,
    )

    assert completed.returncode == 0, completed.stderr
    assert "inserted 4" in completed.stdout
    assert "strategy: popular" in completed.stdout


def test_importing_the_cli_does_not_import_feeds() -> None:
    script = (
        "import sys, papersift.client.cli; "
        "assert 'papersift.client.feeds' not in sys.modules, 'feeds imported eagerly'"
    )
    completed = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
