"""`make demo`: the whole loop on the embedded default (SQLite + in-process cache).

Starts papersift-server, ingests three real arXiv days and the two seed feeds with the
`papersift` CLI, records a few interactions, prints ranked lists, and stops the server.
Every step is an ordinary command, printed before it runs, so you can repeat it by hand.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
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

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
WORK = ROOT / ".demo"
SAMPLE = ROOT / "data" / "sample"
ARXIV_DAYS = SAMPLE / "arxiv-2025-04-01_03.jsonl.gz"
DAY = "2025-04-01"
SEED_DAY = "2025-04-03"


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
    """Three readers' clicks and saves on papers of the first day, written as JSONL."""
    with gzip.open(ARXIV_DAYS, "rt", encoding="utf-8") as lines:
        day = [json.loads(line) for line in lines if json.loads(line)["first_listed"] == DAY]
    by_topic = {
        "language": [p for p in day if "language model" in p["title"].lower()],
        "vision": [p for p in day if "cs.CV" in p["categories"]],
    }
    now = dt.datetime.now(dt.UTC)
    events = []
    plan = [
        ("alice", "save", by_topic["language"][:3]),
        ("bob", "click", by_topic["vision"][:4]),
        ("carol", "click", by_topic["language"][:1] + by_topic["vision"][:1]),
    ]
    for user, kind, papers in plan:
        for paper in papers:
            events.append(
                {
                    "event_id": f"demo-{user}-{kind}-{paper['arxiv_id']}",
                    "user_id": user,
                    "paper_id": f"arxiv:{paper['arxiv_id']}",
                    "kind": kind,
                    "occurred_at": now.isoformat(),
                }
            )
    top = by_topic["language"][0]
    events.append(
        {
            "event_id": "demo-carol-dismiss",
            "user_id": "carol",
            "paper_id": f"arxiv:{top['arxiv_id']}",
            "kind": "dismiss",
            "occurred_at": now.isoformat(),
        }
    )
    path = WORK / "events.jsonl"
    path.write_text("".join(json.dumps(event) + "\n" for event in events), encoding="utf-8")
    return path


def main() -> int:
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir()
    address = f"127.0.0.1:{free_port()}"
    database = f"sqlite:///{WORK / 'papersift.db'}"
    log = (WORK / "server.log").open("wb")
    command = [
        str(BIN / "papersift-server"),
        "serve",
        "--listen",
        address,
        "--database-url",
        database,
    ]
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
        run(*cli, "rank", "--user", "alice", "--date", DAY, "--limit", "8", "--explain")
        run(*cli, "rank", "--user", "carol", "--date", DAY, "--limit", "8")
        run(*cli, "rank", "--user", "alice", "--date", DAY, "--limit", "8")
        run(*cli, "model-info")
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
