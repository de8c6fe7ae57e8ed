"""Reasons on real arXiv papers, through a real server: none of the shapes a reader would not
believe (the paper "similar to" itself, lowercased acronyms, bags of words, overlong lines).

Three listing days of ``arxiv-2025q2``; readers of language-model papers and of vision papers
click and save papers of the first two; a model is trained on them (LightFM, as
``papersift-train`` does) with the shipped single-word featurizer and with bigrams. Two readers
also saved papers of the ranked third day: those papers must not be explained by themselves.
The same checks run on the wording used before (reconstructed below) must find bad shapes,
so these checks can fail.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from papersift.core import limits
from papersift.core.bundle import write_bundle
from papersift.core.features import FeatureConfig, Featurizer
from papersift.core.scoring import Scorer, UserHistory, normalize_rows
from papersift.core.types import EventId, Interaction, InteractionKind, Paper, PaperId, UserId
from papersift.server.convert import paper_to_proto
from papersift.server.explain import MAX_REASON_LENGTH
from papersift.server.identity import title_key
from papersift.v1 import ranker_pb2 as pb
from tests.conftest import SHARED_DATA, ThreadedServer, require_shared
from tests.server.api import Api
from tests.server.model_world import event_message
from tests.synthetic import fit_parts

PAPERS = SHARED_DATA / "arxiv-2025q2" / "papers.jsonl.gz"
TRAIN_DAYS = (dt.date(2025, 5, 6), dt.date(2025, 5, 7))
RANKED_DAY = dt.date(2025, 5, 8)
LIMIT = 20
# Readers who also saved papers of the ranked day (after training): one the model knows
# (PERSONAL), one it does not (FOLD_IN).
SAVED_TODAY = {"language-reader-0": "language", "newcomer": "vision"}
FILLER = frozenset(
    [
        "approach",
        "based",
        "complex",
        "existing",
        "large",
        "method",
        "novel",
        "paper",
        "propose",
        "proposed",
        "real",
        "results",
        "using",
        "utilize",
    ]
)
"""Words of research prose a reader would not take for a topic (the test's own short list)."""


@dataclass(frozen=True)
class RealWorld:
    """Real papers of three days and synthetic readers with one taste each."""

    papers: list[Paper]
    interactions: list[Interaction]  # on the training days: what the model learns from
    today: list[Interaction]  # saves of papers of the ranked day, recorded after training

    def paper(self, paper_id: str) -> Paper:
        return next(paper for paper in self.papers if paper.paper_id == paper_id)


def load_days(days: Sequence[dt.date]) -> list[Paper]:
    wanted = {day.isoformat() for day in days}
    papers = []
    with gzip.open(PAPERS, "rt", encoding="utf-8") as lines:
        for line in lines:
            row = json.loads(line)
            if row["first_listed"] not in wanted:
                continue
            papers.append(
                Paper(
                    paper_id=PaperId(f"arxiv:{row['arxiv_id']}"),
                    title=row["title"],
                    date=dt.date.fromisoformat(row["first_listed"]),
                    abstract=row.get("abstract", ""),
                    authors=tuple(
                        a for a in row.get("authors", ()) if len(a) <= limits.MAX_AUTHOR_LENGTH
                    )[: limits.MAX_AUTHORS],
                    categories=tuple(
                        c for c in row.get("categories", ()) if len(c) <= limits.MAX_CATEGORY_LENGTH
                    )[: limits.MAX_CATEGORIES],
                    url=f"https://arxiv.org/abs/{row['arxiv_id']}",
                    source="arxiv",
                )
            )
    return papers


def taste_of(paper: Paper) -> str | None:
    text = f"{paper.title} {paper.abstract}"
    if "language model" in text.lower() or "LLM" in text:
        return "language"
    if paper.categories and paper.categories[0] == "cs.CV" and "language" not in text.lower():
        return "vision"
    return None


def make_real_world() -> RealWorld:
    papers = load_days([*TRAIN_DAYS, RANKED_DAY])
    rng = random.Random(11)
    at = dt.datetime.combine(TRAIN_DAYS[1], dt.time(12), dt.UTC)
    by_taste: dict[str, list[Paper]] = {"language": [], "vision": []}
    for paper in papers:
        taste = taste_of(paper)
        if taste is not None and paper.date in TRAIN_DAYS:
            by_taste[taste].append(paper)
    interactions = []
    for taste, liked in by_taste.items():
        for n in range(8):
            user = UserId(f"{taste}-reader-{n}")
            for k, paper in enumerate(rng.sample(liked, 6)):
                kind = InteractionKind.SAVE if k % 3 == 0 else InteractionKind.CLICK
                interactions.append(
                    Interaction(EventId(f"{user}-{k}"), user, paper.paper_id, kind, at)
                )
    today = []
    for reader, taste in SAVED_TODAY.items():
        picks = [p for p in papers if p.date == RANKED_DAY and taste_of(p) == taste]
        history = rng.sample(by_taste[taste], 3) if reader == "newcomer" else []
        for k, paper in enumerate([*history, *rng.sample(picks, 2)]):
            today.append(
                Interaction(
                    EventId(f"today-{reader}-{k}"),
                    UserId(reader),
                    paper.paper_id,
                    InteractionKind.SAVE,
                    dt.datetime.combine(RANKED_DAY, dt.time(8), dt.UTC),
                )
            )
    return RealWorld(papers, interactions, today)


def train(world: RealWorld, config: FeatureConfig) -> tuple[Featurizer, Scorer]:
    train_papers = [paper for paper in world.papers if paper.date in TRAIN_DAYS]
    featurizer, scorer = fit_parts(
        train_papers, list(world.interactions), features=config, epochs=10
    )
    return featurizer, scorer


@pytest.fixture(scope="module")
def real_world() -> RealWorld:
    require_shared(PAPERS)
    return make_real_world()


@pytest.fixture(scope="module", params=[1, 2], ids=["words", "bigrams"])
def trained(request: pytest.FixtureRequest, real_world: RealWorld) -> tuple[Featurizer, Scorer]:
    return train(real_world, FeatureConfig(ngram_max=request.param))


# -- the bad shapes -----------------------------------------------------------------------------

_SIMILAR = re.compile(r'similar to "(?P<title>.+)", which you (?:saved|opened)')
_ABOUT = re.compile(r"about (?P<items>.+), as papers you liked")
_WORD = re.compile(r"\w+")


def items_of(listed: str) -> list[str]:
    """The items of ``a, "b c" and d``."""
    quoted: list[str] = []

    def hold(match: re.Match[str]) -> str:
        quoted.append(match.group(1))
        return f"\0{len(quoted) - 1}\0"

    held = re.sub(r'"([^"]*)"', hold, listed)
    parts = re.split(r", | and ", held)
    return [re.sub(r"\0(\d+)\0", lambda m: quoted[int(m.group(1))], part) for part in parts]


def only_in_capitals(word: str, text: str) -> bool:
    """Whether ``text`` writes ``word`` (ignoring case) and only ever with two or more capitals
    ("RAG", "LLMs"): then a lower-cased ``word`` is a lowercased acronym."""
    forms = [w for w in _WORD.findall(text) if w.lower() == word.lower()]
    return bool(forms) and all(sum(ch.isupper() for ch in form) >= 2 for form in forms)


def bad_shapes(paper: Paper, reasons: Sequence[str], liked_titles: Sequence[str]) -> list[str]:
    """What is wrong with ``reasons`` of ``paper`` (empty: nothing)."""
    problems = []
    text = f"{paper.title} {paper.abstract}"
    for reason in reasons:
        if len(reason) > MAX_REASON_LENGTH:
            problems.append(f"longer than {MAX_REASON_LENGTH}: {reason!r}")
        similar = _SIMILAR.fullmatch(reason)
        if similar is not None:
            shown = similar.group("title")
            prefix = shown.removesuffix("…")
            if title_key(paper.title) == title_key(shown) or (
                shown.endswith("…") and paper.title.startswith(prefix)
            ):
                problems.append(f"similar to itself: {reason!r}")
            matches = [t for t in liked_titles if t == shown or t.startswith(prefix)]
            if not matches:
                problems.append(f"not a liked paper's title: {reason!r}")
            elif shown.endswith("…") and all(t[len(prefix)].isalnum() for t in matches):
                problems.append(f"title cut mid-word: {reason!r}")
        about = _ABOUT.fullmatch(reason)
        if about is not None:
            items = items_of(about.group("items"))
            if len(items) > 3:
                problems.append(f"more than 3 words or phrases: {reason!r}")
            for item in items:
                if item.lower() in ENGLISH_STOP_WORDS or item.lower() in FILLER:
                    problems.append(f"filler {item!r}: {reason!r}")
                for word in _WORD.findall(item):
                    if word.islower() and only_in_capitals(word, text):
                        problems.append(f"lowercased acronym {word!r}: {reason!r}")
    return problems


# -- the wording before issue 11, for the checks' own test ------------------------------------


def old_reasons(
    contributions: Sequence[tuple[int, float]], names: Sequence[str], similar_title: str | None
) -> list[str]:
    reasons = []
    if similar_title is not None:
        title = similar_title if len(similar_title) <= 80 else similar_title[:79].rstrip() + "…"
        reasons.append(f'similar to "{title}", which you saved')
    terms = [names[i][5:] for i, _ in contributions if names[i].startswith("term:")][:3]
    if terms:
        listed = terms[0] if len(terms) == 1 else f"{', '.join(terms[:-1])} and {terms[-1]}"
        reasons.append(f"about {listed}, as papers you liked")
    return reasons


# -- tests --------------------------------------------------------------------------------------


async def test_reasons_of_real_papers_have_none_of_the_bad_shapes(
    real_world: RealWorld,
    trained: tuple[Featurizer, Scorer],
    tmp_path: Path,
    start_server: Callable[..., ThreadedServer],
    connect: Callable[[ThreadedServer], Api],
) -> None:
    featurizer, scorer = trained
    write_bundle(
        tmp_path / "models",
        featurizer=featurizer,
        scorer=scorer,
        trained_at=dt.datetime(2025, 5, 8, 6, tzinfo=dt.UTC),
        data_start=TRAIN_DAYS[0],
        data_end=TRAIN_DAYS[-1],
        params={},
        metrics={},
        version="real",
    )
    api = connect(start_server(model_dir=tmp_path / "models", model_poll_interval=0.05))
    await api.upsert([paper_to_proto(paper) for paper in real_world.papers])
    await api.record([event_message(i) for i in [*real_world.interactions, *real_world.today]])
    readers = [*SAVED_TODAY, "language-reader-3", "vision-reader-5"]
    liked_titles: dict[str, list[str]] = {}
    for interaction in [*real_world.interactions, *real_world.today]:
        titles = liked_titles.setdefault(interaction.user_id, [])
        titles.append(real_world.paper(interaction.paper_id).title)

    problems: list[str] = []
    said: list[str] = []
    saved_today = {i.paper_id for i in real_world.today if i.occurred_at.date() == RANKED_DAY}
    explained_saved = 0
    for reader in readers:
        reply = await api.rank(reader, date=RANKED_DAY.isoformat(), limit=LIMIT, explain=True)
        assert reply.strategy in (pb.STRATEGY_PERSONAL, pb.STRATEGY_FOLD_IN)
        for ranked in reply.papers:
            paper = real_world.paper(ranked.paper.paper_id)
            reasons = list(ranked.reasons)
            assert 1 <= len(reasons) <= 3, (paper.title, reasons)
            problems += [
                f"{reader} / {paper.title[:40]}: {p}"
                for p in bad_shapes(paper, reasons, liked_titles[reader])
            ]
            said += reasons
            explained_saved += paper.paper_id in saved_today
    assert not problems, "\n".join(problems)
    assert explained_saved >= 2  # the papers saved that day were on the pages, and explained
    # The paper's own forms show: an acronym in capitals, a hyphenated word kept whole.
    words = [r for r in said if r.startswith("about ")]
    assert any(re.search(r"\b[A-Z]{2,}", r) for r in words), words
    assert any(re.search(r"\w-\w", r) for r in words), words
    if featurizer.config.ngram_max >= 2:
        assert any('"' in r for r in words), words  # some phrase of several words


def test_the_checks_find_the_bad_shapes_of_the_wording_before(
    real_world: RealWorld, trained: tuple[Featurizer, Scorer]
) -> None:
    featurizer, scorer = trained
    day = [paper for paper in real_world.papers if paper.date == RANKED_DAY]
    items = scorer.prepare_items(featurizer.transform(day))
    names = featurizer.feature_names
    problems: list[str] = []
    for user in SAVED_TODAY:
        liked = [
            real_world.paper(i.paper_id)
            for i in [*real_world.interactions, *real_world.today]
            if i.user_id == user
        ]
        rows = featurizer.transform(liked)
        history = UserHistory(
            positive=rows,
            positive_weights=np.full(len(liked), 3.0, dtype=np.float32),
            negative=featurizer.transform([]),
        )
        model = scorer.user_model(user_id=user if scorer.has_user(user) else None, history=history)
        assert model is not None
        top = list(np.argsort(-scorer.score_user(items, model), kind="stable")[:LIMIT])
        contributions = scorer.feature_contributions(items, model, top)
        similarity = np.asarray((items.content[top] @ normalize_rows(rows).T).todense())
        for position, row in enumerate(top):
            closest = liked[int(np.argmax(similarity[position]))].title
            reasons = old_reasons(contributions[position], names, closest)
            problems += bad_shapes(day[row], reasons, [paper.title for paper in liked])
    found = "\n".join(problems)
    assert "similar to itself" in found, found
    assert "lowercased acronym" in found, found


def test_the_checks_pass_good_reasons_and_catch_each_bad_shape() -> None:
    paper = Paper(
        PaperId("arxiv:1"),
        "Collab-RAG: Boosting RAG with LLMs",
        RANKED_DAY,
        abstract="We study retrieval-augmented generation (RAG) with large models.",
    )
    liked = ["Collab-RAG: Boosting RAG with LLMs", "Sparse attention for long documents"]
    good = [
        'similar to "Sparse attention for long documents", which you saved',
        'about "retrieval-augmented generation", RAG and LLMs, as papers you liked',
    ]
    assert bad_shapes(paper, good, liked) == []
    bad = {
        'similar to "Collab-RAG: Boosting RAG with LLMs", which you saved': "similar to itself",
        'similar to "Sparse attent…", which you opened': "title cut mid-word",
        "about rag, as papers you liked": "lowercased acronym",
        "about RAG, LLMs, retrieval and generation, as papers you liked": "more than 3",
        "about large and RAG, as papers you liked": "filler",
        f"about {'x' * 80}, as papers you liked": "longer than",
    }
    for reason, problem in bad.items():
        assert any(problem in found for found in bad_shapes(paper, [reason], liked)), reason
