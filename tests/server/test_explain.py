"""The wording of reasons: the paper's own words and phrases, one short line, never the paper
itself as the liked paper it is "similar to"."""

from __future__ import annotations

import datetime as dt

import numpy as np

from papersift.core.features import FeatureConfig
from papersift.core.types import EventId, Interaction, InteractionKind, Paper, PaperId, UserId
from papersift.server.explain import (
    MAX_REASON_LENGTH,
    Similar,
    followed_reason,
    personal_reasons,
    similar_reason,
    word_reason,
)
from papersift.server.phrases import PaperText, choose_phrases, stop_words_of
from papersift.server.reasons import closest_liked
from papersift.server.rules import RankRules, touched_papers, view_key

STOP = stop_words_of(FeatureConfig())
RAG = PaperText(
    "Retrieval-Augmented Generation for Black-Box LLMs",
    "Retrieval-augmented generation (RAG) grounds large language models (LLMs) in documents. "
    "We study black-box attacks on RAG systems and find that bag of words retrievers fail, "
    "for learning and vision alike; see \\textbf{RAGBench} at https://ragbench.github.io.",
    STOP,
)


def about(terms: list[tuple[str, float]], paper: PaperText = RAG) -> str | None:
    return word_reason(choose_phrases(terms, paper))


def test_words_are_named_as_the_paper_writes_them() -> None:
    terms = [("rag", 0.9), ("llms", 0.8), ("box", 0.7), ("black", 0.6)]
    # "black" is part of "black-box", already shown: the line does not say it twice.
    assert about(terms) == "about RAG, LLMs and black-box, as papers you liked"


def test_a_phrase_comes_before_its_words_and_overlapping_phrases_become_one() -> None:
    terms = [
        ("retrieval", 0.9),
        ("augmented", 0.8),
        ("retrieval augmented", 0.6),
        ("augmented generation", 0.5),
        ("rag", 0.4),
    ]
    assert about(terms) == 'about "retrieval-augmented generation" and RAG, as papers you liked'


def test_a_phrase_much_weaker_than_its_word_does_not_replace_it() -> None:
    terms = [("rag", 0.9), ("rag systems", 0.2), ("documents", 0.1)]
    assert about(terms) == "about RAG and documents, as papers you liked"
    assert about([("rag", 0.9), ("rag systems", 0.5)]) == (
        'about "RAG systems", as papers you liked'
    )


def test_generic_words_chance_neighbours_tex_and_addresses_are_no_items() -> None:
    terms = [
        ("large", 0.9),  # research prose
        ("learning vision", 0.8),  # "learning and vision": two things, not one phrase
        ("textbf", 0.7),  # a TeX command
        ("github", 0.6),  # an address
        ("bag words", 0.5),  # "bag of words" is one phrase
        ("study black", 0.4),  # starts with a generic word
        ("documents", 0.3),
    ]
    assert about(terms) == 'about "bag of words" and documents, as papers you liked'
    assert about([("large", 0.9), ("study", 0.5)]) is None


def test_capitals_of_a_title_or_a_sentence_start_are_taken_off_and_acronyms_kept() -> None:
    paper = PaperText(
        "Testing Low-Resource Language Support in LLMs Using Language Proficiency Exams",
        "Language support is uneven. We test how large language models (LLMs) do on Luxembourgish "
        "exams written for humans.",
        STOP,
    )
    terms = [("language", 0.9), ("llms", 0.8), ("luxembourgish", 0.7)]
    assert about(terms, paper) == "about language, LLMs and Luxembourgish, as papers you liked"
    # Only in a title-cased title: the capitals mean nothing, the hyphenated word stays whole.
    assert about([("resource", 0.9)], paper) == "about low-resource, as papers you liked"
    sentence_case = PaperText("Sparse attention for Transformer models", "", STOP)
    assert about([("transformer", 0.9)], sentence_case) == (
        "about Transformer, as papers you liked"
    )
    # The words an acronym stands for are capitalised where it is introduced, not elsewhere.
    expanded = PaperText(
        "A study",
        "We test Large Language Models (LLMs). Large language models fail; LLMs too.",
        STOP,
    )
    terms = [("language", 0.9), ("llms", 0.8)]
    assert about(terms, expanded) == "about language and LLMs, as papers you liked"
    only_expanded = PaperText("A study", "We test Large Language Models (LLMs) on maths.", STOP)
    assert about(terms, only_expanded) == "about language and LLMs, as papers you liked"
    splatting = PaperText(
        "BOGausS: Better Optimized Gaussian Splatting",
        "We improve 3D Gaussian Splatting (3DGS), which fits each Gaussian to the scene.",
        STOP,
    )
    terms = [("splatting", 0.9), ("gaussian", 0.8), ("3dgs", 0.7)]
    assert about(terms, splatting) == "about splatting, Gaussian and 3DGS, as papers you liked"


