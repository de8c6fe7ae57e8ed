"""Scoring a day's papers for one reader from a model bundle's arrays: numpy and scipy only.

The model is a blend of two scores, each z-scored over the day's candidates (so their scales
match whatever the day looks like) and mixed with the bundle's ``blend_weight`` ``w``:

    score = (1 - w) * z(cf) + w * z(content)

- ``cf`` -- the hybrid factor model trained by LightFM: a paper's vector is the sum of its
  features' embeddings, ``cf = user_vec . (x @ E) + x @ b``. ``user_vec`` is the trained user
  embedding for a user the model knows (PERSONAL); for anyone else it is folded in from their
  history (FOLD_IN): a ridge regression of "liked" on the paper vectors of the training corpus,
  ``user_vec = G @ (mean of liked papers' vectors - negative_weight * mean of dismissed ones)``
  where ``G = (QᵀQ / n + ridge I)⁻¹`` is exported by training as ``fold_in_matrix``, rescaled
  to the median norm of the trained user vectors (``fold_in_norm``).
- ``content`` -- cosine between the paper's feature row and the reader's profile: the weighted
  mean of the (L2-normalised) rows of the papers they saved or clicked, minus
  ``negative_weight`` times the mean of the dismissed ones. For a user known to the model without
  a history, the profile stored in the bundle (``profile_*`` CSR arrays) is used.

Arrays (all float32 unless noted; ``F`` features, ``k`` components, ``U`` known users):

=====================  ==========  ==========================================================
``feature_embeddings``  (F, k)      ``E``
``feature_biases``      (F,)        ``b``
``user_embeddings``     (U, k)      known users' vectors, rows in ``user_ids`` order (LightFM's,
                                    or folded in from their training papers, see ``training``)
``user_biases``         (U,)        trained user biases (constant per user: no effect on order)
``fold_in_matrix``      (k, k)      ``G`` above
``profile_data``        (nnz,)      content profiles of known users, CSR (U, F) ...
``profile_indices``     (nnz,)      ... int32 column indices
``profile_indptr``      (U + 1,)    ... int64 row pointers
=====================  ==========  ==========================================================

Params: ``format`` (``"papersift-hybrid-1"``), ``n_features``, ``n_components``,
``blend_weight`` (in [0, 1]), ``negative_weight`` (>= 0), ``fold_in_norm`` (>= 0); other keys
(e.g. the training ``config``) are kept but not used.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

FORMAT = "papersift-hybrid-1"
"""The ``params["format"]`` this module scores."""

ARRAY_SHAPES: dict[str, tuple[str, ...]] = {
    "feature_embeddings": ("F", "k"),
    "feature_biases": ("F",),
    "user_embeddings": ("U", "k"),
    "user_biases": ("U",),
    "fold_in_matrix": ("k", "k"),
    "profile_data": ("nnz",),
    "profile_indices": ("nnz",),
    "profile_indptr": ("U+1",),
}
"""Every array a bundle must hold, with its symbolic shape."""

_EPS = 1e-12

DISMISS_PENALTY = 2.0
"""Score units (about standard deviations of the blend) taken off a paper identical to a dismissed
one; less in proportion to its cosine with the closest dismissed paper."""


@dataclass(frozen=True)
class UserHistory:
    """What a reader did, as feature rows (built by the server from the store per request).

    Attributes:
        positive: Feature rows (``Featurizer.transform``) of papers the user saved or clicked.
        positive_weights: One non-negative weight per positive row (saves weigh more than clicks).
        negative: Feature rows of papers the user dismissed (may have 0 rows).
    """

    positive: sp.csr_matrix
    positive_weights: np.ndarray
    negative: sp.csr_matrix

    @classmethod
    def empty(cls, n_features: int) -> UserHistory:
        """A history with no papers at all."""
        none = sp.csr_matrix((0, n_features), dtype=np.float32)
        return cls(none, np.zeros(0, dtype=np.float32), none)

    @property
    def has_signal(self) -> bool:
        """Whether there is at least one positive paper with a weight above zero."""
        return self.positive.shape[0] > 0 and bool(np.any(self.positive_weights > 0))


@dataclass(frozen=True)
class UserModel:
    """One reader as scoring sees them, built per request by :meth:`Scorer.user_model`.

    Attributes:
        vector: ``(k,)`` the reader's vector in the factor model (trained or folded in).
        profile: ``(F,)`` dense content profile (weighted mean of liked rows minus dismissed).
        dismissed: ``(d, F)`` CSR, the L2-normalised rows of the papers the reader dismissed.
    """

    vector: np.ndarray
    profile: np.ndarray
    dismissed: sp.csr_matrix


@dataclass(frozen=True)
class PreparedItems:
    """A day's candidates turned into what scoring needs; computed once per (model, day).

    Attributes:
        n_items: Number of candidate papers.
        vectors: ``(n, k)`` paper vectors ``X @ E``.
        biases: ``(n,)`` paper biases ``X @ b``.
        content: ``(n, F)`` CSR of the L2-normalised feature rows (for the content cosine).
        raw: ``(n, F)`` CSR of the feature rows as given, with the same sparsity as ``content``.
        exact: ``vectors``, ``biases`` and ``content`` in float64, which scoring sums in (see
            :meth:`Scorer.score_users`).
    """

    n_items: int
    vectors: np.ndarray
    biases: np.ndarray
    content: sp.csr_matrix
    raw: sp.csr_matrix
    exact: _Exact = field(repr=False)


@dataclass(frozen=True)
class _Exact:
    """The float64 copies of a day's prepared arrays (index arrays shared with the float32 CSR)."""

    vectors: np.ndarray
    biases: np.ndarray
    content: sp.csr_matrix

    @classmethod
    def of(cls, vectors: np.ndarray, biases: np.ndarray, content: sp.csr_matrix) -> _Exact:
        data = content.data.astype(np.float64)
        exact = sp.csr_matrix((data, content.indices, content.indptr), shape=content.shape)
        return cls(
            vectors=np.ascontiguousarray(vectors, dtype=np.float64),
            biases=biases.astype(np.float64),
            content=exact,
        )


