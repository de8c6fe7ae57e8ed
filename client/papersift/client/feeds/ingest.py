"""Sending parsed papers to the service in batches."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from papersift.client._models import Paper, UpsertResult
from papersift.client.feeds._limits import MAX_BATCH_SIZE
from papersift.client.feeds.errors import MissingExtraError

__all__ = ["MAX_BATCH_SIZE", "IngestReport", "PaperSink", "batched", "ingest"]

T = TypeVar("T")


class PaperSink(Protocol):
    """Anything that stores a batch of papers, such as ``papersift.client.Client``."""

    def upsert_papers(self, papers: Sequence[Paper], /) -> UpsertResult:
        """Insert or update ``papers`` (idempotent by ``paper_id``) and say what changed."""
        ...


@dataclass(frozen=True, slots=True)
class IngestReport:
    """What an :func:`ingest` did, summed over its batches."""

    papers: int
    batches: int
    inserted: int
    updated: int
    unchanged: int

    def add(self, batch_size: int, result: UpsertResult) -> IngestReport:
        """This report plus one more batch of ``batch_size`` papers."""
        return IngestReport(
            papers=self.papers + batch_size,
            batches=self.batches + 1,
            inserted=self.inserted + result.inserted,
            updated=self.updated + result.updated,
            unchanged=self.unchanged + result.unchanged,
        )


def batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Split ``items`` into lists of ``size`` (the last may be shorter).

    Raises:
        ValueError: When ``size`` is less than 1.
    """
    if size < 1:
        raise ValueError(f"batch size must be at least 1, got {size}")
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


class _Progress(Protocol):
    def update(self, n: float | None = 1, /) -> bool | None: ...

    def close(self) -> None: ...


class _NoProgress:
    def update(self, n: float | None = 1, /) -> bool | None:
        return None

    def close(self) -> None:
        return None


def _progress_bar(total: int, enabled: bool) -> _Progress:
    if not enabled or not sys.stderr.isatty():
        return _NoProgress()
    try:
        from tqdm import tqdm
    except ImportError as exc:
        raise MissingExtraError(
            "tqdm", "show a progress bar (or pass progress=False)", source="ingest"
        ) from exc
    return tqdm(total=total, unit="paper", desc="upserting papers", file=sys.stderr)


def _failed_batch_note(report: IngestReport, batch: int, total_batches: int) -> str:
    return (
        f"while upserting batch {batch} of {total_batches}; {report.batches} batch(es) with "
        f"{report.papers} papers were stored before it (re-running is safe: upserts are "
        "idempotent)"
    )


def ingest(
    client: PaperSink,
    papers: Sequence[Paper],
    *,
    batch_size: int = 500,
    progress: bool = True,
) -> IngestReport:
    """Upsert ``papers`` in batches, in order, with a progress bar on a terminal.

    Args:
        client: Stores each batch, e.g. a ``papersift.client.Client``.
        papers: The papers to send, e.g. from :func:`~papersift.client.feeds.load_feed`
            (merge duplicates first with :func:`~papersift.client.feeds.merge_papers`).
        batch_size: Papers per ``upsert_papers`` call, 1 to :data:`MAX_BATCH_SIZE`.
        progress: Show a tqdm bar on standard error; it is never shown when standard error
            is not a terminal.

    Returns:
        Totals over all batches.

    Raises:
        ValueError: When ``batch_size`` is out of range.
        Exception: Whatever ``client.upsert_papers`` raises, unchanged but for a note (PEP 678)
            saying which batch failed and what was stored before it.
        MissingExtraError: When a bar is to be shown and tqdm is not installed.
    """
    if not 1 <= batch_size <= MAX_BATCH_SIZE:
        raise ValueError(f"batch_size must be 1 to {MAX_BATCH_SIZE}, got {batch_size}")
    total_batches = -(-len(papers) // batch_size)
    report = IngestReport(papers=0, batches=0, inserted=0, updated=0, unchanged=0)
    bar = _progress_bar(len(papers), progress and bool(papers))
    try:
        for number, batch in enumerate(batched(papers, batch_size), 1):
            try:
                result = client.upsert_papers(batch)
            except Exception as exc:
                exc.add_note(_failed_batch_note(report, number, total_batches))
                raise
            report = report.add(len(batch), result)
            bar.update(len(batch))
    finally:
        bar.close()
    return report
