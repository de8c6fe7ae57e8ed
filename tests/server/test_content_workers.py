"""The untrained content model on two worker processes sharing one Redis: both fit the same
version, so a reader's CONTENT list is the same whichever worker answers, and ranking goes on
while new papers make them refit (real processes, real Redis, real papers)."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from papersift.server.paging import decode_page_token
from papersift.v1 import ranker_pb2 as pb
from papersift.v1 import ranker_pb2_grpc as pb_grpc
from tests.conftest import SHARED_DATA, require_shared
from tests.server.test_content import DAYS, UNTOUCHED, _real_papers
from tests.server.test_workers import Supervisor, free_port, wait_all_ready

WAIT = 120.0
LATE_DAY = "2025-04-10"
READER = "reader-of-language"


@pytest.fixture
def two_workers(tmp_path: Path, redis_url: str, redis_prefix: str) -> Iterator[Supervisor]:
    """``papersift-server --workers 2`` with Redis and the content model on (its default)."""
    require_shared(SHARED_DATA / "arxiv-2025q2" / "papers.jsonl.gz")
    port = free_port()
    log = tmp_path / "server.log"
    env = {
        **os.environ,
        "PAPERSIFT_DATABASE_URL": f"sqlite:///{tmp_path / 'papersift.db'}",
        "PAPERSIFT_MODEL_DIR": str(tmp_path / "models"),
        "PAPERSIFT_REDIS_URL": redis_url,
        "PAPERSIFT_CACHE_PREFIX": redis_prefix,
        # The worker that took no write notices new papers at this interval.
        "PAPERSIFT_CONTENT_REFRESH_INTERVAL": "1",
    }
    command = [
        sys.executable,
        *("-m", "papersift.server.cli", "--workers", "2", "--listen", f"127.0.0.1:{port}"),
        *("--log-format", "json", "--grace-period", "5"),
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    running = Supervisor(process, f"127.0.0.1:{port}", "", tmp_path, log)
    try:
        wait_all_ready(running, 2)
        yield running
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def fitted_versions(running: Supervisor) -> dict[int, str]:
    """The latest content model each worker process logged as fitted."""
    latest: dict[int, str] = {}
    for line in running.log.read_text().splitlines():
        if '"papersift.server.content"' not in line or " fitted on " not in line:
            continue
        record = json.loads(line)
        latest[record["process"]] = record["message"].split()[2]
    return latest


def wait_for_one_version(running: Supervisor, papers: int) -> str:
    """Wait until both workers fitted a model on ``papers`` papers and logged the same one."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        fitted = fitted_versions(running)
        settled = [
            line
            for line in running.log.read_text().splitlines()
            if f"fitted on {papers} papers" in line
        ]
        if len(fitted) == 2 and len(set(fitted.values())) == 1 and len(settled) >= 2:
            return next(iter(fitted.values()))
        time.sleep(0.2)
    pytest.fail(f"the workers did not settle on one content model:\n{running.log.read_text()}")


def rank_on_new_connections(address: str, calls: int) -> list[pb.RankPapersResponse]:
    """One RankPapers of ``READER`` per fresh channel (the kernel picks the worker)."""
    answers = []
    for n in range(calls):
        with grpc.insecure_channel(address, options=[("papersift.test.n", n)]) as channel:
            request = pb.RankPapersRequest(user_id=READER, date=UNTOUCHED, limit=10)
            answers.append(pb_grpc.RankerStub(channel).RankPapers(request, timeout=30))
    return answers


def rankers_of(running: Supervisor) -> set[int]:
    """The worker processes that answered a RankPapers of ``READER``."""
    return {
        record["process"]
        for record in (
            json.loads(line) for line in running.log.read_text().splitlines() if '"rpc"' in line
        )
        if record["rpc"] == "RankPapers" and record.get("user_id") == READER
    }


def key_of(answer: pb.RankPapersResponse) -> tuple[str, str]:
    """The model version and day revision (with the community's version) a list was cached at."""
    token = decode_page_token(
        answer.next_page_token, user_id=READER, date=dt.date.fromisoformat(UNTOUCHED)
    )
    return token.model_version, token.day_rev


def model_of(answer: pb.RankPapersResponse) -> str:
    return key_of(answer)[0]


def rank_until_agreed(address: str) -> list[pb.RankPapersResponse]:
    """Rank on fresh connections until both workers answer under one cache key (each worker
    reloads the community's taste on its own clock after a like)."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        answers = rank_on_new_connections(address, 8)
        if len({key_of(answer) for answer in answers}) == 1:
            return answers
        time.sleep(0.2)
    pytest.fail("the two workers never answered under one cache key")


def test_two_workers_share_one_content_model_and_rank_through_refits(
    two_workers: Supervisor,
) -> None:
    papers = list(_real_papers((*DAYS, UNTOUCHED)))
    late = list(_real_papers((LATE_DAY,)))
    with grpc.insecure_channel(two_workers.address) as channel:
        stub = pb_grpc.RankerStub(channel)
        for start in range(0, len(papers), 500):
            stub.UpsertPapers(pb.UpsertPapersRequest(papers=papers[start : start + 500]))
        first = wait_for_one_version(two_workers, len(papers))
        day = stub.RankPapers(pb.RankPapersRequest(user_id="x", date=DAYS[-1], limit=100))
        saved = [p.paper.paper_id for p in day.papers if list(p.paper.categories) == ["cs.CL"]]
        at = Timestamp(seconds=1_744_100_000)
        stub.RecordInteractions(
            pb.RecordInteractionsRequest(
                interactions=[
                    pb.Interaction(
                        event_id=f"s{n}",
                        user_id=READER,
                        paper_id=paper_id,
                        kind=pb.INTERACTION_KIND_SAVE,
                        occurred_at=at,
                    )
                    for n, paper_id in enumerate(saved[:3])
                ]
            )
        )

        settled = rank_until_agreed(two_workers.address)

        # New papers make both workers refit while readers are being ranked.
        with ThreadPoolExecutor(2) as pool:
            ranking = pool.submit(rank_on_new_connections, two_workers.address, 16)
            stub.UpsertPapers(pb.UpsertPapersRequest(papers=late))
            during = ranking.result()
        second = wait_for_one_version(two_workers, len(papers) + len(late))
        after = rank_until_agreed(two_workers.address)

    assert len(saved) >= 3
    assert all(answer.strategy == pb.STRATEGY_CONTENT for answer in settled + during + after)
    assert {model_of(answer) for answer in settled} == {first}
    assert {model_of(answer) for answer in after} == {second} != {first}
    # One version, one list, whichever worker answered: computed at most once, then Redis.
    for answers in (settled, after):
        assert len({tuple(p.paper.paper_id for p in a.papers) for a in answers}) == 1
        assert sum(not answer.cached for answer in answers) <= 1
    assert len(rankers_of(two_workers)) == 2  # both workers answered some of these calls
    # Every answer during the refits came from one of the two models, whole.
    by_model = {model_of(answer) for answer in during}
    assert by_model <= {first, second}
