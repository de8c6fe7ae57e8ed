"""Re-ranking for diversity: maximal marginal relevance (Carbonell and Goldstein, 1998).

Each next paper is the one with the best ``(1 - d) * relevance - d * (largest similarity to a
paper already chosen)``, relevance scaled to [0, 1] over the window so that it is comparable to
a cosine. ``d = 0`` keeps the score order; ``d = 1`` picks, after the best paper, whatever is
least like what came before.
"""

from __future__ import annotations

import numpy as np

DIVERSITY_WINDOW = 200
"""Papers re-ranked (the head of the list); the rest follow in score order. A reader pages
through the head; the cost of MMR grows with the square of the window."""


def mmr_order(relevance: np.ndarray, similarity: np.ndarray, diversity: float) -> list[int]:
    """The order (indices into ``relevance``) MMR picks.

    Args:
        relevance: ``(n,)`` scores, higher is better.
        similarity: ``(n, n)`` cosine similarities of the same papers.
        diversity: ``d`` in [0, 1].
    """
    n = relevance.shape[0]
    if similarity.shape != (n, n):
        raise ValueError(f"similarity has shape {similarity.shape}, expected ({n}, {n})")
    if not 0.0 <= diversity <= 1.0:
        raise ValueError(f"diversity {diversity} is outside [0, 1]")
    if n == 0:
        return []
    spread = float(relevance.max() - relevance.min())
    scaled = (relevance - relevance.min()) / spread if spread > 0 else np.ones(n)
    closest = np.zeros(n)
    available = np.ones(n, dtype=bool)
    order: list[int] = []
    for _ in range(n):
        value = np.where(available, (1.0 - diversity) * scaled - diversity * closest, -np.inf)
        chosen = int(np.argmax(value))  # ties: the first, i.e. the better-scored paper
        order.append(chosen)
        available[chosen] = False
        closest = np.maximum(closest, similarity[chosen])
    return order