def normalize_rows(m: sp.csr_matrix) -> sp.csr_matrix:
    """A float32 CSR copy of ``m`` with every non-zero row scaled to unit length."""
    m = sp.csr_matrix(m, dtype=np.float32, copy=True)
    norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1), dtype=np.float64).ravel())
    scale = np.where(norms > 0, 1.0 / np.maximum(norms, _EPS), 0.0).astype(np.float32)
    m.data *= np.repeat(scale, np.diff(m.indptr))
    return m


def _inverse_std(s: np.ndarray) -> float:
    """``1 / std`` of a score over the day's candidates; 0 when they are all equal."""
    std = float(s.std())
    if not np.isfinite(std) or std < 1e-9:
        return 0.0
    return 1.0 / std


class Scorer:
    """Scores candidate papers for readers from a model bundle's arrays and params.

    Attributes:
        arrays: The bundle's arrays (see the module docstring).
        params: The bundle's scalar parameters.
        user_ids: Ids of the users the model was trained on, in ``user_embeddings`` row order.
        n_features: Number of feature columns the model expects.
    """

    def __init__(
        self,
        arrays: Mapping[str, np.ndarray],
        params: Mapping[str, Any],
        user_ids: Sequence[str],
    ) -> None:
        """Wrap a bundle's contents; call :meth:`validate` before trusting them."""
        self.arrays: dict[str, np.ndarray] = dict(arrays)
        self.params: dict[str, Any] = dict(params)
        self.user_ids: list[str] = list(user_ids)
        self._user_index = {u: i for i, u in enumerate(self.user_ids)}
        raw = self.params.get("n_features")
        embeddings = self.arrays.get("feature_embeddings")
        if isinstance(raw, int) and not isinstance(raw, bool):
            self.n_features: int = raw
        elif embeddings is not None and embeddings.ndim == 2:
            self.n_features = int(embeddings.shape[0])
        else:
            self.n_features = 0
        self._profiles: sp.csr_matrix | None = None

    # -- checks -------------------------------------------------------------------------------

    def validate(self) -> None:
        """Check that arrays and params are complete, consistent and finite.

        Raises:
            ValueError: Naming the first array or parameter that is wrong.
        """
        if self.params.get("format") != FORMAT:
            raise ValueError(f"params.format must be {FORMAT!r}, got {self.params.get('format')!r}")
        missing = sorted(set(ARRAY_SHAPES) - set(self.arrays))
        if missing:
            raise ValueError(f"missing arrays: {', '.join(missing)}")
        k = self.params.get("n_components")
        if not isinstance(k, int) or isinstance(k, bool) or k < 1:
            raise ValueError(f"params.n_components must be a positive int, got {k!r}")
        n_features = self.params.get("n_features")
        if not isinstance(n_features, int) or isinstance(n_features, bool) or n_features < 1:
            raise ValueError(f"params.n_features must be a positive int, got {n_features!r}")
        for name in ("blend_weight", "negative_weight", "fold_in_norm"):
            value = self.params.get(name)
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise ValueError(f"params.{name} must be a number, got {value!r}")
            if not np.isfinite(value) or value < 0:
                raise ValueError(f"params.{name} must be finite and >= 0, got {value}")
        if self.params["blend_weight"] > 1:
            raise ValueError(f"params.blend_weight must be <= 1, got {self.params['blend_weight']}")
        if len(set(self.user_ids)) != len(self.user_ids):
            raise ValueError("user_ids contains duplicates")
        nnz = self.arrays["profile_data"].shape[0] if self.arrays["profile_data"].ndim else -1
        sizes = {"F": self.n_features, "k": k, "U": len(self.user_ids), "nnz": nnz}
        sizes["U+1"] = sizes["U"] + 1
        for name, dims in ARRAY_SHAPES.items():
            array = self.arrays[name]
            expected = tuple(sizes[d] for d in dims)
            if array.shape != expected:
                raise ValueError(f"array {name} has shape {array.shape}, expected {expected}")
            kind = "i" if name in ("profile_indices", "profile_indptr") else "f"
            if array.dtype.kind != kind:
                raise ValueError(f"array {name} has dtype {array.dtype}, expected kind {kind!r}")
            if kind == "f" and not np.isfinite(array).all():
                raise ValueError(f"array {name} contains NaN or infinite values")
        indptr = self.arrays["profile_indptr"]
        indices = self.arrays["profile_indices"]
        if indptr[0] != 0 or indptr[-1] != nnz or np.any(np.diff(indptr) < 0):
            raise ValueError("array profile_indptr is not a valid CSR row pointer")
        if indices.size and (indices.min() < 0 or indices.max() >= self.n_features):
            raise ValueError("array profile_indices has column indices out of range")

    # -- items --------------------------------------------------------------------------------

    def prepare_items(self, features: sp.csr_matrix) -> PreparedItems:
        """Precompute the candidates' vectors, biases and normalised rows.

        Args:
            features: ``(n, n_features)`` rows from the bundle's featurizer.

        Raises:
            ValueError: If the feature matrix has the wrong number of columns.
        """
        if features.ndim != 2 or features.shape[1] != self.n_features:
            raise ValueError(
                f"features have shape {features.shape}, expected (n, {self.n_features})"
            )
        x = sp.csr_matrix(features, dtype=np.float32)
        vectors = np.ascontiguousarray(x @ self.arrays["feature_embeddings"], dtype=np.float32)
        biases = np.asarray(x @ self.arrays["feature_biases"], dtype=np.float32).ravel()
        content = normalize_rows(x)
        return PreparedItems(
            n_items=x.shape[0],
            vectors=vectors,
            biases=biases,
            content=content,
            raw=x,
            exact=_Exact.of(vectors, biases, content),
        )

    # -- users --------------------------------------------------------------------------------

    def has_user(self, user_id: str) -> bool:
        """Whether the model was trained on this user (PERSONAL strategy)."""
        return user_id in self._user_index

    def _stored_profile(self, row: int) -> sp.csr_matrix:
        if self._profiles is None:
            self._profiles = sp.csr_matrix(
                (
                    self.arrays["profile_data"],
                    self.arrays["profile_indices"],
                    self.arrays["profile_indptr"],
                ),
                shape=(len(self.user_ids), self.n_features),
            )
        return sp.csr_matrix(self._profiles[row], dtype=np.float32)

    def _check_history(self, history: UserHistory) -> np.ndarray:
        """The history's positive weights (float32), after checking its shapes and weights."""
        for name in ("positive", "negative"):
            m = getattr(history, name)
            if m.ndim != 2 or m.shape[1] != self.n_features:
                raise ValueError(f"history.{name} has shape {m.shape}, expected (n, F)")
        weights = np.asarray(history.positive_weights, dtype=np.float32).ravel()
        if weights.shape != (history.positive.shape[0],):
            raise ValueError("history.positive_weights needs one weight per positive row")
        if not np.isfinite(weights).all() or np.any(weights < 0):
            raise ValueError("history.positive_weights must be finite and >= 0")
        return weights

    def _history_profiles(
        self, histories: Sequence[UserHistory], normalized_negatives: sp.csr_matrix
    ) -> sp.csr_matrix:
        """The content profile of each history (one row each, float32), negatives subtracted.

        Each row is the weighted mean of the history's L2-normalised positive rows (each paper
        counts once whatever its length), minus ``negative_weight`` times the mean of its
        normalised dismissed rows (``normalized_negatives``, every history's in order). All
        histories at once: one normalisation and one sparse product for each part; row ``i``
        holds exactly what the history alone gives (each output row sums its own rows, in
        order). Kept sparse: a history touches few features, which makes ``profile @ E``
        cheap.
        """
        weights = [self._check_history(history) for history in histories]
        positive = _stacked([history.positive for history in histories], self.n_features)
        profiles = _block_means(weights, normalize_rows(positive))
        neg_weight = float(self.params["negative_weight"])
        counts = [history.negative.shape[0] for history in histories]
        if neg_weight > 0 and any(counts):
            uniform = [np.ones(count, dtype=np.float32) for count in counts]
            negatives = _block_means(uniform, normalized_negatives)
            profiles = sp.csr_matrix(profiles - neg_weight * negatives, dtype=np.float32)
        return profiles

    def user_model(self, *, user_id: str | None, history: UserHistory | None) -> UserModel | None:
        """What scoring needs of one reader, or ``None`` when nothing personalises the list.

        A user the model knows gets their trained vector (PERSONAL); the content profile comes
        from ``history`` when it has positives, else from the bundle. Anyone else is folded in
        from ``history`` (FOLD_IN). Without a known user and without a positive paper in the
        history the result is ``None`` (dismissals alone are not a profile).
        """
        return self.user_models([(user_id, history)])[0]

    def user_models(
        self, readers: Sequence[tuple[str | None, UserHistory | None]]
    ) -> list[UserModel | None]:
        """:meth:`user_model` of each ``(user_id, history)``, their histories' profiles and
        fold-ins computed together (a few sparse products for them all)."""
        known = [self._user_index.get(uid) if uid is not None else None for uid, _ in readers]
        usable = [history is not None and history.has_signal for _, history in readers]
        histories = [history for _, history in readers if history is not None]
        negatives = normalize_rows(
            _stacked([history.negative for history in histories], self.n_features)
        )
        dismissed_at = np.concatenate(
            [[0], np.cumsum([history.negative.shape[0] for history in histories])]
        ).astype(np.int64)
        profiled = [
            index
            for index, (_, history) in enumerate(readers)
            if usable[index] and history is not None
        ]
        with_history = [index for index, (_, history) in enumerate(readers) if history is not None]
        where = {index: position for position, index in enumerate(with_history)}
        profiled_histories = [histories[where[index]] for index in profiled]
        profiled_negatives = _stacked(
            [_rows(negatives, dismissed_at, where[index]) for index in profiled], self.n_features
        )
        profiles = self._history_profiles(profiled_histories, profiled_negatives)
        row_of = {index: position for position, index in enumerate(profiled)}
        folded = [index for index in profiled if known[index] is None]
        mean_vecs = (
            np.asarray(
                profiles[[row_of[index] for index in folded]] @ self.arrays["feature_embeddings"]
            )
            if folded
            else np.zeros((0, 0), dtype=np.float32)
        )
        fold_row = {index: position for position, index in enumerate(folded)}
        models: list[UserModel | None] = []
        for index, (_, history) in enumerate(readers):
            row = known[index]
            if row is None and not usable[index]:
                models.append(None)
                continue
            if index in row_of:
                profile = _dense_row(profiles, row_of[index], self.n_features)
            else:
                assert row is not None
                stored = self._stored_profile(row)
                profile = np.asarray(stored.todense(), dtype=np.float32).ravel()
            if row is not None:
                user_vec = self.arrays["user_embeddings"][row]
            else:
                # The profile is the (weighted) mean paper row: this is the mean paper vector.
                user_vec = self.arrays["fold_in_matrix"] @ mean_vecs[fold_row[index]]
                # The ridge solution's scale is arbitrary; trained users' typical norm keeps
                # the balance between the dot product and the paper biases as in training.
                norm = float(np.linalg.norm(user_vec))
                if norm > 0:
                    user_vec = user_vec * (float(self.params["fold_in_norm"]) / norm)
            if history is not None and history.negative.shape[0] > 0:
                dismissed = _rows(negatives, dismissed_at, where[index])
            else:
                dismissed = sp.csr_matrix((0, self.n_features), dtype=np.float32)
            models.append(
                UserModel(
                    vector=np.asarray(user_vec, dtype=np.float32),
                    profile=profile,
                    dismissed=dismissed,
                )
            )
        return models

    def score(
        self,
        items: PreparedItems,
        *,
        user_id: str | None,
        history: UserHistory | None,
    ) -> np.ndarray | None:
        """Scores of the prepared candidates for one reader (higher is better).

        :meth:`user_model` then :meth:`score_user`; ``None`` when there is no one to
        personalise for.

        Args:
            items: From :meth:`prepare_items` of this scorer.
            user_id: The reader's id, or None.
            history: The reader's papers as feature rows, or None.

        Returns:
            ``(n_items,)`` float32 scores, or None.
        """
        user = self.user_model(user_id=user_id, history=history)
        return None if user is None else self.score_user(items, user)

    def score_user(self, items: PreparedItems, user: UserModel) -> np.ndarray:
        """Scores of the prepared candidates for a reader's :class:`UserModel`.

        The blend of the module docstring, minus ``DISMISS_PENALTY`` times each paper's largest
        cosine to a paper the reader dismissed: "not this" pushes its near neighbours down
        right away, whatever the model learned. Equal to the reader's row of
        :meth:`score_users`.
        """
        if items.n_items == 0:
            return np.zeros(0, dtype=np.float32)
        closeness = None
        if user.dismissed.shape[0] > 0:
            closeness = (items.content @ user.dismissed.T).max(axis=1)
        return self._blend(self._parts(items, user), closeness)

    def score_users(
        self, items: PreparedItems, users: Sequence[UserModel], *, block: int = 256
    ) -> np.ndarray:
        """``(len(users), n_items)`` float32: row ``i`` is :meth:`score_user` of ``users[i]``.

        ``block`` readers at a time: the factor scores of a block are one matrix product and
        the closeness to dismissed papers another; the content cosines are one sparse
        matrix-vector product per reader (a profile has thousands of features: measured
        faster than one sparse-sparse or dense multi-vector product for the block). Memory
        stays within a few ``block x n_items`` float64 arrays. Both methods sum in float64 and
        round once, to float32, at the end: whatever order a product adds its terms in, the
        rows agree (to the float32 bit, barring a float64 difference that straddles a float32
        rounding boundary, about one score in 10^8).
        """
        if block < 1:
            raise ValueError(f"block must be at least 1, not {block}")
        scores = np.zeros((len(users), items.n_items), dtype=np.float32)
        if items.n_items == 0:
            return scores
        weight = float(self.params["blend_weight"])
        exact = items.exact
        for start in range(0, len(users), block):
            chunk = users[start : start + block]
            vectors = np.stack([user.vector for user in chunk]).astype(np.float64)
            cf = vectors @ exact.vectors.T + exact.biases
            closeness = self._closeness(items, chunk)
            for row, user in enumerate(chunk):
                content = np.asarray(exact.content @ user.profile.astype(np.float64)).ravel()
                near = closeness[row] if closeness is not None else None
                scores[start + row] = self._blend(_parts(cf[row], content, weight), near)
        return scores

    @staticmethod
    def _closeness(items: PreparedItems, users: Sequence[UserModel]) -> list[Any] | None:
        """Per reader with dismissals, each paper's cosines to them; one product for all."""
        dismissed = [user.dismissed for user in users]
        if not any(rows.shape[0] for rows in dismissed):
            return None
        bounds = np.concatenate([[0], np.cumsum([rows.shape[0] for rows in dismissed])])
        cosines = sp.csc_matrix(items.content @ sp.vstack(dismissed, format="csr").T)
        return [
            cosines[:, bounds[i] : bounds[i + 1]].max(axis=1) if bounds[i + 1] > bounds[i] else None
            for i in range(len(users))
        ]

    @staticmethod
    def _blend(parts: _ScoreParts, closeness: Any) -> np.ndarray:
        """The z-scored blend, minus the dismissal penalty (``closeness``: sparse, or None)."""
        blended = parts.cf_weight * (parts.cf - parts.cf_mean) + parts.content_weight * (
            parts.content - parts.content_mean
        )
        if closeness is not None:
            near = np.asarray(closeness.todense(), dtype=np.float64).ravel()
            blended = blended - DISMISS_PENALTY * np.maximum(near, 0.0)
        return np.asarray(blended, dtype=np.float32)

    def feature_contributions(
        self, items: PreparedItems, user: UserModel, rows: Sequence[int], *, top: int = 8
    ) -> list[list[tuple[int, float]]]:
        """The features that raised each of ``rows``' scores most, largest first.

        A feature's contribution is its share of the blended score: its weight in the paper's
        row times (the reader's affinity for it in the factor model, scaled as in the blend)
        plus its weight in the normalised row times the reader's profile weight (likewise).
        Biases are left out: they raise a paper for everyone, so they explain nothing personal.

        Returns:
            Per row, up to ``top`` ``(feature index, contribution)`` pairs with contribution > 0.
        """
        if items.n_items == 0 or not rows:
            return [[] for _ in rows]
        parts = self._parts(items, user)
        affinity = parts.cf_weight * (self.arrays["feature_embeddings"] @ user.vector)
        interest = parts.content_weight * user.profile
        explained: list[list[tuple[int, float]]] = []
        for row in rows:
            start, end = items.raw.indptr[row], items.raw.indptr[row + 1]
            features = items.raw.indices[start:end]
            values = (
                items.raw.data[start:end] * affinity[features]
                + items.content.data[start:end] * interest[features]
            )
            order = np.argsort(-values, kind="stable")[:top]
            explained.append([(int(features[i]), float(values[i])) for i in order if values[i] > 0])
        return explained

    def _parts(self, items: PreparedItems, user: UserModel) -> _ScoreParts:
        exact = items.exact
        cf = exact.vectors @ user.vector.astype(np.float64) + exact.biases
        content = np.asarray(exact.content @ user.profile.astype(np.float64)).ravel()
        return _parts(cf, content, float(self.params["blend_weight"]))


