"""What the feed fixtures say about the paper several of them share (arXiv 2503.04725)."""

from __future__ import annotations

from papersift.client import Paper

L2M_TITLE = "L$^2$M: Mutual Information Scaling Law for Long-Context Language Modeling"
L2M_AUTHORS = ("Zhuo Chen", "Oriol Mayné i Comas", "Zhuotao Jin", "Di Luo", "Marin Soljačić")
L2M_ABSTRACT_START = "We rigorously establish a bipartite mutual information"


def assert_is_l2m(paper: Paper) -> None:
    """The paper was parsed with the title, authors and abstract the fixtures give it."""
    assert paper.title == L2M_TITLE
    assert paper.authors == L2M_AUTHORS
    assert paper.abstract.startswith(L2M_ABSTRACT_START)
