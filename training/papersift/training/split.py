"""Choosing the validation split, with fallbacks when the time-ordered one cannot be used.

Validation drives early stopping, the blend weight and the kind of user vectors, and it is what
the comparison with the baselines is measured on. Its papers are always unseen in training (item
cold start: the server ranks new papers). The splits are tried in this order, and the first
*usable* one is taken:

1. ``latest days``: the latest listing days holding about ``fraction`` of the positives;
2. ``earlier days``: the same, ending one day with positives earlier each time (up to
   ``EARLIER_SPLITS`` times); papers after the window take no part in validation (they are
   the validation window's future), they are only in the final refit;
3. ``random papers``: a seeded random set of papers (with every interaction on them) holding
   about ``fraction`` of the positives, from any day;
4. ``none``: no validation; the configured settings are trained for their fixed number of
   epochs, without early stopping, and there is no comparison.

A split is usable when at least ``MIN_READERS`` readers with a positive in its training papers
have, together, at least ``MIN_POSITIVES`` positives among its validation papers: they are the
readers validation can score.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from papersift.core.signals import UserSignals
from papersift.core.types import Paper, PaperId, UserId
from papersift.training.data import validation_days

LATEST_DAYS = "latest days"
EARLIER_DAYS = "earlier days"
RANDOM_PAPERS = "random papers"
NO_VALIDATION = "none"

MIN_READERS = 2
"""Readers validation must be able to score for a split to be used."""
MIN_POSITIVES = 5
"""Positives of those readers among the validation papers for a split to be used."""
EARLIER_SPLITS = 7
"""Earlier time splits tried (one day with positives back each) before a random split."""


@dataclass(frozen=True)
class Candidate:
    """One validation split considered: its papers, what validation could score, its problem.

    Attributes:
        name: ``latest days``, ``earlier days`` or ``random papers``.
        train_papers: Papers validation trains on.
        valid_papers: Papers held out (the candidates validation ranks).
        readers: Readers with a positive in ``train_papers`` and one in ``valid_papers``.
        positives: Those readers' positives among ``valid_papers``.
        description: What is held out, e.g. ``"2025-04-02 held out, trained on 2025-04-01"``.
        problem: Why it cannot be used; ``None`` when it can.
    """

    name: str
    train_papers: list[Paper]
    valid_papers: list[Paper]
    readers: int
    positives: int
    description: str
    problem: str | None

    @property
    def usable(self) -> bool:
        """Whether validation can run on this split."""
        return self.problem is None

    def to_json(self) -> dict[str, Any]:
        """What the manifest records about the split."""
        return {
            "split": self.name,
            "held_out": self.description,
            "validation_papers": len(self.valid_papers),
            "training_papers": len(self.train_papers),
            "readers": self.readers,
            "positives": self.positives,
            **({"problem": self.problem} if self.problem else {}),
        }


@dataclass(frozen=True)
class SplitChoice:
    """The split chosen (``None``: no validation) and the ones rejected before it, in order."""

    chosen: Candidate | None
    rejected: list[Candidate] = field(default_factory=list)
    unavailable: list[tuple[str, str]] = field(default_factory=list)  # (split, why not tried)

    @property
    def name(self) -> str:
        """The split used: ``latest days``, ``earlier days``, ``random papers`` or ``none``."""
        return self.chosen.name if self.chosen is not None else NO_VALIDATION

    @property
    def fallback(self) -> bool:
        """Whether the time-ordered split of the latest days was not the one used."""
        return self.name != LATEST_DAYS

    @property
    def reason(self) -> str | None:
        """Why the latest days' split was not used; ``None`` when it was."""
        if not self.fallback:
            return None
        reasons = [f"{name}: {why}" for name, why in self.unavailable]
        earlier = 0
        for candidate in self.rejected:
            if candidate.name == EARLIER_DAYS:
                earlier += 1
                continue
            reasons.append(f"{candidate.name}, {candidate.description}: {candidate.problem}")
        if earlier:
            splits = "split" if earlier == 1 else "splits"
            reasons.insert(1, f"{earlier} earlier time {splits} unusable too")
        return "; ".join(reasons)

    def summary(self) -> str:
        """One line for the log and the report."""
        if self.chosen is None:
            return f"no usable validation split ({self.reason})"
        used = (
            f"{self.chosen.name}, {self.chosen.description}: {self.chosen.readers} readers "
            f"scored on {self.chosen.positives} held-out positives"
        )
        return used if not self.fallback else f"{used} (a fallback: {self.reason})"

    def to_json(self) -> dict[str, Any]:
        """What the manifest's ``params["validation"]`` records."""
        data: dict[str, Any] = {"split": self.name, "fallback": self.fallback}
        if self.reason:
            data["reason"] = self.reason
        if self.chosen is not None:
            data.update(self.chosen.to_json())
        data["early_stopping"] = self.chosen is not None
        data["tried"] = [c.to_json() for c in self.rejected] + [
            {"split": name, "problem": why} for name, why in self.unavailable
        ]
        return data


