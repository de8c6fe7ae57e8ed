"""The repair policy: what the client fixes in a parsed paper before sending it.

The server refuses a batch with any field over its limits (``papersift.core.limits``), and real
feeds break them: arXiv puts free-text ACM and MSC classes among a paper's categories, and
lists now and then lose the separators between author names. The client repairs what it safely
can, counts every repair by rule, and leaves the rest to
:func:`~papersift.client.feeds.check.paper_problems` to report; the server still refuses
anything invalid.

The rules (the keys of :data:`RULES` name them):

- ``whitespace-collapsed``: every run of whitespace (newlines too) in the title, abstract,
  authors and categories becomes one space, and the ends are stripped (the URL's ends too).
- ``empty-dropped``: authors and categories that are empty are dropped.
- ``author-list-split``: one author string holding several names is split into them, when every
  part looks like a personal name (see :mod:`papersift.client.feeds._authors`).
- ``author-cut``: an author still over ``MAX_AUTHOR_LENGTH`` characters is cut at a word boundary
  and ends in ``…``.
- ``duplicate-category-dropped``: a repeated category is dropped (the first stays). Repeated
  authors stay: two people of one name do write papers together (arXiv 2504.05122 lists two
  "Min Zhang"s, 2505.20405 two "Lorenzo Baraldi"s), and the server takes them.
- ``authors-capped``: a list of more than ``MAX_AUTHORS`` authors keeps the first ones.
- ``category-not-a-code``: categories that are not arXiv category codes are dropped, and kept
  nowhere. A code is an arXiv archive, optionally with a subject class: ``cs.CL``, ``math.AP``,
  ``hep-th``, ``stat.ML``, ``q-bio.NC``, ``cond-mat.mes-hall`` (see :func:`is_category_code`).
  ACM classes (``I.2.7``), MSC classes (``68T05``) and free text (``Natural language
  processing``) are not: they are not in arXiv's taxonomy that readers filter on, and arXiv's
  metadata gives them in one free-form string (``"I.2.6; C.1.4; D.1.3; ..."``).
- ``categories-capped``: more than ``MAX_CATEGORIES`` categories keep the first ones.
- ``title-cut`` and ``abstract-cut``: text over its limit is cut at a word boundary and ends
  in ``…``.

Nothing else is changed: an empty title, a bad id or a bad URL cannot be repaired.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping

from papersift.client._models import Paper
from papersift.client.feeds import _limits
from papersift.client.feeds._authors import split_author
from papersift.client.feeds._common import clean

RULES: Mapping[str, tuple[str, str]] = {
    "whitespace-collapsed": ("field with whitespace collapsed", "fields with whitespace collapsed"),
    "empty-dropped": ("empty author or category dropped", "empty authors or categories dropped"),
    "author-list-split": ("glued author list split", "glued author lists split"),
    "author-cut": ("over-long author name cut", "over-long author names cut"),
    "duplicate-category-dropped": ("repeated category dropped", "repeated categories dropped"),
    "authors-capped": (
        f"author list cut to {_limits.MAX_AUTHORS:,}",
        f"author lists cut to {_limits.MAX_AUTHORS:,}",
    ),
    "category-not-a-code": (
        "non-category string dropped from categories",
        "non-category strings dropped from categories",
    ),
    "categories-capped": (
        f"category list cut to {_limits.MAX_CATEGORIES}",
        f"category lists cut to {_limits.MAX_CATEGORIES}",
    ),
    "title-cut": ("over-long title cut", "over-long titles cut"),
    "abstract-cut": ("over-long abstract cut", "over-long abstracts cut"),
}
"""Each rule's name and how a summary counts it: (one, many), e.g. ``1 glued author list
split``, ``8 non-category strings dropped from categories``."""

ELLIPSIS = "…"
"""Ends every text the repairs cut."""

# arXiv's archives, current and retired (https://arxiv.org/category_taxonomy and the old
# archives that papers cross-listed long ago still name).
ARXIV_ARCHIVES = frozenset(
    {"astro-ph", "cond-mat", "cs", "econ", "eess", "gr-qc", "hep-ex", "hep-lat", "hep-ph"}
    | {"hep-th", "math", "math-ph", "nlin", "nucl-ex", "nucl-th", "physics", "q-bio", "q-fin"}
    | {"quant-ph", "stat", "acc-phys", "adap-org", "alg-geom", "ao-sci", "atom-ph", "bayes-an"}
    | {"chao-dyn", "chem-ph", "cmp-lg", "comp-gas", "dg-ga", "funct-an", "mtrl-th", "patt-sol"}
    | {"plasm-ph", "q-alg", "solv-int", "supr-con"}
)
# Subject classes are two capitals (cs.CL, astro-ph.CO), but words in these two archives.
_WORDED_SUBJECTS = frozenset({"cond-mat", "physics"})
_CODE = re.compile(
    r"(?P<archive>[a-z]+(?:-[a-z]+)*)(?:\.(?:(?P<capitals>[A-Z]{2})|(?P<words>[a-z]+(?:-[a-z]+)*)))?"
)


def is_category_code(term: str) -> bool:
    """Whether ``term`` is an arXiv category code: an archive (``hep-th``), optionally with a
    subject class (``cs.CL``, ``cond-mat.mes-hall``)."""
    code = _CODE.fullmatch(term)
    if code is None or code["archive"] not in ARXIV_ARCHIVES:
        return False
    return code["words"] is None or code["archive"] in _WORDED_SUBJECTS


def cut_at_word(text: str, limit: int) -> str:
    """``text`` if it has at most ``limit`` characters, else its start cut at a word boundary
    (or mid-word when the last space is in the first half) ending in ``…``, at most ``limit``
    characters in all."""
    if len(text) <= limit:
        return text
    head = text[: limit - len(ELLIPSIS)]
    space = head.rfind(" ")
    if space > len(head) // 2:
        head = head[:space]
    return head.rstrip(" ,;:") + ELLIPSIS


class _Repairs:
    """The rules applied to one paper, one entry per application."""

    def __init__(self) -> None:
        self.applied: list[str] = []

    def note(self, rule: str, times: int = 1) -> None:
        self.applied.extend([rule] * times)

    def collapse(self, text: str) -> str:
        collapsed = clean(text)
        if collapsed != text:
            self.note("whitespace-collapsed")
        return collapsed

    def cut(self, text: str, limit: int, rule: str) -> str:
        short = cut_at_word(text, limit)
        if short != text:
            self.note(rule)
        return short

    def entries(self, values: Iterable[str]) -> list[str]:
        collapsed = [self.collapse(value) for value in values]
        kept = [value for value in collapsed if value]
        self.note("empty-dropped", len(collapsed) - len(kept))
        return kept

    def capped(self, values: list[str], limit: int, rule: str) -> tuple[str, ...]:
        if len(values) > limit:
            self.note(rule)
        return tuple(values[:limit])

    def authors(self, authors: Iterable[str]) -> tuple[str, ...]:
        names: list[str] = []
        for author in self.entries(authors):
            split = split_author(author, max_length=_limits.MAX_AUTHOR_LENGTH)
            if len(split) > 1:
                self.note("author-list-split")
            names += (self.cut(name, _limits.MAX_AUTHOR_LENGTH, "author-cut") for name in split)
        return self.capped(names, _limits.MAX_AUTHORS, "authors-capped")

    def categories(self, categories: Iterable[str]) -> tuple[str, ...]:
        terms = self.entries(categories)
        codes = [term for term in terms if is_category_code(term)]
        self.note("category-not-a-code", len(terms) - len(codes))
        unique = list(dict.fromkeys(codes))
        self.note("duplicate-category-dropped", len(codes) - len(unique))
        return self.capped(unique, _limits.MAX_CATEGORIES, "categories-capped")


def repair_paper(paper: Paper) -> tuple[Paper, tuple[str, ...]]:
    """Apply the repair policy (see the module docs) to one paper.

    Args:
        paper: A paper as a parser read it (or as a caller built it).

    Returns:
        The repaired paper (``paper`` itself when nothing changed) and the rules applied, one
        name of :data:`RULES` per application (a paper that lost three categories names
        ``category-not-a-code`` three times), in the order the rules ran.
    """
    repairs = _Repairs()
    title = repairs.cut(repairs.collapse(paper.title), _limits.MAX_TITLE_LENGTH, "title-cut")
    abstract = repairs.cut(
        repairs.collapse(paper.abstract), _limits.MAX_ABSTRACT_LENGTH, "abstract-cut"
    )
    authors = repairs.authors(paper.authors)
    categories = repairs.categories(paper.categories)
    url = paper.url.strip()
    if url != paper.url:
        repairs.note("whitespace-collapsed")
    if not repairs.applied:
        return paper, ()
    repaired = dataclasses.replace(
        paper, title=title, abstract=abstract, authors=authors, categories=categories, url=url
    )
    return repaired, tuple(repairs.applied)
