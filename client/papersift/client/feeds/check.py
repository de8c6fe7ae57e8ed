"""What the server would refuse in a paper, found before anything is sent.

The same rules as the server's ``papersift.core.validation.check_paper``, with the server's
limits mirrored in :mod:`papersift.client.feeds._limits`; field names and messages are the
server's too (``authors[3]: is 512 characters; at most 300``). One more rule is the client's
own: text with a lone surrogate cannot be encoded for the wire at all.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from papersift.client._models import Paper
from papersift.client.feeds import _limits

_URL = re.compile(r"https?://\S+", re.IGNORECASE)
_SURROGATE = re.compile(r"[\ud800-\udfff]")


@dataclass(frozen=True, slots=True)
class Problem:
    """Why one field of a paper would be refused: ``str()`` is ``field: problem``."""

    field: str
    problem: str

    def __str__(self) -> str:
        return f"{self.field}: {self.problem}"


def _id_problem(value: str) -> str | None:
    if not value.strip():
        return "must not be empty"
    if len(value) > _limits.MAX_ID_LENGTH:
        return f"is {len(value)} characters; at most {_limits.MAX_ID_LENGTH}"
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        return "must not contain control characters"
    if value != value.strip():
        return "must not start or end with whitespace"
    return _surrogate_problem(value)


def _text_problem(value: str, max_length: int, *, required: bool) -> str | None:
    if required and not value.strip():
        return "must not be empty"
    if len(value) > max_length:
        return f"is {len(value)} characters; at most {max_length}"
    if "\x00" in value:
        return "must not contain NUL characters"
    return _surrogate_problem(value)


def _surrogate_problem(value: str) -> str | None:
    found = _SURROGATE.search(value)
    if found is None:
        return None
    return f"contains a lone surrogate (U+{ord(found.group()):04X}), which cannot be sent"


def _list_problems(
    values: Sequence[str], field: str, max_items: int, max_length: int
) -> list[Problem]:
    if len(values) > max_items:
        return [Problem(field, f"has {len(values)} entries; at most {max_items}")]
    found = (
        (index, _text_problem(value, max_length, required=True))
        for index, value in enumerate(values)
    )
    return [Problem(f"{field}[{index}]", problem) for index, problem in found if problem]


def paper_problems(paper: Paper) -> list[Problem]:
    """Every field of ``paper`` the server would refuse, in the order it checks them.

    Args:
        paper: A paper, e.g. as :func:`~papersift.client.feeds.repair.repair_paper` left it.

    Returns:
        The problems; empty when the server accepts the paper.
    """
    problems: list[Problem] = []

    def add(field: str, problem: str | None) -> None:
        if problem is not None:
            problems.append(Problem(field, problem))

    add("paper_id", _id_problem(paper.paper_id))
    add("title", _text_problem(paper.title, _limits.MAX_TITLE_LENGTH, required=True))
    add("abstract", _text_problem(paper.abstract, _limits.MAX_ABSTRACT_LENGTH, required=False))
    problems += _list_problems(
        paper.authors, "authors", _limits.MAX_AUTHORS, _limits.MAX_AUTHOR_LENGTH
    )
    problems += _list_problems(
        paper.categories, "categories", _limits.MAX_CATEGORIES, _limits.MAX_CATEGORY_LENGTH
    )
    url_problem = _text_problem(paper.url, _limits.MAX_URL_LENGTH, required=False)
    if url_problem is None and paper.url and not _URL.fullmatch(paper.url):
        url_problem = f"{paper.url[:80]!r} is not an http(s) URL"
    add("url", url_problem)
    add("source", _text_problem(paper.source, _limits.MAX_SOURCE_LENGTH, required=False))
    return problems