def choose_split(
    papers: Sequence[Paper],
    signals: dict[UserId, UserSignals],
    fraction: float,
    *,
    seed: int = 0,
) -> SplitChoice:
    """The first usable split of the module's order; ``SplitChoice(None, ...)`` when none is."""
    rejected: list[Candidate] = []
    unavailable: list[tuple[str, str]] = []
    for candidate in _time_candidates(papers, signals, fraction):  # lazily: the first may do
        if candidate.usable:
            return SplitChoice(candidate, rejected, unavailable)
        rejected.append(candidate)
    if not rejected:
        unavailable.append((LATEST_DAYS, "the clicks and saves cover a single day"))
    candidate = _random_candidate(papers, signals, fraction, seed)
    if candidate.usable:
        return SplitChoice(candidate, rejected, unavailable)
    rejected.append(candidate)
    return SplitChoice(None, rejected, unavailable)


def _positive_days(papers: Sequence[Paper], signals: dict[UserId, UserSignals]) -> list[dt.date]:
    date_of = {paper.paper_id: paper.date for paper in papers}
    return sorted({date_of[pid] for s in signals.values() for pid in s.positive if pid in date_of})


def _time_candidates(
    papers: Sequence[Paper], signals: dict[UserId, UserSignals], fraction: float
) -> Iterator[Candidate]:
    days = _positive_days(papers, signals)
    # The first day always stays in training: each later day with positives may end a window.
    ends = list(reversed(days[1:]))[: 1 + EARLIER_SPLITS]
    for index, end in enumerate(ends):
        window = list(papers) if index == 0 else [p for p in papers if p.date <= end]
        held = validation_days(window, signals, fraction)
        train = [paper for paper in window if paper.date not in held]
        valid = [paper for paper in window if paper.date in held]
        trained_days = sorted({paper.date for paper in train})
        description = f"held out {_days(held)}, trained on {_days(trained_days)}" + (
            "" if index == 0 else ", later days left out of validation"
        )
        yield _candidate(
            LATEST_DAYS if index == 0 else EARLIER_DAYS, train, valid, signals, description
        )


def _random_candidate(
    papers: Sequence[Paper], signals: dict[UserId, UserSignals], fraction: float, seed: int
) -> Candidate:
    counts: Counter[PaperId] = Counter(pid for s in signals.values() for pid in s.positive)
    total = sum(counts[paper.paper_id] for paper in papers)
    held: set[int] = set()
    held_count = 0
    for index in np.random.default_rng(seed).permutation(len(papers)):
        count = counts[papers[int(index)].paper_id]
        if held_count and held_count + count > fraction * total:
            break
        held.add(int(index))
        held_count += count
    train = [paper for index, paper in enumerate(papers) if index not in held]
    valid = [paper for index, paper in enumerate(papers) if index in held]
    description = (
        f"held out {len(valid)} random papers of any day (seed {seed}), "
        f"trained on the other {len(train)}"
    )
    return _candidate(RANDOM_PAPERS, train, valid, signals, description)


def _candidate(
    name: str,
    train: list[Paper],
    valid: list[Paper],
    signals: dict[UserId, UserSignals],
    description: str,
) -> Candidate:
    readers, positives = scorable(train, valid, signals)
    problem: str | None = None
    if readers == 0:
        problem = "no reader of the training papers interacted with the validation papers"
    elif readers < MIN_READERS:
        problem = (
            f"only {readers} reader of the training papers interacted with the validation "
            f"papers (at least {MIN_READERS} needed)"
        )
    elif positives < MIN_POSITIVES:
        problem = (
            f"only {positives} held-out positives of readers of the training papers "
            f"(at least {MIN_POSITIVES} needed)"
        )
    return Candidate(name, train, valid, readers, positives, description, problem)


def scorable(
    train: Sequence[Paper], valid: Sequence[Paper], signals: dict[UserId, UserSignals]
) -> tuple[int, int]:
    """Readers with positives on both sides, and their positives on the ``valid`` side.

    These are the readers the pipeline's validation scores (a reader must be in the model
    trained on ``train`` and have something to find among ``valid``).
    """
    train_ids = {paper.paper_id for paper in train}
    valid_ids = {paper.paper_id for paper in valid}
    readers = positives = 0
    for user_signals_ in signals.values():
        if not any(pid in train_ids for pid in user_signals_.positive):
            continue
        held = sum(pid in valid_ids for pid in user_signals_.positive)
        if held:
            readers += 1
            positives += held
    return readers, positives


def _days(days: set[dt.date] | list[dt.date]) -> str:
    ordered = sorted(days)
    if not ordered:
        return "no day"
    first, last = ordered[0], ordered[-1]
    return first.isoformat() if first == last else f"{first.isoformat()}..{last.isoformat()}"


__all__ = [
    "EARLIER_DAYS",
    "EARLIER_SPLITS",
    "LATEST_DAYS",
    "MIN_POSITIVES",
    "MIN_READERS",
    "NO_VALIDATION",
    "RANDOM_PAPERS",
    "Candidate",
    "SplitChoice",
    "choose_split",
    "scorable",
]
