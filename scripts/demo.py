"""`make demo`: the whole loop on the embedded default (SQLite + in-process cache).

Starts papersift-server, ingests three real arXiv days and the two seed feeds, records the
clicks and saves of readers with two different tastes on the first two days, shows a CONTENT
list (no model is trained yet: the server ranks from alice's saves by content alone) and the
POPULAR list of a reader with no signal, trains a model (the running server picks it up by
itself), then shows PERSONAL lists of two readers for the third day's unseen papers and a
FOLD_IN list for a reader who saved two papers a moment ago; finally stops the server.
Every step is an ordinary command, printed before it runs, so you can repeat it by hand.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gzip
import json
import os
import random
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from papersift.v1 import ranker_pb2, ranker_pb2_grpc

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
WORK = ROOT / ".demo"
SAMPLE = ROOT / "data" / "sample"
ARXIV_DAYS = SAMPLE / "arxiv-2025-04-01_03.jsonl.gz"
TRAIN_DAYS = ("2025-04-01", "2025-04-02")
DAY = "2025-04-03"  # nobody has touched these papers: the model ranks them from content
SEED_DAY = "2025-04-04"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run(*args: str) -> None:
    print(f"\n$ {shlex.join(args)}", flush=True)
    subprocess.run([str(BIN / args[0]), *args[1:]], check=True)


def wait_until_serving(
    address: str, server: subprocess.Popen[bytes], log: Path, timeout: float = 60
) -> None:
    deadline = time.monotonic() + timeout
    with grpc.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            if server.poll() is not None:
                sys.exit(f"papersift-server exited early; see {log}")
            try:
                reply = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=1)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                pass
            time.sleep(0.2)
    sys.exit(f"papersift-server did not become ready in {timeout:.0f} s; see {log}")


def demo_events(work: Path) -> Path:
    """Readers with clear tastes on the first two days, written as JSONL events.

    Language-model readers (alice among them) click and save cs.CL papers about language
    models; vision readers (bob among them) click and save cs.CV papers. Day three gets no
    interactions: its papers are the cold candidates the model must rank.
    """
    with gzip.open(ARXIV_DAYS, "rt", encoding="utf-8") as lines:
        papers = [json.loads(line) for line in lines]
    early = [p for p in papers if p["first_listed"] in TRAIN_DAYS]
    tastes = {
        "language": [p for p in early if "language model" in (p["title"] + p["abstract"]).lower()],
        "vision": [
            p for p in early if p["categories"][0] == "cs.CV" and "language" not in p["abstract"]
        ],
    }
    readers = {"language": ["alice", *(f"llm-reader-{n}" for n in range(12))]}
    readers["vision"] = ["bob", *(f"vision-reader-{n}" for n in range(12))]
    rng = random.Random(7)
    now = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    events = []
    for taste, names in readers.items():
        for user in names:
            for n, paper in enumerate(rng.sample(tastes[taste], 8)):
                events.append(
                    {
                        "event_id": f"demo-{user}-{n}",
                        "user_id": user,
                        "paper_id": f"arxiv:{paper['arxiv_id']}",
                        "kind": "save" if n % 3 == 0 else "click",
                        "occurred_at": (now + dt.timedelta(minutes=n)).isoformat(),
                    }
                )
    path = work / "events.jsonl"
    path.write_text("".join(json.dumps(event) + "\n" for event in events), encoding="utf-8")
    return path


def newcomer_saves() -> list[str]:
    """Two cs.CV papers of day one a brand-new reader saves (not in the trained model)."""
    with gzip.open(ARXIV_DAYS, "rt", encoding="utf-8") as lines:
        papers = [json.loads(line) for line in lines]
    picks = [p for p in papers if p["first_listed"] == TRAIN_DAYS[0] and "cs.CV" in p["categories"]]
    return [f"arxiv:{p['arxiv_id']}" for p in picks[-2:]]


def wait_for_model(address: str, log: Path, *, content: bool = False, timeout: float = 60) -> None:
    """Wait until the server has loaded the trained model (or, with ``content``, until it has
    fitted its content model in the background)."""
    deadline = time.monotonic() + timeout
    with grpc.insecure_channel(address) as channel:
        stub = ranker_pb2_grpc.RankerStub(channel)
        while time.monotonic() < deadline:
            info = stub.GetModelInfo(ranker_pb2.GetModelInfoRequest(), timeout=5)
            if info.loaded or (content and "content model is fitted" in info.message):
                return
            time.sleep(0.2)
    what = "fit its content model" if content else "pick up the trained model"
    sys.exit(f"the server did not {what}; see {log}")


@dataclass(frozen=True)
class DemoServer:
    """A running papersift-server of the demo, its store and model folder (relative to ROOT)."""

    address: str
    database: str
    models: str
    log: Path

    @property
    def cli(self) -> tuple[str, ...]:
        """The start of every ``papersift`` command aimed at this server."""
        return ("papersift", "--server", self.address)


@contextlib.contextmanager
def serve(work: Path) -> Iterator[DemoServer]:
    """Run papersift-server (SQLite + in-process cache, one worker) with its state under ``work``.

    The folder is emptied first; the server is stopped with SIGTERM (a graceful drain) on exit.
    """
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    relative = work.relative_to(ROOT)
    server = DemoServer(
        address=f"127.0.0.1:{free_port()}",
        database=f"sqlite:///{work / 'papersift.db'}",
        models=str(relative / "models"),
        log=relative / "server.log",
    )
    log = (work / "server.log").open("wb")
    command = [
        str(BIN / "papersift-server"), "serve", "--listen", server.address,
        "--database-url", server.database, "--model-dir", server.models,
        "--model-poll-interval", "0.5",
        # One process: the demo's in-process cache and model reload are then one, and the
        # demo's step "wait for the model" holds for every request after it.
        "--workers", "1",
    ]  # fmt: skip
    print(f"$ {shlex.join(['papersift-server', *command[1:]])} &   (log: {server.log})")
    env = {**os.environ, "PAPERSIFT_REDIS_URL": ""}
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        wait_until_serving(server.address, process, server.log)
        yield server
    finally:
        print("\nstopping papersift-server (SIGTERM: graceful drain)")
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def ingest_sample(server: DemoServer) -> None:
    """Ingest the three arXiv days and the two seed feeds of data/sample."""
    run(*server.cli, "ingest", str(ARXIV_DAYS.relative_to(ROOT)))
    run(
        *server.cli,
        "ingest",
        "--date",
        SEED_DAY,
        "data/sample/seed-llm-digest.md",
        "data/sample/seed-hf-daily.txt",
    )


def record_readers(server: DemoServer, work: Path) -> None:
    """Record the clicks and saves of the demo's two groups of readers."""
    run(*server.cli, "record", "--file", str(demo_events(work).relative_to(ROOT)))


