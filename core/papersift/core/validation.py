"""Checks of incoming values. Each raises :class:`InvalidInput` naming the field and the rule."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence

from papersift.core import limits
from papersift.core.errors import InvalidInput
from papersift.core.types import DigestDelivery, Interaction, Paper

_DATE_PATTERN = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_URL_PATTERN = re.compile(r"https?://\S+", re.IGNORECASE)


def check_id(value: str, field: str) -> str:
    """Return ``value`` if it is a usable id: 1 to 256 characters, no control characters."""
    if not value or not value.strip():
        raise InvalidInput(field, "must not be empty")
    if len(value) > limits.MAX_ID_LENGTH:
        raise InvalidInput(field, f"is {len(value)} characters; at most {limits.MAX_ID_LENGTH}")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise InvalidInput(field, "must not contain control characters")
    if value != value.strip():
        raise InvalidInput(field, "must not start or end with whitespace")
    return value


def parse_date(value: str, field: str) -> dt.date:
    """Parse a listing day written ``YYYY-MM-DD``."""
    if not value:
        raise InvalidInput(field, "must not be empty; expected YYYY-MM-DD")
    if not _DATE_PATTERN.fullmatch(value):
        raise InvalidInput(field, f"{value[:40]!r} is not a date; expected YYYY-MM-DD")
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise InvalidInput(field, f"{value!r} is not a real date ({exc})") from exc


def _check_text(value: str, field: str, max_length: int, *, required: bool) -> None:
    if required and not value.strip():
        raise InvalidInput(field, "must not be empty")
    if len(value) > max_length:
        raise InvalidInput(field, f"is {len(value)} characters; at most {max_length}")
    if "\x00" in value:
        raise InvalidInput(field, "must not contain NUL characters")


def _check_list(values: Sequence[str], field: str, max_items: int, max_length: int) -> None:
    if len(values) > max_items:
        raise InvalidInput(field, f"has {len(values)} entries; at most {max_items}")
    for index, value in enumerate(values):
        _check_text(value, f"{field}[{index}]", max_length, required=True)


def check_paper(paper: Paper, field: str) -> None:
    """Check every field of a paper; ``field`` is its path in the request, e.g. ``papers[3]``."""
    check_id(paper.paper_id, f"{field}.paper_id")
    _check_text(paper.title, f"{field}.title", limits.MAX_TITLE_LENGTH, required=True)
    _check_text(paper.abstract, f"{field}.abstract", limits.MAX_ABSTRACT_LENGTH, required=False)
    _check_list(paper.authors, f"{field}.authors", limits.MAX_AUTHORS, limits.MAX_AUTHOR_LENGTH)
    _check_list(
        paper.categories, f"{field}.categories", limits.MAX_CATEGORIES, limits.MAX_CATEGORY_LENGTH
    )
    _check_text(paper.url, f"{field}.url", limits.MAX_URL_LENGTH, required=False)
    if paper.url and not _URL_PATTERN.fullmatch(paper.url):
        raise InvalidInput(f"{field}.url", f"{paper.url[:80]!r} is not an http(s) URL")
    _check_text(paper.source, f"{field}.source", limits.MAX_SOURCE_LENGTH, required=False)


def check_interaction(interaction: Interaction, field: str) -> None:
    """Check the ids and timestamp of an interaction (its kind is typed already)."""
    check_id(interaction.event_id, f"{field}.event_id")
    check_id(interaction.user_id, f"{field}.user_id")
    check_id(interaction.paper_id, f"{field}.paper_id")
    if interaction.occurred_at.tzinfo is None:
        raise InvalidInput(f"{field}.occurred_at", "must carry a time zone")


def check_digest(digest: DigestDelivery) -> None:
    """Check a digest delivery: ids, at most a page of distinct papers, a plain ``message_id``."""
    check_id(digest.user_id, "user_id")
    if len(digest.paper_ids) > limits.MAX_PAGE_SIZE:
        raise InvalidInput(
            "paper_ids", f"has {len(digest.paper_ids)} entries; at most {limits.MAX_PAGE_SIZE}"
        )
    first_index: dict[str, int] = {}
    for index, paper_id in enumerate(digest.paper_ids):
        check_id(paper_id, f"paper_ids[{index}]")
        earlier = first_index.setdefault(paper_id, index)
        if earlier != index:
            raise InvalidInput(f"paper_ids[{index}]", f"repeats paper_ids[{earlier}]")
    if digest.sent_at.tzinfo is None:
        raise InvalidInput("sent_at", "must carry a time zone")
    if len(digest.message_id) > limits.MAX_MESSAGE_ID_LENGTH:
        raise InvalidInput(
            "message_id",
            f"is {len(digest.message_id)} characters; at most {limits.MAX_MESSAGE_ID_LENGTH}",
        )
    if any(ord(ch) < 32 or ord(ch) > 126 for ch in digest.message_id):
        raise InvalidInput("message_id", "must be printable ASCII (a Message-ID header value)")
