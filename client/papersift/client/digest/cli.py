"""``papersift digest``: the command line of the digest job.

Registered by ``papersift.client.cli``; importing this module needs only the bare install
(Jinja2 and tqdm are imported when the command runs).
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from collections.abc import Sequence
from contextlib import ExitStack
from typing import Any

from papersift.client._argtypes import listing_date, number, whole_number
from papersift.client._connection import connect
from papersift.client._say import error
from papersift.client.digest.job import (
    DigestOptions,
    JobReport,
    Outcome,
    Sender,
    SubscriberResult,
    run_digest,
)
from papersift.client.digest.outbox import Outbox
from papersift.client.digest.render import (
    DEFAULT_SENDER,
    DigestStyle,
    check_preferences_url,
    check_sender,
)
from papersift.client.digest.shard import ALL, Shard, parse_shard
from papersift.client.digest.smtp import (
    PASSWORD_ENV,
    USER_ENV,
    RetryPolicy,
    SmtpSender,
    parse_smtp_url,
)
from papersift.client.digest.subscribers import (
    MAX_LIMIT,
    SubscriberFileError,
    load_subscribers,
)

__all__ = ["add_parser", "run"]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2

DIGEST_EXTRA_HINT = "pip install 'papersift[digest]'"

EPILOG = f"""\
Subscribers: CSV with a header row, or JSON Lines; fields user_id, email, and optionally
name and limit. Every row is checked first; if any is bad, each problem is reported as
FILE:LINE: field: problem and nothing is sent (unless --skip-invalid).

Each (subscriber, day) is mailed at most once: subscribers already recorded as sent are
skipped, and each digest is recorded (with its papers as impressions, so they are never
mailed again) as soon as the mail server accepts it. A crash between the two may send one
message again; it has the same Message-ID, so mail systems can drop the copy.

Mail server URL: smtp://[USER[:PASSWORD]@]HOST[:PORT][?starttls=auto|true|false]
or smtps://... (TLS from the start; port 465). Login also from ${USER_ENV} and
${PASSWORD_ENV}. A 4xx reply or a dropped connection is retried with doubling delays;
a 5xx reply fails that subscriber only.

examples:
  papersift digest --date 2025-04-03 --subscribers subscribers.csv \\
      --smtp 'smtp://mail.example.org:587?starttls=true' --from 'papersift <digest@example.org>' \\
      --preferences-url 'https://example.org/prefs?user={{user_id}}'
  papersift digest --date 2025-04-03 --subscribers subscribers.jsonl --outbox outbox/
  papersift digest --date 2025-04-03 --subscribers subscribers.csv --shard 2/8 --smtp ...

