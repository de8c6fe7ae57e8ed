"""Reasons a person understands, from what raised a paper's score for this reader.

A reason names the words, authors or categories of the paper that contributed most to its score
(``Scorer.feature_contributions``), or the reader's liked paper it is closest to, or the rule
that put it on top. At most ``MAX_REASONS`` per paper: the closest liked paper first, then
authors and words by the strength of their contribution, categories last (a category is shared
by much of the day, so it says least).

Words are quoted as the paper writes them ("RAG", "black-box"), phrases before their single
words (see ``phrases``), at most three of them; every reason is one short line
(``MAX_REASON_LENGTH``), shortened by whole items or words, never mid-word.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from papersift.server.phrases import PaperText, Phrase, choose_phrases

MAX_REASONS = 3
MAX_REASON_LENGTH = 80
"""Most characters of one reason: it must fit one line of a digest or a terminal."""
SIMILAR_ENOUGH = 0.3
"""Cosine of content rows above which "similar to <a paper you liked>" is worth saying."""
TERMS_PER_REASON = 3
"""Most words or phrases named by one reason."""
_WORDS_SUFFIX = ", as papers you liked"


@dataclass(frozen=True, slots=True)
class Similar:
    """The reader's liked paper closest to a candidate."""

    title: str
    saved: bool
    cosine: float


def followed_reason(author: str) -> str:
    """Why a paper was moved to the top by the followed-authors rule."""
    return _fitted("by {}, whom you follow", author)


def similar_reason(similar: Similar) -> str:
    """``similar to "<title>", which you saved`` (or opened), the title shortened to fit."""
    verb = "saved" if similar.saved else "opened"
    return _fitted(f'similar to "{{}}", which you {verb}', similar.title)


def word_reason(phrases: Sequence[Phrase]) -> str | None:
    """``about "retrieval-augmented generation" and RAG, as papers you liked``.

    The weakest phrases are left out until the line fits ``MAX_REASON_LENGTH``; ``None`` when
    there is nothing to say.
    """
    items = [_quoted(phrase.text) for phrase in phrases[:TERMS_PER_REASON]]
    while items:
        reason = f"about {_join(items)}{_WORDS_SUFFIX}"
        if len(reason) <= MAX_REASON_LENGTH:
            return reason
        items.pop()
    return None


def personal_reasons(
    contributions: Sequence[tuple[int, float]],
    feature_names: Sequence[str],
    similar: Similar | None,
    *,
    paper: PaperText | None = None,
) -> list[str]:
    """Reasons for a paper on a PERSONAL or FOLD_IN list.

    Args:
        contributions: ``(feature index, contribution)`` pairs, largest first.
        feature_names: The featurizer's names (``term:…``, ``author:…``, ``category:…``).
        similar: The reader's closest liked paper other than this one, if any.
        paper: The paper's text, to name its words as it writes them; without it the words are
            named as the featurizer stores them (lower-cased).
    """
    reasons: list[str] = []
    if similar is not None and similar.cosine >= SIMILAR_ENOUGH:
        reasons.append(similar_reason(similar))
    terms: list[tuple[str, float]] = []
    ranked: list[tuple[float, str]] = []  # (strength, reason) of authors and the words
    categories: list[str] = []
    terms_strength = 0.0
    for index, value in contributions:
        kind, _, name = feature_names[index].partition(":")
        if kind == "term":
            terms.append((name, value))
            terms_strength = max(terms_strength, value)
        elif kind == "author":
            ranked.append((value, _fitted("by {}, whose papers you read", name)))
        elif kind == "category":
            categories.append(name)
    words = word_reason(choose_phrases(terms, paper, TERMS_PER_REASON))
    if words is not None:
        ranked.append((terms_strength, words))
    ranked.sort(key=lambda pair: -pair[0])
    reasons.extend(reason for _, reason in ranked)
    # A category is shared by much of the day: it tells the reader least, so it comes last.
    while categories:
        what = "a category" if len(categories) == 1 else "categories"
        reason = f"in {_join(categories)}, {what} you read"
        if len(reason) <= MAX_REASON_LENGTH:
            reasons.append(reason)
            break
        categories.pop()
    return reasons[:MAX_REASONS]


def _join(words: Sequence[str]) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


def _quoted(text: str) -> str:
    # A phrase of several words is quoted so that the commas and "and" between items stay clear.
    return f'"{text}"' if " " in text else text


def _fitted(template: str, value: str) -> str:
    """``template`` with ``value`` in its ``{}``, ``value`` clipped to fit the line."""
    return template.format(_clip(value, MAX_REASON_LENGTH - len(template) + 2))


def _clip(text: str, width: int) -> str:
    """``text`` in at most ``width`` characters, cut after a whole word, with "…"."""
    text = " ".join(text.split())
    if len(text) <= width:
        return text
    cut = text[: max(width - 1, 1)]
    space = cut.rfind(" ")
    if text[len(cut)] != " " and space > 0:  # the cut is inside a word: drop that word
        cut = cut[:space]
    return cut.rstrip(" ,;:-\u2013\u2014") + "…"
