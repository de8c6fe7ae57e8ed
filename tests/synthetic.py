"""A small two-topic world for model tests: papers over three days, readers who like one topic.

Day 3's papers have no interactions: they are the cold candidates the model must rank.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
from dataclasses import dataclass
from typing import Any

from papersift.core.types import EventId, Interaction, InteractionKind, Paper, PaperId, UserId

TOPICS = {
    "graphs": [
        "graph",
        "neural",
        "network",
        "message",
        "passing",
        "node",
        "embedding",
        "edge",
        "attention",
        "spectral",
        "convolution",
        "link",
        "prediction",
        "heterogeneous",
        "graphs",
    ],
    "proteins": [
        "protein",
        "folding",
        "structure",
        "prediction",
        "amino",
        "acid",
        "sequence",
        "molecular",
        "dynamics",
        "binding",
        "affinity",
        "enzyme",
        "residue",
        "docking",
    ],
    "galaxies": [
        "galaxy",
        "cluster",
        "redshift",
        "dark",
        "matter",
        "halo",
        "stellar",
        "mass",
        "survey",
        "telescope",
        "cosmological",
        "simulation",
        "lensing",
    ],
}
CATEGORIES = {"graphs": "cs.LG", "proteins": "q-bio.BM", "galaxies": "astro-ph.GA"}
FILLER = [
    "we",
    "propose",
    "method",
    "results",
    "show",
    "experiments",
    "paper",
    "approach",
    "novel",
    "study",
]
DAYS = (dt.date(2025, 4, 1), dt.date(2025, 4, 2), dt.date(2025, 4, 3))
START = dt.datetime(2025, 4, 1, 9, tzinfo=dt.UTC)


@dataclass(frozen=True)
class World:
    """Papers, interactions, and which topic each paper and reader belongs to."""

    papers: list[Paper]
    interactions: list[Interaction]
    paper_topic: dict[PaperId, str]
    user_topic: dict[UserId, str]

    def papers_on(self, day: dt.date) -> list[Paper]:
        return [paper for paper in self.papers if paper.date == day]


def make_world(
    papers_per_topic_per_day: int = 12, users_per_topic: int = 8, seed: int = 0
) -> World:
    """Build the world deterministically from ``seed``."""
    rng = random.Random(seed)
    papers: list[Paper] = []
    paper_topic: dict[PaperId, str] = {}
    for day_index, day in enumerate(DAYS):
        for topic, words in TOPICS.items():
            for n in range(papers_per_topic_per_day):
                paper_id = PaperId(f"arxiv:2504.{day_index}{topic[:3]}{n:03d}")
                text = rng.choices(words, k=25) + rng.choices(FILLER, k=10)
                papers.append(
                    Paper(
                        paper_id=paper_id,
                        title=" ".join(rng.choices(words, k=6)).capitalize(),
                        abstract=" ".join(text),
                        date=day,
                        authors=(f"{topic.title()} Author {n % 4}",),
                        categories=(CATEGORIES[topic],),
                        url=f"https://arxiv.org/abs/2504.{day_index}{n:04d}",
                        source="synthetic",
                    )
                )
                paper_topic[paper_id] = topic
    interactions: list[Interaction] = []
    user_topic: dict[UserId, str] = {}
    for topic in TOPICS:
        for n in range(users_per_topic):
            user = UserId(f"{topic}-reader-{n}")
            user_topic[user] = topic
            liked = [p for p in papers if paper_topic[p.paper_id] == topic and p.date != DAYS[-1]]
            for k, paper in enumerate(rng.sample(liked, 6)):
                kind = InteractionKind.SAVE if k % 3 == 0 else InteractionKind.CLICK
                interactions.append(
                    Interaction(
                        EventId(f"{user}-{k}"),
                        user,
                        paper.paper_id,
                        kind,
                        dt.datetime.combine(paper.date, dt.time(12), dt.UTC)
                        + dt.timedelta(minutes=k),
                    )
                )
    return World(papers, interactions, paper_topic, user_topic)


def topic_share(ranked_ids: list[str], world: World, topic: str, top: int = 10) -> float:
    """Share of the ``top`` ranked papers that belong to ``topic``."""
    head = ranked_ids[:top]
    return sum(world.paper_topic[PaperId(pid)] == topic for pid in head) / max(len(head), 1)


def fitted_parts(world: World, *, epochs: int = 5, seed: int = 0) -> tuple[Any, Any]:
    """A featurizer and a scorer fitted on ``world`` (days 1-2), for bundle and server tests."""
    train_papers = [paper for paper in world.papers if paper.date != DAYS[-1]]
    return fit_parts(train_papers, world.interactions, epochs=epochs, seed=seed)


def fit_parts(
    train_papers: list[Paper],
    interactions: list[Interaction],
    *,
    features: Any = None,
    epochs: int = 5,
    seed: int = 0,
) -> tuple[Any, Any]:
    """A featurizer (``features``: a ``FeatureConfig``, default the default) and a scorer fitted
    on ``train_papers`` and ``interactions`` with the shipped model settings."""
    from papersift.core.features import FeatureConfig, Featurizer
    from papersift.training.data import interaction_matrices, signals_by_user
    from papersift.training.model import ModelConfig, TrainingData, fit

    signals = signals_by_user(interactions)
    users = sorted(signals)
    featurizer = Featurizer.fit(train_papers, features or FeatureConfig())
    matrices = interaction_matrices(users, signals, train_papers)
    config = dataclasses.replace(ModelConfig.shipped(), epochs=epochs, seed=seed, num_threads=1)
    result = fit(
        TrainingData(
            interactions=matrices.positives,
            user_ids=list(users),
            item_features=featurizer.transform(train_papers),
            negatives=matrices.negatives,
        ),
        config,
    )
    return featurizer, result.scorer
