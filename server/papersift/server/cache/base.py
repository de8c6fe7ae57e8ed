"""What every cache shares: the key, the counters, the interface and its one error."""

from __future__ import annotations

import datetime as dt
import urllib.parse
from dataclasses import dataclass
from typing import Final, Literal, Protocol

from papersift.core.errors import PaperSiftError
from papersift.core.types import RankedList, UserId
from papersift.server.metrics import record_cache

Outcome = Literal["hits", "misses", "errors", "skipped"]
_METRIC_LABELS: dict[str, str] = {
    "hits": "hit",
    "misses": "miss",
    "errors": "error",
    "skipped": "skipped",
}

DEFAULT_TTL: Final = dt.timedelta(hours=36)
"""How long a cached list lives; a day's lists are of no use once the next day's papers arrive."""

DEFAULT_MAX_ENTRIES: Final = 10_000
"""Bound of the in-process cache."""


class CacheUnavailable(PaperSiftError):
    """The cache backend could not carry out an operation that must not be skipped."""


def quote(text: str) -> str:
    """Percent-escape everything but letters, digits and ``_.-~`` (so no ``:`` and no ``*``)."""
    return urllib.parse.quote(text, safe="")


@dataclass(frozen=True, slots=True)
class CacheKey:
    """Everything a ranked list depends on; any change gives a different key."""

    model_version: str
    date: dt.date
    user_id: UserId
    user_rev: int
    day_rev: str
    view: str = ""

    def render(self, prefix: str) -> str:
        """The Redis key: ``{prefix}:rank:{model}:{date}:{user}:{user_rev}:{day_rev}[:{view}]``.

        ``view`` (a hash of the request's rules and diversity) is left out for the plain list.

        The model is ``none`` when none is loaded. The free-form parts (model, user, day_rev)
        are percent-escaped so that ``:`` or ``*`` in them can neither make two keys equal nor
        act as a pattern; ordinary ids and versions such as ``v3`` or ``12.40`` stay as they are.
        """
        key = (
            f"{list_key_head(prefix, self.model_version, self.date, self.user_id)}"
            f":{self.user_rev}:{quote(self.day_rev)}"
        )
        return f"{key}:{quote(self.view)}" if self.view else key


def list_key_head(prefix: str, model_version: str, date: dt.date, user_id: UserId) -> str:
    """What a list's Redis key starts with, before the revisions: ``{prefix}:rank:{model}:
    {date}:{user}`` (see :meth:`CacheKey.render`)."""
    model = quote(model_version) if model_version else "none"
    return f"{prefix}:rank:{model}:{date.isoformat()}:{quote(user_id)}"


@dataclass(slots=True)
class CacheStats:
    """Counters of one cache since it was opened.

    Each ``get`` counts exactly one of ``hits``, ``misses`` (absent, expired or corrupt),
    ``errors`` (the backend failed) or ``skipped`` (the backend was marked down, so it was not
    tried). A ``set`` counts ``errors`` or ``skipped`` when it could not store the list, and a
    failed ``delete_user`` counts ``errors``.
    """

    hits: int = 0
    misses: int = 0
    errors: int = 0
    skipped: int = 0

    def count(self, outcome: Outcome) -> None:
        """Add one to ``outcome``'s counter here and in the Prometheus metrics."""
        setattr(self, outcome, getattr(self, outcome) + 1)
        record_cache(_METRIC_LABELS[outcome])


class RankCache(Protocol):
    """What the server needs of a cache of ranked lists."""

    stats: CacheStats

    async def get(self, key: CacheKey) -> RankedList | None:
        """The cached list, or ``None`` on a miss or when the backend is in trouble."""
        ...

    async def set(self, key: CacheKey, ranking: RankedList) -> None:
        """Store a list; silently does nothing when the backend is in trouble."""
        ...

    async def delete_user(self, user_id: UserId) -> int:
        """Remove every cached list of a reader; returns how many there were.

        Raises :class:`CacheUnavailable` when the backend could not be cleaned.
        """
        ...

    async def close(self) -> None:
        """Release the backend; the cache must not be used afterwards."""
        ...
