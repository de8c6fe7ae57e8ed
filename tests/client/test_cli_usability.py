"""The ``papersift`` command as a person meets it: pipes closed early, bare arXiv ids, bare
dates, bare hosts and limits checked before anything is sent (issue 11, deliverable 6).

Against a real server wherever a server is involved; the pipe tests run the real command."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from papersift.client import Client, InteractionKind
from papersift.client import _base as client_base
from papersift.client._argtypes import arxiv_paper_id, aware_datetime
from papersift.client._base import with_default_port
from papersift.client.cli import main
from tests.client.cli_runs import run, usage_error
from tests.client.conftest import DAY, make_paper
from tests.conftest import REPO_ROOT, ThreadedServer

DATE = DAY.isoformat()
PIPE_TIMEOUT = 60


def assert_no_traceback(stderr: str) -> None:
    assert "Traceback" not in stderr
    assert "BrokenPipeError" not in stderr
    assert "Exception ignored" not in stderr


# --- 1. a reader that stops early ------------------------------------------------------------


@pytest.fixture
def hundred_papers(server_address: str) -> str:
    """A real server holding 100 papers of ``DAY``."""
    with Client(server_address) as client:
        client.upsert_papers([make_paper(n) for n in range(1, 101)])
    return server_address


def test_rank_into_a_reader_that_closes_after_one_line_exits_141_quietly(
    hundred_papers: str,
) -> None:
    # 101 lines of 3,000 columns: far more than a pipe holds, so the command is still writing
    # when the reader goes away, as under `papersift rank … | head -1`.
    command = [
        *(sys.executable, "-m", "papersift.client.cli", "--server", hundred_papers),
        *("rank", "--user", "alice", "--date", DATE, "--limit", "100"),
    ]
    with subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "COLUMNS": "3000"},
        cwd=REPO_ROOT,
    ) as process:
        assert process.stdout is not None and process.stderr is not None
        first = process.stdout.readline()
        process.stdout.close()
        stderr = process.stderr.read().decode()
        status = process.wait(timeout=PIPE_TIMEOUT)

    assert first.split()[:3] == [b"#", b"score", b"paper"]
    assert status == 141, stderr
    assert_no_traceback(stderr)
    assert stderr == ""


def _into_a_closed_pipe(argv: list[str]) -> subprocess.CompletedProcess[str]:
    """Run ``python argv`` with a standard output whose reader is gone before the first byte."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run(
            [sys.executable, *argv],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO_ROOT,
            timeout=PIPE_TIMEOUT,
            check=False,
        )
    finally:
        os.close(write_end)


def test_commands_writing_into_a_closed_pipe_exit_141_quietly(
    seeded_address: str, tmp_path: Path
) -> None:
    rank = ["-m", "papersift.client.cli", "--server", seeded_address, "rank", "--user", "u"]
    new_key = ["-m", "papersift.server.cli", "new-api-key", "--name", "web", "--scopes", "rank"]
    for argv in (
        [*rank, "--date", DATE],
        [*rank, "--date", DATE, "--json"],
        ["-m", "papersift.client.cli", "--server", seeded_address, "model-info"],
        [*new_key, "--api-keys-file", str(tmp_path / "keys.json")],
    ):
        completed = _into_a_closed_pipe(argv)
        assert completed.returncode == 141, (argv, completed.stderr)
        assert_no_traceback(completed.stderr)


@pytest.mark.parametrize(
    "argv",
    [
        ["-m", "papersift.client.cli", "--help"],
        ["-m", "papersift.client.cli", "rank", "--help"],
        ["-m", "papersift.server.cli", "--help"],
        ["-m", "papersift.server.cli", "serve", "--help"],
    ],
    ids=["papersift", "papersift rank", "papersift-server", "papersift-server serve"],
)
def test_help_into_a_closed_pipe_has_no_traceback(argv: list[str]) -> None:
    completed = _into_a_closed_pipe(argv)
    # argparse itself ignores a failed write of its help (exit 0); a write that reached the
    # buffer fails at the flush, which is caught (141).
    assert completed.returncode in (0, 141), completed.stderr
    assert_no_traceback(completed.stderr)


