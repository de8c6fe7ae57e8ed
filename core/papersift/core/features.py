"""Paper features shared by training and serving: TF-IDF text plus author and category blocks.

A paper's feature row is the horizontal concatenation of three blocks:

- ``term:*`` -- TF-IDF of ``title + " " + abstract`` from scikit-learn's ``TfidfVectorizer``
  (lower-cased, English stop words removed, optional sublinear tf, smoothed idf), each row
  L2-normalised by the vectorizer;
- ``author:*`` -- indicators of the paper's authors known at fit time, L2-normalised per row
  (each of ``n`` known authors gets ``1 / sqrt(n)``);
- ``category:*`` -- indicators of the paper's categories known at fit time, L2-normalised the
  same way.

Each block is then multiplied by its weight from :class:`FeatureConfig`, so a row's squared norm
is the sum of the squared weights of its non-empty blocks. Words, authors and categories unseen at
fit time are ignored at transform time; a paper with none of them gets an all-zero row.

The fitted state serialises to plain JSON (vocabularies and idf), never pickle, and
:meth:`Featurizer.from_json` rebuilds an equivalent vectorizer, so a model bundle reproduces the
training-time matrices exactly.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

from papersift.core.types import Paper

FORMAT_VERSION = 1
"""Version of :meth:`Featurizer.to_json`'s layout; bumped on incompatible changes."""


@dataclass(frozen=True, slots=True)
class FeatureConfig:
    """How papers become feature rows.

    Attributes:
        max_terms: Largest text vocabulary (most frequent terms kept).
        min_df: Minimum number of fit papers a term must occur in.
        max_df: Maximum fraction of fit papers a term may occur in (drops near-stop-words).
        sublinear_tf: Use ``1 + log(tf)`` instead of raw term counts.
        stop_words: Remove scikit-learn's English stop words.
        ngram_max: Largest word n-gram (1 = single words, 2 = also bigrams).
        min_author_papers: Minimum number of fit papers an author needs to get a feature.
        max_authors: Largest author vocabulary (most prolific kept).
        text_weight: Weight of the L2-normalised text block.
        author_weight: Weight of the L2-normalised author block.
        category_weight: Weight of the L2-normalised category block.
    """

    max_terms: int = 20_000
    min_df: int = 2
    max_df: float = 0.5
    sublinear_tf: bool = True
    stop_words: bool = True
    ngram_max: int = 1
    min_author_papers: int = 2
    max_authors: int = 50_000
    text_weight: float = 1.0
    author_weight: float = 0.5
    category_weight: float = 0.3

    def __post_init__(self) -> None:
        """Validate the values.

        Raises:
            ValueError: Naming the first invalid field.
        """
        if self.max_terms < 1 or self.max_authors < 0:
            raise ValueError("max_terms must be >= 1 and max_authors >= 0")
        if self.min_df < 1 or self.min_author_papers < 1:
            raise ValueError("min_df and min_author_papers must be >= 1")
        if not 0.0 < self.max_df <= 1.0:
            raise ValueError(f"max_df must be in (0, 1], got {self.max_df}")
        if self.ngram_max not in (1, 2, 3):
            raise ValueError(f"ngram_max must be 1, 2 or 3, got {self.ngram_max}")
        for name in ("text_weight", "author_weight", "category_weight"):
            value = getattr(self, name)
            if not (np.isfinite(value) and value >= 0.0):
                raise ValueError(f"{name} must be a finite non-negative number, got {value}")

    def to_json(self) -> dict[str, Any]:
        """The configuration as a JSON-ready dict."""
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FeatureConfig:
        """Inverse of :meth:`to_json`; unknown keys are an error."""
        return cls(**dict(data))


def paper_text(paper: Paper) -> str:
    """The text a paper's term block is computed from: title and abstract."""
    return f"{paper.title} {paper.abstract}"


def _clean(names: Iterable[str]) -> list[str]:
    # One spelling per name: collapsed whitespace; duplicates within a paper count once.
    return list(dict.fromkeys(" ".join(n.split()) for n in names if n.strip()))


def _make_vectorizer(config: FeatureConfig, vocabulary: Mapping[str, int] | None) -> Any:
    return TfidfVectorizer(
        lowercase=True,
        stop_words="english" if config.stop_words else None,
        ngram_range=(1, config.ngram_max),
        min_df=config.min_df,
        max_df=config.max_df,
        max_features=config.max_terms,
        sublinear_tf=config.sublinear_tf,
        smooth_idf=True,
        norm="l2",
        dtype=np.float32,
        vocabulary=vocabulary,
    )


def _indicator_block(
    rows: Sequence[Sequence[str]], index: Mapping[str, int], weight: float
) -> sp.csr_matrix:
    indptr = [0]
    indices: list[int] = []
    data: list[float] = []
    for names in rows:
        known = sorted({index[n] for n in _clean(names) if n in index})
        if known:
            value = weight / np.sqrt(len(known))
            indices.extend(known)
            data.extend([value] * len(known))
        indptr.append(len(indices))
    return sp.csr_matrix(
        (np.asarray(data, dtype=np.float32), np.asarray(indices, dtype=np.int32), indptr),
        shape=(len(rows), len(index)),
        dtype=np.float32,
    )


