"""What a reader's interactions say about them: one rule for training and for serving.

Saves weigh more than clicks; an ``UNSAVE`` cancels the saves before it; a ``DISMISS`` makes the
paper a negative (and cancels its positive weight); impressions carry no preference, they only
mark a paper as seen.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from papersift.core.types import Interaction, InteractionKind, PaperId

SAVE_WEIGHT = 3.0
CLICK_WEIGHT = 1.0


@dataclass(frozen=True, slots=True)
class UserSignals:
    """One reader's preferences: weighted positive papers, dismissed papers, papers seen."""

    positive: dict[PaperId, float] = field(default_factory=dict)
    negative: frozenset[PaperId] = frozenset()
    seen: frozenset[PaperId] = frozenset()

    @property
    def has_preferences(self) -> bool:
        """Whether anything says what the reader likes (not merely what they dismissed)."""
        return bool(self.positive)


def user_signals(interactions: Iterable[Interaction]) -> UserSignals:
    """Fold a reader's interactions, oldest first, into their preferences."""
    clicks: dict[PaperId, int] = {}
    saved: set[PaperId] = set()
    dismissed: set[PaperId] = set()
    seen: set[PaperId] = set()
    for interaction in interactions:
        paper = interaction.paper_id
        seen.add(paper)
        if interaction.kind is InteractionKind.CLICK:
            clicks[paper] = clicks.get(paper, 0) + 1
        elif interaction.kind is InteractionKind.SAVE:
            saved.add(paper)
        elif interaction.kind is InteractionKind.UNSAVE:
            saved.discard(paper)
        elif interaction.kind is InteractionKind.DISMISS:
            dismissed.add(paper)
    positive: dict[PaperId, float] = {}
    for paper in clicks.keys() | saved:
        if paper in dismissed:
            continue
        # Repeated clicks on one paper count once: they mostly measure re-reading.
        positive[paper] = (SAVE_WEIGHT if paper in saved else 0.0) + (
            CLICK_WEIGHT if paper in clicks else 0.0
        )
    return UserSignals(positive=positive, negative=frozenset(dismissed), seen=frozenset(seen))
