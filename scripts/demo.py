"""`make demo`: the whole loop on the embedded default (SQLite + in-process cache).

Starts papersift-server, ingests three real arXiv days and the two seed feeds, records the
clicks and saves of readers with two different tastes on the first two days, shows a POPULAR
list, trains a model (the running server picks it up by itself), then shows PERSONAL lists of
two readers for the third day's unseen papers and a FOLD_IN list for a reader who saved two
papers a moment ago; finally stops the server.
Every step is an ordinary command, printed before it runs, so you can repeat it by hand.
"""

from __future__ import annotations

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


def wait_until_serving(address: str, server: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    with grpc.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            if server.poll() is not None:
                sys.exit(f"papersift-server exited early; see {WORK / 'server.log'}")
            try:
                reply = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=1)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                pass
            time.sleep(0.2)
    sys.exit(f"papersift-server did not become ready in {timeout:.0f} s; see {WORK / 'server.log'}")


def demo_events() -> Path:
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
    path = WORK / "events.jsonl"
    path.write_text("".join(json.dumps(event) + "\n" for event in events), encoding="utf-8")
    return path


def newcomer_saves() -> list[str]:
    """Two cs.CV papers of day one a brand-new reader saves (not in the trained model)."""
    with gzip.open(ARXIV_DAYS, "rt", encoding="utf-8") as lines:
        papers = [json.loads(line) for line in lines]
    picks = [p for p in papers if p["first_listed"] == TRAIN_DAYS[0] and "cs.CV" in p["categories"]]
    return [f"arxiv:{p['arxiv_id']}" for p in picks[-2:]]


def wait_for_model(address: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    with grpc.insecure_channel(address) as channel:
        stub = ranker_pb2_grpc.RankerStub(channel)
        while time.monotonic() < deadline:
            if stub.GetModelInfo(ranker_pb2.GetModelInfoRequest(), timeout=5).loaded:
                return
            time.sleep(0.2)
    sys.exit("the server did not pick up the trained model; see .demo/server.log")


def main() -> int:
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir()
    address = f"127.0.0.1:{free_port()}"
    database = f"sqlite:///{WORK / 'papersift.db'}"
    models = str((WORK / "models").relative_to(ROOT))
    log = (WORK / "server.log").open("wb")
    command = [
        str(BIN / "papersift-server"), "serve", "--listen", address,
        "--database-url", database, "--model-dir", models, "--model-poll-interval", "0.5",
    ]  # fmt: skip
    print(f"$ {shlex.join(['papersift-server', *command[1:]])} &   (log: .demo/server.log)")
    env = {**os.environ, "PAPERSIFT_REDIS_URL": ""}
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        wait_until_serving(address, server)
        cli = ("papersift", "--server", address)
        run(*cli, "ingest", str(ARXIV_DAYS.relative_to(ROOT)))
        run(
            *cli,
            "ingest",
            "--date",
            SEED_DAY,
            "data/sample/seed-llm-digest.md",
            "data/sample/seed-hf-daily.txt",
        )
        run(*cli, "record", "--file", str(demo_events().relative_to(ROOT)))
        run(*cli, "rank", "--user", "alice", "--date", DAY, "--limit", "5")
        run(
            "papersift-train",
            "--database-url",
            database,
            "--model-dir",
            models,
            "--report-dir",
            str((WORK / "reports").relative_to(ROOT)),
            "--no-progress",
        )
        wait_for_model(address)
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
    finally:
        print("\nstopping papersift-server (SIGTERM: graceful drain)")
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()
    print("demo finished: the store is in .demo/papersift.db, the server log in .demo/server.log")
    return 0


if __name__ == "__main__":
    os.chdir(ROOT)
    sys.exit(main())
