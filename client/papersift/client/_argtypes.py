"""Argument types of the ``papersift`` commands: each parses one value or says what is wrong."""

from __future__ import annotations

import argparse
import datetime as dt
import re
from collections.abc import Callable

# A bare arXiv id: new style (YYMM.NNNNN) or old style (archive[.SUBJECT]/YYMMNNN), maybe with a
# version, maybe behind "arXiv:" or an arxiv.org address: what people copy from arXiv pages.
# The same id pattern as feeds/_ids.py; not imported from there because importing the feeds
# package costs every command its optional dependencies (test_cli checks that it stays out).
_ARXIV_ID = r"(?P<id>\d{2}(?:0[1-9]|1[0-2])\.\d{4,5}|[a-z]+(?:-[a-z]+)*(?:\.[A-Za-z]{2})?/\d{7})"
_ARXIV_LABEL = re.compile(rf"(?:(?i:arxiv):)?{_ARXIV_ID}(?:v\d+)?")
_ARXIV_URL = re.compile(
    rf"(?i:https?://(?:www\.|export\.)?arxiv\.org/(?:abs|pdf|html)/){_ARXIV_ID}(?:v\d+)?"
    r"(?:\.pdf)?/?(?:[?#]\S*)?"
)


def listing_date(text: str) -> dt.date:
    """A listing day written ``YYYY-MM-DD``."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date; write YYYY-MM-DD") from None


def arxiv_paper_id(text: str) -> str | None:
    """``arxiv:<id>`` for a bare arXiv id or arxiv.org address (version dropped), else ``None``.

    A papersift id already (``arxiv:2503.04725``, ``arxiv:2504.01234v2``) is left as it is:
    ``None``.
    """
    value = text.strip()
    if value.startswith("arxiv:"):
        return None
    match = _ARXIV_LABEL.fullmatch(value) or _ARXIV_URL.fullmatch(value)
    return None if match is None else f"arxiv:{match.group('id')}"


def aware_datetime(text: str) -> dt.datetime | str:
    """The time ``text`` names, with its timezone; or a message saying what is wrong with it.

    A time without a timezone is refused with a suggestion that parses: the same time in UTC
    (a bare date ``2025-04-08`` suggests ``2025-04-08T00:00:00Z``).
    """
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        return f"{text!r} is not an ISO 8601 time, e.g. 2025-03-07T09:30:00Z"
    if value.tzinfo is None:
        utc = value.replace(tzinfo=dt.UTC).isoformat().replace("+00:00", "Z")
        return f"{text!r} has no timezone; add one, e.g. {utc} for UTC"
    return value


def whole_number(minimum: int = 1, maximum: int | None = None) -> Callable[[str], int]:
    """A parser of whole numbers from ``minimum`` to ``maximum`` (no upper bound if ``None``)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if maximum is not None and not minimum <= value <= maximum:
            raise argparse.ArgumentTypeError(f"must be {minimum} to {maximum}, got {value}")
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    return parse


def number(
    *,
    above: float | None = None,
    at_least: float | None = None,
    at_most: float | None = None,
    unit: str = "",
) -> Callable[[str], float]:
    """A parser of numbers within the given bounds (``unit`` names them in messages)."""
    noun = f"a number of {unit}" if unit else "a number"
    suffix = f" {unit}" if unit else ""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {noun}") from None
        if at_least is not None and at_most is not None and not at_least <= value <= at_most:
            raise argparse.ArgumentTypeError(
                f"must be between {at_least:g} and {at_most:g}{suffix}, got {text}"
            )
        if above is not None and not value > above:
            raise argparse.ArgumentTypeError(f"must be more than {above:g}{suffix}, got {text}")
        if at_least is not None and not value >= at_least:
            raise argparse.ArgumentTypeError(f"must be at least {at_least:g}{suffix}, got {text}")
        if at_most is not None and not value <= at_most:
            raise argparse.ArgumentTypeError(f"must be at most {at_most:g}{suffix}, got {text}")
        return value

    return parse
