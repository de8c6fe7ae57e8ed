"""Helpers for digest tests: a real SMTP server on loopback (aiosmtpd), and seeded papersift.

The SMTP server accepts everything unless told otherwise per recipient: ``script`` maps an
address to the replies its next RCPT commands get (``451 ...`` once, then accepted), and
``refuse`` maps an address to a reply it always gets (``550 ...``).
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import json
import socket
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from papersift.client import Client, Interaction, InteractionKind, Paper, RankFilters
from papersift.client.cli import main
from papersift.client.digest import Subscriber
from papersift.client.digest.job import DIGEST_FILTERS
from tests.client.conftest import make_paper
from tests.conftest import ThreadedServer

DAY = dt.date(2025, 4, 3)
LATER_DAY = dt.date(2025, 4, 4)
EMPTY_DAY = dt.date(2025, 4, 5)
PAPERS_ON_DAY = 6
SUBSCRIBERS = (
    Subscriber("alice", "alice@example.org", "Alice Liddell"),
    Subscriber("bob", "bob@example.org", "Bob"),
    Subscriber("carol", "carol@example.org"),
)


@dataclass
class Received:
    """One message the SMTP server accepted."""

    recipients: list[str]
    message: EmailMessage
    peer: Any


@dataclass
class MailHandler:
    """aiosmtpd handler that keeps what it accepts and answers as scripted."""

    received: list[Received] = field(default_factory=list)
    script: dict[str, list[str]] = field(default_factory=dict)
    refuse: dict[str, str] = field(default_factory=dict)
    rcpt_attempts: dict[str, int] = field(default_factory=dict)
    on_accept: Callable[[], None] | None = None

    async def handle_RCPT(  # noqa: N802 (aiosmtpd's hook name)
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        self.rcpt_attempts[address] = self.rcpt_attempts.get(address, 0) + 1
        if address in self.refuse:
            return self.refuse[address]
        replies = self.script.get(address)
        if replies:
            return replies.pop(0)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802 (aiosmtpd's hook name)
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        content = envelope.original_content or b""
        message = email.message_from_bytes(content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.received.append(Received(list(envelope.rcpt_tos), message, session.peer))
        if self.on_accept is not None:
            self.on_accept()
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[EmailMessage]:
        """The messages delivered to ``address``, in order."""
        return [r.message for r in self.received if address in r.recipients]

    @property
    def connections(self) -> int:
        """How many distinct client connections delivered messages."""
        return len({r.peer for r in self.received})


@dataclass
class MailServer:
    """A running aiosmtpd server and what it received."""

    handler: MailHandler
    controller: Controller
    host: str
    port: int
    stopped: bool = False

    @property
    def url(self) -> str:
        """``smtp://127.0.0.1:<port>``."""
        return f"smtp://{self.host}:{self.port}"

    def stop(self) -> None:
        """Stop listening and drop every session; safe to call twice."""
        if not self.stopped:
            self.stopped = True
            self.controller.stop()


def free_port() -> int:
    """A port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def start_mail_server() -> Iterator[Callable[..., MailServer]]:
    """Start real SMTP servers on 127.0.0.1 (options go to aiosmtpd's ``Controller``); stopped
    after the test."""
    servers: list[MailServer] = []

    def start(port: int | None = None, **options: Any) -> MailServer:
        handler = MailHandler()
        port = port or free_port()
        controller = Controller(
            handler, hostname="127.0.0.1", port=port, ready_timeout=10, **options
        )
        controller.start()
        servers.append(MailServer(handler, controller, "127.0.0.1", port))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def mail_server(start_mail_server: Callable[..., MailServer]) -> MailServer:
    """A real SMTP server on loopback that accepts every message."""
    return start_mail_server()


def day_papers(day: dt.date = DAY, count: int = PAPERS_ON_DAY) -> list[Paper]:
    """``count`` papers listed on ``day``, with distinct titles and authors."""
    return [
        make_paper(
            n,
            day,
            title=f"Paper {n} on {'graph' if n % 2 else 'language'} models",
            authors=tuple(f"Author {n}-{k}" for k in range(1, n + 1)),
        )
        for n in range(1, count + 1)
    ]


def event(
    user_id: str, paper: Paper, n: int, kind: InteractionKind = InteractionKind.CLICK
) -> Interaction:
    """What ``user_id`` did with ``paper`` an hour ago."""
    return Interaction(
        event_id=f"{kind.value}-{user_id}-{n}",
        user_id=user_id,
        paper_id=paper.paper_id,
        kind=kind,
        occurred_at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1),
    )


@pytest.fixture
def papersift(start_server: Callable[..., ThreadedServer]) -> str:
    """A real server with ``PAPERS_ON_DAY`` papers on ``DAY`` and a few clicks on them."""
    address = start_server().address
    papers = day_papers()
    with Client(address) as client:
        client.upsert_papers(papers)
        # Popularity decides the order without a model: make it differ from upload order.
        client.record_interactions(
            [event(f"fan-{k}", papers[n], k) for n in (4, 2) for k in range(n)]
        )
    return address


def expected_rankings(
    address: str,
    user_ids: Sequence[str],
    day: dt.date = DAY,
    limit: int = 10,
    filters: RankFilters = DIGEST_FILTERS,
) -> dict[str, list[tuple[str, str, str]]]:
    """``(paper_id, title, first reason)`` per reader, as ``rank_papers`` orders them with the
    digest's ``filters``."""
    with Client(address) as client:
        return {
            user: [
                (r.paper.paper_id, r.paper.title, r.reasons[0] if r.reasons else "")
                for r in client.rank_papers(
                    user, day, limit=limit, filters=filters, explain=True
                ).papers
            ]
            for user in user_ids
        }


def write_csv(path: Path, rows: Sequence[Subscriber]) -> Path:
    """A CSV subscriber file of ``rows``."""
    lines = ["user_id,email,name,limit"]
    lines += [f"{s.user_id},{s.email},{s.name},{s.limit or ''}" for s in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_jsonl(path: Path, rows: Sequence[dict[str, Any]]) -> Path:
    """A JSON Lines subscriber file of ``rows``."""
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


@dataclass(frozen=True)
class CliRun:
    """What one run of the CLI did."""

    status: int
    out: str
    err: str


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> CliRun:
    """Run ``papersift`` through ``main(argv)``; returns its status and output."""
    status = main(list(argv))
    out, err = capsys.readouterr()
    return CliRun(status, out, err)


def summary(out: str) -> dict[str, int]:
    """The summary table of a digest run's output, ``{label: count}``."""
    table = out[out.index("summary of the digest") :].splitlines()[1:]
    rows = {}
    for line in table:
        label, _, count = line.strip().rpartition("  ")
        rows[label.strip()] = int(count)
    return rows


def text_of(message: EmailMessage, subtype: str) -> str:
    """The decoded ``text/<subtype>`` part of a digest."""
    part = message.get_body(preferencelist=(subtype,))
    assert part is not None and part.get_content_type() == f"text/{subtype}"
    content = part.get_content()
    assert isinstance(content, str)
    return content.replace("\r\n", "\n")  # as received over SMTP: CRLF line ends