def train(server: DemoServer, work: Path) -> None:
    """Train a model on the store and wait until the running server has loaded it."""
    run(
        "papersift-train",
        "--database-url",
        server.database,
        "--model-dir",
        server.models,
        "--report-dir",
        str((work / "reports").relative_to(ROOT)),
        "--no-progress",
    )
    wait_for_model(server.address, server.log)


def main() -> int:
    with serve(WORK) as server:
        cli = server.cli
        ingest_sample(server)
        record_readers(server, WORK)
        wait_for_model(server.address, server.log, content=True)
        run(*cli, "model-info")
        # No model yet: alice's saves rank the day by content; a newcomer gets POPULAR.
        run(*cli, "rank", "--user", "alice", "--date", DAY, "--limit", "5", "--explain")
        run(*cli, "rank", "--user", "nobody-yet", "--date", DAY, "--limit", "3", "--explain")
        train(server, WORK)
        run(*cli, "model-info")
        run(*cli, "rank", "--user", "alice", "--date", DAY, "--limit", "8")
        run(*cli, "rank", "--user", "bob", "--date", DAY, "--limit", "8")
        for n, paper_id in enumerate(newcomer_saves()):
            run(
                *cli,
                "record",
                "--user",
                "newcomer",
                "--paper",
                paper_id,
                "--kind",
                "save",
                "--event-id",
                f"demo-newcomer-{n}",
            )
        run(*cli, "rank", "--user", "newcomer", "--date", DAY, "--limit", "8")
        # Why each paper is there, with rules on top: nothing seen before, a spread of topics.
        run(
            *cli,
            *("rank", "--user", "alice", "--date", DAY, "--limit", "5", "--explain"),
            *("--exclude-seen", "--exclude-keyword", "survey", "--diversity", "0.3"),
        )
    print("demo finished: the store is in .demo/papersift.db, the server log in .demo/server.log")
    return 0


if __name__ == "__main__":
    os.chdir(ROOT)
    sys.exit(main())
