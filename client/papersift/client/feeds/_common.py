"""Small helpers shared by the feed parsers: text clean-up, unsendable characters and dates."""

from __future__ import annotations

import datetime as dt
import re

from papersift.client.feeds.errors import FeedError

NO_DATES_PROBLEM = "feed has no listing dates; pass --date YYYY-MM-DD"

# A NUL (the server refuses it in any text) or a lone UTF-16 surrogate (not encodable as UTF-8,
# so protobuf cannot send it): either would fail a whole upsert batch far from its feed line.
_UNSENDABLE = re.compile(r"[\x00\ud800-\udfff]")


def clean(text: str) -> str:
    """Collapse every run of whitespace (newlines included) to one space and strip the ends."""
    return " ".join(text.split())


def unsendable_char(text: str) -> str | None:
    """Describe the first character of ``text`` no paper may hold, or ``None`` if there is none.

    That is a NUL, or a lone surrogate such as a JSON ``"\\ud800"`` escape decodes to.
    """
    found = _UNSENDABLE.search(text)
    if found is None:
        return None
    char = found.group()
    return "a NUL character" if char == "\x00" else f"a lone surrogate (U+{ord(char):04X})"


def check_input(text: str, source_name: str) -> None:
    """Refuse a feed whose text holds a NUL or a lone surrogate, naming the line.

    Raises:
        FeedError: When :func:`unsendable_char` finds one.
    """
    found = _UNSENDABLE.search(text)
    if found is None:
        return
    line = len(split_lines(text[: found.start()]))
    raise FeedError(
        source_name,
        f"contains {unsendable_char(found.group())}; feeds must be plain UTF-8 text",
        location=f"line {line}",
    )


def require_date(date: dt.date | None, source_name: str) -> dt.date:
    """Return ``date``, or fail for a feed format that carries no listing dates.

    Raises:
        FeedError: When ``date`` is ``None``.
    """
    if date is None:
        raise FeedError(source_name, NO_DATES_PROBLEM)
    return date


def day_of_timestamp(value: str) -> dt.date | None:
    """The calendar day of an ISO 8601 date or timestamp, as written (no time-zone shift).

    Returns:
        The day, or ``None`` when ``value`` is not ISO 8601.
    """
    text = value.strip()
    try:
        return dt.datetime.fromisoformat(text).date()
    except ValueError:
        pass
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return None


def split_lines(text: str) -> list[str]:
    """Split at ``\\n``, ``\\r\\n`` or ``\\r`` only, so line numbers match what editors show.

    (``str.splitlines`` also splits at form feeds, U+2028 and others that may sit inside a
    paragraph.)
    """
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
