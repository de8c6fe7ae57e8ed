"""citeulike-t as papersift sees it: papers, user libraries and the item cold-start protocol.

The dataset ships no raw text, only bags of words (``mult.dat`` over ``vocabulary.dat``), so each
paper's text is rebuilt by repeating every word by its count. That text goes into
``Paper.abstract`` (the title is empty: there is none to rebuild) so that papersift's own
``Featurizer`` sees it exactly as it would see a real abstract.

The protocol is the one in ``shared/data/README.md``: a seeded permutation of the paper ids split
into folds; a fold's papers lose all their interactions and become the candidates; the model is
trained on the rest; users with at least one held-out and one training paper are evaluated.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from papersift.core.types import Paper, PaperId

__all__ = [
    "PAPER_DATE",
    "Citeulike",
    "FoldSplit",
    "InMatrixSplit",
    "cold_start_folds",
    "fold_split",
    "load_citeulike",
    "load_in_matrix_split",
    "paper_id",
    "read_id_lists",
    "user_item_matrix",
]

IntArray = npt.NDArray[np.int64]

#: citeulike-t has no listing dates; every paper gets this one.
PAPER_DATE = dt.date(2013, 1, 1)


def paper_id(index: int) -> PaperId:
    """The papersift id of citeulike-t paper ``index`` (its 0-based line in ``mult.dat``)."""
    return PaperId(f"citeulike-t:{index}")


@dataclass(frozen=True)
class Citeulike:
    """The whole dataset: paper ``i`` is ``papers[i]`` and column ``i`` of ``user_items``."""

    papers: list[Paper]
    #: users x papers, binary (1.0 where the paper is in the user's library), CSR.
    user_items: sp.csr_matrix
    #: word id → word, as in ``vocabulary.dat``.
    vocabulary: list[str]

    @property
    def n_users(self) -> int:
        """Number of users (rows of ``user_items``)."""
        return int(self.user_items.shape[0])

    @property
    def n_papers(self) -> int:
        """Number of papers (columns of ``user_items``)."""
        return len(self.papers)


@dataclass(frozen=True)
class FoldSplit:
    """One item cold-start fold.

    Column ``j`` of ``train_matrix`` is paper ``train_items[j]``; column ``j`` of
    ``test_matrix`` is paper ``test_items[j]``. Rows are all the dataset's users, in order.
    """

    #: Papers that keep their interactions, ascending.
    train_items: IntArray
    #: The fold's papers (the candidates), ascending; they have no training interactions.
    test_items: IntArray
    #: users x train_items, binary CSR.
    train_matrix: sp.csr_matrix
    #: users x test_items, binary CSR: the held-out interactions (the relevance).
    test_matrix: sp.csr_matrix
    #: Users with at least one held-out and one training paper, ascending.
    eval_users: IntArray


@dataclass(frozen=True)
class InMatrixSplit:
    """A fixed in-matrix split (CDL/CVAE ``cf-train-P``/``cf-test-P``): all papers are items.

    Both matrices are users x papers; a user's training papers must be masked from their
    ranking, and their test papers are the relevance.
    """

    train_matrix: sp.csr_matrix
    test_matrix: sp.csr_matrix
    #: Users with at least one test and one training paper, ascending.
    eval_users: IntArray


def read_id_lists(path: Path) -> list[list[int]]:
    """Read a ``count id id ...`` file (``users.dat`` and the CVAE splits), one list per line.

    Raises ``ValueError`` naming the file and line when a count does not match its ids.
    """
    lists: list[list[int]] = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            fields = line.split()
            if not fields:
                lists.append([])
                continue
            ids = [int(field) for field in fields[1:]]
            if int(fields[0]) != len(ids):
                raise ValueError(
                    f"{path}:{number}: the line starts with count {fields[0]} "
                    f"but lists {len(ids)} ids"
                )
            lists.append(ids)
    return lists


def user_item_matrix(lists: Sequence[Sequence[int]], n_items: int) -> sp.csr_matrix:
    """A binary users x ``n_items`` CSR matrix from one list of item ids per user."""
    lengths = np.fromiter((len(items) for items in lists), dtype=np.int64, count=len(lists))
    indptr = np.concatenate([[0], np.cumsum(lengths)])
    indices = np.fromiter(
        (item for items in lists for item in items), dtype=np.int64, count=int(indptr[-1])
    )
    if indices.size and (indices.min() < 0 or indices.max() >= n_items):
        raise ValueError(
            f"item ids must be in [0, {n_items}); got {indices.min()}..{indices.max()}"
        )
    data = np.ones(indices.size, dtype=np.float32)
    matrix = sp.csr_matrix((data, indices, indptr), shape=(len(lists), n_items))
    # A repeated id in a library is still one interaction.
    matrix.sum_duplicates()
    matrix.data[:] = 1.0
    matrix.sort_indices()
    return matrix


def _paper_texts(path: Path, vocabulary: Sequence[str]) -> list[str]:
    texts: list[str] = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            fields = line.split()
            if not fields:
                raise ValueError(f"{path}:{number}: blank line (every paper needs a count)")
            words: list[str] = []
            for field in fields[1:]:
                word_id, _, count = field.partition(":")
                try:
                    word = vocabulary[int(word_id)]
                except IndexError:
                    raise ValueError(
                        f"{path}:{number}: word id {word_id} is not in the vocabulary "
                        f"({len(vocabulary)} words)"
                    ) from None
                words.extend([word] * int(count))
            if int(fields[0]) != len(fields) - 1:
                raise ValueError(
                    f"{path}:{number}: the line starts with count {fields[0]} "
                    f"but lists {len(fields) - 1} words"
                )
            texts.append(" ".join(words))
    return texts


def load_citeulike(data_dir: Path) -> Citeulike:
    """Load a citeulike-format directory (``users.dat``, ``mult.dat``, ``vocabulary.dat``).

    Paper ``i`` gets id ``citeulike-t:i``, an empty title, the rebuilt bag of words as its
    abstract and :data:`PAPER_DATE` as its date.
    """
    vocabulary = (data_dir / "vocabulary.dat").read_text(encoding="utf-8").splitlines()
    texts = _paper_texts(data_dir / "mult.dat", vocabulary)
    papers = [
        Paper(paper_id=paper_id(index), title="", date=PAPER_DATE, abstract=text)
        for index, text in enumerate(texts)
    ]
    user_items = user_item_matrix(read_id_lists(data_dir / "users.dat"), len(papers))
    return Citeulike(papers=papers, user_items=user_items, vocabulary=vocabulary)


def cold_start_folds(n_papers: int, n_folds: int = 5, seed: int = 0) -> list[IntArray]:
    """The protocol's folds: ``array_split`` of ``default_rng(seed).permutation(n_papers)``."""
    if n_folds < 2 or n_folds > n_papers:
        raise ValueError(f"n_folds must be in [2, {n_papers}] for {n_papers} papers; got {n_folds}")
    permutation = np.random.default_rng(seed).permutation(n_papers).astype(np.int64)
    return list(np.array_split(permutation, n_folds))


