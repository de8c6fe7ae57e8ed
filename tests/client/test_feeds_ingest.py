"""Sending papers in batches through anything with ``upsert_papers``."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import sys
from collections.abc import Sequence

import pytest

from papersift.client._models import Paper, UpsertResult
from papersift.client.feeds import IngestReport, MissingExtraError, batched, ingest

DAY = dt.date(2025, 4, 1)


def _papers(count: int) -> list[Paper]:
    return [
        Paper(paper_id=f"arxiv:2504.{n:05d}", title=f"Paper {n}", date=DAY) for n in range(count)
    ]


class FakeClient:
    """Stores papers by id like the server: new ids are inserted, changed ones updated."""

    def __init__(self, fail_on_batch: int | None = None) -> None:
        self.stored: dict[str, Paper] = {}
        self.batches: list[list[str]] = []
        self.fail_on_batch = fail_on_batch

    def upsert_papers(self, papers: Sequence[Paper]) -> UpsertResult:
        self.batches.append([p.paper_id for p in papers])
        if len(self.batches) == self.fail_on_batch:
            raise RuntimeError("server unavailable")
        counts = {"inserted": 0, "updated": 0, "unchanged": 0}
        for paper in papers:
            before = self.stored.get(paper.paper_id)
            kind = "inserted" if before is None else "unchanged" if before == paper else "updated"
            counts[kind] += 1
            self.stored[paper.paper_id] = paper
        return UpsertResult(**counts)


class TerminalStream(io.StringIO):
    """A standard error that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def test_batches_are_sent_in_order_and_totals_summed() -> None:
    client = FakeClient()
    papers = _papers(1203)

    report = ingest(client, papers, progress=False)

    assert report == IngestReport(papers=1203, batches=3, inserted=1203, updated=0, unchanged=0)
    assert [len(b) for b in client.batches] == [500, 500, 203]
    assert [i for batch in client.batches for i in batch] == [p.paper_id for p in papers]


def test_a_second_ingest_reports_updates_and_unchanged() -> None:
    client = FakeClient()
    papers = _papers(10)
    ingest(client, papers, batch_size=4, progress=False)
    changed = [dataclasses.replace(p, abstract="New.") for p in papers[:3]] + papers[3:]

    report = ingest(client, changed, batch_size=4, progress=False)

    assert report == IngestReport(papers=10, batches=3, inserted=0, updated=3, unchanged=7)


def test_nothing_to_send() -> None:
    client = FakeClient()

    assert ingest(client, [], progress=True) == IngestReport(0, 0, 0, 0, 0)
    assert client.batches == []


@pytest.mark.parametrize("size", [0, -1, 1001])
def test_batch_size_must_fit_the_server_limit(size: int) -> None:
    with pytest.raises(ValueError, match="batch_size must be 1 to 1000"):
        ingest(FakeClient(), _papers(1), batch_size=size, progress=False)


def test_a_failed_batch_keeps_its_error_and_says_what_was_stored() -> None:
    client = FakeClient(fail_on_batch=2)

    with pytest.raises(RuntimeError, match="server unavailable") as caught:
        ingest(client, _papers(12), batch_size=5, progress=False)

    assert caught.value.__notes__ == [
        "while upserting batch 2 of 3; 1 batch(es) with 5 papers were stored before it "
        "(re-running is safe: upserts are idempotent)"
    ]
    assert len(client.stored) == 5


def test_progress_bar_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = TerminalStream()
    monkeypatch.setattr(sys, "stderr", stream)

    ingest(FakeClient(), _papers(7), batch_size=3, progress=True)

    assert "upserting papers" in stream.getvalue()
    assert "7/7" in stream.getvalue()


def test_no_progress_bar_off_a_terminal_or_when_disabled(monkeypatch: pytest.MonkeyPatch) -> None:
    quiet = io.StringIO()
    terminal = TerminalStream()
    monkeypatch.setitem(sys.modules, "tqdm", None)  # not even needed

    monkeypatch.setattr(sys, "stderr", quiet)
    ingest(FakeClient(), _papers(3), progress=True)
    monkeypatch.setattr(sys, "stderr", terminal)
    ingest(FakeClient(), _papers(3), progress=False)

    assert quiet.getvalue() == "" and terminal.getvalue() == ""


def test_missing_tqdm_on_a_terminal_fails_before_sending(monkeypatch: pytest.MonkeyPatch) -> None:
    client = FakeClient()
    monkeypatch.setitem(sys.modules, "tqdm", None)
    monkeypatch.setattr(sys, "stderr", TerminalStream())

    with pytest.raises(MissingExtraError, match=r"tqdm is needed to show a progress bar"):
        ingest(client, _papers(3))

    assert client.batches == []


def test_batched() -> None:
    assert list(batched(range(7), 3)) == [[0, 1, 2], [3, 4, 5], [6]]
    assert list(batched([], 3)) == []
    with pytest.raises(ValueError, match="at least 1"):
        list(batched([1], 0))
