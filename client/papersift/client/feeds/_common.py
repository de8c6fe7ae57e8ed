"""Small helpers shared by the feed parsers: text clean-up and dates."""

from __future__ import annotations

import datetime as dt

from papersift.client.feeds.errors import FeedError

NO_DATES_PROBLEM = "feed has no listing dates; pass --date YYYY-MM-DD"


def clean(text: str) -> str:
    """Collapse every run of whitespace (newlines included) to one space and strip the ends."""
    return " ".join(text.split())


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