def _parts(cf: np.ndarray, content: np.ndarray, blend_weight: float) -> _ScoreParts:
    """The blend's two scores of one reader (float64) and the z-scoring that mixes them."""
    return _ScoreParts(
        cf=cf,
        cf_mean=float(cf.mean()),
        cf_weight=(1.0 - blend_weight) * _inverse_std(cf),
        content=content,
        content_mean=float(content.mean()),
        content_weight=blend_weight * _inverse_std(content),
    )


@dataclass(frozen=True)
class _ScoreParts:
    """The two scores of the blend and the z-scoring that mixes them: ``weight * (s - mean)``."""

    cf: np.ndarray
    cf_mean: float
    cf_weight: float
    content: np.ndarray
    content_mean: float
    content_weight: float


def _stacked(parts: Sequence[sp.csr_matrix], n_features: int) -> sp.csr_matrix:
    """The rows of ``parts`` one after the other, as one float32 CSR."""
    if not parts:
        return sp.csr_matrix((0, n_features), dtype=np.float32)
    return sp.csr_matrix(sp.vstack(parts, format="csr"), dtype=np.float32)


def _rows(stacked: sp.csr_matrix, bounds: np.ndarray, part: int) -> sp.csr_matrix:
    """Part ``part`` of ``stacked`` (its rows ``bounds[part]`` to ``bounds[part + 1]``)."""
    return sp.csr_matrix(stacked[int(bounds[part]) : int(bounds[part + 1])], dtype=np.float32)


