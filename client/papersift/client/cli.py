"""The ``papersift`` command: ingest feeds, record interactions, rank a day, inspect and erase.

Exit status: 0 on success, 1 when the server refused or could not be reached, 2 for bad usage
or a bad input file (in which case nothing was sent).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import sys
import uuid
from collections.abc import Callable, Iterator, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from papersift.client._argtypes import (
    arxiv_paper_id,
    aware_datetime,
    listing_date,
    number,
    whole_number,
)
from papersift.client._base import DEFAULT_PORT, DEFAULT_TARGET, DEFAULT_TIMEOUT, with_default_port
from papersift.client._client import Client
from papersift.client._connection import (
    ConnectionSettingsError,
    add_security_options,
    connect,
)
from papersift.client._errors import (
    DeadlineExceeded,
    InvalidArgument,
    NotFound,
    PaperSiftError,
    Unavailable,
)
from papersift.client._models import (
    Interaction,
    InteractionKind,
    ModelInfo,
    RankedPaper,
    RankFilters,
    Ranking,
)
from papersift.client._say import error, note, plural
from papersift.client.digest import cli as digest_cli

__all__ = ["main"]

SERVER_ENV = "PAPERSIFT_SERVER"

# Events go to the server in chunks; re-sending a chunk after a failure is harmless because
# recording is idempotent by event_id.
RECORD_BATCH_SIZE = 500

EVENT_FIELDS = ("event_id", "user_id", "paper_id", "kind", "occurred_at")
KINDS = tuple(kind.value for kind in InteractionKind)

# The server's limits, checked before anything is sent.
MAX_PAGE_SIZE = 100
MAX_DAYS = 10_000

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, as a shell reports a process that SIGPIPE ended


class InputError(Exception):
    """An input file or argument the CLI cannot use; reported without a traceback, exit 2."""


# --- argument types -------------------------------------------------------------------------


def _aware_datetime(text: str) -> dt.datetime:
    value = aware_datetime(text)
    if isinstance(value, str):
        raise argparse.ArgumentTypeError(value)
    return value


def _paper_id(text: str) -> str:
    """The papersift id of ``--paper``: a bare arXiv id or address becomes ``arxiv:<id>``."""
    resolved = arxiv_paper_id(text)
    if resolved is None:
        return text
    note(f"--paper {text} taken as {resolved}")
    return resolved


# --- the parser -----------------------------------------------------------------------------


def _command(
    subparsers: Any,
    name: str,
    *,
    common: argparse.ArgumentParser,
    help: str,
    epilog: str,
    handler: Callable[[argparse.Namespace], int],
) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        name,
        help=help,
        description=help[0].upper() + help[1:] + ".",
        epilog=epilog,
        parents=[common],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(handler=handler, command_parser=parser)
    return parser


def build_parser() -> argparse.ArgumentParser:
    """Builds the ``papersift`` argument parser (exposed for documentation and tests)."""
    # The connection options are accepted both before and after the command; SUPPRESS keeps a
    # subcommand's unset copy from overwriting a value given before it.
    common = argparse.ArgumentParser(add_help=False)
    connection = common.add_argument_group("connection")
    connection.add_argument(
        "--server",
        default=argparse.SUPPRESS,
        metavar="HOST:PORT",
        help=(
            f"server address; a host alone means port {DEFAULT_PORT} "
            f"(default: ${SERVER_ENV} or {DEFAULT_TARGET})"
        ),
    )
    connection.add_argument(
        "--timeout",
        type=number(above=0, unit="seconds"),
        default=argparse.SUPPRESS,
        metavar="SECONDS",
        help=f"deadline of each call to the server (default: {DEFAULT_TIMEOUT:g})",
    )
    add_security_options(connection)

    parser = argparse.ArgumentParser(
        prog="papersift",
        description="Rank each day's research papers per reader: the papersift client.",
        epilog=(
            "examples:\n"
            "  papersift ingest papers.jsonl\n"
            "  papersift record --user alice --paper arxiv:2503.04725 --kind save\n"
            "  papersift rank --user alice --date 2025-03-07\n"
            "  papersift days --from 2025-03-01\n"
            "  papersift --server ranker.internal:50051 model-info\n"
            "\n"
            "exit status: 0 success, 1 the server refused or could not be reached,\n"
            "2 bad usage or input (nothing was sent), 141 output closed early (| head)"
        ),
        parents=[common],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)

    ingest = _command(
        subparsers,
        "ingest",
        common=common,
        help="load papers from feeds and upsert them",
        epilog=(
            "Every source is read, repaired and checked before anything is sent. Papers\n"
            "found in several sources are merged by paper id.\n"
            "\n"
            "Repairs, each counted in the summary: whitespace collapsed; empty authors and\n"
            "categories dropped, and repeated categories (two authors may share a name);\n"
            "categories that are not arXiv category codes\n"
            "(ACM 'I.2.7', MSC '68T05', free text) dropped; one author string holding\n"
            "several names ('Ada Lovelaceand Alan Turingand ...', 'Ada Lovelace, Alan\n"
            "Turing') split when every part looks like a name; titles, abstracts and author\n"
            "names over the server's limits cut at a word boundary (ending in '…'); lists\n"
            "over its limits cut.\n"
            "\n"
            "A source that cannot be read stops the command (exit 2), as does a record that\n"
            "cannot be sent even so (listed as FILE:LINE (paper id): field: problem): then\n"
            "nothing is sent, unless --skip-invalid is given, which sends the rest and\n"
            "lists the records left out.\n"
            "\n"
            "examples:\n"
            "  papersift ingest papers.jsonl\n"
            "  papersift ingest arxiv-cs.xml hf-daily.json --date 2025-03-07\n"
            "  papersift ingest export.jsonl --format jsonl --batch-size 200 --no-progress\n"
            "  papersift ingest papers.jsonl.gz --skip-invalid"
        ),
        handler=_cmd_ingest,
    )
    ingest.add_argument("sources", nargs="+", metavar="SOURCE", help="a feed file or URL")
    ingest.add_argument(
        "--format", help="feed format of every source (default: guessed from each source)"
    )
    ingest.add_argument(
        "--date",
        type=listing_date,
        metavar="YYYY-MM-DD",
        help=(
            "listing day of feeds that carry none (Markdown digest, Hugging Face page text); "
            "it also replaces the days of feeds that give their own (a note says so)"
        ),
    )
    ingest.add_argument(
        "--batch-size",
        type=whole_number(),
        default=500,
        metavar="N",
        help="papers per call (default: 500)",
    )
    ingest.add_argument(
        "--skip-invalid",
        action="store_true",
        help="send the valid papers and list the records that cannot be sent (default: send "
        "nothing if any record cannot be sent)",
    )
    ingest.add_argument("--no-progress", action="store_true", help="do not show a progress bar")

    record = _command(
        subparsers,
        "record",
        common=common,
        help="record what a reader did with a paper",
        epilog=(
            "Either one event from the options, or many from --file: JSON Lines, one object\n"
            "per line with event_id, user_id, paper_id, kind and occurred_at (ISO 8601 with a\n"
            "timezone). The whole file is checked before anything is sent. Recording is\n"
            "idempotent by event id, so re-running a file only counts duplicates.\n"
            "\n"
            "examples:\n"
            "  papersift record --user alice --paper arxiv:2503.04725 --kind save\n"
            "  papersift record --user alice --paper arxiv:2503.04725 --kind click \\\n"
            "      --event-id web-81233 --at 2025-03-07T09:30:00Z\n"
            "  papersift record --file events.jsonl\n"
            "\n"
            'events.jsonl line: {"event_id": "e1", "user_id": "alice", "paper_id":\n'
            '  "arxiv:2503.04725", "kind": "save", "occurred_at": "2025-03-07T09:30:00Z"}'
        ),
        handler=_cmd_record,
    )
    record.add_argument("--user", help="the reader")
    record.add_argument(
        "--paper",
        metavar="PAPER_ID",
        type=_paper_id,
        help="the paper, e.g. arxiv:2503.04725 (a bare arXiv id or arxiv.org address is taken "
        "as arxiv:<id>)",
    )
    record.add_argument("--kind", choices=KINDS, help="what the reader did")
    record.add_argument(
        "--event-id", metavar="ID", help="unique id of the event (default: a new UUID)"
    )
    record.add_argument(
        "--at",
        type=_aware_datetime,
        metavar="ISO8601",
        help="when it happened, with a timezone (default: now)",
    )
    record.add_argument(
        "--file",
        metavar="EVENTS.jsonl",
        help="record every event of a JSON Lines file ('-': stdin)",
    )

    rank = _command(
        subparsers,
        "rank",
        common=common,
        help="show a reader's ranked papers of a day",
        epilog=(
            "examples:\n"
            "  papersift rank --user alice --date 2025-03-07\n"
            "  papersift rank --user alice --date 2025-03-07 --limit 50 --explain\n"
            "  papersift rank --user alice --date 2025-03-07 --page-token TOKEN\n"
            "  papersift rank --user alice --date 2025-03-07 --category cs.CL \\\n"
            "      --exclude-keyword survey --follow 'Yoshua Bengio' --exclude-seen \\\n"
            "      --diversity 0.3\n"
            "  papersift rank --user alice --date 2025-03-07 --json | jq '.papers[].paper_id'"
        ),
        handler=_cmd_rank,
    )
    rank.add_argument("--user", required=True, help="the reader")
    rank.add_argument(
        "--date", required=True, type=listing_date, metavar="YYYY-MM-DD", help="the listing day"
    )
    rank.add_argument(
        "--limit",
        type=whole_number(1, MAX_PAGE_SIZE),
        default=20,
        metavar="N",
        help=f"page size, 1 to {MAX_PAGE_SIZE} (default: 20)",
    )
    rank.add_argument(
        "--page-token", default="", metavar="TOKEN", help="the token printed for the next page"
    )
    rank.add_argument("--explain", action="store_true", help="show why each paper was ranked")
    rank.add_argument("--json", action="store_true", help="print one JSON object for scripts")
    rules = rank.add_argument_group(
        "rules on top of the ranking",
        "Repeat an option for several values. Keywords and authors ignore case and accents.",
    )
    rules.add_argument(
        "--category",
        dest="include_categories",
        action="append",
        default=[],
        metavar="CAT",
        help="keep only papers in this category, e.g. cs.CL",
    )
    rules.add_argument(
        "--exclude-category",
        dest="exclude_categories",
        action="append",
        default=[],
        metavar="CAT",
        help="drop papers in this category",
    )
    rules.add_argument(
        "--keyword",
        dest="must_have_keywords",
        action="append",
        default=[],
        metavar="WORDS",
        help="keep only papers whose title or abstract has these words",
    )
    rules.add_argument(
        "--exclude-keyword",
        dest="must_not_keywords",
        action="append",
        default=[],
        metavar="WORDS",
        help="drop papers whose title or abstract has these words",
    )
    rules.add_argument(
        "--follow",
        dest="followed_authors",
        action="append",
        default=[],
        metavar="AUTHOR",
        help="move papers by this author to the top",
    )
    rules.add_argument(
        "--exclude-seen",
        action="store_true",
        help="drop papers the reader interacted with or was shown on earlier days",
    )
    rules.add_argument(
        "--exclude-touched",
        action="store_true",
        help="drop papers the reader clicked, saved or dismissed, on any day",
    )
    rules.add_argument(
        "--diversity",
        type=number(at_least=0, at_most=1),
        default=0.0,
        metavar="D",
        help="0 (plain score order, the default) to 1 (most diverse)",
    )

    model_info = _command(
        subparsers,
        "model-info",
        common=common,
        help="describe the model the server ranks with",
        epilog="examples:\n  papersift model-info\n  papersift model-info --json",
        handler=_cmd_model_info,
    )
    model_info.add_argument("--json", action="store_true", help="print one JSON object")

    delete_user = _command(
        subparsers,
        "delete-user",
        common=common,
        help="erase a reader's interactions and cached lists",
        epilog=(
            "This cannot be undone; --yes confirms it.\n"
            "\n"
            "example:\n"
            "  papersift delete-user --user alice --yes"
        ),
        handler=_cmd_delete_user,
    )
    delete_user.add_argument("--user", required=True, help="the reader to erase")
    delete_user.add_argument("--yes", action="store_true", help="confirm the erasure")

    days = _command(
        subparsers,
        "days",
        common=common,
        help="list the listing days that have papers, with how many",
        epilog=(
            "Oldest first. Without --limit the server returns its latest 1,000 days at most;\n"
            "the total line says when older days were left out.\n"
            "\n"
            "examples:\n"
            "  papersift days\n"
            "  papersift days --from 2025-04-01 --to 2025-04-30\n"
            "  papersift days --json | jq '.days[-1].date'"
        ),
        handler=_cmd_days,
    )
    days.add_argument(
        "--from",
        dest="start",
        type=listing_date,
        metavar="YYYY-MM-DD",
        help="first day to list (default: the first listed day)",
    )
    days.add_argument(
        "--to",
        dest="end",
        type=listing_date,
        metavar="YYYY-MM-DD",
        help="last day to list (default: the last listed day)",
    )
    days.add_argument(
        "--limit",
        type=whole_number(1, MAX_DAYS),
        default=0,
        metavar="N",
        help=f"most days, the latest kept, 1 to {MAX_DAYS:,} (default: the server's 1,000)",
    )
    days.add_argument("--json", action="store_true", help="print one JSON object for scripts")

    digest_cli.add_parser(subparsers, parents=[common])
    return parser


def _version() -> str:
    try:
        return metadata.version("papersift")
    except metadata.PackageNotFoundError:
        return "(not installed)"


# --- commands -------------------------------------------------------------------------------


def _connect(args: argparse.Namespace) -> Client:
    return connect(args)


def _cmd_ingest(args: argparse.Namespace) -> int:
    try:
        # Imported here: feeds may need the optional [cli] dependencies, which the bare
        # install (and every other command) does without.
        from papersift.client import feeds
    except ImportError as exc:
        error(
            f"`papersift ingest` needs {exc.name or 'an optional dependency'}; "
            "install it with: pip install 'papersift[cli]'"
        )
        return EXIT_FAILED
    if args.format is not None and args.format not in feeds.FEED_FORMATS:
        args.command_parser.error(
            f"argument --format: {args.format!r} is not one of {', '.join(feeds.FEED_FORMATS)}"
        )
    from papersift.client import _ingest_cli

    return _ingest_cli.run(args, lambda: _connect(args))


def _cmd_record(args: argparse.Namespace) -> int:
    single = {
        "--user": args.user,
        "--paper": args.paper,
        "--kind": args.kind,
        "--event-id": args.event_id,
        "--at": args.at,
    }
    if args.file is not None:
        given = [option for option, value in single.items() if value is not None]
        if given:
            args.command_parser.error(f"--file cannot be combined with {', '.join(given)}")
        try:
            interactions = _read_events(args.file)
        except InputError as exc:
            error(str(exc))
            return EXIT_USAGE
    else:
        missing = [option for option in ("--user", "--paper", "--kind") if single[option] is None]
        if missing:
            args.command_parser.error(
                f"the following arguments are required: {', '.join(missing)} (or --file)"
            )
        interactions = [
            Interaction(
                event_id=args.event_id or str(uuid.uuid4()),
                user_id=args.user,
                paper_id=args.paper,
                kind=InteractionKind(args.kind),
                occurred_at=args.at or dt.datetime.now(dt.UTC),
            )
        ]

    accepted = duplicates = 0
    with _connect(args) as client:
        for start in range(0, len(interactions), RECORD_BATCH_SIZE):
            result = client.record_interactions(interactions[start : start + RECORD_BATCH_SIZE])
            accepted += result.accepted
            duplicates += result.duplicates
    print(f"accepted {accepted}, duplicates {duplicates}")
    return EXIT_OK


def _read_events(path: str) -> list[Interaction]:
    """Parses a JSON Lines events file whole; the first bad line raises ``InputError``."""
    name = "<stdin>" if path == "-" else path
    try:
        if path == "-":
            lines = list(sys.stdin)
        else:
            with Path(path).open(encoding="utf-8") as file:
                lines = list(file)
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {name}: {exc}") from None

    interactions = []
    renamed: list[tuple[int, str]] = []  # (line, the paper_id as written)
    for line_number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            interaction, written = _parse_event(line)
        except InputError as exc:
            raise InputError(f"{name} line {line_number}: {exc}") from None
        interactions.append(interaction)
        if written != interaction.paper_id:
            renamed.append((line_number, written))
    if not interactions:
        raise InputError(f"{name} holds no events")
    if renamed:
        line_number, written = renamed[0]
        note(
            f"{len(renamed)} paper_id {plural(len(renamed), 'value', 'values')} of {name} "
            f"taken as arxiv:<id> (line {line_number}: {written} as {arxiv_paper_id(written)})"
        )
    return interactions


def _parse_event(line: str) -> tuple[Interaction, str]:
    """The event of one line, and its ``paper_id`` as written (bare arXiv ids are resolved)."""
    try:
        event = json.loads(line)
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(event, dict):
        raise InputError(f"expected a JSON object, got {type(event).__name__}")
    unknown = sorted(set(event) - set(EVENT_FIELDS))
    if unknown:
        raise InputError(f"unknown field {unknown[0]!r}; the fields are {', '.join(EVENT_FIELDS)}")
    for field in EVENT_FIELDS:
        if field not in event:
            raise InputError(f"missing field {field!r}")
        if not isinstance(event[field], str):
            raise InputError(f"{field} must be a string, got {json.dumps(event[field])}")
    if event["kind"] not in KINDS:
        raise InputError(f"kind {event['kind']!r} is not one of {', '.join(KINDS)}")
    occurred_at = aware_datetime(event["occurred_at"])
    if isinstance(occurred_at, str):
        raise InputError(f"occurred_at: {occurred_at}")
    interaction = Interaction(
        event_id=event["event_id"],
        user_id=event["user_id"],
        paper_id=arxiv_paper_id(event["paper_id"]) or event["paper_id"],
        kind=InteractionKind(event["kind"]),
        occurred_at=occurred_at,
    )
    return interaction, event["paper_id"]


def _cmd_rank(args: argparse.Namespace) -> int:
    with _connect(args) as client:
        ranking = client.rank_papers(
            args.user,
            args.date,
            limit=args.limit,
            page_token=args.page_token,
            explain=args.explain,
            filters=_rank_filters(args),
            diversity=args.diversity,
        )
    if args.json:
        print(json.dumps(_ranking_json(args.user, args.date, ranking), ensure_ascii=False))
        return EXIT_OK
    width = shutil.get_terminal_size(fallback=(120, 24)).columns
    for line in _ranking_table(ranking, width=width, explain=args.explain):
        print(line)
    return EXIT_OK


def _rank_filters(args: argparse.Namespace) -> RankFilters | None:
    """The rules given on the command line, or ``None`` when there are none."""
    filters = RankFilters(
        include_categories=tuple(args.include_categories),
        exclude_categories=tuple(args.exclude_categories),
        must_have_keywords=tuple(args.must_have_keywords),
        must_not_keywords=tuple(args.must_not_keywords),
        followed_authors=tuple(args.followed_authors),
        exclude_seen=args.exclude_seen,
        exclude_touched=args.exclude_touched,
    )
    return None if filters == RankFilters() else filters


def _ranking_table(ranking: Ranking, *, width: int, explain: bool) -> Iterator[str]:
    """Lines of the readable ranking: a table fitted to ``width``, then a status line."""
    if ranking.papers:
        rows = [
            (
                str(ranked.rank),
                f"{ranked.score:.4f}",
                ranked.paper.paper_id,
                ranked.paper.title,
                _first_author(ranked.paper.authors),
            )
            for ranked in ranking.papers
        ]
        header = ("#", "score", "paper", "title", "authors")
        rank_w, score_w, id_w, _, author_w = (
            max(len(row[i]) for row in [*rows, header]) for i in range(5)
        )
        author_w = min(author_w, 28)
        gaps = 4 * 2
        title_w = max(width - rank_w - score_w - id_w - author_w - gaps, 20)

        def line(cells: tuple[str, ...]) -> str:
            rank, score, paper_id, title, authors = cells
            return (
                f"{rank:>{rank_w}}  {score:>{score_w}}  {paper_id:<{id_w}}  "
                f"{_truncate(title, title_w):<{title_w}}  {_truncate(authors, author_w)}"
            ).rstrip()

        yield line(header)
        for row, ranked in zip(rows, ranking.papers, strict=True):
            yield line(row)
            if explain:
                indent = " " * (rank_w + 2)
                for reason in ranked.reasons:
                    yield _truncate(f"{indent}- {reason}", max(width, 40))
    else:
        yield "no papers on this page"

    status = [
        f"strategy: {ranking.strategy.value}",
        f"model: {ranking.model_version or '(none)'}",
        f"cached: {'yes' if ranking.cached else 'no'}",
        f"total: {ranking.total}",
    ]
    if ranking.next_page_token:
        status.append(f"next page: --page-token {ranking.next_page_token}")
    yield "; ".join(status)


def _first_author(authors: Sequence[str]) -> str:
    if not authors:
        return ""
    return authors[0] + (" et al." if len(authors) > 1 else "")


def _truncate(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def _paper_json(ranked: RankedPaper) -> dict[str, Any]:
    paper = ranked.paper
    return {
        "rank": ranked.rank,
        "score": ranked.score,
        "paper_id": paper.paper_id,
        "title": paper.title,
        "authors": list(paper.authors),
        "categories": list(paper.categories),
        "url": paper.url,
        "date": paper.date.isoformat(),
        "source": paper.source,
        "abstract": paper.abstract,
        "reasons": list(ranked.reasons),
    }


def _ranking_json(user_id: str, date: dt.date, ranking: Ranking) -> dict[str, Any]:
    return {
        "user_id": user_id,
        "date": date.isoformat(),
        "strategy": ranking.strategy.value,
        "model_version": ranking.model_version,
        "cached": ranking.cached,
        "total": ranking.total,
        "next_page_token": ranking.next_page_token,
        "papers": [_paper_json(ranked) for ranked in ranking.papers],
    }


def _cmd_model_info(args: argparse.Namespace) -> int:
    with _connect(args) as client:
        info = client.get_model_info()
    if args.json:
        print(json.dumps(_model_info_json(info), ensure_ascii=False))
        return EXIT_OK
    if not info.loaded:
        print("model: none loaded")
    else:
        print(f"model: {info.version}")
        if info.trained_at is not None:
            print(f"trained at: {info.trained_at.isoformat()}")
        if info.data_start or info.data_end:
            print(f"data: {info.data_start} to {info.data_end}")
        for name, value in sorted(info.metrics.items()):
            print(f"{name}: {value:.4f}")
    if info.message:
        print(info.message)
    return EXIT_OK


def _model_info_json(info: ModelInfo) -> dict[str, Any]:
    return {
        "loaded": info.loaded,
        "version": info.version,
        "trained_at": None if info.trained_at is None else info.trained_at.isoformat(),
        "data_start": info.data_start,
        "data_end": info.data_end,
        "metrics": info.metrics,
        "message": info.message,
    }


def _cmd_delete_user(args: argparse.Namespace) -> int:
    if not args.yes:
        args.command_parser.error(f"erasing {args.user!r} cannot be undone; add --yes to confirm")
    with _connect(args) as client:
        result = client.delete_user(args.user)
    print(
        f"deleted {args.user}: {result.interactions_deleted} "
        f"{plural(result.interactions_deleted, 'interaction', 'interactions')}, "
        f"{result.cached_lists_deleted} cached "
        f"{plural(result.cached_lists_deleted, 'list', 'lists')}"
    )
    return EXIT_OK


def _cmd_days(args: argparse.Namespace) -> int:
    if args.start is not None and args.end is not None and args.end < args.start:
        args.command_parser.error(f"--to {args.end} is before --from {args.start}")
    with _connect(args) as client:
        listed = client.list_days(args.start, args.end, limit=args.limit)
    papers = sum(day.papers for day in listed.days)
    if args.json:
        document = {
            "days": [{"date": day.date.isoformat(), "papers": day.papers} for day in listed.days],
            "total_days": len(listed.days),
            "total_papers": papers,
            "truncated": listed.truncated,
        }
        print(json.dumps(document))
        return EXIT_OK
    if not listed.days:
        unbounded = args.start is None and args.end is None
        print("no days with papers" + ("" if unbounded else " in that range"))
        return EXIT_OK
    width = max(len("papers"), len(f"{papers:,}"))
    print(f"{'date':<10}  {'papers':>{width}}")
    for day in listed.days:
        print(f"{day.date.isoformat():<10}  {day.papers:>{width},}")
    total = (
        f"total: {len(listed.days):,} {plural(len(listed.days), 'day', 'days')}, "
        f"{papers:,} {plural(papers, 'paper', 'papers')}"
    )
    if listed.truncated:
        total += "; older days left out (narrow with --from, or raise --limit)"
    print(total)
    return EXIT_OK


# --- entry point ----------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the ``papersift`` command line.

    Args:
        argv: The arguments after the program name; ``None`` reads ``sys.argv``.

    Returns:
        The exit status: 0 success, 1 the server refused or could not be reached, 2 bad input,
        141 standard output was closed before everything was written (``papersift … | head``).
        Bad usage exits 2 through argparse (``SystemExit``).
    """
    try:
        try:
            return _main(argv)
        finally:
            sys.stdout.flush()  # here, not at exit: a closed pipe must fail where it is caught
    except BrokenPipeError:
        # The reader has gone (| head): what is still buffered goes to /dev/null, so that the
        # interpreter's own flush at exit cannot fail again (Python docs, "Note on SIGPIPE").
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return EXIT_BROKEN_PIPE


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "server"):
        args.server = os.environ.get(SERVER_ENV) or DEFAULT_TARGET
    # gRPC would dial port 443 for a host alone; papersift-server listens on 50051.
    args.server = with_default_port(args.server)
    if not hasattr(args, "timeout"):
        args.timeout = DEFAULT_TIMEOUT
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except PaperSiftError as exc:
        error(exc.details)
        # e.g. which ingest batch failed and what was stored before it
        for text in getattr(exc, "__notes__", ()):
            note(text)
        if isinstance(exc, Unavailable):
            print(f"hint: is papersift-server running at {args.server}?", file=sys.stderr)
        elif isinstance(exc, DeadlineExceeded):
            print("hint: give the server more time with --timeout SECONDS", file=sys.stderr)
        elif isinstance(exc, NotFound) and "no papers are listed" in exc.details:
            print("hint: `papersift days` lists the days that have papers", file=sys.stderr)
        elif isinstance(exc, InvalidArgument) and "unknown paper" in exc.details:
            print(
                "hint: paper ids name their source, e.g. arxiv:2504.02921; "
                "`papersift rank --user U --date YYYY-MM-DD` lists a day's papers",
                file=sys.stderr,
            )
        return EXIT_FAILED
    except ConnectionSettingsError as exc:
        error(str(exc))
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
