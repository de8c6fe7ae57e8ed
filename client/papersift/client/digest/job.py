"""The digest job: rank each subscriber's papers, mail them, record what was mailed.

Exactly once, per (subscriber, day):

1. ``list_sent_digests`` says who already got this day's digest; they are skipped.
2. The others are ranked with ``RankPapersBatch`` (``exclude_seen``, so papers mailed or
   shown before never come again, and ``exclude_touched``, so a paper the reader opened,
   saved or dismissed is never mailed, even one they opened that very day), in chunks the
   server accepts.
3. Each digest is handed to the mail server; once it is accepted, ``record_digest`` stores
   the (subscriber, day) record and an ``IMPRESSION`` per paper in one transaction.

The one window: if the job dies after the mail server accepted a message and before the
record is stored, a re-run sends that message again. It carries the same ``Message-ID``, so
mail systems that deduplicate drop it. If recording fails the job stops sending at once, so
at most that one message is unrecorded.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Protocol

from papersift.client._errors import DeadlineExceeded, NotFound, PaperSiftError, Unavailable
from papersift.client._models import DigestRecord, RankedPaper, RankFilters, Ranking, SentDigest
from papersift.client.digest.render import DigestStyle, message_id, render_digest
from papersift.client.digest.smtp import DeliveryError, MailServerError
from papersift.client.digest.subscribers import Subscriber

__all__ = [
    "DIGEST_FILTERS",
    "MAX_BATCH_RANKED",
    "MAX_BATCH_USERS",
    "DigestOptions",
    "DigestService",
    "EmptyReason",
    "JobReport",
    "Outcome",
    "Sender",
    "SubscriberResult",
    "run_digest",
]

MAX_BATCH_USERS = 1_000
"""Readers per ``RankPapersBatch`` and ``ListSentDigests`` call."""
MAX_BATCH_RANKED = 5_000
"""Readers x limit per ``RankPapersBatch`` call."""

DIGEST_FILTERS = RankFilters(exclude_seen=True, exclude_touched=True)
"""What every digest leaves out: papers mailed or shown before, and papers the reader touched."""

_UNREACHABLE = (Unavailable, DeadlineExceeded)


class DigestService(Protocol):
    """The calls the job makes; ``papersift.client.Client`` has them all."""

    def rank_papers_batch(
        self,
        user_ids: Sequence[str],
        date: dt.date | str,
        *,
        limit: int = ...,
        filters: RankFilters | None = ...,
        explain: bool = ...,
    ) -> dict[str, Ranking]:
        """Rank ``date``'s papers for each reader."""
        ...

    def record_digest(
        self,
        user_id: str,
        date: dt.date | str,
        paper_ids: Sequence[str],
        *,
        sent_at: dt.datetime,
        message_id: str = ...,
    ) -> DigestRecord:
        """Record a digest as sent, and its papers as impressions."""
        ...

    def list_sent_digests(
        self, date: dt.date | str, user_ids: Sequence[str]
    ) -> dict[str, SentDigest]:
        """The readers among ``user_ids`` whose digest for ``date`` was recorded."""
        ...


class Sender(Protocol):
    """Delivers one message: an ``SmtpSender`` or an ``Outbox``."""

    def send(self, message: EmailMessage, /) -> None:
        """Deliver ``message`` or raise."""
        ...


class Outcome(enum.StrEnum):
    """What became of one subscriber's digest."""

    SENT = "sent"
    ALREADY_SENT = "skipped (already sent)"
    FAILED = "failed"
    EMPTY = "empty"
    INVALID = "invalid"


class EmptyReason(enum.StrEnum):
    """Why a subscriber got no papers."""

    NO_PAPERS = "no papers that day"
    ALL_SHOWN = "every paper already shown or filtered out"
    UNREACHABLE = "service unreachable"


# Told to the reader in the "nothing today" note.
_READER_REASONS = {
    EmptyReason.NO_PAPERS: "no papers were listed that day",
    EmptyReason.ALL_SHOWN: "you have already seen every paper we would pick",
}


@dataclass(frozen=True, slots=True)
class SubscriberResult:
    """One subscriber's line of the job report.

    Attributes:
        subscriber: Who.
        outcome: What happened.
        detail: Why, for anything but a plain ``SENT``.
        empty_reason: For ``EMPTY``, the reason.
        paper_ids: The papers mailed.
        emailed: A message went out (a digest, or the "nothing today" note).
    """

    subscriber: Subscriber
    outcome: Outcome
    detail: str = ""
    empty_reason: EmptyReason | None = None
    paper_ids: tuple[str, ...] = ()
    emailed: bool = False


