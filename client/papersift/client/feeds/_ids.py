"""Paper ids: arXiv ids found in URLs and labels, and stable ids derived from titles."""

from __future__ import annotations

import hashlib
import re
import unicodedata

# New-style ids (0704.0001 onwards: YYMM.NNNN, or YYMM.NNNNN since 2015) and old-style ids
# (archive[.SUBJECT]/YYMMNNN, e.g. hep-th/9901001, math.AG/0501001).
_ID = r"(?P<id>\d{2}(?:0[1-9]|1[0-2])\.\d{4,5}|[a-z]+(?:-[a-z]+)*(?:\.[A-Za-z]{2})?/\d{7})"
_VERSION = r"(?:v\d+)?"
_LABEL = re.compile(rf"(?:(?i:arxiv):|(?i:oai:arxiv\.org):)?\s*{_ID}{_VERSION}")
_URL = re.compile(
    rf"(?i:https?://(?:www\.|export\.)?arxiv\.org/(?:abs|pdf|html)/){_ID}{_VERSION}"
    r"(?:\.pdf)?/?(?:[?#]\S*)?"
)
_NOT_ALNUM = re.compile(r"[\W_]+")


def find_arxiv_id(value: str) -> str | None:
    """The arXiv id, without version, that ``value`` names, or ``None``.

    Accepts bare ids (``2503.04725v1``, ``hep-th/9901001``), labels (``arXiv:2503.04725v2``,
    ``oai:arXiv.org:2503.04725v1``) and arXiv URLs (``http://arxiv.org/abs/2503.04725v1``,
    ``https://arxiv.org/pdf/2503.04725``).
    """
    text = value.strip()
    match = _LABEL.fullmatch(text) or _URL.fullmatch(text)
    return match.group("id") if match else None


def arxiv_paper_id(arxiv_id: str) -> str:
    """The papersift id of an arXiv paper, e.g. ``arxiv:2503.04725``."""
    return f"arxiv:{arxiv_id}"


def arxiv_url(arxiv_id: str) -> str:
    """The canonical abstract page of an arXiv paper (no version)."""
    return f"https://arxiv.org/abs/{arxiv_id}"


def normalize_title(title: str) -> str:
    """A title reduced to what identifies it.

    NFKC-normalised, casefolded, accents stripped, every run of non-alphanumerics collapsed to
    one space, ends stripped: ``"Émile's  LLM-Test!"`` becomes ``"emile s llm test"``.
    """
    folded = unicodedata.normalize("NFKC", title).casefold()
    decomposed = unicodedata.normalize("NFKD", folded)
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _NOT_ALNUM.sub(" ", unicodedata.normalize("NFC", bare)).strip()


def title_paper_id(title: str) -> str:
    """A stable id for a paper known only by its title: ``title:`` + 16 hex digits of SHA-256."""
    digest = hashlib.sha256(normalize_title(title).encode("utf-8")).hexdigest()
    return f"title:{digest[:16]}"