def _users_with_both(train: sp.csr_matrix, test: sp.csr_matrix) -> IntArray:
    has_train = np.diff(train.indptr) > 0
    has_test = np.diff(test.indptr) > 0
    return np.flatnonzero(has_train & has_test).astype(np.int64)


def fold_split(data: Citeulike, fold_items: npt.ArrayLike) -> FoldSplit:
    """Split ``data`` for one cold-start fold whose papers are ``fold_items``."""
    test_items = np.unique(np.asarray(fold_items, dtype=np.int64))
    if test_items.size != np.size(fold_items):
        raise ValueError("fold_items has repeated paper ids")
    if test_items.size and (test_items[0] < 0 or test_items[-1] >= data.n_papers):
        raise ValueError(f"fold_items must be paper ids in [0, {data.n_papers})")
    in_fold = np.zeros(data.n_papers, dtype=bool)
    in_fold[test_items] = True
    train_items = np.flatnonzero(~in_fold).astype(np.int64)
    train_matrix = sp.csr_matrix(data.user_items[:, train_items])
    test_matrix = sp.csr_matrix(data.user_items[:, test_items])
    return FoldSplit(
        train_items=train_items,
        test_items=test_items,
        train_matrix=train_matrix,
        test_matrix=test_matrix,
        eval_users=_users_with_both(train_matrix, test_matrix),
    )


def load_in_matrix_split(data_dir: Path, n_papers: int, p: int = 10) -> InMatrixSplit:
    """Load the fixed CDL/CVAE split ``cvae-splits/cf-{train,test}-{p}-users.dat``."""
    folder = data_dir / "cvae-splits"
    train = user_item_matrix(read_id_lists(folder / f"cf-train-{p}-users.dat"), n_papers)
    test = user_item_matrix(read_id_lists(folder / f"cf-test-{p}-users.dat"), n_papers)
    if train.shape != test.shape:
        raise ValueError(f"{folder}: train has {train.shape[0]} users but test {test.shape[0]}")
    return InMatrixSplit(
        train_matrix=train, test_matrix=test, eval_users=_users_with_both(train, test)
    )
