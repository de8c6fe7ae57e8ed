"""The speed benchmark's pieces with tiny counts: data, load generator, percentiles, report."""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server

from bench.speed import data, report, workload
from bench.speed.load import (
    CHECK_METHOD,
    RANKER,
    LoadResult,
    LoadSpec,
    percentile,
    run_load,
    run_series,
)
from bench.speed.options import DEFAULT_REDIS_URL, parse_args
from bench.speed.precompute import (
    LISTS_METRIC,
    NOT_AVAILABLE,
    PENDING_METRIC,
    PrecomputeRun,
    extrapolate,
    measure,
    settle,
)
from bench.speed.profile import summarize
from bench.speed.serve import connections_by_pid, free_port, scrape_metrics
from bench.speed.stats import Measured, Spread, bounds_of_ratio
from bench.speed.training import TrainRun
from papersift.client import Paper
from papersift.training.data import load_jsonl
from tests.conftest import ThreadedServer

WORDS = (
    ("neuron", "synapse", "cortex", "dendrite", "axon", "hippocampus"),
    ("galaxy", "nebula", "quasar", "pulsar", "redshift", "supernova"),
    ("protein", "enzyme", "residue", "folding", "ligand", "peptide"),
)
DAYS = [dt.date(2025, 4, day) for day in (1, 2, 3, 4)]


def tiny_papers(per_topic_per_day: int = 5) -> list[Paper]:
    """Papers of three topics over four days; each uses three words of its topic."""
    rng = np.random.default_rng(0)
    papers = []
    for day in DAYS:
        for topic, words in enumerate(WORDS):
            for n in range(per_topic_per_day):
                text = " ".join(rng.choice(words, size=3, replace=False))
                papers.append(
                    Paper(
                        paper_id=f"arxiv:{day:%m%d}.{topic}{n:03d}",
                        title=text,
                        abstract=f"{text} {text}",
                        date=day,
                        authors=("A. Author",),
                        categories=("cs.LG",),
                        url="https://arxiv.org/abs/x",
                        source="test",
                    )
                )
    return papers


@pytest.fixture(scope="module")
def world() -> data.World:
    return data.build_world(tiny_papers(), day_size=20, n_topics=3, seed=0)


def test_the_day_is_the_latest_papers_under_one_date(world: data.World) -> None:
    assert len(world.day) == 20
    assert {paper.date for paper in world.day} == {DAYS[-1]}
    assert world.merged_days == (DAYS[-2], DAYS[-1])  # 15 of the last day, 5 of the one before
    assert len(world.history) == 60 - 20
    assert len(world.topics) == len(world.history)
    assert not {p.paper_id for p in world.day} & {p.paper_id for p in world.history}


def test_synthetic_readers_mostly_read_their_topics(world: data.World) -> None:
    events = data.synthetic_events(world, 2_000, prefix="r", per_user=50, seed=1)
    assert len(events) == 2_000
    assert events.n_users == 40
    assert set(np.unique(events.user)) == set(range(40))
    # Each reader's most read topic holds far more of their events than a third.
    shares = []
    for user in range(events.n_users):
        topics = world.topics[events.paper[events.user == user]]
        shares.append(np.bincount(topics, minlength=3).max() / len(topics))
    assert np.mean(shares) > 0.6


def test_jsonl_exports_are_what_the_training_job_reads(world: data.World, tmp_path: Path) -> None:
    events = data.synthetic_events(world, 50, prefix="r", seed=2)
    papers_path = data.write_papers_jsonl(world.papers, tmp_path / "papers.jsonl")
    events_path = data.write_events_jsonl(world, events, tmp_path / "events.jsonl")
    corpus = load_jsonl(papers_path, events_path)
    assert len(corpus.papers) == 60
    assert len(corpus.interactions) == 50
    first = data.interactions(world, events, [0])[0]
    assert first.event_id in {i.event_id for i in corpus.interactions}
    stored = next(i for i in corpus.interactions if i.event_id == first.event_id)
    assert (stored.user_id, stored.paper_id, stored.occurred_at) == (
        first.user_id,
        first.paper_id,
        first.occurred_at,
    )


