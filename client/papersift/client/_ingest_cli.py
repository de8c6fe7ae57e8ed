"""``papersift ingest``: read every source, repair and check it all, then send it in batches.

Imported only by the ``ingest`` command (it needs :mod:`papersift.client.feeds`).
"""

from __future__ import annotations

import argparse
import importlib.util
from collections import Counter
from collections.abc import Callable, Sequence

from papersift.client import feeds
from papersift.client._client import Client
from papersift.client._say import error, note, plural
from papersift.client.feeds import IngestReport, ParsedFeed, Prepared

EXIT_OK = 0
EXIT_USAGE = 2


def run(args: argparse.Namespace, connect: Callable[[], Client]) -> int:
    """Run ``papersift ingest`` with parsed ``args``; ``connect`` opens the client.

    Returns:
        0 when the papers were sent (or there were none), 2 when a source could not be read
        or a record cannot be sent without ``--skip-invalid`` (nothing is sent then).
    """
    parsed: list[ParsedFeed] = []
    for source in args.sources:
        try:
            parsed.append(feeds.load_located(source, format=args.format, date=args.date))
        except feeds.FeedError as exc:
            error(str(exc))
            return EXIT_USAGE
    if args.date is not None:
        for source, feed in zip(args.sources, parsed, strict=True):
            if feed.format not in feeds.UNDATED_FORMATS and feed.papers:
                note(
                    f"--date {args.date.isoformat()} replaces the listing days {source} gives "
                    f"its {plural(len(feed.papers), 'paper', 'papers')} ({feed.format} feeds "
                    "carry their own); ingest it without --date to keep them"
                )
    prepared = feeds.prepare(parsed)
    if prepared.rejected and not args.skip_invalid:
        for record in prepared.rejected:
            error(str(record))
        error(refusal(prepared))
        return EXIT_USAGE
    read = read_summary(args.sources, parsed)
    if not prepared.papers:
        print(f"read {read}: no papers, nothing sent")
        _print_lines(outcome_lines(prepared))
        return EXIT_OK

    # The bar is a nicety of the [cli] extra; the bare install ingests without one.
    progress = not args.no_progress and importlib.util.find_spec("tqdm") is not None
    with connect() as client:
        try:
            report = feeds.ingest(
                client, prepared.papers, batch_size=args.batch_size, progress=progress
            )
        except ValueError as exc:  # a --batch-size over the server's limit; nothing was sent
            args.command_parser.error(f"argument --batch-size: {exc}")
    print(f"read {read}: {sent_summary(len(prepared.papers), report)}")
    _print_lines(outcome_lines(prepared))
    return EXIT_OK


def read_summary(sources: Sequence[str], parsed: Sequence[ParsedFeed]) -> str:
    """``4 from a.jsonl, 2 from b.md``: the distinct papers and bad records of each source."""
    counts = (
        len({item.paper.paper_id for item in feed.papers}) + len(feed.rejected) for feed in parsed
    )
    pairs = zip(sources, counts, strict=True)
    return ", ".join(f"{count} from {source}" for source, count in pairs)


def sent_summary(papers: int, report: IngestReport) -> str:
    """``5 papers; inserted 5, updated 0, unchanged 0 (1 batch)``."""
    return (
        f"{papers} {plural(papers, 'paper', 'papers')}; inserted {report.inserted}, "
        f"updated {report.updated}, unchanged {report.unchanged} "
        f"({report.batches} {plural(report.batches, 'batch', 'batches')})"
    )


def repairs_summary(repaired: int, repairs: Counter[str]) -> str:
    """``repaired 9 papers: 8 non-category strings dropped from categories, ...``, most
    frequent rule first."""
    order = {rule: index for index, rule in enumerate(feeds.RULES)}
    ranked = sorted(repairs.items(), key=lambda item: (-item[1], order[item[0]]))
    parts = (f"{count} {feeds.RULES[rule][0 if count == 1 else 1]}" for rule, count in ranked)
    return f"repaired {repaired} {plural(repaired, 'paper', 'papers')}: {', '.join(parts)}"


def outcome_lines(prepared: Prepared) -> list[str]:
    """The lines after the totals: the repairs, then the records left out, if any."""
    lines = [repairs_summary(prepared.repaired, prepared.repairs)] if prepared.repaired else []
    if prepared.rejected:
        count = len(prepared.rejected)
        lines.append(f"skipped {count} invalid {plural(count, 'record', 'records')}:")
        lines += (f"  {record}" for record in prepared.rejected)
    return lines


def refusal(prepared: Prepared) -> str:
    """Why nothing was sent, and how to send the rest."""
    bad, good = len(prepared.rejected), len(prepared.papers)
    return (
        f"{bad} {plural(bad, 'record', 'records')} cannot be sent, so nothing was sent; "
        f"fix {plural(bad, 'it', 'them')} or pass --skip-invalid to send the other {good} "
        f"{plural(good, 'paper', 'papers')}"
    )


def _print_lines(lines: Sequence[str]) -> None:
    for line in lines:
        print(line)
