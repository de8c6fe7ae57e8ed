"""A cached list's items held compactly: ids and scores, a ``ScoredPaper`` built on demand."""

from __future__ import annotations

import array
from collections.abc import Sequence
from typing import overload

from papersift.core.types import PaperId, RankedList, ScoredPaper


class PackedItems(Sequence[ScoredPaper]):
    """A list's items as two flat sequences; a ``ScoredPaper`` is built only when asked for.

    A hit serves one page of a list of up to 1,000 papers: building them all would cost more
    than the rest of the hit. Held in memory, 1,000 objects a list would also be 1,000 more for
    the garbage collector to walk on every full collection (a pause of the misses' p99).
    """

    __slots__ = ("_ids", "_scores")

    def __init__(self, ids: list[str], scores: array.array[float]) -> None:
        self._ids = ids
        self._scores = scores

    def __len__(self) -> int:
        return len(self._ids)

    @overload
    def __getitem__(self, index: int) -> ScoredPaper: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[ScoredPaper]: ...

    def __getitem__(self, index: int | slice) -> ScoredPaper | Sequence[ScoredPaper]:
        if isinstance(index, slice):
            return tuple(map(ScoredPaper, self._ids[index], self._scores[index]))  # type: ignore[arg-type]
        return ScoredPaper(PaperId(self._ids[index]), self._scores[index])

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence) or len(other) != len(self):
            return False
        return all(mine == theirs for mine, theirs in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]


def packed(ranking: RankedList) -> RankedList:
    """``ranking`` with its items packed (as it is if they already are)."""
    if isinstance(ranking.items, PackedItems):
        return ranking
    ids: list[str] = [item.paper_id for item in ranking.items]
    scores = array.array("d", (item.score for item in ranking.items))
    return RankedList(ranking.strategy, ranking.model_version, PackedItems(ids, scores))
