"""Per-request rules on top of the learned ranking: filters and the followed-authors boost.

Categories compare case-insensitively; keywords match whole words or phrases of the title and
abstract, ignoring case and accents (``"Schrodinger"`` finds ``"Schrödinger"``); authors compare
the same way on the whole name. Rules never fail a request: a rule nothing matches just leaves
the list shorter (or unchanged).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from papersift.core.types import Interaction, InteractionKind, Paper, PaperId
from papersift.server.identity import fold


def _keyword_pattern(keyword: str) -> re.Pattern[str]:
    words = [re.escape(word) for word in keyword.split()]
    # Whole words only: "GAN" must not match "organ"; a phrase may span any whitespace.
    return re.compile(r"(?<!\w)" + r"\s+".join(words) + r"(?!\w)")


@dataclass(frozen=True)
class RankRules:
    """A request's rules, folded for matching (see the module docstring).

    Attributes:
        include_categories: Keep only papers with one of these (folded) categories.
        exclude_categories: Drop papers with any of these (folded) categories.
        must_have_keywords: Keep only papers mentioning every one of these (folded) keywords.
        must_not_keywords: Drop papers mentioning any of these (folded) keywords.
        followed_authors: Papers by these (folded) authors go to the top.
        exclude_seen: Drop papers the reader interacted with or was shown on earlier days.
        exclude_touched: Drop papers the reader clicked, saved or dismissed, on any day.
    """

    include_categories: frozenset[str] = frozenset()
    exclude_categories: frozenset[str] = frozenset()
    must_have_keywords: tuple[str, ...] = ()
    must_not_keywords: tuple[str, ...] = ()
    followed_authors: frozenset[str] = frozenset()
    exclude_seen: bool = False
    exclude_touched: bool = False
    _must_have: tuple[re.Pattern[str], ...] = field(init=False, repr=False, compare=False)
    _must_not: tuple[re.Pattern[str], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        """Compile the keyword patterns once per request."""
        object.__setattr__(
            self, "_must_have", tuple(map(_keyword_pattern, self.must_have_keywords))
        )
        object.__setattr__(self, "_must_not", tuple(map(_keyword_pattern, self.must_not_keywords)))

    @classmethod
    def build(
        cls,
        *,
        include_categories: Sequence[str] = (),
        exclude_categories: Sequence[str] = (),
        must_have_keywords: Sequence[str] = (),
        must_not_keywords: Sequence[str] = (),
        followed_authors: Sequence[str] = (),
        exclude_seen: bool = False,
        exclude_touched: bool = False,
    ) -> RankRules:
        """Rules from the values of a request (folded here; validate them before)."""
        return cls(
            include_categories=frozenset(map(fold, include_categories)),
            exclude_categories=frozenset(map(fold, exclude_categories)),
            must_have_keywords=tuple(sorted(set(map(fold, must_have_keywords)))),
            must_not_keywords=tuple(sorted(set(map(fold, must_not_keywords)))),
            followed_authors=frozenset(map(fold, followed_authors)),
            exclude_seen=exclude_seen,
            exclude_touched=exclude_touched,
        )

    @property
    def filters_text(self) -> bool:
        """Whether any keyword rule needs the papers' folded text."""
        return bool(self.must_have_keywords or self.must_not_keywords)

    @property
    def filters(self) -> bool:
        """Whether any category or keyword rule can drop a paper (else ``admits`` is always
        true and the step can be skipped)."""
        return bool(self.include_categories or self.exclude_categories or self.filters_text)

    @property
    def canonical(self) -> dict[str, object]:
        """The rules as sorted plain data: equal rules give equal data (for cache keys)."""
        canonical: dict[str, object] = {
            "ic": sorted(self.include_categories),
            "ec": sorted(self.exclude_categories),
            "mh": list(self.must_have_keywords),
            "mn": list(self.must_not_keywords),
            "fa": sorted(self.followed_authors),
            "xs": self.exclude_seen,
        }
        # Only when set: the keys of lists (and page tokens) without the rule stay as they were.
        if self.exclude_touched:
            canonical["xt"] = True
        return canonical

    def admits(self, paper: Paper, folded_text: str) -> bool:
        """Whether ``paper`` passes the category and keyword filters.

        ``folded_text`` is ``fold(title + " " + abstract)``, computed once per paper and day.
        """
        if self.include_categories or self.exclude_categories:
            categories = {fold(category) for category in paper.categories}
            if self.include_categories and not categories & self.include_categories:
                return False
            if categories & self.exclude_categories:
                return False
        if any(pattern.search(folded_text) for pattern in self._must_not):
            return False
        return all(pattern.search(folded_text) for pattern in self._must_have)

    def followed_author(self, paper: Paper) -> str | None:
        """The first author of ``paper`` (as the paper spells it) the reader follows, if any."""
        if not self.followed_authors:
            return None
        return next(
            (author for author in paper.authors if fold(author) in self.followed_authors), None
        )


NO_RULES = RankRules()


def view_key(rules: RankRules, diversity: float) -> str:
    """A short key of everything besides the model, reader and day that shapes a list.

    Empty for the plain list (no rules, no diversity), so plain lists keep their keys.
    """
    if rules == NO_RULES and diversity == 0.0:
        return ""
    canonical = json.dumps(
        {"rules": rules.canonical, "diversity": round(diversity, 4)}, sort_keys=True
    )
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


_TOUCHES = frozenset(
    {InteractionKind.CLICK, InteractionKind.SAVE, InteractionKind.UNSAVE, InteractionKind.DISMISS}
)


def touched_papers(interactions: Iterable[Interaction]) -> frozenset[PaperId]:
    """The papers ``exclude_touched`` drops: those the reader clicked, saved or dismissed.

    A save undone by ``UNSAVE`` still counts (the reader had the paper in hand); an
    ``IMPRESSION`` does not (being shown a paper is not touching it).
    """
    return frozenset(i.paper_id for i in interactions if i.kind in _TOUCHES)


def paper_text(paper: Paper) -> str:
    """The folded title and abstract that keyword rules match against."""
    return fold(f"{paper.title} {paper.abstract}")
