"""Rendering a digest: both parts, subject, links, headers, escaping, a stable Message-ID."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import re
from email.message import EmailMessage
from importlib import resources

from papersift.client import RankedPaper
from papersift.client.digest import DigestStyle, Subscriber, render_digest
from papersift.client.digest.render import check_preferences_url, check_sender
from tests.client.conftest import make_paper
from tests.client.digest.conftest import DAY, text_of

ALICE = Subscriber("alice & co/1", "alice@example.org", "Alice Liddell")
STYLE = DigestStyle(
    sender="papersift <digest@papers.example.org>",
    preferences_url="https://example.org/prefs?user={user_id}&day={date}",
)


def ranked(number: int, reason: str = "", **fields: object) -> RankedPaper:
    paper = make_paper(number, DAY, **fields)
    return RankedPaper(paper, score=1.0 / number, rank=number, reasons=(reason,) if reason else ())


def round_trip(message: EmailMessage) -> EmailMessage:
    parsed = email.message_from_bytes(bytes(message), policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def test_a_digest_has_a_text_and_an_html_part_with_every_paper() -> None:
    papers = [
        ranked(1, "matches 'language models' in your saved papers"),
        ranked(2, authors=tuple(f"Author {k}" for k in range(6))),
        ranked(3, "popular today", url=""),
    ]
    message = round_trip(render_digest(ALICE, DAY, papers, STYLE))

    assert message.get_content_type() == "multipart/alternative"
    assert message["Subject"] == "Your papers for 2025-04-03: 3 picks"
    assert message["To"] == "Alice Liddell <alice@example.org>"
    assert message["From"] == "papersift <digest@papers.example.org>"
    prefs = "https://example.org/prefs?user=alice%20%26%20co%2F1&day=2025-04-03"
    assert message["List-Unsubscribe"] == f"<{prefs}>"

    text = text_of(message, "plain")
    assert text.startswith("Hello Alice Liddell,\n")
    assert "1. Paper number 1\n   Ada Lovelace, Alan Turing\n" in text
    assert "   Why: matches 'language models' in your saved papers\n" in text
    assert "   https://arxiv.org/abs/2503.00001\n" in text
    assert "Author 0, Author 1, Author 2, Author 3 and 2 others" in text
    assert f"unsubscribe: {prefs}" in text

    html = text_of(message, "html")
    hrefs = re.findall(r'href="([^"]+)"', html)
    prefs_html = prefs.replace("&", "&amp;")
    assert hrefs == [
        "https://arxiv.org/abs/2503.00001",
        "https://arxiv.org/abs/2503.00002",
        prefs_html,
    ]
    assert "matches &#39;language models&#39; in your saved papers" in html
    assert "Paper number 3" in html  # shown, not linked: it has no URL
    assert "max-width:600px" in html
    assert "<style" not in html  # inline CSS only: many mail clients drop <style>


def test_html_escapes_what_the_feeds_wrote() -> None:
    paper = ranked(1, "<b>bold</b> reason", title="<script>alert(1)</script> & more")
    html = text_of(round_trip(render_digest(ALICE, DAY, [paper], STYLE)), "html")
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in html
    assert "&lt;b&gt;bold&lt;/b&gt; reason" in html


def test_the_message_id_depends_only_on_reader_and_day() -> None:
    first = render_digest(ALICE, DAY, [ranked(1)], STYLE)
    again = render_digest(ALICE, DAY, [ranked(2), ranked(3)], STYLE)
    other_day = render_digest(ALICE, DAY + dt.timedelta(days=1), [ranked(1)], STYLE)
    other_reader = render_digest(Subscriber("bob", "bob@example.org"), DAY, [ranked(1)], STYLE)
    assert first["Message-ID"] == again["Message-ID"]
    assert first["Message-ID"].endswith("@papers.example.org>")
    assert len({first["Message-ID"], other_day["Message-ID"], other_reader["Message-ID"]}) == 3


def test_an_empty_digest_says_why_and_has_no_unsubscribe_without_a_template() -> None:
    bob = Subscriber("bob", "bob@example.org")
    message = render_digest(bob, DAY, [], DigestStyle(), empty_reason="no papers were listed")
    assert message["Subject"] == "Your papers for 2025-04-03: nothing new"
    assert message["List-Unsubscribe"] is None
    text = text_of(message, "plain")
    assert text.startswith("Hello,\n")
    assert "no new papers for you on Thursday, 3 April 2025: no papers were listed." in text
    assert "no papers were listed" in text_of(message, "html")


def test_one_pick_is_singular() -> None:
    assert render_digest(ALICE, DAY, [ranked(1)], STYLE)["Subject"].endswith(": 1 pick")


def test_templates_ship_as_package_data() -> None:
    templates = resources.files("papersift.client.digest") / "templates"
    assert {entry.name for entry in templates.iterdir()} >= {"digest.html", "digest.txt"}


def test_checks_of_sender_and_preferences_template() -> None:
    assert check_sender("papersift <digest@example.org>") is None
    assert "is not an address" in (check_sender("not an address <") or "")
    assert check_preferences_url("https://example.org/p?u={user_id}&e={email}") is None
    assert "uses {uid}" in (check_preferences_url("https://example.org/p?u={uid}") or "")
    assert "must start with https://" in (check_preferences_url("example.org/{user_id}") or "")
    assert "is not a template" in (check_preferences_url("https://example.org/{") or "")
