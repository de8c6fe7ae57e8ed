"""The featurizer: shapes, block weights, unknown inputs, and an exact JSON round trip."""

from __future__ import annotations

import ast
import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

import papersift.core.features
from papersift.core.features import FeatureConfig, Featurizer
from papersift.core.types import Paper, PaperId

DAY = dt.date(2025, 4, 1)


def paper(
    n: int, text: str, authors: tuple[str, ...] = (), categories: tuple[str, ...] = ()
) -> Paper:
    return Paper(PaperId(f"arxiv:{n}"), title="", date=DAY, abstract=text, authors=authors,
                 categories=categories)  # fmt: skip


CORPUS = [
    paper(1, "transformer attention language model", ("Ada Lovelace", "Alan Turing"), ("cs.CL",)),
    paper(2, "transformer vision image model", ("Alan Turing",), ("cs.CV",)),
    paper(3, "graph neural network message passing", ("Grace Hopper",), ("cs.LG",)),
    paper(4, "attention graph transformer network", ("Ada Lovelace",), ("cs.LG", "cs.CL")),
    paper(5, "language model evaluation benchmark", ("Grace Hopper",), ("cs.CL",)),
]
CONFIG = FeatureConfig(min_df=1, max_df=1.0, min_author_papers=1)


def test_fit_transform_shapes_and_names() -> None:
    f = Featurizer.fit(CORPUS, CONFIG)
    x = f.transform(CORPUS)
    assert isinstance(x, sp.csr_matrix)
    assert x.dtype == np.float32
    assert x.shape == (5, f.n_features)
    names = f.feature_names
    assert len(names) == f.n_features
    assert "term:transformer" in names
    assert "author:Ada Lovelace" in names
    assert "category:cs.CL" in names
    blocks = f.blocks
    n_terms = blocks["term"][1]
    assert blocks == {
        "term": (0, n_terms),
        "author": (n_terms, n_terms + 3),
        "category": (n_terms + 3, n_terms + 6),
    }
    assert all(n.startswith("term:") for n in names[:n_terms])
    assert "term:the" not in names
    assert f.transform([]).shape == (0, f.n_features)


def test_block_weights_and_normalisation() -> None:
    config = FeatureConfig(
        min_df=1, max_df=1.0, min_author_papers=1, text_weight=2.0, author_weight=0.5,
        category_weight=0.25,
    )  # fmt: skip
    f = Featurizer.fit(CORPUS, config)
    x = f.transform(CORPUS[:1]).toarray()[0]
    start, stop = f.blocks["term"]
    assert np.linalg.norm(x[start:stop]) == pytest.approx(2.0, rel=1e-6)
    start, stop = f.blocks["author"]
    authors = x[start:stop]
    assert sorted(authors[authors > 0]) == pytest.approx([0.5 / np.sqrt(2)] * 2)
    start, stop = f.blocks["category"]
    assert x[start:stop].max() == pytest.approx(0.25)
    squared = 2.0**2 + 0.5**2 + 0.25**2
    assert float(x @ x) == pytest.approx(squared, rel=1e-6)


def test_zero_weight_drops_a_block() -> None:
    f = Featurizer.fit(CORPUS, FeatureConfig(min_df=1, max_df=1.0, author_weight=0.0))
    x = f.transform(CORPUS)
    start, stop = f.blocks["author"]
    assert x[:, start:stop].nnz == 0


def test_unknown_words_authors_and_categories_are_ignored() -> None:
    f = Featurizer.fit(CORPUS, CONFIG)
    stranger = paper(9, "quantum chromodynamics lattice", ("Nobody Known",), ("hep-lat",))
    assert f.transform([stranger]).nnz == 0
    mixed = paper(10, "quantum transformer", ("Nobody Known", "Grace Hopper"), ("hep-lat",))
    row = f.transform([mixed]).toarray()[0]
    names = f.feature_names
    nonzero = {names[i] for i in np.flatnonzero(row)}
    assert nonzero == {"term:transformer", "author:Grace Hopper"}


def test_min_author_papers_and_whitespace() -> None:
    f = Featurizer.fit(CORPUS, FeatureConfig(min_df=1, max_df=1.0, min_author_papers=2))
    authors = [n for n in f.feature_names if n.startswith("author:")]
    assert authors == ["author:Ada Lovelace", "author:Alan Turing", "author:Grace Hopper"]
    spaced = paper(11, "graph", ("  Grace   Hopper ",))
    row = f.transform([spaced]).toarray()[0]
    assert row[f.feature_names.index("author:Grace Hopper")] > 0


def test_json_round_trip_is_exact() -> None:
    f = Featurizer.fit(CORPUS, FeatureConfig(min_df=1, max_df=1.0, ngram_max=2))
    data = json.loads(json.dumps(f.to_json()))
    g = Featurizer.from_json(data)
    probe = [*CORPUS, paper(12, "transformer graph unseen words", ("Alan Turing",), ("cs.LG",))]
    a, b = f.transform(probe), g.transform(probe)
    assert a.shape == b.shape
    assert np.array_equal(a.indptr, b.indptr)
    assert np.array_equal(a.indices, b.indices)
    assert np.array_equal(a.data, b.data)
    assert g.feature_names == f.feature_names
    assert g.config == f.config


def test_from_json_refuses_bad_data() -> None:
    data = Featurizer.fit(CORPUS, CONFIG).to_json()
    with pytest.raises(ValueError, match="format_version"):
        Featurizer.from_json({**data, "format_version": 99})
    with pytest.raises(ValueError, match="idf"):
        Featurizer.from_json({**data, "idf": data["idf"][:-1]})
    with pytest.raises(ValueError, match="malformed"):
        Featurizer.from_json({k: v for k, v in data.items() if k != "terms"})


def test_fit_refuses_empty_corpus_and_bad_config() -> None:
    with pytest.raises(ValueError, match="zero papers"):
        Featurizer.fit([])
    with pytest.raises(ValueError, match="max_df"):
        FeatureConfig(max_df=0.0)
    with pytest.raises(ValueError, match="author_weight"):
        FeatureConfig(author_weight=-1.0)


def test_state_is_plain_json_and_no_pickle_is_imported() -> None:
    data = Featurizer.fit(CORPUS, CONFIG).to_json()

    def plain(value: object) -> bool:
        if isinstance(value, dict):
            return all(isinstance(k, str) and plain(v) for k, v in value.items())
        if isinstance(value, list):
            return all(plain(v) for v in value)
        return value is None or isinstance(value, str | int | float | bool)

    assert plain(data)
    tree = ast.parse(Path(papersift.core.features.__file__).read_text(encoding="utf-8"))
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in (
            node.names if isinstance(node, ast.Import) else [ast.alias(node.module or "")]
        )
    }
    assert not imported & {"pickle", "joblib", "dill", "cloudpickle", "lightfm", "grpc"}
