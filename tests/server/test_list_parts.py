"""The pure parts of a reader's list: paper identity, rules, MMR and the wording of reasons."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from papersift.core.types import Paper, PaperId
from papersift.server.diversity import mmr_order
from papersift.server.explain import Similar, personal_reasons
from papersift.server.identity import arxiv_ids, fold, paper_keys, title_key
from papersift.server.rules import NO_RULES, RankRules, paper_text, view_key

DAY = dt.date(2025, 4, 1)


def paper(paper_id: str, title: str, url: str = "", **fields: object) -> Paper:
    return Paper(PaperId(paper_id), title, DAY, url=url, **fields)  # type: ignore[arg-type]


def test_fold_ignores_case_accents_and_spacing() -> None:
    assert fold("  Schrödinger\tÉQUATION  ") == "schrodinger equation"


def test_arxiv_ids_drop_the_version_and_read_urls() -> None:
    assert arxiv_ids("arxiv:2504.01234v2") == {"2504.01234"}
    assert arxiv_ids("x", "https://arxiv.org/pdf/hep-th/9901001v3") == {"hep-th/9901001"}
    assert arxiv_ids("arxiv:2504.012345", "https://example.org/2504.01234") == set()


def test_the_same_paper_from_two_sources_shares_a_key() -> None:
    arxiv = paper("arxiv:2504.01234v1", "Sparse Attention for Long Documents")
    hf = paper("title:ab12", "SPARSE attention for long-documents!", "https://hf.co/papers/x")
    new_version = paper("arxiv:2504.01234v3", "A renamed version of it")
    other = paper("arxiv:2504.09999", "Sparse Attention for Short Documents")
    assert paper_keys(arxiv) & paper_keys(hf)
    assert paper_keys(arxiv) & paper_keys(new_version)
    assert not paper_keys(arxiv) & paper_keys(other)


def test_short_titles_do_not_identify_a_paper() -> None:
    assert title_key("Erratum") is None
    assert title_key("A Note on Graphs") == "a note on graphs"


def test_rules_admit_by_category_and_whole_word_keywords() -> None:
    gan = paper("p1", "A GAN for organ images", categories=("cs.CV",), abstract="Über alles")
    rules = RankRules.build(include_categories=["CS.cv"], must_have_keywords=["gan", "uber"])
    assert rules.admits(gan, paper_text(gan))
    assert not RankRules.build(must_have_keywords=["orga"]).admits(gan, paper_text(gan))
    assert not RankRules.build(must_not_keywords=["Organ"]).admits(gan, paper_text(gan))
    assert not RankRules.build(exclude_categories=["cs.cv"]).admits(gan, paper_text(gan))


def test_followed_author_is_named_as_the_paper_spells_it() -> None:
    by_zoe = paper("p1", "Title", authors=("Bob", "Zoë Ångström"))
    assert RankRules.build(followed_authors=["zoe angstrom"]).followed_author(by_zoe) == (
        "Zoë Ångström"
    )
    assert RankRules.build(followed_authors=["zoe"]).followed_author(by_zoe) is None


def test_view_key_is_empty_for_the_plain_list_and_ignores_rule_order() -> None:
    assert view_key(NO_RULES, 0.0) == ""
    one = RankRules.build(include_categories=["cs.LG", "cs.CL"], must_have_keywords=["a", "b"])
    two = RankRules.build(include_categories=["cs.cl", "CS.LG"], must_have_keywords=["b", "a"])
    assert view_key(one, 0.2) == view_key(two, 0.2) != ""
    assert view_key(one, 0.2) != view_key(one, 0.3)
    assert view_key(NO_RULES, 0.3) != view_key(RankRules.build(exclude_seen=True), 0.3)


def test_mmr_with_zero_diversity_keeps_the_score_order() -> None:
    relevance = np.array([0.9, 0.5, 0.7, 0.1])
    assert mmr_order(relevance, np.eye(4), 0.0) == [0, 2, 1, 3]


def test_mmr_spreads_near_duplicates() -> None:
    # Papers 0-2 are copies of one another, 3 and 4 are different from everything.
    similarity = np.eye(5)
    similarity[:3, :3] = 0.98
    relevance = np.array([1.0, 0.99, 0.98, 0.6, 0.5])
    assert mmr_order(relevance, similarity, 0.0)[:3] == [0, 1, 2]
    assert mmr_order(relevance, similarity, 0.5)[:2] == [0, 3]
    assert mmr_order(relevance, similarity, 0.7)[:3] == [0, 3, 4]


def test_mmr_checks_its_input() -> None:
    with pytest.raises(ValueError, match="shape"):
        mmr_order(np.ones(3), np.eye(2), 0.5)
    with pytest.raises(ValueError, match="outside"):
        mmr_order(np.ones(2), np.eye(2), 1.5)
    assert mmr_order(np.zeros(0), np.zeros((0, 0)), 0.5) == []


def test_personal_reasons_group_terms_and_order_by_strength() -> None:
    names = [
        "term:graph",
        "term:node",
        "term:edge",
        "term:spectral",
        "author:Ada",
        "category:cs.LG",
    ]
    contributions = [(4, 0.9), (0, 0.5), (1, 0.4), (5, 0.3), (2, 0.2), (3, 0.1)]
    similar = Similar(title="Graph neural networks", saved=True, cosine=0.8)
    assert personal_reasons(contributions, names, similar) == [
        'similar to "Graph neural networks", which you saved',
        "by Ada, whose papers you read",
        "about graph, node and edge, as papers you liked",
    ]
    category_first = [(5, 0.9), (0, 0.5)]
    assert personal_reasons(category_first, names, None) == [
        "about graph, as papers you liked",
        "in cs.LG, a category you read",
    ]
    names_with_two = [*names, "category:cs.IR"]
    assert personal_reasons([(5, 0.3), (6, 0.2)], names_with_two, None) == [
        "in cs.LG and cs.IR, categories you read"
    ]
    far = Similar(title="Far away", saved=False, cosine=0.1)
    assert personal_reasons([(0, 0.5)], names, far) == ["about graph, as papers you liked"]
    assert personal_reasons([], names, None) == []
