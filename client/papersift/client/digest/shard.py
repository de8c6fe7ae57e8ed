"""Splitting subscribers into N shards, so N copies of the job can run side by side.

A subscriber belongs to shard ``sha256(user_id) mod N``: the same on every machine and in
every run (unlike Python's salted ``hash()``), so the shards of a Kubernetes Indexed Job are
disjoint and together cover every subscriber.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TypeVar

__all__ = ["ALL", "Shard", "parse_shard", "shard_of"]

_SHARD = re.compile(r"\s*(\d+)\s*/\s*(\d+)\s*")

_T = TypeVar("_T")


def shard_of(user_id: str, count: int) -> int:
    """The shard, ``0 <= shard < count``, that ``user_id`` belongs to."""
    digest = hashlib.sha256(user_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % count


@dataclass(frozen=True, slots=True)
class Shard:
    """Shard ``index`` of ``count``; ``Shard(0, 1)`` is everyone."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if self.count < 1:
            raise ValueError(f"the number of shards must be at least 1, got {self.count}")
        if not 0 <= self.index < self.count:
            raise ValueError(
                f"shard index must be 0 to {self.count - 1} for {self.count} shards, "
                f"got {self.index}"
            )

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def holds(self, user_id: str) -> bool:
        """Whether ``user_id`` belongs to this shard."""
        return self.count == 1 or shard_of(user_id, self.count) == self.index

    def select(self, items: Iterable[_T], user_id: Callable[[_T], str]) -> Iterator[_T]:
        """The items whose user id belongs to this shard, in their order."""
        return (item for item in items if self.holds(user_id(item)))


ALL = Shard(0, 1)
"""The single shard holding every subscriber."""


def parse_shard(text: str) -> Shard:
    """Parse ``i/N`` (shard ``i`` of ``N``, ``0 <= i < N``).

    Raises:
        ValueError: The text is not ``i/N`` or ``i`` is out of range; the message says which.
    """
    match = _SHARD.fullmatch(text)
    if match is None:
        raise ValueError(f"{text!r} is not i/N, e.g. 0/4 for the first of four shards")
    return Shard(int(match[1]), int(match[2]))
