"""Personal lists before any training: a content model fitted on the papers in the store.

A freshly deployed server has no model bundle, yet a reader who saved three papers a minute ago
should not get the same list as everyone else. :class:`ContentState` keeps, in the background:

- a **content model** while no trained bundle is loaded: a featurizer (TF-IDF of words and
  two-word phrases, authors, categories) fitted on the latest papers of the store, wrapped in a
  bundle whose factor part is empty and whose blend weight is 1. Ranking with it goes through
  the very scorer a trained model uses, so the ``CONTENT`` list is the cosine between each
  paper's features and the reader's profile (the weighted mean of the papers they saved or
  clicked, minus what they dismissed), with the same dismissal penalty and explanations;
- the **community's taste**: the papers readers saved or clicked most, over all days. An
  untouched day's ``POPULAR`` list ranks by similarity to them (``popular.py``).

Both are refreshed when papers or interactions arrive (debounced; the community at most once
per ``community_age``) and at least every ``interval`` seconds, one refresh at a time; requests
never wait for one. Their versions are part of the cache keys, so a refresh never serves a
stale list.

The featurizer is fitted in a child process: fitting holds the interpreter for seconds.
Measured while the shared quarter was ingested, a cached RankPapers had p99 27 ms and a worst
call of 1.7 s with the fit in a thread; with the child process, p99 under 10 ms and a worst call
of 120 to 180 ms (45 to 90 ms with no content model at all; ``make bench-content-refit``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
import multiprocessing
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from papersift.core.bundle import Manifest, ModelBundle
from papersift.core.features import FeatureConfig, Featurizer
from papersift.core.scoring import FORMAT, Scorer
from papersift.core.store import Store
from papersift.core.types import Paper, PaperId

logger = logging.getLogger(__name__)

CONTENT_FEATURES = FeatureConfig(ngram_max=2, max_terms=50_000, min_df=2, max_df=0.5)
"""How the content model turns papers into features: words and two-word phrases."""
MAX_FIT_PAPERS = 20_000
"""The content model is fitted on at most this many of the store's latest papers, which bounds
the time and memory of one refit (the shared quarter's 14,818 papers on 2 cores: 6 s on a quiet
machine, 8 to 18 s under load; ``make bench-content-refit``)."""
MAX_COMMUNITY_PAPERS = 2_000
"""The community's taste is the mean of at most this many of the most liked papers."""
NEGATIVE_WEIGHT = 0.5
"""How strongly a dismissed paper pushes a content profile away (as training's default)."""
CONTENT_PREFIX = "content-"
"""Versions of content models start with this; trained bundles' never do."""


@dataclass(frozen=True)
class Community:
    """What readers liked, over all days: the most liked papers and how many readers each.

    ``version`` is a digest of the papers and counts, so every worker that loads the same likes
    gives the same version; ranking keys ``POPULAR`` lists by it.
    """

    version: str
    papers: tuple[Paper, ...]
    readers: np.ndarray

    @property
    def empty(self) -> bool:
        """Whether nobody has clicked or saved anything yet."""
        return not self.papers

    def profile(self, featurizer: Featurizer) -> sp.csr_matrix:
        """The ``1 x F`` L2-normalised mean row of the liked papers, weighted by readers."""
        if self.empty:
            return sp.csr_matrix((1, featurizer.n_features), dtype=np.float32)
        rows = featurizer.transform(list(self.papers))
        norms = np.sqrt(np.asarray(rows.multiply(rows).sum(axis=1)).ravel())
        weights = self.readers / np.maximum(norms, 1e-12)
        mean = sp.csr_matrix(weights[None, :].astype(np.float32)) @ rows
        norm = float(np.sqrt(mean.multiply(mean).sum()))
        return sp.csr_matrix(mean / norm if norm > 0 else mean, dtype=np.float32)


NO_COMMUNITY = Community(version="0", papers=(), readers=np.zeros(0, dtype=np.float32))
_FAILURES_BEFORE_THREAD = 2
"""Deaths of the child process in a row after which featurizers are fitted in a thread."""


