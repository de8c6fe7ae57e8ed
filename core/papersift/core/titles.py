"""Telling two listings of a paper apart from their titles alone.

The same reduction as the server's ``papersift.server.identity.title_key`` (which "never
twice" compares); core cannot import the server, so it lives here too and the store uses it
to find the arXiv listing of a paper that a feed names by title only.
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
