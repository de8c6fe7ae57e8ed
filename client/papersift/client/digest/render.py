"""Building a digest email: subject, headers, and the text and HTML parts from Jinja2 templates.

Jinja2 (the ``[digest]`` extra) is imported on first use, so importing this module costs
nothing on the bare install.
"""

from __future__ import annotations

import datetime as dt
import email.policy
import functools
import hashlib
import string
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from typing import TYPE_CHECKING, Any

from papersift.client._models import RankedPaper
from papersift.client.digest.subscribers import Subscriber

if TYPE_CHECKING:
    import jinja2

__all__ = [
    "DEFAULT_SENDER",
    "POLICY",
    "PREFERENCES_FIELDS",
    "DigestStyle",
    "check_preferences_url",
    "check_sender",
    "message_id",
    "preferences_link",
    "render_digest",
    "subject",
]

DEFAULT_SENDER = "papersift <papersift@localhost>"
PREFERENCES_FIELDS = ("user_id", "email", "date")
"""The fields a preferences URL template may use, e.g. ``https://example.org/prefs?u={user_id}``."""

_SHOWN_AUTHORS = 4
# Headers are not folded below RFC 5322's hard limit: folding puts a Message-ID or a
# List-Unsubscribe URL on a continuation line, which some parsers keep a leading space of.
POLICY = email.policy.default.clone(max_line_length=998)


@dataclass(frozen=True, slots=True)
class DigestStyle:
    """What every digest of a job shares.

    Attributes:
        sender: The ``From`` address, e.g. ``papersift <digest@example.org>``.
        preferences_url: Template of each reader's preferences/unsubscribe link, with
            ``{user_id}``, ``{email}`` and ``{date}`` (URL-quoted when filled in); empty for no
            link and no ``List-Unsubscribe`` header.
    """

    sender: str = DEFAULT_SENDER
    preferences_url: str = ""


def check_sender(sender: str) -> str | None:
    """What is wrong with a ``From`` address, or ``None`` if it is usable."""
    message = EmailMessage()
    try:
        message["From"] = sender
        addresses = message["From"].addresses
    except (ValueError, IndexError) as exc:
        return f"{sender!r} is not an address like 'papersift <digest@example.org>' ({exc})"
    if len(addresses) != 1 or not addresses[0].domain:
        return f"{sender!r} must be one address like 'papersift <digest@example.org>'"
    return None


def check_preferences_url(template: str) -> str | None:
    """What is wrong with a preferences URL template, or ``None`` if it is usable."""
    try:
        fields = [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
    except ValueError as exc:
        return f"{template!r} is not a template ({exc}); write braces as {{{{ and }}}}"
    unknown = [name for name in fields if name not in PREFERENCES_FIELDS]
    if unknown:
        return f"{template!r} uses {{{unknown[0]}}}; the fields are " + ", ".join(
            f"{{{name}}}" for name in PREFERENCES_FIELDS
        )
    scheme = urllib.parse.urlsplit(template).scheme
    if scheme not in ("http", "https", "mailto"):
        return f"{template!r} must start with https://, http:// or mailto:"
    return None


def preferences_link(template: str, subscriber: Subscriber, date: dt.date) -> str:
    """The reader's preferences link: ``template`` filled with URL-quoted values."""
    values = {
        "user_id": subscriber.user_id,
        "email": subscriber.email,
        "date": date.isoformat(),
    }
    return template.format(**{k: urllib.parse.quote(v, safe="") for k, v in values.items()})


def message_id(subscriber: Subscriber, date: dt.date, sender: str) -> str:
    """The ``Message-ID`` of a reader's digest of a day: the same every time it is built.

    A digest sent twice (the job crashed between the mail server's acceptance and recording
    it) then carries the same id, which lets mail systems drop the second copy.
    """
    user = hashlib.sha256(subscriber.user_id.encode("utf-8")).hexdigest()[:32]
    return f"<digest.{date.isoformat()}.{user}@{_sender_domain(sender)}>"


def subject(date: dt.date, count: int) -> str:
    """``Your papers for 2025-04-03: 7 picks`` (or, for none, ``nothing new``)."""
    if count == 0:
        return f"Your papers for {date.isoformat()}: nothing new"
    return f"Your papers for {date.isoformat()}: {count} {'pick' if count == 1 else 'picks'}"


def render_digest(
    subscriber: Subscriber,
    date: dt.date,
    papers: Sequence[RankedPaper],
    style: DigestStyle,
    *,
    empty_reason: str = "",
    now: dt.datetime | None = None,
) -> EmailMessage:
    """Build a reader's digest: a ``multipart/alternative`` of a text and an HTML part.

    Args:
        subscriber: The reader.
        date: The listing day of the papers.
        papers: The papers in the order to show; empty for the "nothing today" note.
        style: Sender and preferences link.
        empty_reason: Why there are no papers, told to the reader when ``papers`` is empty.
        now: The ``Date`` header; defaults to the current time.
    """
    link = ""
    if style.preferences_url:
        link = preferences_link(style.preferences_url, subscriber, date)
    context = {
        "greeting": f"Hello {subscriber.name}," if subscriber.name else "Hello,",
        "date": date.isoformat(),
        "long_date": f"{date:%A}, {date.day} {date:%B %Y}",
        "subject": subject(date, len(papers)),
        "papers": [_paper_context(ranked) for ranked in papers],
        "empty_reason": empty_reason,
        "preferences_url": link,
    }
    environment = _environment()
    message = EmailMessage(policy=POLICY)
    message["Subject"] = context["subject"]
    message["From"] = style.sender
    message["To"] = Address(display_name=subscriber.name, addr_spec=subscriber.email)
    message["Date"] = format_datetime(now or dt.datetime.now(dt.UTC))
    message["Message-ID"] = message_id(subscriber, date, style.sender)
    if link:
        message["List-Unsubscribe"] = f"<{link}>"
    message["X-Papersift-Digest"] = f"{date.isoformat()}; papers={len(papers)}"
    # Quoted-printable keeps every line short and 7-bit, whatever the titles and names hold,
    # so the message passes relays without 8BITMIME unchanged.
    text = environment.get_template("digest.txt").render(context)
    html = environment.get_template("digest.html").render(context)
    message.set_content(text, cte="quoted-printable")
    message.add_alternative(html, subtype="html", cte="quoted-printable")
    return message


def _paper_context(ranked: RankedPaper) -> dict[str, Any]:
    paper = ranked.paper
    authors = list(paper.authors[:_SHOWN_AUTHORS])
    more = len(paper.authors) - len(authors)
    byline = ", ".join(authors)
    if more:
        byline += f" and {more} {'other' if more == 1 else 'others'}"
    url = paper.url if urllib.parse.urlsplit(paper.url).scheme in ("http", "https") else ""
    return {
        "rank": ranked.rank,
        "title": " ".join(paper.title.split()),
        "url": url,
        "authors": byline,
        "reason": ranked.reasons[0] if ranked.reasons else "",
        "paper_id": paper.paper_id,
        "categories": ", ".join(paper.categories[:3]),
    }


def _sender_domain(sender: str) -> str:
    message = EmailMessage()
    message["From"] = sender
    domain: str = message["From"].addresses[0].domain
    return domain or "papersift.invalid"


@functools.cache
def _environment() -> jinja2.Environment:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("papersift.client.digest", "templates"),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
