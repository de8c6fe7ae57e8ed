"""When two listings are the same paper: same id, same arXiv id without version, or same title.

A paper comes back under a new version (``arxiv:2504.01234v2``), or from another source (the
Hugging Face daily list names papers by title). "Never twice" compares these keys, not ids.
"""

from __future__ import annotations

import re

from papersift.core.titles import fold, title_key
from papersift.core.types import Paper

__all__ = ["arxiv_ids", "fold", "paper_keys", "title_key"]

# New-style (2504.01234) and old-style (hep-th/9901001) arXiv ids, with an optional version.
_ARXIV_ID = re.compile(
    r"(?:arxiv[:/]|arxiv\.org/(?:abs|pdf)/)"
    r"(?P<id>\d{4}\.\d{4,5}|[a-z][a-z.-]*/\d{7})(?:v\d+)?(?![\w.])",
    re.IGNORECASE,
)


def arxiv_ids(*texts: str) -> set[str]:
    """The arXiv ids (without version) found in ``texts`` (e.g. the paper id and its URL)."""
    return {match.group("id").lower() for text in texts for match in _ARXIV_ID.finditer(text)}


def paper_keys(paper: Paper) -> frozenset[str]:
    """Keys that identify ``paper`` across versions and sources; two listings sharing any key
    are the same paper."""
    keys = {f"id:{paper.paper_id}"}
    keys.update(f"arxiv:{found}" for found in arxiv_ids(paper.paper_id, paper.url))
    title = title_key(paper.title)
    if title:
        keys.add(f"title:{title}")
    return frozenset(keys)
