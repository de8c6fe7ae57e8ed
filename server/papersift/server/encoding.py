"""A page's reply encoded from papers serialized once, not rebuilt message by message.

Building a ``RankedPaper`` per paper (title, abstract, authors) on every request costs more
than the rest of a cache hit. Protobuf's wire format lets a reply be put together from pieces:
each paper's ``RankedPaper.paper`` field is serialized once and kept (bounded in bytes); a
request adds only its score, rank and reasons, and the reply's own fields. The bytes parse to
exactly the message :func:`convert.rank_page_to_proto` builds (a test checks it).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Final

from google.protobuf.message import Message

from papersift.core.types import Paper, UserId
from papersift.server.convert import paper_to_proto, rank_page_to_proto
from papersift.server.queries import RankPage
from papersift.v1 import ranker_pb2 as pb

DEFAULT_MAX_BYTES: Final = 64 * 1024 * 1024
"""Serialized papers kept: about 20 days of 3,000 papers with full abstracts."""

_LENGTH_DELIMITED: Final = 2


def _tag(message: type[Message], field: str) -> bytes:
    """The key of a length-delimited field (a message) of ``message``, as on the wire."""
    return _varint(message.DESCRIPTOR.fields_by_name[field].number << 3 | _LENGTH_DELIMITED)


class EncodedPapers:
    """Each paper's serialized ``RankedPaper.paper`` field, least recently used dropped first."""

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        """Keep at most ``max_bytes`` of serialized papers."""
        self._max_bytes = max_bytes
        self._bytes = 0
        # Keyed by the paper itself: an updated paper is another key, the old one ages out.
        self._encoded: OrderedDict[Paper, bytes] = OrderedDict()

    @property
    def size(self) -> int:
        """Bytes held."""
        return self._bytes

    def of(self, paper: Paper) -> bytes:
        """The serialized ``RankedPaper`` holding only ``paper``."""
        encoded = self._encoded.get(paper)
        if encoded is not None:
            self._encoded.move_to_end(paper)
            return encoded
        encoded = pb.RankedPaper(paper=paper_to_proto(paper)).SerializeToString()
        if len(encoded) <= self._max_bytes:
            self._encoded[paper] = encoded
            self._bytes += len(encoded)
            while self._bytes > self._max_bytes:
                _, dropped = self._encoded.popitem(last=False)
                self._bytes -= len(dropped)
        return encoded

    def page(self, page: RankPage) -> bytes:
        """The serialized ``RankPapersResponse`` of ``page``."""
        head = rank_page_to_proto(page, papers=False).SerializeToString()
        parts = [head]
        for entry in page.entries:
            scored = pb.RankedPaper(score=entry.score, rank=entry.rank, reasons=entry.reasons)
            # Two serialized messages one after the other parse as one: both fields' values.
            element = self.of(entry.paper) + scored.SerializeToString()
            parts += (_PAPERS_TAG, _varint(len(element)), element)
        return b"".join(parts)

    def batch(self, pages: Sequence[tuple[UserId, RankPage]]) -> bytes:
        """The serialized ``RankPapersBatchResponse`` of each reader's page, in order."""
        parts: list[bytes] = []
        for user_id, page in pages:
            encoded = self.page(page)
            user = pb.UserRanking(user_id=user_id).SerializeToString()
            element = b"".join((user, _RANKING_TAG, _varint(len(encoded)), encoded))
            parts += (_RESULTS_TAG, _varint(len(element)), element)
        return b"".join(parts)


def _varint(value: int) -> bytes:
    """``value`` (non-negative) as a protobuf base-128 varint."""
    out = bytearray()
    while True:
        low = value & 0x7F
        value >>= 7
        if value:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


_PAPERS_TAG: Final = _tag(pb.RankPapersResponse, "papers")
_RANKING_TAG: Final = _tag(pb.UserRanking, "ranking")
_RESULTS_TAG: Final = _tag(pb.RankPapersBatchResponse, "results")