@dataclass(frozen=True, slots=True)
class DigestOptions:
    """Settings of one run of the job.

    Attributes:
        date: The listing day.
        limit: Papers per digest unless a subscriber sets their own.
        style: Sender and preferences link of every message.
        send_empty: Mail a short "nothing today" note when there are no papers to send.
    """

    date: dt.date
    limit: int = 10
    style: DigestStyle = field(default_factory=DigestStyle)
    send_empty: bool = False


@dataclass
class JobReport:
    """Every subscriber's result, and the totals of the summary table."""

    date: dt.date
    results: list[SubscriberResult] = field(default_factory=list)
    invalid_rows: int = 0

    def count(self, outcome: Outcome) -> int:
        """How many subscribers had ``outcome`` (``INVALID`` counts bad file rows)."""
        if outcome is Outcome.INVALID:
            return self.invalid_rows
        return sum(1 for result in self.results if result.outcome is outcome)

    def count_empty(self, reason: EmptyReason) -> int:
        """How many digests were empty for ``reason``."""
        return sum(1 for result in self.results if result.empty_reason is reason)

    @property
    def ok(self) -> bool:
        """Nothing failed and the service could be reached."""
        return self.count(Outcome.FAILED) == 0 and self.count_empty(EmptyReason.UNREACHABLE) == 0

    def summary(self) -> list[str]:
        """The summary table, one line per row."""
        rows: list[tuple[str, int]] = [(outcome.value, self.count(outcome)) for outcome in Outcome]
        after_empty = list(Outcome).index(Outcome.EMPTY) + 1
        rows[after_empty:after_empty] = [
            (f"  {reason.value}", self.count_empty(reason)) for reason in EmptyReason
        ]
        width = max(len(label) for label, _ in rows)
        number = max(len(str(count)) for _, count in rows)
        return [f"{label:<{width}}  {count:>{number}}" for label, count in rows]


def run_digest(
    service: DigestService,
    sender: Sender,
    subscribers: Sequence[Subscriber],
    options: DigestOptions,
    *,
    on_result: Callable[[SubscriberResult], None] = lambda result: None,
    now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
) -> JobReport:
    """Mail each subscriber their digest of ``options.date``, at most once.

    Args:
        service: The papersift service, e.g. a ``Client``.
        sender: Delivers each message.
        subscribers: Who gets a digest, already checked and sharded.
        options: Day, limit, style.
        on_result: Called with each subscriber's result as soon as it is known (progress).
        now: The clock of ``sent_at``.

    Returns:
        Every subscriber's result, in the order of ``subscribers``' chunks.

    Raises:
        PaperSiftError: ``list_sent_digests`` failed other than by the service being
            unreachable; nothing was sent.
    """
    run = _Run(service, sender, options, on_result, now)
    run.execute(subscribers)
    return run.report


