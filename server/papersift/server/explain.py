"""Reasons a person understands, from what raised a paper's score for this reader.

A reason names the words, authors or categories of the paper that contributed most to its score
(``Scorer.feature_contributions``), or the reader's liked paper it is closest to, or the rule
that put it on top. At most ``MAX_REASONS`` per paper: the closest liked paper first, then
authors and words by the strength of their contribution, categories last (a category is shared
by much of the day, so it says least).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

MAX_REASONS = 3
SIMILAR_ENOUGH = 0.3
"""Cosine of content rows above which "similar to <a paper you liked>" is worth saying."""
_TERMS_PER_REASON = 3
_TITLE_LENGTH = 80


@dataclass(frozen=True, slots=True)
class Similar:
    """The reader's liked paper closest to a candidate."""

    title: str
    saved: bool
    cosine: float


def popularity_reason(readers: int) -> str:
    """Why a paper is on a POPULAR list."""
    if readers == 0:
        return "newly listed; nobody has clicked or saved it yet"
    return f"popular today: {readers} reader{'s' if readers != 1 else ''} clicked or saved it"


def followed_reason(author: str) -> str:
    """Why a paper was moved to the top by the followed-authors rule."""
    return f"by {author}, whom you follow"


def _shorten(title: str) -> str:
    title = " ".join(title.split())
    return title if len(title) <= _TITLE_LENGTH else title[: _TITLE_LENGTH - 1].rstrip() + "…"


def _join(words: Sequence[str]) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


def personal_reasons(
    contributions: Sequence[tuple[int, float]],
    feature_names: Sequence[str],
    similar: Similar | None,
) -> list[str]:
    """Reasons for a paper on a PERSONAL or FOLD_IN list.

    Args:
        contributions: ``(feature index, contribution)`` pairs, largest first.
        feature_names: The featurizer's names (``term:…``, ``author:…``, ``category:…``).
        similar: The reader's closest liked paper, if any.
    """
    reasons: list[str] = []
    if similar is not None and similar.cosine >= SIMILAR_ENOUGH:
        verb = "saved" if similar.saved else "opened"
        reasons.append(f'similar to "{_shorten(similar.title)}", which you {verb}')
    terms: list[str] = []
    ranked: list[tuple[float, str]] = []  # (strength, reason) of authors and the terms
    categories: list[str] = []
    terms_strength = 0.0
    for index, value in contributions:
        kind, _, name = feature_names[index].partition(":")
        if kind == "term" and len(terms) < _TERMS_PER_REASON:
            terms.append(name)
            terms_strength = max(terms_strength, value)
        elif kind == "author":
            ranked.append((value, f"by {name}, whose papers you read"))
        elif kind == "category":
            categories.append(name)
    if terms:
        ranked.append((terms_strength, f"about {_join(terms)}, as papers you liked"))
    ranked.sort(key=lambda pair: -pair[0])
    reasons.extend(reason for _, reason in ranked)
    # A category is shared by much of the day: it tells the reader least, so it comes last.
    if categories:
        what = "a category" if len(categories) == 1 else "categories"
        reasons.append(f"in {_join(categories)}, {what} you read")
    return reasons[:MAX_REASONS]
