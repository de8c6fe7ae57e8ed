"""Pre-encoded replies parse to exactly the messages built field by field."""

from __future__ import annotations

import datetime as dt

from papersift.core.types import Paper, PaperId, Strategy, UserId
from papersift.server.convert import rank_page_to_proto
from papersift.server.encoding import EncodedPapers
from papersift.server.queries import RankedEntry, RankPage
from papersift.v1 import ranker_pb2 as pb


def paper(number: int, **fields: object) -> Paper:
    values: dict[str, object] = {
        "paper_id": PaperId(f"arxiv:2504.{number:05d}"),
        "title": f"Über-große Modelle {number}: ∑ attention ≠ 注意",
        "abstract": "A long abstract. " * (40 * number),
        "authors": tuple(f"Author {n} Ñoño" for n in range(number % 7 + 1)),
        "categories": ("cs.CL", "cs.LG"),
        "url": f"https://arxiv.org/abs/2504.{number:05d}",
        "date": dt.date(2025, 4, 1),
        "source": "arxiv",
    }
    values.update(fields)
    return Paper(**values)  # type: ignore[arg-type]


def page(count: int, *, reasons: bool = False, token: str = "") -> RankPage:
    entries = tuple(
        RankedEntry(
            paper(n),
            score=[0.0, -1.5, 3.25e-7, 12.0][n % 4],
            rank=n + 1,
            reasons=("similar to “A title”, which you saved", "about graphs") if reasons else (),
        )
        for n in range(count)
    )
    return RankPage(entries, token, "v1", Strategy.PERSONAL, cached=True, total=count + 5)


def test_an_encoded_page_parses_to_the_message_built_field_by_field() -> None:
    encoded = EncodedPapers()
    for built in (page(0), page(1), page(20, reasons=True, token="next"), page(300)):
        expected = rank_page_to_proto(built)
        assert pb.RankPapersResponse.FromString(encoded.page(built)) == expected
        # Twice: the second time every paper comes from the kept bytes.
        assert pb.RankPapersResponse.FromString(encoded.page(built)) == expected


def test_an_encoded_batch_parses_to_the_message_built_field_by_field() -> None:
    pages = [(UserId("reader-1"), page(3)), (UserId("reader-2"), page(0)), (UserId("r3"), page(9))]
    expected = pb.RankPapersBatchResponse(
        results=[
            pb.UserRanking(user_id=user_id, ranking=rank_page_to_proto(built))
            for user_id, built in pages
        ]
    )
    assert pb.RankPapersBatchResponse.FromString(EncodedPapers().batch(pages)) == expected


def test_the_kept_bytes_stay_within_their_bound() -> None:
    encoded = EncodedPapers(max_bytes=20_000)
    for number in range(1, 60):
        encoded.of(paper(number))
        assert encoded.size <= 20_000
    assert encoded.size > 0
    # A paper larger than the whole bound is encoded every time, never kept.
    huge = paper(1, abstract="x" * 30_000)
    assert pb.RankedPaper.FromString(encoded.of(huge)).paper.abstract == "x" * 30_000
    assert encoded.size <= 20_000


def test_an_updated_paper_is_encoded_afresh() -> None:
    encoded = EncodedPapers()
    old, new = paper(1), paper(1, title="A corrected title")
    assert pb.RankedPaper.FromString(encoded.of(old)).paper.title == old.title
    assert pb.RankedPaper.FromString(encoded.of(new)).paper.title == "A corrected title"