def test_nearest_rank_percentiles() -> None:
    values = list(range(1, 101))
    assert percentile(values, 50) == 50
    assert percentile(values, 99) == 99
    assert percentile(values, 100) == 100
    assert percentile(values, 0) == 1
    assert percentile([4.0, 1.0, 3.0, 2.0], 50) == 2.0
    assert percentile([7.0], 99) == 7.0
    assert math.isnan(percentile([], 50))
    with pytest.raises(ValueError, match="q must be"):
        percentile(values, 101)


def test_allocate_gives_disjoint_slices_and_shrinks_them_alike() -> None:
    ids = [f"u{n}" for n in range(30)]
    plenty = workload.allocate(ids, {"a": 10, "b": 5})
    assert plenty == {"a": ids[:10], "b": ids[10:15]}
    short = workload.allocate(ids, {"a": 40, "b": 20})
    assert (len(short["a"]), len(short["b"])) == (20, 10)
    assert not set(short["a"]) & set(short["b"])
    batches = workload.allocate(ids, {"one": 10, "batch": 40}, {"batch": 7})
    assert (len(batches["one"]), len(batches["batch"])) == (6, 21)  # 24 rounded down to 3 x 7


def test_load_generator_against_a_real_server(
    start_server: Callable[..., ThreadedServer], world: data.World
) -> None:
    server = start_server()
    pids = [os.getpid()]  # the fixture's server runs in this process

    floor = run_load(
        LoadSpec(server.address, CHECK_METHOD, [workload.check_request()], clients=2, duration=0.3),
        pids,
    )
    assert floor.requests > 0 and not floor.errors
    assert floor.clients == 2 and floor.processes == 1
    assert np.all(floor.latencies_ms > 0)
    assert floor.throughput > 0 and floor.latency_ms(50) <= floor.latency_ms(99)

    upserts = workload.upsert_requests(world.day, DAYS[-1], 3, prefix="t-")
    written = run_load(
        LoadSpec(
            server.address,
            RANKER + "UpsertPapers",
            upserts,
            clients=2,
            unique=True,
            warmup=0,
            duration=30,
        ),
        pids,
    )
    assert written.requests == 3 and not written.errors  # a unique pool ends the run

    ranked = run_load(
        LoadSpec(
            server.address,
            RANKER + "RankPapers",
            workload.rank_requests(["reader"], DAYS[-1]),
            warmup=1,
            duration=0.3,
            check="rank",
        ),
        pids,
    )
    assert not ranked.errors
    assert ranked.checks == {"POPULAR cached": ranked.requests}  # the warm-up cached it


def test_load_errors_are_counted_not_timed(start_server: Callable[..., ThreadedServer]) -> None:
    server = start_server()
    unknown_day = workload.rank_requests(["reader"], dt.date(2030, 1, 1))
    result = run_load(
        LoadSpec(server.address, RANKER + "RankPapers", unknown_day, warmup=0, duration=0.2),
        [os.getpid()],
    )
    assert result.requests == 0
    assert set(result.errors) == {"NOT_FOUND"}


def fake_result(clients: int, latency_ms: float, requests: int = 100) -> LoadResult:
    return LoadResult(
        clients=clients,
        processes=1,
        requests=requests,
        seconds=requests * latency_ms / 1000 / clients,
        latencies_ms=np.full(requests, latency_ms),
        errors={},
        checks={"PERSONAL cached": 10},
        client_cpu_seconds=0.1,
        server_cpu_by_pid={1: 0.5},
    )


def measured(floor_ms: float, row_ms: Sequence[float], clients: int = 1) -> Measured:
    """A row's runs at ``row_ms`` each, each after a floor run at ``floor_ms``."""
    return Measured(
        tuple(fake_result(clients, ms) for ms in row_ms),
        tuple(fake_result(clients, floor_ms) for _ in row_ms),
    )


def as_tuple(spread: Spread) -> tuple[float, float, float]:
    return (spread.median, spread.low, spread.high)


