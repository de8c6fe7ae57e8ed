"""Per-user scoring time of papersift.core.scoring on a 3,000-paper arXiv day (random model).

Features come from the real Featurizer on arxiv-2025q2 (3,000 papers as one day); the arrays
are random (speed does not depend on their values).
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import time
from pathlib import Path

import numpy as np

from papersift.core.features import Featurizer
from papersift.core.scoring import FORMAT, Scorer, UserHistory
from papersift.core.types import Paper, PaperId

PATH = Path(__file__).resolve().parents[3].parent / "shared/data/arxiv-2025q2/papers.jsonl.gz"


def main() -> None:
    with gzip.open(PATH, "rt", encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle]
    papers = [
        Paper(PaperId(r["arxiv_id"]), r["title"], dt.date(2025, 4, 1), r["abstract"],
              tuple(r["authors"]), tuple(r["categories"]))
        for r in rows
    ]  # fmt: skip
    featurizer = Featurizer.fit(papers[3000:])
    day = featurizer.transform(papers[:3000])
    history_rows = featurizer.transform(papers[3000:3030])
    rng = np.random.default_rng(0)
    f = featurizer.n_features
    for k in (64, 128):
        arrays = {
            "feature_embeddings": rng.normal(size=(f, k)).astype(np.float32),
            "feature_biases": rng.normal(size=f).astype(np.float32),
            "user_embeddings": rng.normal(size=(1, k)).astype(np.float32),
            "user_biases": np.zeros(1, dtype=np.float32),
            "fold_in_matrix": np.eye(k, dtype=np.float32),
            "profile_data": np.ones(1, dtype=np.float32),
            "profile_indices": np.zeros(1, dtype=np.int32),
            "profile_indptr": np.array([0, 1], dtype=np.int64),
        }
        params = {"format": FORMAT, "n_features": f, "n_components": k, "blend_weight": 0.3,
                  "negative_weight": 0.5, "fold_in_norm": 1.0}  # fmt: skip
        scorer = Scorer(arrays, params, ["u"])
        scorer.validate()
        t0 = time.perf_counter()
        items = scorer.prepare_items(day)
        prep = time.perf_counter() - t0
        history = UserHistory(history_rows[:25], np.ones(25, dtype=np.float32), history_rows[25:])
        for label, uid, hist in (("personal", "u", None), ("personal+history", "u", history),
                                 ("fold-in", None, history)):  # fmt: skip
            scorer.score(items, user_id=uid, history=hist)
            t0 = time.perf_counter()
            for _ in range(200):
                scorer.score(items, user_id=uid, history=hist)
            ms = (time.perf_counter() - t0) / 200 * 1000
            print(f"k={k} F={f} day=3000 prepare={prep * 1000:.0f}ms {label}: {ms:.2f} ms/user")


if __name__ == "__main__":
    main()
