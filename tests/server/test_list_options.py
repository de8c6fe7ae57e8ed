"""What a reader sees, over a real gRPC channel: reasons, "not this", never twice, rules,
diversity, and pagination and caching with all of them."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from papersift.server.convert import paper_to_proto
from papersift.server.explain import MAX_REASON_LENGTH
from papersift.v1 import ranker_pb2 as pb
from tests.server.api import DAY, Api, error_of, make_paper
from tests.server.model_world import COLD_DAY, ranked_ids
from tests.synthetic import DAYS, TOPICS, World

NEXT_DAY = "2025-04-02"


def event(
    event_id: str, user: str, paper_id: str, kind: int, at: dt.datetime | None = None
) -> pb.Interaction:
    occurred_at = Timestamp()
    occurred_at.FromDatetime(at or dt.datetime.now(dt.UTC) - dt.timedelta(hours=1))
    return pb.Interaction(
        event_id=event_id,
        user_id=user,
        paper_id=paper_id,
        kind=kind,  # type: ignore[arg-type]
        occurred_at=occurred_at,
    )


def ids_of(reply: pb.RankPapersResponse) -> list[str]:
    return [ranked.paper.paper_id for ranked in reply.papers]


def words_of(topic: str) -> set[str]:
    return set(TOPICS[topic])


# -- explanations -------------------------------------------------------------------------------


async def test_reasons_of_on_topic_papers_name_on_topic_terms(served: Api, world: World) -> None:
    reply = await served.rank("graphs-reader-0", date=COLD_DAY, limit=5, explain=True)
    assert reply.strategy == pb.STRATEGY_PERSONAL
    other_words = words_of("proteins") | words_of("galaxies")
    for ranked in reply.papers:
        assert world.paper_topic[ranked.paper.paper_id] == "graphs"  # type: ignore[index]
        assert 1 <= len(ranked.reasons) <= 3
        text = " ".join(ranked.reasons)
        assert any(word in text.split() or f"{word}," in text for word in words_of("graphs"))
        assert not any(f" {word}" in text for word in other_words - words_of("graphs"))


async def test_a_new_reader_is_told_which_saved_paper_a_paper_is_like(
    served: Api, world: World
) -> None:
    saved = [p for p in world.papers_on(DAYS[1]) if world.paper_topic[p.paper_id] == "proteins"]
    await served.record(
        [
            event(f"nr-{n}", "new-reader", paper.paper_id, pb.INTERACTION_KIND_SAVE)
            for n, paper in enumerate(saved[:2])
        ]
    )
    reply = await served.rank("new-reader", date=COLD_DAY, limit=5, explain=True)
    assert reply.strategy == pb.STRATEGY_FOLD_IN
    titles = {paper.title for paper in saved[:2]}
    similar = [r for ranked in reply.papers for r in ranked.reasons if r.startswith("similar to")]
    assert similar, [list(ranked.reasons) for ranked in reply.papers]
    for reason in similar:
        quoted = re.fullmatch(r'similar to "(.+)", which you saved', reason)
        assert quoted is not None, reason
        # The title, or its first words when the whole would not fit one line.
        shown = quoted.group(1)
        assert shown in titles or any(
            shown.endswith("…") and title.startswith(shown[:-1]) for title in titles
        ), reason
        assert len(reason) <= MAX_REASON_LENGTH


async def test_a_saved_paper_of_the_day_is_never_similar_to_itself(
    served: Api, world: World
) -> None:
    proteins = [p for p in world.papers if world.paper_topic[p.paper_id] == "proteins"]
    today = next(p for p in proteins if p.date == DAYS[-1])
    # The same paper listed again from another source: same title, another id.
    copy = paper_to_proto(today)
    copy.paper_id = "hf:the-same-paper"
    copy.url = "https://huggingface.co/papers/the-same-paper"
    await served.upsert([copy])
    liked = [*[p for p in proteins if p.date == DAYS[1]][:2], today]
    await served.record(
        [
            event(f"self-{n}", "self-reader", paper.paper_id, pb.INTERACTION_KIND_SAVE)
            for n, paper in enumerate(liked)
        ]
    )
    reply = await served.rank("self-reader", date=COLD_DAY, limit=50, explain=True)
    reasons = {ranked.paper.paper_id: list(ranked.reasons) for ranked in reply.papers}
    assert {today.paper_id, copy.paper_id} <= set(reasons)
    for paper_id in (today.paper_id, copy.paper_id):
        assert reasons[paper_id], paper_id
        assert not any(today.title[:20] in reason for reason in reasons[paper_id]), reasons
    # Other papers of the topic may well be like it, and are told so.
    assert any(
        reason.startswith('similar to "') and today.title[:20] in reason
        for paper_id, said in reasons.items()
        if paper_id not in (today.paper_id, copy.paper_id)
        for reason in said
    ), reasons


async def test_reasons_come_with_cached_lists_and_do_not_change_them(served: Api) -> None:
    plain = await served.rank("galaxies-reader-1", date=COLD_DAY, limit=10)
    explained = await served.rank("galaxies-reader-1", date=COLD_DAY, limit=10, explain=True)
    assert explained.cached
    assert ids_of(explained) == ids_of(plain)
    assert all(ranked.reasons for ranked in explained.papers)
    assert not any(ranked.reasons for ranked in plain.papers)


async def test_popular_lists_explain_their_counts(api: Api) -> None:
    await api.upsert([make_paper(n) for n in range(1, 4)])
    await api.record([event("c1", "u1", "arxiv:2504.00002", pb.INTERACTION_KIND_CLICK)])
    reply = await api.rank("someone", explain=True)
    assert reply.strategy == pb.STRATEGY_POPULAR
    assert list(reply.papers[0].reasons) == ["popular today: 1 reader clicked or saved it"]
    assert "nobody has clicked" in reply.papers[1].reasons[0]


# -- negative feedback --------------------------------------------------------------------------


async def test_dismissing_a_paper_removes_it_and_drops_its_near_twin(
    served: Api, world: World
) -> None:
    reader = "graphs-reader-3"
    ids, _ = await ranked_ids(served, reader)
    top = next(p for p in world.papers if p.paper_id == ids[0])
    twin = paper_to_proto(top)
    twin.paper_id = "arxiv:2504.99999"
    twin.title = "A different title for the same work on graphs"
    twin.url = "https://example.org/a-near-twin"
    await served.upsert([twin])
    before, _ = await ranked_ids(served, reader)
    assert before.index(twin.paper_id) < 3

    await served.record([event("d1", reader, top.paper_id, pb.INTERACTION_KIND_DISMISS)])
    after = await served.rank(reader, date=COLD_DAY, limit=100)

    assert not after.cached  # the reader's revision changed
    assert top.paper_id not in ids_of(after)
    graphs_papers = sum(world.paper_topic.get(pid) == "graphs" for pid in ids_of(after))  # type: ignore[call-overload]
    assert ids_of(after).index(twin.paper_id) >= graphs_papers - 1  # below every other graphs paper


async def test_unsave_undoes_a_save(served: Api, world: World) -> None:
    paper = next(p for p in world.papers_on(DAYS[0]) if world.paper_topic[p.paper_id] == "proteins")
    unknown = await served.rank("nobody", date=COLD_DAY, limit=20)
    await served.record([event("s1", "fickle", paper.paper_id, pb.INTERACTION_KIND_SAVE)])
    saved = await served.rank("fickle", date=COLD_DAY, limit=20)
    await served.record([event("s2", "fickle", paper.paper_id, pb.INTERACTION_KIND_UNSAVE)])
    unsaved = await served.rank("fickle", date=COLD_DAY, limit=20)

    assert saved.strategy == pb.STRATEGY_FOLD_IN
    assert unsaved.strategy == pb.STRATEGY_POPULAR
    assert ids_of(unsaved) == ids_of(unknown)


# -- never twice --------------------------------------------------------------------------------


async def test_exclude_seen_drops_papers_seen_on_earlier_days_under_any_name(api: Api) -> None:
    title = "Sparse attention for very long documents"
    await api.upsert(
        [
            make_paper(1, title=title),  # day 1, seen
            make_paper(2, title="Graph transformers revisited once again"),  # day 1, clicked
            make_paper(3, title="Unrelated paper about many things"),  # day 1, never touched
            make_paper(4, date=NEXT_DAY, title=f"{title.upper()}!"),  # hf copy of 1
            make_paper(5, date=NEXT_DAY, url="https://arxiv.org/abs/2504.00002v3"),  # v3 of 2
            make_paper(6, date=NEXT_DAY, title="A brand new paper on something"),
            make_paper(7, date=NEXT_DAY, title="Another new paper touched today"),
        ]
    )
    day_one = dt.datetime(2025, 4, 1, 12, tzinfo=dt.UTC)
    await api.record(
        [
            event("i1", "reader", "arxiv:2504.00001", pb.INTERACTION_KIND_IMPRESSION, day_one),
            event("c2", "reader", "arxiv:2504.00002", pb.INTERACTION_KIND_CLICK, day_one),
            event("c7", "reader", "arxiv:2504.00007", pb.INTERACTION_KIND_CLICK),  # today
        ]
    )
    everything = await api.rank("reader", date=NEXT_DAY)
    unseen = await api.rank("reader", date=NEXT_DAY, filters=pb.RankFilters(exclude_seen=True))

    assert sorted(ids_of(everything)) == [f"arxiv:2504.0000{n}" for n in (4, 5, 6, 7)]
    assert sorted(ids_of(unseen)) == ["arxiv:2504.00006", "arxiv:2504.00007"]
    assert unseen.total == 2


async def test_exclude_touched_drops_what_the_reader_clicked_saved_or_dismissed_on_any_day(
    api: Api,
) -> None:
    await api.upsert(
        [
            make_paper(1, title="Clicked on the first day of all"),
            make_paper(2, title="Listed on the first day, clicked only today"),
            make_paper(3, title="Listed on the first day, never touched"),
            make_paper(4, date=NEXT_DAY, url="https://arxiv.org/abs/2504.00001v2"),  # v2 of 1
            make_paper(5, date=NEXT_DAY, title="Opened this very day by the reader"),
            make_paper(6, date=NEXT_DAY, title="Saved then unsaved this very day"),
            make_paper(7, date=NEXT_DAY, title="Dismissed by the reader this day"),
            make_paper(8, date=NEXT_DAY, title="Only shown to the reader today"),
            make_paper(9, date=NEXT_DAY, title="A paper nobody has touched yet"),
        ]
    )
    day_one = dt.datetime(2025, 4, 1, 12, tzinfo=dt.UTC)
    today = dt.datetime(2025, 4, 2, 8, tzinfo=dt.UTC)
    await api.record(
        [
            event("c1", "reader", "arxiv:2504.00001", pb.INTERACTION_KIND_CLICK, day_one),
            event("c2", "reader", "arxiv:2504.00002", pb.INTERACTION_KIND_CLICK),  # after both
            event("c5", "reader", "arxiv:2504.00005", pb.INTERACTION_KIND_CLICK, today),
            event("s6", "reader", "arxiv:2504.00006", pb.INTERACTION_KIND_SAVE, today),
            event("u6", "reader", "arxiv:2504.00006", pb.INTERACTION_KIND_UNSAVE, today),
            event("d7", "reader", "arxiv:2504.00007", pb.INTERACTION_KIND_DISMISS, today),
            event("i8", "reader", "arxiv:2504.00008", pb.INTERACTION_KIND_IMPRESSION, today),
        ]
    )

    def numbers(reply: pb.RankPapersResponse) -> list[int]:
        return sorted(int(pid[-5:]) for pid in ids_of(reply))

    seen = pb.RankFilters(exclude_seen=True)
    touched = pb.RankFilters(exclude_seen=True, exclude_touched=True)
    # exclude_seen alone keeps what the reader touched today: a digest would mail it.
    unseen = await api.rank("reader", date=NEXT_DAY, filters=seen)
    assert numbers(unseen) == [5, 6, 8, 9]
    untouched = await api.rank("reader", date=NEXT_DAY, filters=touched)
    assert not untouched.cached  # cached apart from the exclude_seen list
    assert numbers(untouched) == [8, 9]
    alone = await api.rank("reader", date=NEXT_DAY, filters=pb.RankFilters(exclude_touched=True))
    assert numbers(alone) == [8, 9]  # 4 is paper 1 again, clicked on the first day
    # On the first day itself: the papers clicked that day, or since, are gone too.
    first_day = await api.rank("reader", date=DAY, filters=pb.RankFilters(exclude_touched=True))
    assert numbers(first_day) == [3]
    assert numbers(await api.rank("reader", date=DAY, filters=seen)) == [1, 2, 3]

    # A new click changes the reader's revision: the cached list is not served.
    await api.record([event("c9", "reader", "arxiv:2504.00009", pb.INTERACTION_KIND_CLICK)])
    assert numbers(await api.rank("reader", date=NEXT_DAY, filters=touched)) == [8]


async def test_a_dismissed_paper_never_comes_back_under_a_new_version(api: Api) -> None:
    await api.upsert(
        [
            make_paper(1),
            make_paper(2, date=NEXT_DAY, paper_id="arxiv:2504.00001v2"),
            make_paper(3, date=NEXT_DAY),
        ]
    )
    await api.record([event("d1", "reader", "arxiv:2504.00001", pb.INTERACTION_KIND_DISMISS)])
    reply = await api.rank("reader", date=NEXT_DAY)
    assert ids_of(reply) == ["arxiv:2504.00003"]


# -- rules --------------------------------------------------------------------------------------


async def seed_rules_day(api: Api) -> None:
    await api.upsert(
        [
            make_paper(1, title="Schrödinger bridges for generative models", categories=["cs.LG"]),
            make_paper(2, title="Organ segmentation in CT scans", categories=["eess.IV"]),
            make_paper(3, title="A GAN for protein design", categories=["q-bio.BM", "cs.LG"]),
            make_paper(
                4,
                title="Large language models as judges",
                categories=["cs.CL"],
                authors=["Zoë Ångström", "Bob"],
            ),
            make_paper(5, title="Retrieval augmented generation at scale", categories=["cs.CL"]),
        ]
    )
    # Popularity orders the plain list: 5, 3, then the rest newest first.
    await api.record(
        [
            event("p1", "u1", "arxiv:2504.00005", pb.INTERACTION_KIND_CLICK),
            event("p2", "u2", "arxiv:2504.00005", pb.INTERACTION_KIND_SAVE),
            event("p3", "u1", "arxiv:2504.00003", pb.INTERACTION_KIND_CLICK),
        ]
    )


async def ranked_with(api: Api, **filters: Any) -> list[str]:
    reply = await api.rank("reader", filters=pb.RankFilters(**filters), limit=100)
    return [pid.removeprefix("arxiv:2504.0000") for pid in ids_of(reply)]


async def test_category_rules_include_and_exclude(api: Api) -> None:
    await seed_rules_day(api)
    assert await ranked_with(api) == ["5", "3", "4", "2", "1"]
    assert await ranked_with(api, include_categories=["CS.LG", "eess.iv"]) == ["3", "2", "1"]
    assert await ranked_with(api, exclude_categories=["cs.lg"]) == ["5", "4", "2"]


async def test_keywords_match_whole_words_ignoring_case_and_accents(api: Api) -> None:
    await seed_rules_day(api)
    assert await ranked_with(api, must_have_keywords=["schrodinger"]) == ["1"]
    assert await ranked_with(api, must_have_keywords=["gan"]) == ["3"]  # not "organ"
    assert await ranked_with(api, must_have_keywords=["language   MODELS", "judges"]) == ["4"]
    assert await ranked_with(api, must_not_keywords=["GAN", "generation"]) == ["4", "2", "1"]


async def test_followed_authors_go_to_the_top_with_a_reason(api: Api) -> None:
    await seed_rules_day(api)
    assert await ranked_with(api, followed_authors=["zoe angstrom"]) == ["4", "5", "3", "2", "1"]
    reply = await api.rank(
        "reader", filters=pb.RankFilters(followed_authors=["ZOË ÅNGSTRÖM"]), explain=True
    )
    assert reply.papers[0].reasons[0] == "by Zoë Ångström, whom you follow"


async def test_rules_that_match_nothing_give_an_empty_list_not_an_error(api: Api) -> None:
    await seed_rules_day(api)
    reply = await api.rank("reader", filters=pb.RankFilters(include_categories=["math.AG"]))
    assert (list(reply.papers), reply.total, reply.next_page_token) == ([], 0, "")


# -- diversity ----------------------------------------------------------------------------------


async def test_diversity_spreads_a_list_of_near_duplicates(served: Api, world: World) -> None:
    day = "2025-04-05"
    clusters: dict[str, list[pb.Paper]] = {}
    for topic in TOPICS:
        source = next(p for p in world.papers_on(DAYS[2]) if world.paper_topic[p.paper_id] == topic)
        copies = []
        for n in range(5):
            copy = paper_to_proto(source)
            copy.paper_id = f"arxiv:2504.8{topic[:3]}{n}"
            copy.title = f"{source.title} part {n}"
            copy.date = day
            copies.append(copy)
        clusters[topic] = copies
    await served.upsert([copy for copies in clusters.values() for copy in copies])
    cluster_of = {copy.paper_id: topic for topic, copies in clusters.items() for copy in copies}

    plain = await served.rank("graphs-reader-0", date=day, limit=3)
    spread = await served.rank("graphs-reader-0", date=day, limit=3, diversity=0.7)

    assert len({cluster_of[pid] for pid in ids_of(plain)}) == 1  # near-duplicates on top
    assert {cluster_of[pid] for pid in ids_of(spread)} == set(TOPICS)
    assert ids_of(spread)[0] == ids_of(plain)[0]  # the best paper stays first
    assert spread.total == plain.total == 15


# -- pagination and caching ---------------------------------------------------------------------


async def test_pages_of_a_filtered_diverse_list_are_stable_and_cached_apart(
    served: Api, world: World
) -> None:
    options: dict[str, Any] = {
        "filters": pb.RankFilters(exclude_categories=["astro-ph.GA"], exclude_seen=True),
        "diversity": 0.3,
    }
    reader = "proteins-reader-2"
    whole = await served.rank(reader, date=COLD_DAY, limit=100, **options)
    plain = await served.rank(reader, date=COLD_DAY, limit=100)
    assert not whole.cached and not plain.cached  # cached under different keys
    assert whole.total == 24 and plain.total == 36
    assert not any(world.paper_topic[pid] == "galaxies" for pid in ids_of(whole))  # type: ignore[index]

    first = await served.rank(reader, date=COLD_DAY, limit=10, **options)
    assert first.cached
    second = await served.rank(
        reader, date=COLD_DAY, limit=10, page_token=first.next_page_token, **options
    )
    again = await served.rank(
        reader, date=COLD_DAY, limit=10, page_token=first.next_page_token, **options
    )
    assert ids_of(first) + ids_of(second) == ids_of(whole)[:20]
    assert ids_of(again) == ids_of(second)
    assert [ranked.rank for ranked in second.papers] == list(range(11, 21))

    failure = await error_of(
        served.rank(reader, date=COLD_DAY, limit=10, page_token=first.next_page_token)
    )
    assert failure.code is grpc.StatusCode.INVALID_ARGUMENT
    assert "page_token: was issued for other filters or diversity" in failure.details


async def test_batch_ranking_applies_rules_and_explains(served: Api) -> None:
    reply = await served.stub.RankPapersBatch(
        pb.RankPapersBatchRequest(
            user_ids=["graphs-reader-0", "nobody"],
            date=COLD_DAY,
            limit=5,
            filters=pb.RankFilters(include_categories=["q-bio.BM"]),
            explain=True,
        ),
        timeout=10,
    )
    for result in reply.results:
        assert len(result.ranking.papers) == 5
        for ranked in result.ranking.papers:
            assert list(ranked.paper.categories) == ["q-bio.BM"]
            assert ranked.reasons


async def test_rank_papers_without_a_model_ignores_diversity(api: Api) -> None:
    await api.upsert([make_paper(n) for n in range(1, 4)])
    plain = await api.rank("reader")
    diverse = await api.rank("reader", diversity=1.0)
    assert ids_of(diverse) == ids_of(plain)
    assert DAY == "2025-04-01"
