"""Synthetic worlds that defeat the time-ordered validation split, and JSONL exports of them.

Built on :func:`tests.synthetic.make_world` (papers over three days, 24 readers of days 1-2):

- :func:`new_readers_on_the_latest_day`: the latest day's only readers are new ones;
- :func:`one_day_readers`: every reader interacts on one day only (no time split can score
  anyone), each with several papers (random papers can);
- :func:`one_paper_readers`: every reader clicks a single paper (nothing can be scored).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from papersift.core.types import EventId, Interaction, InteractionKind, Paper, UserId
from tests.synthetic import DAYS, World, make_world


def _click(user: str, number: int, paper: Paper, kind: InteractionKind) -> Interaction:
    return Interaction(
        EventId(f"{user}-{number}"),
        UserId(user),
        paper.paper_id,
        kind,
        dt.datetime.combine(paper.date, dt.time(12), dt.UTC) + dt.timedelta(minutes=number),
    )


def _topic_papers(world: World, topic: str, day: dt.date) -> list[Paper]:
    return [p for p in world.papers_on(day) if world.paper_topic[p.paper_id] == topic]


def new_readers_on_the_latest_day(new_readers_per_topic: int = 2) -> World:
    """``make_world`` plus readers who appear on day 3 and only interact with day 3's papers."""
    world = make_world()
    interactions = list(world.interactions)
    user_topic = dict(world.user_topic)
    for topic in ("graphs", "proteins", "galaxies"):
        papers = _topic_papers(world, topic, DAYS[-1])
        for n in range(new_readers_per_topic):
            user = f"new-{topic}-reader-{n}"
            user_topic[UserId(user)] = topic
            for k, paper in enumerate(papers[n * 3 : n * 3 + 3]):
                kind = InteractionKind.SAVE if k == 0 else InteractionKind.CLICK
                interactions.append(_click(user, k, paper, kind))
    interactions.sort(key=lambda interaction: interaction.occurred_at)
    return World(world.papers, interactions, world.paper_topic, user_topic)


def one_day_readers() -> World:
    """Each reader reads on one day only: 4 readers per topic and day, 4 papers each."""
    world = make_world()
    interactions: list[Interaction] = []
    user_topic: dict[UserId, str] = {}
    for day_index, day in enumerate(DAYS):
        for topic in ("graphs", "proteins", "galaxies"):
            papers = _topic_papers(world, topic, day)
            for n in range(4):
                user = f"day{day_index}-{topic}-reader-{n}"
                user_topic[UserId(user)] = topic
                for k, paper in enumerate(papers[n * 2 : n * 2 + 4]):
                    interactions.append(_click(user, k, paper, InteractionKind.CLICK))
    interactions.sort(key=lambda interaction: interaction.occurred_at)
    return World(world.papers, interactions, world.paper_topic, user_topic)


def one_paper_readers() -> World:
    """Each reader clicks exactly one paper, plus impressions and a dismissal of others."""
    world = make_world()
    interactions: list[Interaction] = []
    user_topic: dict[UserId, str] = {}
    for day_index, day in enumerate(DAYS):
        for topic in ("graphs", "proteins", "galaxies"):
            papers = _topic_papers(world, topic, day)
            for n in range(3):
                user = f"day{day_index}-{topic}-once-{n}"
                user_topic[UserId(user)] = topic
                interactions.append(_click(user, 0, papers[n], InteractionKind.IMPRESSION))
                interactions.append(_click(user, 1, papers[n], InteractionKind.CLICK))
                interactions.append(_click(user, 2, papers[n + 3], InteractionKind.DISMISS))
    interactions.sort(key=lambda interaction: interaction.occurred_at)
    return World(world.papers, interactions, world.paper_topic, user_topic)


def write_jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    """Write ``rows`` as JSON lines."""
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def export(world: World, directory: Path) -> tuple[Path, Path]:
    """``papers.jsonl`` and ``events.jsonl`` of ``world`` in ``directory``."""
    papers = write_jsonl(
        directory / "papers.jsonl",
        [
            {"paper_id": p.paper_id, "title": p.title, "abstract": p.abstract,
             "authors": list(p.authors), "categories": list(p.categories),
             "date": p.date.isoformat()}
            for p in world.papers
        ],
    )  # fmt: skip
    events = write_jsonl(
        directory / "events.jsonl",
        [
            {"event_id": i.event_id, "user_id": i.user_id, "paper_id": i.paper_id,
             "kind": i.kind.value, "occurred_at": i.occurred_at.isoformat()}
            for i in world.interactions
        ],
    )  # fmt: skip
    return papers, events
