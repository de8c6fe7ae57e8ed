"""``papersift ingest`` end to end: real feeds repaired and sent whole, bad records refused."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from papersift.client import Client, NotFound
from papersift.client.cli import main
from papersift.core.store import Store
from papersift.core.types import PaperId
from tests.client.cli_runs import run
from tests.conftest import (
    FIXTURES,
    REPO_ROOT,
    SHARED_DATA,
    SHARED_SEEDS,
    ThreadedServer,
    require_shared,
)

QUARTER = SHARED_DATA / "arxiv-2025q2" / "papers.jsonl.gz"
SEEDS = SHARED_SEEDS
QUIRKS = str(FIXTURES / "feeds" / "arxiv_2025q2_quirks.jsonl")
BROKEN = str(FIXTURES / "cli" / "broken_feed.jsonl")  # line 2 has no title
LONG_URL = str(FIXTURES / "ingest" / "long_url_digest.md")  # line 6: a 2,127-character URL
DAY = "2025-03-07"
LONG_URL_ID = "title:2357544803f9c624"


@pytest.fixture
def server(
    start_server: Callable[..., ThreadedServer], tmp_path: Path
) -> Iterator[tuple[str, Store]]:
    """A real server on a fresh SQLite file, and a store reading that file."""
    url = f"sqlite:///{tmp_path / 'ingest.db'}"
    address = start_server(database_url=url).address
    store = Store(url)
    yield address, store
    store.close()


def test_the_whole_real_quarter_goes_in_and_every_paper_is_stored(
    server: tuple[str, Store],
) -> None:
    address, store = server
    with gzip.open(require_shared(QUARTER), "rt", encoding="utf-8") as lines:
        records = [json.loads(line) for line in lines]

    command = ["--server", address, "ingest", str(QUARTER), "--no-progress"]
    completed = subprocess.run(
        [sys.executable, "-m", "papersift.client.cli", *command],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=900,
        check=False,
    )

    assert completed.returncode == 0, completed.stderr
    assert completed.stderr == ""
    assert completed.stdout.splitlines() == [
        f"read 14818 from {QUARTER}: 14818 papers; inserted 14818, updated 0, unchanged 0 "
        "(30 batches)",
        "repaired 649 papers: 849 non-category strings dropped from categories, "
        "1 glued author list split",
    ]
    stored = list(store.iter_papers())
    assert {paper.paper_id for paper in stored} == {f"arxiv:{r['arxiv_id']}" for r in records}
    assert Counter(paper.date.isoformat() for paper in stored) == Counter(
        record["first_listed"] for record in records
    )
    [glued] = store.get_papers([PaperId("arxiv:2506.02197")]).values()
    assert len(glued.authors) == 39


def test_the_real_quirky_records_are_repaired_and_the_summary_counts_each_rule(
    server: tuple[str, Store], capsys: pytest.CaptureFixture[str]
) -> None:
    address, store = server

    status, out, err = run(capsys, "--server", address, "ingest", QUIRKS, "--no-progress")

    assert (status, err) == (0, "")
    assert out == (
        f"read 14 from {QUIRKS}: 14 papers; inserted 14, updated 0, unchanged 0 (1 batch)\n"
        "repaired 12 papers: 17 non-category strings dropped from categories, "
        "1 glued author list split\n"
    )
    [paper] = store.get_papers([PaperId("arxiv:2505.01754")]).values()
    assert paper.categories == ("cs.AI", "cs.CL", "cs.IR", "cs.LG", "cs.MA")


DATE_NOTE = (
    f"note: --date {DAY} replaces the listing days {BROKEN} gives its paper (jsonl feeds "
    "carry their own); ingest it without --date to keep them"
)
"""What ingest says when --date meets a feed with days of its own (the markdown one has none)."""


def test_records_that_cannot_be_sent_are_listed_and_nothing_is_sent(
    server: tuple[str, Store], capsys: pytest.CaptureFixture[str]
) -> None:
    address, store = server

    status, out, err = run(
        capsys, "--server", address, "ingest", BROKEN, LONG_URL, "--date", DAY, "--no-progress"
    )

    assert (status, out) == (2, "")
    assert err.splitlines() == [
        DATE_NOTE,
        f"error: {BROKEN}:2 (arxiv:2503.01007): missing 'title'",
        f"error: {LONG_URL}:6 ({LONG_URL_ID}): url: is 2127 characters; at most 2048",
        "error: 2 records cannot be sent, so nothing was sent; fix them or pass "
        "--skip-invalid to send the other 3 papers",
    ]
    assert store.dates_with_papers() == []


def test_skip_invalid_sends_the_rest_and_lists_what_it_left_out(
    server: tuple[str, Store], capsys: pytest.CaptureFixture[str]
) -> None:
    address, store = server
    argv = ("--server", address, "ingest", BROKEN, LONG_URL, "--date", DAY, "--no-progress")

    status, out, err = run(capsys, *argv, "--skip-invalid")

    assert (status, err) == (0, DATE_NOTE + "\n")
    assert out.splitlines() == [
        f"read 2 from {BROKEN}, 3 from {LONG_URL}: 3 papers; inserted 3, updated 0, "
        "unchanged 0 (1 batch)",
        "skipped 2 invalid records:",
        f"  {BROKEN}:2 (arxiv:2503.01007): missing 'title'",
        f"  {LONG_URL}:6 ({LONG_URL_ID}): url: is 2127 characters; at most 2048",
    ]
    stored = {paper.paper_id for paper in store.iter_papers()}
    assert stored == {"arxiv:2503.01006", "arxiv:2503.01011", "arxiv:2503.01013"}


def test_nothing_valid_with_skip_invalid_sends_nothing_and_says_so(
    server: tuple[str, Store], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    address, _ = server
    only_bad = tmp_path / "bad.jsonl"
    only_bad.write_text(Path(BROKEN).read_text(encoding="utf-8").splitlines()[1] + "\n")

    status, out, _ = run(
        capsys, "--server", address, "ingest", str(only_bad), "--skip-invalid", "--no-progress"
    )

    assert status == 0
    assert out.splitlines() == [
        f"read 1 from {only_bad}: no papers, nothing sent",
        "skipped 1 invalid record:",
        f"  {only_bad}:1 (arxiv:2503.01007): missing 'title'",
    ]
    with Client(address) as client, pytest.raises(NotFound):
        client.rank_papers("anyone", DAY)


@pytest.mark.parametrize(
    ("seed", "papers"), [("000_982c8c29131a072e.txt", 13), ("003_3a48079966754c24.txt", 80)]
)
def test_the_real_seed_feeds_ingest_cleanly(
    server: tuple[str, Store], capsys: pytest.CaptureFixture[str], seed: str, papers: int
) -> None:
    address, store = server
    source = str(require_shared(SEEDS / seed))

    status, out, err = run(
        capsys, "--server", address, "ingest", source, "--date", DAY, "--no-progress"
    )

    assert (status, err) == (0, "")
    assert out == (
        f"read {papers} from {source}: {papers} papers; inserted {papers}, updated 0, "
        "unchanged 0 (1 batch)\n"
    )
    assert len(store.papers_for_date(store.dates_with_papers()[0])) == papers


def test_ingest_help_documents_the_repairs_and_skip_invalid(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        main(["ingest", "--help"])
    text = " ".join(capsys.readouterr().out.split())

    assert "--skip-invalid" in text
    assert "Every source is read, repaired and checked before anything is sent" in text
    assert "not arXiv category codes" in text
    assert "FILE:LINE (paper id): field: problem" in text


def test_a_hugging_face_listing_takes_the_link_and_authors_of_its_arxiv_paper(
    server: tuple[str, Store], capsys: pytest.CaptureFixture[str]
) -> None:
    address, _ = server
    arxiv_days = REPO_ROOT / "data" / "sample" / "arxiv-2025-04-01_03.jsonl.gz"
    with gzip.open(arxiv_days, "rt", encoding="utf-8") as lines:
        [record] = [r for r in map(json.loads, lines) if r["arxiv_id"] == "2503.23361"]
    hf_page = str(require_shared(SEEDS / "003_3a48079966754c24.txt"))
    assert run(capsys, "--server", address, "ingest", str(arxiv_days), "--no-progress")[0] == 0

    status, _, err = run(
        capsys, "--server", address, "ingest", hf_page, "--date", "2025-04-04", "--no-progress"
    )

    assert (status, err) == (0, "")
    with Client(address) as client:
        listing = client.rank_papers("anyone", "2025-04-04", limit=100)
    assert listing.total == 80
    by_title = {ranked.paper.title: ranked.paper for ranked in listing.papers}
    matched = by_title[record["title"]]
    assert matched.paper_id.startswith("title:")
    assert matched.date.isoformat() == "2025-04-04"
    assert matched.url == "https://arxiv.org/abs/2503.23361"
    assert matched.authors == tuple(record["authors"])
    # The other 79 papers are on no sample day: they stay as the page gives them.
    assert [paper.title for paper in by_title.values() if paper.url] == [record["title"]]