class Featurizer:
    """Turns papers into sparse feature rows; fitted once, then reused unchanged.

    Build one with :meth:`fit` (training) or :meth:`from_json` (serving); never call the
    constructor directly.
    """

    def __init__(
        self,
        config: FeatureConfig,
        vectorizer: Any,
        terms: list[str],
        authors: list[str],
        categories: list[str],
    ) -> None:
        """Wrap already fitted state (use :meth:`fit` or :meth:`from_json`)."""
        self.config = config
        self._vectorizer = vectorizer
        self._terms = terms
        self._authors = authors
        self._categories = categories
        self._author_index = {a: i for i, a in enumerate(authors)}
        self._category_index = {c: i for i, c in enumerate(categories)}

    @classmethod
    def fit(cls, papers: Sequence[Paper], config: FeatureConfig = FeatureConfig()) -> Featurizer:
        """Learn the vocabularies and idf from papers.

        Args:
            papers: The corpus (for a model, every paper of its training window).
            config: Vocabulary sizes, tf scaling and block weights.

        Returns:
            The fitted featurizer.

        Raises:
            ValueError: If there are no papers or no term survives ``min_df``/``max_df``.
        """
        if not papers:
            raise ValueError("cannot fit a featurizer on zero papers")
        vectorizer = _make_vectorizer(config, None)
        try:
            vectorizer.fit([paper_text(p) for p in papers])
        except ValueError as exc:
            raise ValueError(f"no usable terms in the papers: {exc}") from exc
        vocabulary: dict[str, int] = vectorizer.vocabulary_
        terms = [""] * len(vocabulary)
        for term, index in vocabulary.items():
            terms[index] = term
        author_counts = Counter(a for p in papers for a in _clean(p.authors))
        authors = sorted(
            (a for a, n in author_counts.items() if n >= config.min_author_papers),
            key=lambda a: (-author_counts[a], a),
        )[: config.max_authors]
        categories = sorted({c for p in papers for c in _clean(p.categories)})
        # Indices follow sorted names so that the same corpus always gives the same layout.
        return cls(config, vectorizer, terms, sorted(authors), categories)

    @property
    def n_features(self) -> int:
        """Number of columns of :meth:`transform`'s matrices."""
        return len(self._terms) + len(self._authors) + len(self._categories)

    @property
    def feature_names(self) -> list[str]:
        """Column names: ``term:<word>``, then ``author:<name>``, then ``category:<name>``."""
        return (
            [f"term:{t}" for t in self._terms]
            + [f"author:{a}" for a in self._authors]
            + [f"category:{c}" for c in self._categories]
        )

    @property
    def blocks(self) -> dict[str, tuple[int, int]]:
        """Column range ``[start, stop)`` of each block: ``term``, ``author``, ``category``."""
        n_t, n_a = len(self._terms), len(self._authors)
        return {
            "term": (0, n_t),
            "author": (n_t, n_t + n_a),
            "category": (n_t + n_a, self.n_features),
        }

    def transform(self, papers: Sequence[Paper]) -> sp.csr_matrix:
        """Feature rows of papers (see the module docstring for the normalisation).

        Args:
            papers: Any papers, seen at fit time or not.

        Returns:
            A ``float32`` CSR matrix of shape ``(len(papers), n_features)`` with sorted indices.
        """
        cfg = self.config
        if papers:
            text = sp.csr_matrix(self._vectorizer.transform([paper_text(p) for p in papers]))
        else:
            text = sp.csr_matrix((0, len(self._terms)), dtype=np.float32)
        text = text.astype(np.float32) * np.float32(cfg.text_weight)
        authors = _indicator_block([p.authors for p in papers], self._author_index, 1.0)
        categories = _indicator_block([p.categories for p in papers], self._category_index, 1.0)
        matrix = sp.hstack(
            [
                text,
                authors * np.float32(cfg.author_weight),
                categories * np.float32(cfg.category_weight),
            ],
            format="csr",
            dtype=np.float32,
        )
        matrix.eliminate_zeros()
        matrix.sort_indices()
        return sp.csr_matrix(matrix, dtype=np.float32)

    def to_json(self) -> dict[str, Any]:
        """The fitted state as JSON-ready data (config, vocabularies, idf); no pickle."""
        return {
            "format_version": FORMAT_VERSION,
            "config": self.config.to_json(),
            "terms": list(self._terms),
            "idf": [float(x) for x in np.asarray(self._vectorizer.idf_, dtype=np.float64)],
            "authors": list(self._authors),
            "categories": list(self._categories),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Featurizer:
        """Rebuild a featurizer from :meth:`to_json`'s output.

        The vectorizer is reconstructed from the stored vocabulary and idf, so
        :meth:`transform` gives exactly the matrices of the original.

        Raises:
            ValueError: If the data is malformed or of another format version.
        """
        try:
            version = data["format_version"]
            if version != FORMAT_VERSION:
                raise ValueError(f"unsupported featurizer format_version {version!r}")
            config = FeatureConfig.from_json(data["config"])
            terms = [str(t) for t in data["terms"]]
            idf = np.asarray(data["idf"], dtype=np.float64)
            authors = [str(a) for a in data["authors"]]
            categories = [str(c) for c in data["categories"]]
        except (KeyError, TypeError) as exc:
            raise ValueError(f"malformed featurizer data: {exc!r}") from exc
        if idf.shape != (len(terms),) or not np.isfinite(idf).all():
            raise ValueError(f"idf must hold {len(terms)} finite numbers, got shape {idf.shape}")
        if len(set(terms)) != len(terms) or not terms:
            raise ValueError("terms must be a non-empty list of distinct words")
        vectorizer = _make_vectorizer(config, {t: i for i, t in enumerate(terms)})
        vectorizer.idf_ = idf
        return cls(config, vectorizer, terms, authors, categories)
