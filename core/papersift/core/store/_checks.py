"""Checks of whole batches, run before a write touches the database."""

from __future__ import annotations

from collections.abc import Sequence

from papersift.core import limits
from papersift.core.errors import InvalidInput, TooLarge
from papersift.core.types import Interaction, InteractionKind, Paper
from papersift.core.validation import check_interaction, check_paper

_KINDS = frozenset(kind.value for kind in InteractionKind)


def check_papers(papers: Sequence[Paper]) -> None:
    """Check a batch of papers: its size, every field, and that no ``paper_id`` repeats."""
    _check_size(papers, "papers", "paper")
    first_index: dict[str, int] = {}
    for index, paper in enumerate(papers):
        check_paper(paper, f"papers[{index}]")
        earlier = first_index.setdefault(paper.paper_id, index)
        if earlier != index:
            raise InvalidInput(
                f"papers[{index}].paper_id",
                f"repeats papers[{earlier}] ({paper.paper_id!r}); send each paper once per batch",
            )


def check_interactions(interactions: Sequence[Interaction]) -> None:
    """Check a batch of interactions: its size and every field.

    A repeated ``event_id`` is not an error: recording is idempotent by event.
    """
    _check_size(interactions, "interactions", "interaction")
    for index, interaction in enumerate(interactions):
        field = f"interactions[{index}]"
        check_interaction(interaction, field)
        if interaction.kind not in _KINDS:
            raise InvalidInput(
                f"{field}.kind",
                f"{interaction.kind!r} is not a kind; expected one of {', '.join(sorted(_KINDS))}",
            )


def _check_size(batch: Sequence[object], field: str, noun: str) -> None:
    if not batch:
        raise InvalidInput(field, f"must contain at least one {noun}")
    if len(batch) > limits.MAX_BATCH_SIZE:
        raise TooLarge(field, f"has {len(batch)} entries; at most {limits.MAX_BATCH_SIZE}")
