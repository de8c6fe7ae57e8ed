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

or, as ``papersift ingest`` does, with every paper located, repaired (see
:mod:`~papersift.client.feeds.repair`) and checked before anything is sent::

    prepared = prepare(load_located(source) for source in sources)
    for record in prepared.rejected:
        print(record)  # papers.jsonl:12 (arxiv:2504.01234): url: is 3012 characters; ...
    report = ingest(client, prepared.papers)

Importing this package needs only the bare install (the standard library and
``papersift.client._models``); fetching URLs needs httpx, XML feeds need defusedxml and progress
bars need tqdm (``pip install 'papersift[cli]'``), each imported when first used.
"""

from papersift.client.feeds.arxiv_atom import parse_arxiv_atom
from papersift.client.feeds.arxiv_rss import parse_arxiv_rss
from papersift.client.feeds.check import Problem, paper_problems
from papersift.client.feeds.detect import FEED_FORMATS, UNDATED_FORMATS, detect_format
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
from papersift.client.feeds.load import PARSERS, READERS, load_feed, load_located, parse_feed
from papersift.client.feeds.located import Located, Location, ParsedFeed
from papersift.client.feeds.markdown import parse_markdown
from papersift.client.feeds.merge import merge_located, merge_papers
from papersift.client.feeds.prepare import Prepared, Rejected, prepare
from papersift.client.feeds.repair import RULES, is_category_code, repair_paper
from papersift.client.feeds.source import read_source

__all__ = [
    "FEED_FORMATS",
    "PARSERS",
    "READERS",
    "RULES",
    "UNDATED_FORMATS",
    "FeedError",
    "IngestReport",
    "Located",
    "Location",
    "MissingExtraError",
    "PaperSink",
    "ParsedFeed",
    "Prepared",
    "Problem",
    "Rejected",
    "batched",
    "detect_format",
    "ingest",
    "is_category_code",
    "load_feed",
    "load_located",
    "merge_located",
    "merge_papers",
    "paper_problems",
    "parse_arxiv_atom",
    "parse_arxiv_rss",
    "parse_feed",
    "parse_hf_json",
    "parse_hf_text",
    "parse_jsonl",
    "parse_markdown",
    "prepare",
    "read_source",
    "repair_paper",
]