class _Run:
    """The state of one run: the report so far and whether sending must stop."""

    def __init__(
        self,
        service: DigestService,
        sender: Sender,
        options: DigestOptions,
        on_result: Callable[[SubscriberResult], None],
        now: Callable[[], dt.datetime],
    ) -> None:
        self.service = service
        self.sender = sender
        self.options = options
        self.on_result = on_result
        self.now = now
        self.report = JobReport(options.date)
        self.stopped = ""  # why sending stopped; empty while it goes on
        self.no_papers = False

    def add(self, result: SubscriberResult) -> None:
        self.report.results.append(result)
        self.on_result(result)

    def empty(self, subscriber: Subscriber, reason: EmptyReason, detail: str = "") -> None:
        self.add(
            SubscriberResult(subscriber, Outcome.EMPTY, detail or reason.value, empty_reason=reason)
        )

    def execute(self, subscribers: Sequence[Subscriber]) -> None:
        date = self.options.date
        try:
            sent = self.already_sent(subscribers)
        except _UNREACHABLE as exc:
            for subscriber in subscribers:
                self.empty(subscriber, EmptyReason.UNREACHABLE, _unreachable(exc))
            return
        pending = []
        for subscriber in subscribers:
            record = sent.get(subscriber.user_id)
            if record is None:
                pending.append(subscriber)
                continue
            sent_at = record.sent_at.astimezone(dt.UTC)
            detail = f"sent {sent_at:%Y-%m-%d %H:%M} UTC, {record.paper_count} papers"
            self.add(SubscriberResult(subscriber, Outcome.ALREADY_SENT, detail))

        for limit, chunk in _chunks(pending, self.options.limit):
            if self.stopped:
                for subscriber in chunk:
                    self.add(SubscriberResult(subscriber, Outcome.FAILED, self.stopped))
                continue
            if self.no_papers:
                self.deliver_chunk(chunk, {})
                continue
            try:
                rankings = self.service.rank_papers_batch(
                    [subscriber.user_id for subscriber in chunk],
                    date,
                    limit=limit,
                    filters=DIGEST_FILTERS,
                    explain=True,
                )
            except NotFound:
                self.no_papers = True  # the day has no papers for any later chunk either
                rankings = {}
            except _UNREACHABLE as exc:
                for subscriber in chunk:
                    self.empty(subscriber, EmptyReason.UNREACHABLE, _unreachable(exc))
                continue
            except PaperSiftError as exc:  # e.g. a limit this server does not take
                for subscriber in chunk:
                    self.add(SubscriberResult(subscriber, Outcome.FAILED, f"ranking failed: {exc}"))
                continue
            self.deliver_chunk(chunk, rankings)

    def already_sent(self, subscribers: Sequence[Subscriber]) -> dict[str, SentDigest]:
        sent: dict[str, SentDigest] = {}
        ids = [subscriber.user_id for subscriber in subscribers]
        for start in range(0, len(ids), MAX_BATCH_USERS):
            sent.update(
                self.service.list_sent_digests(
                    self.options.date, ids[start : start + MAX_BATCH_USERS]
                )
            )
        return sent

    def deliver_chunk(self, chunk: Sequence[Subscriber], rankings: dict[str, Ranking]) -> None:
        for subscriber in chunk:
            if self.stopped:
                self.add(SubscriberResult(subscriber, Outcome.FAILED, self.stopped))
                continue
            ranking = rankings.get(subscriber.user_id)
            papers = () if ranking is None else ranking.papers
            if papers:
                self.deliver(subscriber, papers, None)
                continue
            reason = EmptyReason.NO_PAPERS if self.no_papers else EmptyReason.ALL_SHOWN
            if self.options.send_empty:
                self.deliver(subscriber, (), reason)
            else:
                self.empty(subscriber, reason)

    def deliver(
        self,
        subscriber: Subscriber,
        papers: Sequence[RankedPaper],
        empty_reason: EmptyReason | None,
    ) -> None:
        date = self.options.date
        style = self.options.style
        reader_reason = "" if empty_reason is None else _READER_REASONS[empty_reason]
        message = render_digest(subscriber, date, papers, style, empty_reason=reader_reason)
        try:
            self.sender.send(message)
        except DeliveryError as exc:
            self.add(SubscriberResult(subscriber, Outcome.FAILED, str(exc)))
            return
        except (MailServerError, OSError) as exc:
            self.stopped = f"not sent: {exc}"
            self.add(SubscriberResult(subscriber, Outcome.FAILED, self.stopped))
            return

        paper_ids = tuple(ranked.paper.paper_id for ranked in papers)
        try:
            record = self.service.record_digest(
                subscriber.user_id,
                date,
                paper_ids,
                sent_at=self.now(),
                message_id=message_id(subscriber, date, style.sender),
            )
        except PaperSiftError as exc:
            self.stopped = "not sent: the job stopped after a digest could not be recorded"
            detail = (
                f"mailed, but recording it failed ({exc.details}); a re-run mails it again "
                "with the same Message-ID"
            )
            self.add(SubscriberResult(subscriber, Outcome.FAILED, detail, paper_ids=paper_ids))
            return

        detail = "" if record.recorded else "already recorded by another run: mailed twice"
        if empty_reason is None:
            self.add(
                SubscriberResult(
                    subscriber, Outcome.SENT, detail, paper_ids=paper_ids, emailed=True
                )
            )
        else:
            note = f"{empty_reason.value}; sent the 'nothing today' note"
            self.add(
                SubscriberResult(
                    subscriber,
                    Outcome.EMPTY,
                    f"{note}; {detail}" if detail else note,
                    empty_reason=empty_reason,
                    emailed=True,
                )
            )


def _chunks(
    subscribers: Sequence[Subscriber], default_limit: int
) -> Iterator[tuple[int, list[Subscriber]]]:
    """``(limit, subscribers)`` chunks of one limit each, as large as one batch call allows."""
    by_limit: dict[int, list[Subscriber]] = {}
    for subscriber in subscribers:
        by_limit.setdefault(subscriber.limit or default_limit, []).append(subscriber)
    for limit, group in by_limit.items():
        size = max(1, min(MAX_BATCH_USERS, MAX_BATCH_RANKED // limit))
        for start in range(0, len(group), size):
            yield limit, group[start : start + size]


def _unreachable(exc: PaperSiftError) -> str:
    return f"{EmptyReason.UNREACHABLE.value} ({exc.details})"