def test_stems_are_not_repeated() -> None:
    paper = PaperText("Meshes and images", "A mesh of images; one image per mesh.", STOP)
    terms = [("images", 0.9), ("mesh", 0.8), ("image", 0.7), ("meshes", 0.6)]
    assert about(terms, paper) == "about images and mesh, as papers you liked"


def test_every_reason_fits_one_line_and_is_cut_between_words() -> None:
    long_title = "Testing Low-Resource Language Support in LLMs Using Language Proficiency Exams"
    similar = similar_reason(Similar(long_title, saved=True, cosine=0.9))
    assert similar == 'similar to "Testing Low-Resource Language Support in LLMs…", which you saved'
    assert len(similar) <= MAX_REASON_LENGTH
    assert len(followed_reason("Maria " * 30)) <= MAX_REASON_LENGTH
    paper = PaperText(
        "Long phrases",
        "interpretable counterfactual explanations; hierarchical reinforcement learning agents; "
        "probabilistic programming languages",
        STOP,
    )
    terms = [
        ("counterfactual explanations", 0.9),
        ("reinforcement learning", 0.8),
        ("programming languages", 0.7),
    ]
    # Two phrases and the ending would not fit: the weaker phrases are left out whole.
    assert about(terms, paper) == 'about "counterfactual explanations", as papers you liked'


def test_personal_reasons_name_the_papers_words_strongest_first_and_categories_last() -> None:
    names = ["term:rag", "term:llms", "author:Ada Lovelace", "category:cs.CL"]
    contributions = [(2, 0.9), (0, 0.5), (3, 0.4), (1, 0.3)]
    similar = Similar("Graph neural networks", saved=False, cosine=0.8)
    assert personal_reasons(contributions, names, similar, paper=RAG) == [
        'similar to "Graph neural networks", which you opened',
        "by Ada Lovelace, whose papers you read",
        "about RAG and LLMs, as papers you liked",
    ]
    assert personal_reasons([(3, 0.4), (0, 0.3)], names, None, paper=RAG) == [
        "about RAG, as papers you liked",
        "in cs.CL, a category you read",
    ]


def paper(paper_id: str, title: str, url: str = "") -> Paper:
    return Paper(PaperId(paper_id), title, dt.date(2025, 4, 1), url=url)


def test_the_closest_liked_paper_is_never_the_paper_itself_under_any_name() -> None:
    collab = paper("arxiv:2504.00001", "Collab-RAG: Boosting Retrieval-Augmented Generation")
    hf_copy = paper("hf:collab", "COLLAB-RAG: boosting retrieval augmented generation!")
    new_version = paper("arxiv:2504.00001v2", "Collab-RAG, renamed", "https://arxiv.org/abs/x")
    other = paper("arxiv:2504.00002", "Another paper about retrieval for generation")
    liked = [collab, other]
    similarity = np.array([[1.0, 0.4], [0.97, 0.4], [0.95, 0.4], [0.4, 1.0]])
    closest = closest_liked(similarity, [collab, hf_copy, new_version, other], liked, [True, False])
    assert closest == [
        Similar(other.title, saved=False, cosine=0.4),
        Similar(other.title, saved=False, cosine=0.4),
        Similar(other.title, saved=False, cosine=0.4),
        Similar(collab.title, saved=True, cosine=0.4),
    ]
    assert closest_liked(np.array([[1.0]]), [collab], [collab], [True]) == [None]


def test_touched_papers_are_those_clicked_saved_or_dismissed_not_only_shown() -> None:
    at = dt.datetime(2025, 4, 1, tzinfo=dt.UTC)
    kinds = {
        "p1": InteractionKind.CLICK,
        "p2": InteractionKind.SAVE,
        "p3": InteractionKind.UNSAVE,
        "p4": InteractionKind.DISMISS,
        "p5": InteractionKind.IMPRESSION,
    }
    events = [
        Interaction(EventId(f"e{n}"), UserId("reader"), PaperId(pid), kind, at)
        for n, (pid, kind) in enumerate(kinds.items())
    ]
    assert touched_papers(events) == {"p1", "p2", "p3", "p4"}


def test_exclude_touched_is_part_of_the_view_key_and_leaves_other_keys_alone() -> None:
    seen = RankRules.build(exclude_seen=True)
    touched = RankRules.build(exclude_seen=True, exclude_touched=True)
    assert view_key(touched, 0.0) not in ("", view_key(seen, 0.0))
    assert "xt" not in seen.canonical  # lists and page tokens without the rule keep their keys