def test_ratios_pair_each_run_with_the_floor_run_before_it() -> None:
    row = Measured(
        (fake_result(1, 2.0), fake_result(1, 4.0), fake_result(1, 3.0)),
        (fake_result(1, 1.0), fake_result(1, 4.0), fake_result(1, 1.0)),
    )
    assert as_tuple(row.throughput_ratio()) == pytest.approx((0.5, 1 / 3, 1.0))  # 1/2, 1, 1/3
    assert as_tuple(row.latency_ratio(99)) == pytest.approx((2.0, 1.0, 3.0))
    assert as_tuple(row.latency_ms(50)) == pytest.approx((3.0, 2.0, 4.0))
    assert row.requests == 300
    assert row.throughput_ratio().text(lambda v: f"{v:.2f}", "x") == "0.50x (0.33-1.00)"
    floor = Measured((fake_result(1, 1.0), fake_result(1, 2.0), fake_result(1, 4.0)))
    # The floor row: each run against the median of its runs.
    assert as_tuple(floor.latency_ratio(50)) == pytest.approx((1.0, 0.5, 2.0))
    unpaired = bounds_of_ratio(Spread(4.0, 2.0, 6.0), Spread(2.0, 1.0, 3.0))
    assert as_tuple(unpaired) == pytest.approx((2.0, 2 / 3, 6.0))
    assert not Spread.of([]).measured and Spread.of([]).text(str) == "-"
    with pytest.raises(ValueError, match="floors"):
        Measured((fake_result(1, 1.0),), (fake_result(1, 1.0), fake_result(1, 1.0)))