# --- 4. times without a timezone ------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "suggested"),
    [
        ("2025-04-08", "2025-04-08T00:00:00Z"),
        ("2025-03-07T09:30", "2025-03-07T09:30:00Z"),
        ("2025-03-07 09:30:15", "2025-03-07T09:30:15Z"),
    ],
)
def test_a_time_without_timezone_gets_a_suggestion_that_is_accepted(
    server_address: str, capsys: pytest.CaptureFixture[str], written: str, suggested: str
) -> None:
    with Client(server_address) as client:
        client.upsert_papers([make_paper(1)])
    record = ("--server", server_address, "record", "--user", "u", "--paper", "arxiv:2503.00001")

    err = usage_error(capsys, *record, "--kind", "click", "--at", written)
    match = re.search(r"add one, e\.g\. (\S+) for UTC", err)
    assert match is not None, err
    assert match.group(1) == suggested

    status, out, err = run(capsys, *record, "--kind", "click", "--at", match.group(1))
    assert (status, out) == (0, "accepted 1, duplicates 0\n"), err


def test_aware_datetime_suggestions_parse_back_to_the_same_time_in_utc() -> None:
    for written in ("2025-04-08", "2025-03-07T09:30", "2025-03-07 09:30:15.250"):
        message = aware_datetime(written)
        assert isinstance(message, str)
        suggestion = message.split("e.g. ")[1].split()[0]
        value = aware_datetime(suggestion)
        assert not isinstance(value, str), value
        assert value.utcoffset() is not None and not value.utcoffset()


# --- 5. bare arXiv ids -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "resolved"),
    [
        ("2504.02921", "arxiv:2504.02921"),
        ("2504.02921v3", "arxiv:2504.02921"),
        ("arXiv:2504.02921v1", "arxiv:2504.02921"),
        ("https://arxiv.org/abs/2504.02921v2", "arxiv:2504.02921"),
        ("http://arxiv.org/pdf/2504.02921.pdf", "arxiv:2504.02921"),
        ("hep-th/9901001", "arxiv:hep-th/9901001"),
        ("https://arxiv.org/abs/hep-th/9901001v1", "arxiv:hep-th/9901001"),
        # papersift ids already, and things that are no arXiv id, are left alone
        ("arxiv:2504.02921", None),
        ("arxiv:2504.01234v2", None),
        ("title:0123456789abcdef", None),
        ("2513.02921", None),
        ("paper-7", None),
    ],
)
def test_arxiv_paper_id(written: str, resolved: str | None) -> None:
    assert arxiv_paper_id(written) == resolved


@pytest.mark.parametrize(
    "written", ["2503.00002", "2503.00002v2", "https://arxiv.org/abs/2503.00002v1"]
)
def test_record_resolves_a_bare_arxiv_id_and_says_so(
    seeded_address: str, capsys: pytest.CaptureFixture[str], written: str
) -> None:
    status, out, err = run(
        capsys,
        *("--server", seeded_address, "record", "--user", "u", "--paper", written),
        *("--kind", "save"),
    )

    assert (status, out) == (0, "accepted 1, duplicates 0\n"), err
    assert err == f"note: --paper {written} taken as arxiv:2503.00002\n"
    with Client(seeded_address) as client:
        assert client.delete_user("u").interactions_deleted == 1


