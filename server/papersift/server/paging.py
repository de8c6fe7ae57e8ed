"""Opaque page tokens: which snapshot of a ranked list a page came from, and where it ends."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from dataclasses import dataclass

from papersift.core.errors import InvalidInput

_TOKEN_VERSION = 1
_MAX_TOKEN_LENGTH = 2_048


@dataclass(frozen=True, slots=True)
class PageToken:
    """Position in a ranked list plus the revisions the list was computed at.

    A token is bound to one reader and day; presenting it with another user or date is an error.
    """

    user_id: str
    date: dt.date
    offset: int
    model_version: str
    user_rev: int
    day_rev: str
    view: str = ""

    def encode(self) -> str:
        """Serialise to a URL-safe string."""
        payload = {
            "v": _TOKEN_VERSION,
            "u": self.user_id,
            "d": self.date.isoformat(),
            "o": self.offset,
            "m": self.model_version,
            "ur": self.user_rev,
            "dr": self.day_rev,
            "vw": self.view,
        }
        raw = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_page_token(token: str, *, user_id: str, date: dt.date, view: str = "") -> PageToken:
    """Parse a token from a previous response for the same ``user_id``, ``date`` and ``view``
    (rules and diversity, see ``rules.view_key``)."""
    problem = "is not a token returned by RankPapers; omit it to start from page one"
    if len(token) > _MAX_TOKEN_LENGTH:
        raise InvalidInput("page_token", problem)
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        payload = json.loads(raw)
        if not isinstance(payload, dict) or not isinstance(payload.get("o"), int):
            raise InvalidInput("page_token", problem)
        parsed = PageToken(
            user_id=str(payload["u"]),
            date=dt.date.fromisoformat(payload["d"]),
            offset=int(payload["o"]),
            model_version=str(payload["m"]),
            user_rev=int(payload["ur"]),
            day_rev=str(payload["dr"]),
            view=str(payload.get("vw", "")),
        )
        valid = payload.get("v") == _TOKEN_VERSION and parsed.offset > 0
    except (
        binascii.Error,
        ValueError,
        TypeError,
        KeyError,
        UnicodeDecodeError,
        OverflowError,
        RecursionError,
    ):
        raise InvalidInput("page_token", problem) from None
    if not valid:
        raise InvalidInput("page_token", problem)
    if parsed.user_id != user_id or parsed.date != date:
        raise InvalidInput("page_token", "belongs to another user_id or date")
    if parsed.view != view:
        raise InvalidInput(
            "page_token",
            "was issued for other filters or diversity; send the same ones, or omit the token",
        )
    return parsed
