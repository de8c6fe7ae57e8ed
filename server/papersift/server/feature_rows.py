"""Feature rows of papers kept across requests, so a reader's history is featurized once.

A reader's list is scored from the feature rows of the papers they liked and dismissed; most of
those papers were in their history at the previous miss too. Rows are kept per (model version,
paper), least recently used dropped first, within a budget of bytes. The key holds the whole
paper, not just its id: a paper whose title or abstract was corrected gets new rows.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from papersift.core.bundle import ModelBundle
from papersift.core.types import Paper

DEFAULT_MAX_BYTES = 32 * 1024 * 1024
"""Default budget: about 10,000 papers' rows (a row and its key take a few kB)."""

ENTRY_OVERHEAD = 400
"""Bytes counted per entry on top of its arrays and strings: the two array objects, the key
tuple, the paper object and the map's slot (an estimate; CPython gives no exact figure)."""

_Key = tuple[str, Paper]


class _Row:
    """One paper's feature row: its column indices and values (sorted by column)."""

    __slots__ = ("data", "indices", "nbytes")

    def __init__(self, indices: np.ndarray, data: np.ndarray, key_bytes: int) -> None:
        self.indices = indices
        self.data = data
        self.nbytes = indices.nbytes + data.nbytes + key_bytes + ENTRY_OVERHEAD


def _paper_bytes(paper: Paper) -> int:
    texts = (paper.paper_id, paper.title, paper.abstract, paper.url, paper.source)
    return sum(map(len, texts)) + sum(map(len, paper.authors)) + sum(map(len, paper.categories))


class FeatureRowCache:
    """``model.featurizer.transform(papers)``, from rows kept per (model version, paper).

    Safe to share between threads: the map is changed under a lock; featurizing happens
    outside it (two threads missing the same paper both featurize it; one row is kept).
    """

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        """Keep at most ``max_bytes`` of rows (0 keeps none)."""
        if max_bytes < 0:
            raise ValueError(f"max_bytes must be >= 0, got {max_bytes}")
        self._max_bytes = max_bytes
        self._rows: OrderedDict[_Key, _Row] = OrderedDict()
        self._nbytes = 0
        self._lock = threading.Lock()

    @property
    def nbytes(self) -> int:
        """Bytes counted for the rows kept now (never above ``max_bytes``)."""
        return self._nbytes

    @property
    def max_bytes(self) -> int:
        """The budget."""
        return self._max_bytes

    def __len__(self) -> int:
        return len(self._rows)

    def transform(self, model: ModelBundle, papers: Sequence[Paper]) -> sp.csr_matrix:
        """Feature rows of ``papers`` in order, equal to ``model.featurizer.transform``'s.

        Only papers without kept rows are featurized (in one call); their rows are kept.
        A paper's row does not depend on the other papers of the call (TF-IDF, author and
        category blocks are all per row), which is what makes rows reusable.
        """
        n_features = model.featurizer.n_features
        if not papers:
            return sp.csr_matrix((0, n_features), dtype=np.float32)
        keys = [(model.version, paper) for paper in papers]
        found: dict[int, _Row] = {}
        with self._lock:
            for position, key in enumerate(keys):
                row = self._rows.get(key)
                if row is not None:
                    self._rows.move_to_end(key)
                    found[position] = row
        missing = [position for position in range(len(papers)) if position not in found]
        if missing:
            fresh = model.featurizer.transform([papers[position] for position in missing])
            for offset, position in enumerate(missing):
                start, end = fresh.indptr[offset], fresh.indptr[offset + 1]
                # Copies: a slice would keep the whole batch's arrays alive.
                found[position] = _Row(
                    fresh.indices[start:end].copy(),
                    fresh.data[start:end].copy(),
                    _paper_bytes(papers[position]),
                )
            self._keep([(keys[position], found[position]) for position in missing])
        rows = [found[position] for position in range(len(papers))]
        lengths = np.fromiter((len(row.indices) for row in rows), dtype=np.int64, count=len(rows))
        indptr = np.zeros(len(rows) + 1, dtype=np.int32)
        np.cumsum(lengths, out=indptr[1:])
        indices = np.concatenate([row.indices for row in rows]).astype(np.int32, copy=False)
        data = np.concatenate([row.data for row in rows]).astype(np.float32, copy=False)
        return sp.csr_matrix((data, indices, indptr), shape=(len(rows), n_features))

    def _keep(self, entries: Sequence[tuple[_Key, _Row]]) -> None:
        with self._lock:
            for key, row in entries:
                if row.nbytes > self._max_bytes:
                    continue
                previous = self._rows.pop(key, None)
                if previous is not None:
                    self._nbytes -= previous.nbytes
                self._rows[key] = row
                self._nbytes += row.nbytes
            while self._nbytes > self._max_bytes:
                _, dropped = self._rows.popitem(last=False)
                self._nbytes -= dropped.nbytes
