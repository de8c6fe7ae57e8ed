"""Telling a feed's format from its name and its first characters."""

from __future__ import annotations

import json
import re
from pathlib import PurePosixPath
from urllib.parse import urlsplit

from papersift.client.feeds.errors import FeedError

FEED_FORMATS: tuple[str, ...] = (
    "markdown",
    "hf-text",
    "arxiv-atom",
    "arxiv-rss",
    "hf-json",
    "jsonl",
)
"""The names of the supported feed formats, as ``--format`` takes them."""
UNDATED_FORMATS: tuple[str, ...] = ("markdown", "hf-text")
"""Formats that carry no listing days (they need a date); the others give each paper's day."""

_BY_EXTENSION = {
    ".md": "markdown",
    ".markdown": "markdown",
    ".atom": "arxiv-atom",
    ".rss": "arxiv-rss",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}
_ROOT_ELEMENT = re.compile(r"<(?![?!])(?:[A-Za-z_][\w.-]*:)?(?P<name>[A-Za-z_][\w.-]*)")
_MD_HEADING = re.compile(r"^##\s+\S", re.MULTILINE)
# Spaces and tabs only: a ``\s*`` after ``^`` spans line breaks and backtracks quadratically
# over a long run of blank lines.
_MD_FIELD = re.compile(r"^[ \t]*[-*][ \t]+\*\*[^*\n]+\*\*", re.MULTILINE)
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\r?\n")
_SNIFF_CHARS = 8192


def _extension(name: str) -> str:
    path = urlsplit(name).path if re.match(r"(?i)https?://", name) else name
    pure = PurePosixPath(path.replace("\\", "/"))
    suffixes = [s.lower() for s in pure.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes.pop()
    return suffixes[-1] if suffixes else ""


def _unsure(name: str, why: str) -> FeedError:
    choices = ", ".join(FEED_FORMATS)
    return FeedError(name, f"cannot tell the feed format: {why}; pass --format ({choices})")


def _sniff_xml(name: str, head: str) -> str:
    root = _ROOT_ELEMENT.search(head[:_SNIFF_CHARS])
    element = root["name"] if root else ""
    if element == "feed":
        return "arxiv-atom"
    if element == "rss":
        return "arxiv-rss"
    if element == "RDF":
        raise _unsure(name, "RSS 1.0 (RDF) is not supported; use RSS 2.0 or the arXiv API")
    if element.lower() == "html":
        raise _unsure(name, "this is an HTML page; save the page's text or use a feed URL")
    raise _unsure(name, f"XML whose root element is <{element or '?'}>, not <feed> or <rss>")


def _sniff_json(head: str) -> str:
    if head.startswith("["):
        return "hf-json"
    first_line = head.split("\n", 1)[0]
    try:
        first = json.loads(first_line)
    except (ValueError, RecursionError):
        return "hf-json"
    return "jsonl" if isinstance(first, dict) else "hf-json"


def _sniff_text(name: str, text: str) -> str:
    has_headings = _MD_HEADING.search(text) is not None
    if has_headings and _MD_FIELD.search(text):
        return "markdown"
    if has_headings:
        raise _unsure(name, "'## ' headings without '- **Url**:' style fields")
    if len([p for p in _PARAGRAPH_BREAK.split(text.strip()) if p.strip()]) >= 2:
        return "hf-text"
    raise _unsure(name, "plain text without blank-line separated title and abstract paragraphs")


def detect_format(name: str, text: str) -> str:
    """The format of a feed, from its file name or URL and its content.

    A known extension decides (``.md``, ``.markdown``, ``.atom``, ``.rss``, ``.jsonl``,
    ``.ndjson``, each optionally followed by ``.gz``); otherwise the content does: ``<feed``
    is arXiv Atom, ``<rss`` arXiv RSS, a JSON list (or a multi-line JSON object) hf-json,
    line-delimited JSON objects jsonl, ``## `` headings with ``- **Url**:`` fields markdown,
    and other blank-line separated paragraphs the text of a Hugging Face Daily Papers page.

    Args:
        name: The file name or URL (only its extension is used).
        text: The feed's text.

    Returns:
        One of :data:`FEED_FORMATS`.

    Raises:
        FeedError: When the feed is empty or its format is unclear; the message says to pass
            ``--format``.
    """
    by_extension = _BY_EXTENSION.get(_extension(name))
    if by_extension is not None:
        return by_extension
    head = text.lstrip("\ufeff \t\r\n")
    if not head:
        raise FeedError(name, "the feed is empty")
    if head.startswith("<"):
        return _sniff_xml(name, head)
    if head[0] in "[{":
        return _sniff_json(head)
    return _sniff_text(name, head)
