"""Telling two listings of a paper apart from their titles alone.

One home for the reduction that "never twice" compares (``papersift.server.identity`` uses
it) and that the store uses to find the arXiv listing of a paper a feed names by title only.
"""

from __future__ import annotations

import re
import unicodedata

MIN_TITLE_WORDS = 4
"""Shorter titles ("Introduction", "Erratum") are too common to identify a paper."""

_WORD = re.compile(r"\w+")


def fold(text: str) -> str:
    """Lower-case, accent-free, single-spaced text: ``"Über  Größe"`` -> ``"uber grosse"``."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(stripped.split())


def title_key(title: str) -> str | None:
    """The title reduced to its words, or ``None`` when too short to identify a paper.

    ``"L$^2$M: Mutual Information Scaling Law"`` -> ``"l 2 m mutual information scaling law"``.
    """
    words = _WORD.findall(fold(title))
    return " ".join(words) if len(words) >= MIN_TITLE_WORDS else None
