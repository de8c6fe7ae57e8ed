"""The shipped ranker's lists as a reader with options sees them: diversity and rules.

The server re-ranks the learned order per request (``papersift.server.ranking``): keyword and
category rules drop papers (``admitted``), diversity re-ranks the head by MMR
(``diversified``). The rows here take the shipped model fitted for a task, fitted once and
shared with the shipped row through :class:`SharedFit`, apply the server's own step to every
user's list and hand the metrics the list the reader would see, so the table shows what each
option costs in recall.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from bench.quality.evaluate import MASKED_SCORE, MethodResult
from bench.quality.methods import FloatArray, LightFMMethod, ScorerRanker
from bench.quality.tasks import IntArray, RankingTask
from papersift.core.features import FeatureConfig
from papersift.core.types import PaperId, ScoredPaper
from papersift.server.diversity import DIVERSITY_WINDOW
from papersift.server.ranking import diversified
from papersift.server.rules import RankRules, paper_text

DIVERSITY = 0.3
"""The diversity of the diversity row (a request's ``diversity``, in [0, 1])."""
RULE_KEYWORDS = ("review", "reviews", "survey", "surveys")
"""The rule row's ``must_not_keywords``: a typical reader rule, "no reviews or surveys"."""
DIVERSITY_ROW = f"papersift + diversity {DIVERSITY:g}"
RULE_ROW = 'papersift + rule "no reviews or surveys"'
TOP = 20
"""Size of the head whose intra-list similarity is reported."""


class SharedFit:
    """A method fitted once per task: every row that reuses its model gets the same ranker.

    The shipped row goes through it first (and is timed with the fit); the view rows that follow
    it on the same task get the ranker already fitted.
    """

    def __init__(self, method: LightFMMethod) -> None:
        """Share ``method``'s fits."""
        self.method = method
        self._task: RankingTask | None = None
        self._ranker: ScorerRanker | None = None

    @property
    def name(self) -> str:
        """The shared method's name."""
        return self.method.name

    @property
    def features(self) -> FeatureConfig:
        """The shared method's featurizer configuration."""
        return self.method.features

    @property
    def max_users(self) -> int | None:
        """The shared method's evaluation-user cap."""
        return self.method.max_users

    def fit(self, task: RankingTask) -> ScorerRanker:
        """The method's ranker for ``task``, fitted on the first call for that task."""
        if self._ranker is None or self._task is not task:
            self._ranker = self.method.fit(task)
            self._task = task
        return self._ranker


def mean_pairwise_cosine(content: sp.csr_matrix, positions: Sequence[int]) -> float:
    """Mean cosine over the pairs of ``content`` rows at ``positions`` (rows L2-normalised)."""
    n = len(positions)
    if n < 2:
        return float("nan")
    rows = content[list(positions)]
    gram = np.asarray((rows @ rows.T).todense(), dtype=np.float64)
    return float((gram.sum() - np.trace(gram)) / (n * (n - 1)))


class DiversifiedRanker:
    """The shipped order of each user's candidates re-ranked by the server's ``diversified``.

    The new order is returned as scores falling with the rank (``n`` for the first paper, down
    to 1), so the metrics judge the diversified list. The intra-list similarity of the top
    :data:`TOP` papers before and after is kept for :attr:`details`.

    Only the head (the first ``DIVERSITY_WINDOW`` papers, all that ``diversified`` re-ranks)
    becomes ``ScoredPaper`` objects; the rest keeps the score order, as on the server.
    """

    def __init__(self, base: ScorerRanker, diversity: float) -> None:
        """Re-rank ``base``'s lists with ``diversity``, on the content rows it prepared."""
        self.base = base
        self.diversity = diversity
        self._ids: list[PaperId] = [paper.paper_id for paper in base.task.candidate_papers]
        self._row = {paper_id: index for index, paper_id in enumerate(self._ids)}
        self._content = base.items.content
        self._similarity: dict[str, list[float]] = {"shipped": [], "diversified": []}

    def score(self, rows: IntArray) -> FloatArray:
        """Rank-based scores of the diversified lists of the eval users at ``rows``."""
        scores = self.base.score(rows)
        n = scores.shape[1]
        falling = np.arange(n, 0, -1, dtype=np.float32)
        out = np.empty_like(scores)
        for position, user_scores in enumerate(scores):
            # Best first, ties by candidate position: the order of ``ranking.rank_by_scores``.
            order = np.argsort(-user_scores.astype(np.float64), kind="stable")
            head = [
                ScoredPaper(self._ids[j], float(user_scores[j]))
                for j in order[:DIVERSITY_WINDOW].tolist()
            ]
            reranked = diversified(head, self._row, self._content, self.diversity)
            new_head = [self._row[item.paper_id] for item in reranked]
            out[position, new_head + order[DIVERSITY_WINDOW:].tolist()] = falling
            shipped_top = order[:TOP].tolist()
            for key, top in (("shipped", shipped_top), ("diversified", new_head[:TOP])):
                self._similarity[key].append(mean_pairwise_cosine(self._content, top))
        return out

    @property
    def details(self) -> dict[str, float]:
        """Mean top-:data:`TOP` pairwise cosine over the users scored, shipped and diversified."""
        return {
            f"top{TOP}_cosine_shipped": _mean(self._similarity["shipped"]),
            f"top{TOP}_cosine": _mean(self._similarity["diversified"]),
        }


def _mean(values: Sequence[float]) -> float:
    finite = [value for value in values if np.isfinite(value)]
    return float(np.mean(finite)) if finite else float("nan")


class RuledRanker:
    """The shipped scores with the papers ``rules`` drop pushed below every other candidate.

    The server leaves those papers out of the list; at the bottom they are never in a top M the
    metrics look at (unless M reaches past every admitted paper).
    """

    def __init__(self, base: ScorerRanker, rules: RankRules) -> None:
        """Decide once per task which candidates ``rules`` drop (rules do not depend on users)."""
        self.base = base
        self.dropped = np.array(
            [not rules.admits(paper, paper_text(paper)) for paper in base.task.candidate_papers],
            dtype=bool,
        )

    def score(self, rows: IntArray) -> FloatArray:
        """The shipped scores of the eval users at ``rows``, dropped papers at the bottom."""
        scores = self.base.score(rows)
        scores[:, self.dropped] = MASKED_SCORE
        return scores

    @property
    def details(self) -> dict[str, float]:
        """How many candidates the rules drop, out of how many."""
        return {"dropped": float(self.dropped.sum()), "candidates": float(self.dropped.size)}


@dataclass(frozen=True)
class DiversityMethod:
    """The shipped model's lists re-ranked for diversity, as a request with ``diversity`` gets."""

    name: str
    shipped: SharedFit
    diversity: float = DIVERSITY

    @property
    def features(self) -> FeatureConfig:
        """The shipped model's featurizer configuration."""
        return self.shipped.features

    @property
    def max_users(self) -> int | None:
        """The shipped row's cap, so both are judged on the same users."""
        return self.shipped.max_users

    def fit(self, task: RankingTask) -> DiversifiedRanker:
        """Reuse the shipped ranker fitted for ``task``."""
        return DiversifiedRanker(self.shipped.fit(task), self.diversity)


@dataclass(frozen=True)
class RuleMethod:
    """The shipped model's lists under a reader's rules, as a request with ``rules`` gets."""

    name: str
    shipped: SharedFit
    rules: RankRules

    @property
    def features(self) -> FeatureConfig:
        """The shipped model's featurizer configuration."""
        return self.shipped.features

    @property
    def max_users(self) -> int | None:
        """The shipped row's cap, so both are judged on the same users."""
        return self.shipped.max_users

    def fit(self, task: RankingTask) -> RuledRanker:
        """Reuse the shipped ranker fitted for ``task``."""
        return RuledRanker(self.shipped.fit(task), self.rules)


def diversity_note(runs: Sequence[MethodResult]) -> str:
    """What the diversity row is, and the similarity of the top papers it buys (from details)."""
    before = _mean([r.details[f"top{TOP}_cosine_shipped"] for r in runs])
    after = _mean([r.details[f"top{TOP}_cosine"] for r in runs])
    return (
        f"{DIVERSITY_ROW}: each user's shipped list re-ranked by the server's "
        f"`ranking.diversified` (MMR on the first 200 papers' L2-normalised feature rows, "
        f"diversity {DIVERSITY:g}) and judged in its new order; the shipped model is reused, not "
        "refitted (`fit s` ≈ 0; `score s` includes the shipped scoring). Intra-list similarity, "
        f"the mean pairwise cosine of the top {TOP} papers' feature rows (mean over users and "
        f"folds; lower is more diverse): shipped {before:.3f}, diversified {after:.3f}."
    )


def rule_note(runs: Sequence[MethodResult], folds: Sequence[int]) -> str:
    """What the rule row is, and the share of candidates the rule drops per fold."""
    per_fold = "; ".join(
        f"fold {fold} {r.details['dropped']:,.0f} of {r.details['candidates']:,.0f} "
        f"({r.details['dropped'] / max(r.details['candidates'], 1.0):.2%})"
        for fold, r in zip(folds, runs, strict=True)
    )
    keywords = ", ".join(f'"{keyword}"' for keyword in RULE_KEYWORDS)
    return (
        f"{RULE_ROW}: the server's `RankRules.build(must_not_keywords=[{keywords}])` on each "
        "candidate's text (its bag of words as the abstract); the papers it drops go below "
        "every other candidate, the rest keep the shipped order (model reused, not refitted). "
        f"Candidates dropped: {per_fold}. Keywords match whole words only, so the rule names "
        "the plurals too; citeulike-t's papers are bags of words from title and abstract, "
        'whose vocabulary has "reviews" but no "review" or "survey".'
    )
