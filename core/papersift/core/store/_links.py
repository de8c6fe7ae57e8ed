"""A paper known only by its title takes the link and authors of its arXiv listing.

The Hugging Face Daily Papers page names papers by title (ids ``title:<hash>``, no URL, no
authors), though most of them were listed on arXiv days before. When such a paper is upserted
and exactly one arXiv paper (stored, or in the same batch) has the same title key
(:func:`papersift.core.titles.title_key`: the title's words, ignoring case, accents,
punctuation and spacing; the store keeps it indexed), the title paper takes that paper's URL
and authors,
and its categories and abstract when it has none. It keeps its own id, title, listing day and
source: it is the listing of that day. Its arXiv URL also makes the server's "never twice"
treat both listings as one paper.

Only that direction is linked: a title paper stored before its arXiv listing keeps what it had
until it is upserted again.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Sequence

import sqlalchemy as sa

from papersift.core.store.schema import papers
from papersift.core.titles import title_key
from papersift.core.types import Paper

TITLE_ID_PREFIX = "title:"
"""Ids derived from a title (the client's ``title_paper_id``)."""
ARXIV_ID_PREFIX = "arxiv:"

_VERSION = re.compile(r"v\d+$")


def title_keys_to_look_up(batch: Sequence[Paper]) -> set[str]:
    """The title keys of the batch's title papers (titles too short to identify none)."""
    keys = (title_key(p.title) for p in batch if p.paper_id.startswith(TITLE_ID_PREFIX))
    return {key for key in keys if key is not None}


def arxiv_papers_keyed(keys: set[str]) -> sa.Select[tuple[object, ...]]:
    """One query, on the title-key index, for the stored arXiv papers with any of ``keys``."""
    return sa.select(papers).where(
        papers.c.title_key.in_(sorted(keys)),
        papers.c.paper_id.startswith(ARXIV_ID_PREFIX, autoescape=True),
    )


def link_title_papers(batch: Sequence[Paper], stored: Iterable[Paper]) -> list[Paper]:
    """``batch`` with each title paper linked to its arXiv listing, if it has exactly one.

    Args:
        batch: The papers being upserted.
        stored: Stored arXiv papers that share a title key with them (from
            :func:`arxiv_papers_keyed`); the batch's own arXiv papers count too, and replace
            their stored versions.
    """
    in_batch = [paper for paper in batch if paper.paper_id.startswith(ARXIV_ID_PREFIX)]
    candidates = _by_key({paper.paper_id: paper for paper in [*stored, *in_batch]}.values())
    linked = list(batch)
    for index, paper in enumerate(batch):
        key = title_key(paper.title) if paper.paper_id.startswith(TITLE_ID_PREFIX) else None
        match = _only_listing(candidates.get(key, [])) if key else None
        if match is not None:
            linked[index] = take_links(paper, match)
    return linked


def take_links(paper: Paper, arxiv: Paper) -> Paper:
    """``paper`` with ``arxiv``'s URL and authors, and its categories and abstract where
    ``paper`` has none."""
    return dataclasses.replace(
        paper,
        url=arxiv.url or paper.url,
        authors=arxiv.authors or paper.authors,
        categories=paper.categories or arxiv.categories,
        abstract=paper.abstract or arxiv.abstract,
    )


def _by_key(candidates: Iterable[Paper]) -> dict[str, list[Paper]]:
    keyed: dict[str, list[Paper]] = {}
    for paper in candidates:
        key = title_key(paper.title)
        if key is not None:
            keyed.setdefault(key, []).append(paper)
    return keyed


def _only_listing(candidates: list[Paper]) -> Paper | None:
    """The latest listing when every candidate is one arXiv paper (versions aside), else None:
    two papers of one title are left unlinked rather than linked to the wrong one."""
    if len({_VERSION.sub("", paper.paper_id) for paper in candidates}) != 1:
        return None
    return max(candidates, key=lambda paper: (paper.date, paper.paper_id))