def digest_of(parts: list[str]) -> str:
    """A short stable digest of ``parts`` (versions of what was fitted or loaded)."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode("utf-8", "surrogatepass"))
        digest.update(b"\x00")
    return digest.hexdigest()[:16]


def _paper_digest(papers: list[Paper]) -> str:
    return digest_of(
        [
            f"{p.paper_id}\x01{p.date}\x01{p.title}\x01{p.abstract}\x01"
            f"{chr(2).join(p.authors)}\x01{chr(2).join(p.categories)}"
            for p in papers
        ]
    )


def fit_featurizer(papers: list[Paper]) -> dict[str, Any]:
    """The content featurizer fitted on ``papers``, as JSON data (it crosses a process boundary).

    Raises:
        ValueError: When the papers hold no usable terms.
    """
    return Featurizer.fit(papers, CONTENT_FEATURES).to_json()


def content_bundle(
    papers: list[Paper],
    version: str,
    now: dt.datetime,
    featurizer_json: Mapping[str, Any] | None = None,
) -> ModelBundle:
    """A bundle that ranks by content alone, its featurizer fitted on ``papers``.

    The factor part is all zeros (one component), so in the blend only the content cosine
    varies; nobody is a known reader, so every reader with a like is folded in.

    Args:
        papers: The papers the featurizer is fitted on (they also date the bundle).
        version: The bundle's version (see :data:`CONTENT_PREFIX`).
        now: When it was made.
        featurizer_json: The featurizer already fitted on ``papers`` (:func:`fit_featurizer`);
            ``None`` fits it here.

    Raises:
        ValueError: When the papers hold no usable terms.
    """
    featurizer = Featurizer.from_json(featurizer_json or fit_featurizer(papers))
    n = featurizer.n_features
    arrays: dict[str, np.ndarray] = {
        "feature_embeddings": np.zeros((n, 1), dtype=np.float32),
        "feature_biases": np.zeros(n, dtype=np.float32),
        "user_embeddings": np.zeros((0, 1), dtype=np.float32),
        "user_biases": np.zeros(0, dtype=np.float32),
        "fold_in_matrix": np.zeros((1, 1), dtype=np.float32),
        "profile_data": np.zeros(0, dtype=np.float32),
        "profile_indices": np.zeros(0, dtype=np.int32),
        "profile_indptr": np.zeros(1, dtype=np.int64),
    }
    params = {
        "format": FORMAT,
        "n_features": n,
        "n_components": 1,
        "blend_weight": 1.0,
        "negative_weight": NEGATIVE_WEIGHT,
        "fold_in_norm": 0.0,
    }
    scorer = Scorer(arrays, params, [])
    scorer.validate()
    days = [paper.date for paper in papers]
    manifest = Manifest(
        version=version,
        created_at=now,
        trained_at=now,
        data_start=min(days),
        data_end=max(days),
        params={"strategy": "content", "papers": len(papers)},
    )
    return ModelBundle(manifest, featurizer, scorer, Path(f"<{version}>"))


def is_content_model(model: ModelBundle | None) -> bool:
    """Whether ``model`` is a content model of :func:`content_bundle` (not a trained one)."""
    return model is not None and model.version.startswith(CONTENT_PREFIX)


class ContentState:
    """The content model and the community's taste, kept current in the background."""

    def __init__(
        self,
        store: Store,
        trained: Callable[[], ModelBundle | None],
        *,
        settle: float = 0.5,
        community_age: float = 60.0,
    ) -> None:
        """Refresh from ``store``; ``trained`` says whether a trained model is loaded (then no
        content model is fitted). ``settle``: seconds of quiet awaited after a change;
        ``community_age``: seconds the community's taste is kept before likes reload it (it
        moves slowly, and reloading reads every like in the store)."""
        self._store = store
        self._trained = trained
        self._settle = settle
        self._community_age = community_age
        self._community_loaded = -float("inf")
        self.model: ModelBundle | None = None
        self.community: Community = NO_COMMUNITY
        self._fitted_rev: int | None = None
        self._liked_rev: int | None = None
        self._changed = asyncio.Event()
        self._lock = asyncio.Lock()
        self._fitter: ProcessPoolExecutor | None = None
        self._child_failures = 0
        self._closed = False

    def close(self) -> None:
        """End the child process that fits featurizers at once (a refit under way is lost)."""
        self._closed = True
        self._stop_fitter()

    def _stop_fitter(self) -> None:
        if self._fitter is not None:
            # shutdown() alone lets a refit run to its end, and the interpreter waits for it at
            # exit: a stopping server would outlive its grace period by a whole fit.
            for process in list(getattr(self._fitter, "_processes", {}).values()):
                process.terminate()
            self._fitter.shutdown(wait=False, cancel_futures=True)
            self._fitter = None

    def changed(self) -> None:
        """Say that papers or interactions arrived: a refresh follows shortly."""
        self._changed.set()

    async def refresh(self) -> None:
        """Refit the content model if papers changed, reload the community if likes changed."""
        async with self._lock:
            papers_rev, activity_rev = await asyncio.to_thread(self._store.global_revisions)
            if self._trained() is not None:
                self.model = None  # a trained model ranks now: free the content model
            elif papers_rev != self._fitted_rev and papers_rev > 0:
                await self._refit(papers_rev)
            now = time.monotonic()
            stale = now - self._community_loaded >= self._community_age or self.community.empty
            if activity_rev != self._liked_rev and stale:
                self.community = await asyncio.to_thread(self._load_community)
                self._liked_rev = activity_rev
                self._community_loaded = now

    async def _refit(self, papers_rev: int) -> None:
        started = time.perf_counter()
        papers = await asyncio.to_thread(self._store.latest_papers, MAX_FIT_PAPERS)
        # Named by what it is fitted on: the same papers give the same version on every
        # worker (so they share cached lists), and a change outside them costs no refit.
        version = f"{CONTENT_PREFIX}{await asyncio.to_thread(_paper_digest, papers)}"
        if self.model is not None and self.model.version == version:
            self._fitted_rev = papers_rev
            return
        try:
            fitted = await self._fit(papers)
            model = await asyncio.to_thread(
                content_bundle, papers, version, dt.datetime.now(dt.UTC), fitted
            )
        except ValueError as exc:  # e.g. a single paper: no term is in two documents
            logger.info("no content model from %d papers yet: %s", len(papers), exc)
            self._fitted_rev = papers_rev
            return
        self.model = model
        self._fitted_rev = papers_rev
        logger.info(
            "content model %s fitted on %d papers (%d features) in %.1f s",
            version,
            len(papers),
            model.featurizer.n_features,
            time.perf_counter() - started,
        )

    async def _fit(self, papers: list[Paper]) -> dict[str, Any]:
        """The featurizer's JSON, fitted in a child process (in a thread if children keep
        dying).

        Raises:
            asyncio.CancelledError: When :meth:`close` ended the fit.
        """
        if self._child_failures >= _FAILURES_BEFORE_THREAD:
            return await asyncio.to_thread(fit_featurizer, papers)
        if self._fitter is None:
            # Spawned, not forked: a fork of a process running gRPC threads is not safe. One
            # fit per child, so a child's memory goes back when its fit is done.
            self._fitter = ProcessPoolExecutor(
                1, mp_context=multiprocessing.get_context("spawn"), max_tasks_per_child=1
            )
        try:
            fitted = await asyncio.get_running_loop().run_in_executor(
                self._fitter, fit_featurizer, papers
            )
        except BrokenProcessPool:
            if self._closed:
                raise asyncio.CancelledError from None
            # The child died: out of memory, or a host program whose main module runs code
            # on import (a spawned child imports it, every time). A slower refit beats none.
            self._stop_fitter()
            self._child_failures += 1
            if self._child_failures < _FAILURES_BEFORE_THREAD:
                raise
            logger.warning(
                "the content model's child process died %d times in a row; fitting in a "
                "thread from now on (requests may slow down during a refit)",
                self._child_failures,
            )
            return await asyncio.to_thread(fit_featurizer, papers)
        self._child_failures = 0
        return fitted

    def _load_community(self) -> Community:
        readers = self._store.liked_counts(MAX_COMMUNITY_PAPERS)
        papers = self._store.get_papers(list(readers))
        kept: list[PaperId] = [paper_id for paper_id in readers if paper_id in papers]
        counts = [readers[paper_id] for paper_id in kept]
        return Community(
            version=digest_of([f"{pid}={count}" for pid, count in zip(kept, counts, strict=True)]),
            papers=tuple(papers[paper_id] for paper_id in kept),
            readers=np.array(counts, dtype=np.float32),
        )

    async def watch(self, interval: float) -> None:
        """Refresh at start, after each change (once things settle) and every ``interval`` s."""
        while True:
            try:
                await self.refresh()
            except Exception:  # the loop must outlive any surprise; old state keeps serving
                logger.exception("refreshing the content model failed")
            try:
                await asyncio.wait_for(self._changed.wait(), timeout=interval)
            except TimeoutError:
                continue
            # Let a burst of batches (an ingest of many thousand papers) land before refitting,
            # but under writes that never pause, refresh at least every ``interval`` seconds.
            waited = 0.0
            while waited < interval:
                self._changed.clear()
                await asyncio.sleep(self._settle)
                waited += self._settle
                if not self._changed.is_set():
                    break