def test_record_file_resolves_bare_arxiv_ids_and_says_so(
    seeded_address: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    events = tmp_path / "events.jsonl"
    lines = [
        {"event_id": "e1", "paper_id": "arxiv:2503.00001"},
        {"event_id": "e2", "paper_id": "2503.00002v1"},
        {"event_id": "e3", "paper_id": "https://arxiv.org/abs/2503.00003"},
    ]
    events.write_text(
        "".join(
            json.dumps(
                {**line, "user_id": "u", "kind": "click", "occurred_at": "2025-03-07T09:30:00Z"}
            )
            + "\n"
            for line in lines
        ),
        encoding="utf-8",
    )

    status, out, err = run(capsys, "--server", seeded_address, "record", "--file", str(events))

    assert (status, out) == (0, "accepted 3, duplicates 0\n"), err
    assert err == (
        f"note: 2 paper_id values of {events} taken as arxiv:<id> "
        "(line 2: 2503.00002v1 as arxiv:2503.00002)\n"
    )


def test_an_unknown_paper_gets_a_hint_about_ids(
    seeded_address: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = run(
        capsys,
        *("--server", seeded_address, "record", "--user", "u", "--paper", "2503-00002"),
        *("--kind", "save"),
    )

    assert (status, out) == (1, "")
    first, hint = err.splitlines()
    assert "unknown paper '2503-00002'" in first
    assert hint.startswith("hint: paper ids name their source, e.g. arxiv:2504.02921")


# --- 6. a host without a port -------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "dialled"),
    [
        ("127.0.0.1", "127.0.0.1:50051"),
        ("ranker.internal", "ranker.internal:50051"),
        ("[::1]", "[::1]:50051"),
        ("::1", "[::1]:50051"),
        ("127.0.0.1:9000", "127.0.0.1:9000"),
        ("[::1]:9000", "[::1]:9000"),
        ("dns:///ranker.internal", "dns:///ranker.internal"),
        ("dns:ranker.internal", "dns:ranker.internal"),
        ("unix:/run/papersift.sock", "unix:/run/papersift.sock"),
        ("unix:///run/papersift.sock", "unix:///run/papersift.sock"),
        ("ipv4:10.0.0.1", "ipv4:10.0.0.1"),
    ],
)
def test_with_default_port(target: str, dialled: str) -> None:
    assert with_default_port(target) == dialled


@pytest.mark.parametrize("host", ["127.0.0.1", "[::1]"])
@pytest.mark.parametrize("given_by", ["flag", "environment"])
def test_a_server_host_alone_means_port_50051(
    start_server: Callable[..., ThreadedServer],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    host: str,
    given_by: str,
) -> None:
    server = start_server(listen=f"{host}:0")
    # The server cannot have port 50051 here (another may hold it): its port plays that part.
    monkeypatch.setattr(client_base, "DEFAULT_PORT", server.server.port)
    if given_by == "flag":
        status, out, err = run(capsys, "--server", host, "model-info")
    else:
        monkeypatch.setenv("PAPERSIFT_SERVER", host)
        status, out, err = run(capsys, "model-info")

    assert status == 0, err
    assert out.startswith("model: ")


def test_a_host_alone_that_does_not_answer_is_named_with_its_port(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(client_base, "DEFAULT_PORT", 9)  # discard: nothing listens
    status, _, err = run(capsys, "--server", "127.0.0.1", "--timeout", "5", "model-info")

    assert status == 1
    assert err.splitlines()[-1] == "hint: is papersift-server running at 127.0.0.1:9?"


# --- 7. limits checked by the CLI ---------------------------------------------------------


@pytest.mark.parametrize(("limit", "problem"), [("500", "must be 1 to 100, got 500"), ("0", "")])
def test_rank_limit_is_checked_before_anything_is_sent(
    capsys: pytest.CaptureFixture[str], limit: str, problem: str
) -> None:
    # Nothing listens on port 9: a limit that got through would fail with exit 1, not 2.
    err = usage_error(
        capsys,
        *("--server", "127.0.0.1:9", "rank", "--user", "a", "--date", DATE, "--limit", limit),
    )
    assert "argument --limit: must be 1 to 100" in err
    assert problem in err


def test_rank_limit_100_is_accepted(
    hundred_papers: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = run(
        capsys,
        *("--server", hundred_papers, "rank", "--user", "a", "--date", DATE, "--limit", "100"),
        "--json",
    )
    assert status == 0, err
    assert len(json.loads(out)["papers"]) == 100


def test_record_sends_a_large_file_in_batches_the_server_accepts(
    hundred_papers: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # 2,500 events: more than the server takes in one call (1,000).
    events = tmp_path / "events.jsonl"
    with events.open("w", encoding="utf-8") as out:
        for n in range(2_500):
            event = {
                "event_id": f"e{n}",
                "user_id": f"u{n % 7}",
                "paper_id": f"arxiv:2503.{n % 100 + 1:05d}",
                "kind": InteractionKind.CLICK.value,
                "occurred_at": "2025-03-07T09:30:00Z",
            }
            out.write(json.dumps(event) + "\n")

    status, out_text, err = run(capsys, "--server", hundred_papers, "record", "--file", str(events))
    assert (status, out_text) == (0, "accepted 2500, duplicates 0\n"), err


# --- 10. the days that have papers -------------------------------------------------------


@pytest.fixture
def three_days(server_address: str) -> str:
    """A real server with 3 papers on 2025-03-05, 1 on 2025-03-06 and 12 on 2025-03-07."""
    counts = {dt.date(2025, 3, 5): 3, dt.date(2025, 3, 6): 1, dt.date(2025, 3, 7): 12}
    papers = []
    for day, count in counts.items():
        papers += [make_paper(day.day * 100 + n, day) for n in range(count)]
    with Client(server_address) as client:
        client.upsert_papers(papers)
    return server_address


def test_days_lists_each_day_with_its_count_and_a_total(
    three_days: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = run(capsys, "--server", three_days, "days")

    assert status == 0, err
    assert out.splitlines() == [
        "date        papers",
        "2025-03-05       3",
        "2025-03-06       1",
        "2025-03-07      12",
        "total: 3 days, 16 papers",
    ]


def test_days_from_and_to_bound_the_list(
    three_days: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = run(capsys, "--server", three_days, "days", "--from", "2025-03-06")
    assert status == 0
    assert out.splitlines()[1:] == [
        "2025-03-06       1",
        "2025-03-07      12",
        "total: 2 days, 13 papers",
    ]

    status, out, _ = run(
        capsys, "--server", three_days, "days", "--from", "2025-03-06", "--to", "2025-03-06"
    )
    assert out.splitlines()[1:] == ["2025-03-06       1", "total: 1 day, 1 paper"]

    status, out, _ = run(capsys, "--server", three_days, "days", "--to", "2025-03-04")
    assert (status, out) == (0, "no days with papers in that range\n")


def test_days_json_for_scripts(three_days: str, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "--server", three_days, "days", "--json", "--to", "2025-03-06")

    assert status == 0
    assert json.loads(out) == {
        "days": [{"date": "2025-03-05", "papers": 3}, {"date": "2025-03-06", "papers": 1}],
        "total_days": 2,
        "total_papers": 4,
        "truncated": False,
    }


def test_days_limit_keeps_the_latest_and_says_older_were_left_out(
    three_days: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = run(capsys, "--server", three_days, "days", "--limit", "2")

    assert status == 0
    assert out.splitlines()[1:] == [
        "2025-03-06       1",
        "2025-03-07      12",
        "total: 2 days, 13 papers; older days left out (narrow with --from, or raise --limit)",
    ]
    status, out, _ = run(capsys, "--server", three_days, "days", "--limit", "2", "--json")
    assert json.loads(out)["truncated"] is True


def test_days_of_an_empty_store(server_address: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "--server", server_address, "days") == (0, "no days with papers\n", "")


@pytest.mark.parametrize(
    ("argv", "problem"),
    [
        (("--from", "2025-03-07", "--to", "2025-03-01"), "--to 2025-03-01 is before --from"),
        (("--from", "March"), "'March' is not a date; write YYYY-MM-DD"),
        (("--limit", "10001"), "must be 1 to 10000, got 10001"),
    ],
)
def test_days_checks_its_arguments_before_sending(
    capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], problem: str
) -> None:
    assert problem in usage_error(capsys, "--server", "127.0.0.1:9", "days", *argv)


def test_rank_of_a_day_without_papers_points_at_days(
    three_days: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = run(
        capsys, "--server", three_days, "rank", "--user", "u", "--date", "2025-03-10"
    )

    assert (status, out) == (1, "")
    assert err.splitlines()[-1] == "hint: `papersift days` lists the days that have papers"


def test_days_help_has_examples(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["days", "--help"])
    assert exited.value.code == 0
    help_text = capsys.readouterr().out
    assert "usage: papersift days" in help_text
    assert "papersift days --from 2025-04-01 --to 2025-04-30" in help_text