def test_report_renders_tables_goals_and_files(tmp_path: Path) -> None:
    results = report.SpeedResults(
        command="python -m bench.speed --quick", concurrencies=(1, 8), repeats=2
    )
    results.setup.update(
        machine="2 cores", day_papers=3000, backend="SQLite", workers_cache="Redis"
    )
    floor_1 = (fake_result(1, 1.0), fake_result(1, 1.0))
    floor_8 = (fake_result(8, 2.0), fake_result(8, 2.0))
    results.rows += [
        report.RpcRow("check", "Check", {1: Measured(floor_1), 8: Measured(floor_8)}),
        report.RpcRow(
            "rank_hit", "hit", {1: measured(1.0, [1.25, 1.25]), 8: measured(2.0, [2.5, 2.0], 8)}
        ),
        report.RpcRow(
            "rank_hit_redis",
            "hit (Redis)",
            {1: measured(1.0, [2.5, 2.5]), 8: measured(2.0, [2.5, 2.5], 8)},
        ),
        report.RpcRow("fold_in_miss", "fold-in", {1: measured(1.0, [3.0, 8.0])}),
        report.RpcRow("batch_hit", "batch", {1: measured(1.0, [50.0, 50.0])}, 100, "readers/s"),
        report.RpcRow("record", "record", {8: measured(2.0, [90.0, 120.0], 8)}),
    ]
    results.workers += [
        report.WorkersRun(1, measured(2.0, [2.0, 2.0], 8), ((8,), (8,)), (1.0,)),
        report.WorkersRun(2, measured(2.0, [1.0, 1.0], 8), ((5, 3), (4, 4)), (1.0, 0.9)),
    ]
    results.precompute += [
        PrecomputeRun(1_000, "done", 0.5, 0.6, 1.5, 1_000, 1_000),
        PrecomputeRun(10_000, "done", 1.0, 1.1, 11.0, 10_000, 10_000),
    ]
    results.training.append(TrainRun(10_000, 400, 60, 1, 2, 30.0, 25.0, 340.0, 0, tmp_path / "l"))
    text = report.markdown(results)
    assert "| Check | 1,000 | 1.00 | 1.00 | 1.00x | 1.00x |" in text
    assert "| hit | 800 | 1.25 | 1.25 | 0.80x | 1.25x | 3,600 |" in text  # 8c: 3,200 and 4,000
    assert "| 0.90x (0.80-1.00) |" in text
    assert "| batch | 20.0 | 50.0 | 50.0 | 0.02x | 50.00x | - |" in text
    assert "2,000 readers/s" in text
    assert "connections per worker 4/4 or 5/3" in text
    assert "| 100,000 (on paper) | T = L + N / r from 10,000 | 1.0 | - | - | 101 |" in text
    goals = {goal.name: goal for goal in report.goals(results)}
    assert goals["cache-hit RankPapers throughput vs the floor (1 client)"].met
    assert goals["cache-hit RankPapers throughput vs the floor (8 clients)"].met
    fold_in_p99 = goals["FOLD_IN miss p99 vs the floor's p99 (1 client)"].ratio
    assert as_tuple(fold_in_p99) == pytest.approx((5.5, 3.0, 8.0))
    assert not goals["FOLD_IN miss p99 vs the floor's p99 (1 client)"].met
    assert goals["FOLD_IN miss p50 (1 client)"].met is True  # 5.5 ms
    assert goals["RankPapersBatch of 100 cached readers, p50 of the calls (1 client)"].met is True
    assert (
        goals["RankPapersBatch of 100 never-ranked readers, p50 of the calls (1 client)"].met
        is None
    )
    record_p99 = goals["RecordInteractions p99 on SQLite (8 clients)"].ratio
    assert as_tuple(record_p99) == pytest.approx((1.05, 0.9, 1.2))
    assert goals["UpsertPapers p99 on SQLite (8 clients)"].met is None
    workers = goals["--workers 2 vs --workers 1, cache-hit RankPapers with Redis (8 clients)"]
    assert workers.met and workers.ratio.median == pytest.approx(2.0)
    assert not goals["Redis-backed cache hit vs in-process, p50 latency (1 client)"].met
    assert goals["Redis-backed cache hit vs in-process, throughput (8 clients)"].ratio.median == (
        pytest.approx(3600 / 3200)
    )
    assert "| not measured |" in text
    paths = report.write(results, tmp_path / "out")
    assert paths["plot"].stat().st_size > 0
    dumped = json.loads(paths["json"].read_text())
    hit_8 = dumped["rpcs"]["rank_hit"]["by_clients"]["8"]
    assert hit_8["throughput"] == pytest.approx(3600)
    assert len(hit_8["runs"]) == len(hit_8["floor_runs"]) == 2
    assert hit_8["ratio_to_floor"]["throughput"] == {"median": 0.9, "low": 0.8, "high": 1.0}
    assert dumped["precompute"]["on_paper"]["seconds"] == pytest.approx(101.0)
    assert {g["name"]: g["met"] for g in dumped["goals"]} == {
        name: goal.met for name, goal in goals.items()
    }


def test_a_series_runs_each_spec_in_turn_from_one_set_of_processes(
    start_server: Callable[..., ThreadedServer], world: data.World
) -> None:
    server = start_server()
    check = LoadSpec(
        server.address,
        CHECK_METHOD,
        [workload.check_request()],
        clients=3,
        processes=2,
        duration=0.2,
    )
    upserts = LoadSpec(
        server.address,
        RANKER + "UpsertPapers",
        workload.upsert_requests(world.day, DAYS[-1], 4, prefix="s-"),
        clients=3,
        processes=2,
        unique=True,
        warmup=0,
        duration=30,
    )
    held: list[int] = []

    def count(index: int) -> None:
        held.append(connections_by_pid([os.getpid()], server.address)[os.getpid()])

    floor, written, floor_again = run_series([check, upserts, check], [os.getpid()], count)
    assert floor.requests > 0 and floor_again.requests > 0
    assert written.requests == 4 and not written.errors
    assert held == [3, 3, 3]  # one connection per client, open through the whole series
    with pytest.raises(ValueError, match="same address, clients, processes"):
        run_series([check, replace(check, clients=2)])


