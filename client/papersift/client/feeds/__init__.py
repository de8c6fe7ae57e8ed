"""Feed ingestion: read the day's papers from digests, arXiv and Hugging Face, then upsert them.

Formats (see :data:`FEED_FORMATS`), each a ``parse_<format>(text, *, date=None,
source_name="<feed>") -> list[Paper]``:

- ``markdown``: the daily arXiv digest in Markdown (needs ``date``).
- ``hf-text``: the text of a Hugging Face Daily Papers page (needs ``date``).
- ``arxiv-atom``: the arXiv API's Atom response.
- ``arxiv-rss``: arXiv's RSS 2.0 feeds.
- ``hf-json``: the Hugging Face Daily Papers API.
- ``jsonl``: the arxiv-2025q2 JSON Lines format (``.gz`` accepted by :func:`load_feed`).

Typical use::

    papers = merge_papers(paper for source in sources for paper in load_feed(source))
    report = ingest(client, papers, batch_size=500)

Importing this package needs only the bare install (the standard library and
``papersift.client._models``); fetching URLs needs httpx, XML feeds need defusedxml and progress
bars need tqdm (``pip install 'papersift[cli]'``), each imported when first used.
"""

from papersift.client.feeds.arxiv_atom import parse_arxiv_atom
from papersift.client.feeds.arxiv_rss import parse_arxiv_rss
from papersift.client.feeds.detect import FEED_FORMATS, detect_format
from papersift.client.feeds.errors import FeedError, MissingExtraError
from papersift.client.feeds.hf_json import parse_hf_json
from papersift.client.feeds.hf_text import parse_hf_text
from papersift.client.feeds.ingest import (
    IngestReport,
    PaperSink,
    batched,
    ingest,
)
from papersift.client.feeds.jsonl import parse_jsonl
from papersift.client.feeds.load import PARSERS, load_feed, parse_feed
from papersift.client.feeds.markdown import parse_markdown
from papersift.client.feeds.merge import merge_papers
from papersift.client.feeds.source import read_source

__all__ = [
    "FEED_FORMATS",
    "PARSERS",
    "FeedError",
    "IngestReport",
    "MissingExtraError",
    "PaperSink",
    "batched",
    "detect_format",
    "ingest",
    "load_feed",
    "merge_papers",
    "parse_arxiv_atom",
    "parse_arxiv_rss",
    "parse_feed",
    "parse_hf_json",
    "parse_hf_text",
    "parse_jsonl",
    "parse_markdown",
    "read_source",
]
