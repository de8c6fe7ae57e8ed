"""arXiv ids found in labels and URLs."""

from __future__ import annotations

import pytest

from papersift.client.feeds._ids import arxiv_paper_id, arxiv_url, find_arxiv_id


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2503.04725", "2503.04725"),
        ("2503.04725v1", "2503.04725"),
        ("0704.0001", "0704.0001"),
        ("arXiv:2503.04725v2", "2503.04725"),
        ("arxiv:2503.04725", "2503.04725"),
        ("oai:arXiv.org:2503.04725v1", "2503.04725"),
        ("http://arxiv.org/abs/2503.04725v1", "2503.04725"),
        ("https://arxiv.org/abs/2503.04725", "2503.04725"),
        ("https://export.arxiv.org/abs/2503.04725v3/", "2503.04725"),
        ("https://arxiv.org/pdf/2503.04725v1.pdf", "2503.04725"),
        ("https://www.arxiv.org/html/2503.04725v1#S2", "2503.04725"),
        ("hep-th/9901001", "hep-th/9901001"),
        ("hep-th/9901001v2", "hep-th/9901001"),
        ("math.AG/0501001", "math.AG/0501001"),
        ("q-bio/0401001v1", "q-bio/0401001"),
        ("http://arxiv.org/abs/cond-mat/0102536v1", "cond-mat/0102536"),
        (" arXiv:hep-th/9901001 ", "hep-th/9901001"),
    ],
)
def test_arxiv_ids_are_found(value: str, expected: str) -> None:
    assert find_arxiv_id(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "",
        "2503.047",
        "2513.04725",  # no month 13
        "2503.04725v",
        "https://example.org/abs/2503.04725",
        "https://arxiv.org/list/cs.CL/new",
        "http://arxiv.org/api/errors#incorrect_id_format_for_1234.1234",
        "title:0123456789abcdef",
        "hep-th/99010",
    ],
)
def test_other_values_are_not_arxiv_ids(value: str) -> None:
    assert find_arxiv_id(value) is None


def test_paper_id_and_url() -> None:
    assert arxiv_paper_id("2503.04725") == "arxiv:2503.04725"
    assert arxiv_url("hep-th/9901001") == "https://arxiv.org/abs/hep-th/9901001"