def test_the_precompute_poller_says_when_the_server_has_no_such_metrics(tmp_path: Path) -> None:
    bare = CollectorRegistry()
    Counter("papersift_rpcs", "some other metric", registry=bare).inc()
    address, stop = serve_registry(bare)
    try:
        run = measure(
            address="127.0.0.1:1",  # never called: the metrics decide first
            metrics_address=address,
            model_dir=tmp_path,
            version="v1",
            readers=10,
            timeout=5,
        )
        assert run.status == NOT_AVAILABLE and not run.available
        assert settle(address, timeout=5) is None
    finally:
        stop()
    idle = CollectorRegistry()
    Counter(LISTS_METRIC.removesuffix("_total"), "lists", registry=idle).inc(3)
    Gauge(PENDING_METRIC, "pending", registry=idle).set(0)
    address, stop = serve_registry(idle)
    try:
        assert scrape_metrics(address)[LISTS_METRIC] == 3
        assert settle(address, timeout=5) == 0.0
    finally:
        stop()
    assert extrapolate(PrecomputeRun(10, "done", 1.0, 1.2, 3.0, 10), 100) == pytest.approx(21.0)
    assert math.isnan(extrapolate(PrecomputeRun(10, NOT_AVAILABLE), 100))


def serve_registry(registry: CollectorRegistry) -> tuple[str, Callable[[], None]]:
    """Serve ``registry`` on a free loopback port; its address and a function to stop it."""
    port = free_port()
    http, thread = start_http_server(port, addr="127.0.0.1", registry=registry)

    def stop() -> None:
        http.shutdown()
        http.server_close()
        thread.join(timeout=5)

    return f"127.0.0.1:{port}", stop


def test_profile_summary_counts_self_and_inclusive_samples() -> None:
    lines = [
        "main (server/cli.py:1);serve (server/b.py:2);rank (c.py:3) 6",
        "main (server/cli.py:1);serve (server/b.py:9);encode (d.py:4) 3",
        "main (server/cli.py:1) 1",
    ]
    profile = summarize(lines)
    shares = {f.function: (f.self_share, f.total_share) for f in profile.functions}
    assert profile.samples == 10
    assert shares["c.py:rank"] == (0.6, 0.6)
    assert shares["server/b.py:serve"] == (0.0, 0.9)  # two lines of one function are merged
    assert shares["server/cli.py:main"] == (0.1, 1.0)
    by_self, ours = profile.table().split("papersift's functions")
    assert by_self.index("`c.py:rank` | 60.0 | 60.0") < by_self.index("`d.py:encode`")
    assert "`server/b.py:serve` | 0.0 | 90.0" in ours
    assert "server/cli.py" not in ours  # the entry point holds every sample: left out


def test_rusage_reports_the_command_s_own_peak_memory(tmp_path: Path) -> None:
    out = tmp_path / "usage.json"
    allocate = "import sys; block = bytearray(64 * 1024 * 1024); sys.exit(3)"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.speed.rusage",
            str(out),
            "--",
            sys.executable,
            "-c",
            allocate,
        ],
        cwd=Path(__file__).resolve().parents[2],
        check=False,
    )
    usage = json.loads(out.read_text())
    assert done.returncode == usage["exit_code"] == 3
    # This test process is far larger than that (numpy, grpc, sklearn): none of it counts.
    assert 64 <= usage["max_rss_kb"] / 1024 < 64 + 40


def test_quick_options_are_small() -> None:
    options = parse_args(["--quick"])
    assert options.duration == 1.5
    assert options.repeats == 3
    assert options.train_sizes == (options.serving_interactions,)
    assert options.redis_url == DEFAULT_REDIS_URL
    assert options.precompute_readers == (1_000, 10_000)
    other = parse_args(["--repeats", "5", "--redis-url", "none", "--precompute-readers", "none"])
    assert (other.repeats, other.redis_url, other.precompute_readers) == (5, None, ())
    with pytest.raises(SystemExit):
        parse_args(["--repeats", "0"])
    assert parse_args(["--train-epochs", "shipped", "--workers", "none"]).train_epochs is None
    with pytest.raises(SystemExit):
        parse_args(["--clients", "0"])