def _block_means(weights: Sequence[np.ndarray], rows: sp.csr_matrix) -> sp.csr_matrix:
    """Row ``i``: the mean of part ``i`` of ``rows`` (``len(weights[i])`` rows each, in order)
    weighted by ``weights[i]`` scaled to sum to 1 (left as they are when they sum to 0)."""
    indptr = [0]
    columns: list[np.ndarray] = []
    values: list[np.ndarray] = []
    start = 0
    for w in weights:
        total = float(w.sum())
        scaled = (w / total if total > 0 else w).astype(np.float32)
        # Zero weights are left out, as a sparse row of the weights leaves them out.
        keep = np.flatnonzero(scaled)
        columns.append(start + keep)
        values.append(scaled[keep])
        indptr.append(indptr[-1] + len(keep))
        start += len(w)
    matrix = sp.csr_matrix(
        (
            np.concatenate(values) if values else np.zeros(0, dtype=np.float32),
            np.concatenate(columns) if columns else np.zeros(0, dtype=np.int64),
            np.asarray(indptr, dtype=np.int64),
        ),
        shape=(len(weights), rows.shape[0]),
    )
    means = sp.csr_matrix(matrix @ rows, dtype=np.float32)
    # Sorted columns whatever else is in the block: later products (``profile @ E``) then add
    # a row's terms in one order, alone or among others.
    means.sort_indices()
    return means


def _dense_row(matrix: sp.csr_matrix, row: int, width: int) -> np.ndarray:
    """Row ``row`` of a CSR without repeated columns, as a dense float32 vector."""
    start, end = matrix.indptr[row], matrix.indptr[row + 1]
    dense = np.zeros(width, dtype=np.float32)
    dense[matrix.indices[start:end]] = matrix.data[start:end]
    return dense