exit status: 0 every digest sent, skipped or empty; 1 a digest failed or the service was
unreachable; 2 bad usage or a bad subscriber file (nothing was sent)"""


# --- argument types -------------------------------------------------------------------------


def _shard(text: str) -> Shard:
    try:
        return parse_shard(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


# --- the parser -----------------------------------------------------------------------------


def add_parser(
    subparsers: Any, *, parents: Sequence[argparse.ArgumentParser] = ()
) -> argparse.ArgumentParser:
    """Add the ``digest`` command to ``papersift``'s subparsers.

    Args:
        subparsers: What ``ArgumentParser.add_subparsers`` returned.
        parents: Parsers whose options every command shares (``--server``, ``--timeout``).
    """
    help = "mail each subscriber their papers of a day"
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "digest",
        help=help,
        description=help[0].upper() + help[1:] + ".",
        epilog=EPILOG,
        parents=list(parents),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(handler=run, command_parser=parser)
    parser.add_argument(
        "--date", required=True, type=listing_date, metavar="YYYY-MM-DD", help="the listing day"
    )
    parser.add_argument(
        "--subscribers", required=True, metavar="FILE", help="subscriber list, CSV or JSON Lines"
    )
    delivery = parser.add_argument_group("delivery (one of)")
    target = delivery.add_mutually_exclusive_group(required=True)
    target.add_argument("--smtp", metavar="URL", help="send through this mail server")
    target.add_argument("--outbox", metavar="DIR", help="write one .eml file per message instead")
    parser.add_argument(
        "--limit",
        type=whole_number(1, MAX_LIMIT),
        default=10,
        metavar="N",
        help="papers per digest unless a subscriber's row sets one (default: 10)",
    )
    parser.add_argument(
        "--shard",
        type=_shard,
        default=ALL,
        metavar="i/N",
        help="only the subscribers whose sha256(user_id) mod N is i (default: 0/1, everyone)",
    )
    parser.add_argument(
        "--skip-invalid",
        action="store_true",
        help="send to the valid rows even if some are bad (those are reported and skipped)",
    )
    parser.add_argument(
        "--from",
        dest="sender",
        default=DEFAULT_SENDER,
        metavar="ADDR",
        help=f"the From address (default: {DEFAULT_SENDER!r})",
    )
    parser.add_argument(
        "--preferences-url",
        default="",
        metavar="TEMPLATE",
        help=(
            "each reader's preferences/unsubscribe link, also sent as List-Unsubscribe; "
            "{user_id}, {email} and {date} are filled in URL-quoted"
        ),
    )
    parser.add_argument(
        "--send-empty",
        action="store_true",
        help="mail a short note when a subscriber has no papers (no papers that day, or all seen)",
    )
    parser.add_argument(
        "--smtp-attempts",
        type=whole_number(),
        default=RetryPolicy().attempts,
        metavar="N",
        help=f"tries per message on transient failures (default: {RetryPolicy().attempts})",
    )
    parser.add_argument(
        "--smtp-retry-delay",
        type=number(at_least=0, unit="seconds"),
        default=RetryPolicy().initial_delay,
        metavar="SECONDS",
        help=(
            f"delay before the first retry, doubling each time up to {RetryPolicy().max_delay:g} s "
            f"(default: {RetryPolicy().initial_delay:g})"
        ),
    )
    parser.add_argument("--no-progress", action="store_true", help="do not show a progress bar")
    return parser


# --- running --------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> int:
    """Run ``papersift digest`` with parsed arguments; returns the exit status."""
    parser: argparse.ArgumentParser = args.command_parser
    if importlib.util.find_spec("jinja2") is None:
        error(f"`papersift digest` needs Jinja2; install it with: {DIGEST_EXTRA_HINT}")
        return EXIT_FAILED
    problem = check_sender(args.sender)
    if problem:
        parser.error(f"argument --from: {problem}")
    if args.preferences_url:
        problem = check_preferences_url(args.preferences_url)
        if problem:
            parser.error(f"argument --preferences-url: {problem}")
    smtp_settings = None
    if args.smtp is not None:
        try:
            smtp_settings = parse_smtp_url(args.smtp)
        except ValueError as exc:
            parser.error(f"argument --smtp: {exc}")

    try:
        loaded = load_subscribers(args.subscribers)
    except SubscriberFileError as exc:
        error(str(exc))
        return EXIT_USAGE
    for found in loaded.problems:
        print(f"{'warning' if args.skip_invalid else 'error'}: {found}", file=sys.stderr)
    if loaded.problems and not args.skip_invalid:
        rows = loaded.invalid_rows
        error(
            f"{rows} bad {'row' if rows == 1 else 'rows'} in {args.subscribers}; nothing was "
            "sent (fix them, or pass --skip-invalid to send to the other rows)"
        )
        return EXIT_USAGE

    subscribers = list(args.shard.select(loaded.subscribers, lambda s: s.user_id))
    options = DigestOptions(
        date=args.date,
        limit=args.limit,
        style=DigestStyle(sender=args.sender, preferences_url=args.preferences_url),
        send_empty=args.send_empty,
    )
    where = smtp_settings.display() if smtp_settings is not None else f"outbox {args.outbox}"
    print(
        f"digest of {args.date.isoformat()}, shard {args.shard}: {len(subscribers)} of "
        f"{len(loaded.subscribers)} subscribers, to {where}",
        file=sys.stderr,
    )

    with ExitStack() as stack:
        sender: Sender
        if smtp_settings is not None:
            retry = RetryPolicy(attempts=args.smtp_attempts, initial_delay=args.smtp_retry_delay)
            sender = stack.enter_context(SmtpSender(smtp_settings, retry=retry))
        else:
            try:
                sender = stack.enter_context(Outbox(args.outbox))
            except OSError as exc:
                error(f"cannot use the outbox {args.outbox}: {exc}")
                return EXIT_USAGE
        client = stack.enter_context(connect(args))
        progress = stack.enter_context(_Progress(len(subscribers), enabled=not args.no_progress))
        report = run_digest(client, sender, subscribers, options, on_result=progress.update)
    report.invalid_rows = loaded.invalid_rows

    for line in _report_lines(report, args.shard):
        print(line)
    return EXIT_OK if report.ok else EXIT_FAILED


def _report_lines(report: JobReport, shard: Shard) -> list[str]:
    """The subscribers that need a look, then the summary table."""
    shown = (Outcome.FAILED, Outcome.EMPTY)
    lines = [_result_line(result) for result in report.results if result.outcome in shown]
    if lines:
        lines.append("")
    lines.append(f"summary of the digest of {report.date.isoformat()}, shard {shard}:")
    lines.extend(f"  {row}" for row in report.summary())
    return lines


def _result_line(result: SubscriberResult) -> str:
    subscriber = result.subscriber
    return f"{result.outcome.value}: {subscriber.user_id} <{subscriber.email}>: {result.detail}"


class _Progress:
    """A tqdm bar on a terminal when tqdm is installed; otherwise nothing."""

    def __init__(self, total: int, *, enabled: bool) -> None:
        self._bar: Any = None
        if enabled and total and sys.stderr.isatty() and importlib.util.find_spec("tqdm"):
            from tqdm import tqdm

            self._bar = tqdm(total=total, unit="reader", desc="digests", file=sys.stderr)

    def update(self, result: SubscriberResult) -> None:
        if self._bar is not None:
            self._bar.update(1)

    def __enter__(self) -> _Progress:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._bar is not None:
            self._bar.close()
