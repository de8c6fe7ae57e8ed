"""``papersift-server --workers N`` as a real process tree: the port is shared, every worker
serves, metrics add up over workers, a dead worker comes back, SIGTERM drains them all."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from papersift.v1 import ranker_pb2 as pb
from papersift.v1 import ranker_pb2_grpc as pb_grpc
from tests.server.api import DAY, make_paper

START_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Supervisor:
    process: subprocess.Popen[bytes]
    address: str
    metrics_url: str
    metrics_dir: Path
    log: Path

    def worker_pids(self) -> set[int]:
        """Workers alive now: the supervisor's children."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return {int(pid) for pid in children.read_text().split()}

    def served_by(self) -> set[int]:
        """Processes that logged at least one RankPapers call (the JSON access log)."""
        return {
            int(json.loads(line)["process"])
            for line in self.log.read_text().splitlines()
            if '"rpc": "RankPapers"' in line
        }

    def metrics(self) -> str:
        with urllib.request.urlopen(self.metrics_url, timeout=5) as response:
            return str(response.read().decode())


def rpc_count(metrics: str, method: str, code: str = "OK") -> float:
    prefix = f'papersift_rpc_duration_seconds_count{{code="{code}",method="{method}"}} '
    return sum(
        float(line[len(prefix) :]) for line in metrics.splitlines() if line.startswith(prefix)
    )


def wait_serving(address: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        assert process.poll() is None, f"server exited early:\n{log.read_text()}"
        with grpc.insecure_channel(address) as channel:
            try:
                reply = health_pb2_grpc.HealthStub(channel).Check(
                    health_pb2.HealthCheckRequest(), timeout=1
                )
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                pass
        time.sleep(0.2)
    pytest.fail(f"server not serving after {START_TIMEOUT} s:\n{log.read_text()}")


def wait_all_ready(running: Supervisor, workers: int) -> None:
    """Wait until ``workers`` distinct worker processes have logged that they serve."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        assert running.process.poll() is None, f"server exited early:\n{running.log.read_text()}"
        ready = {
            json.loads(line)["process"]
            for line in running.log.read_text().splitlines()
            if '"store ready; serving"' in line
        }
        if len(ready & running.worker_pids()) >= workers:
            return
        time.sleep(0.1)
    pytest.fail(f"{workers} workers not ready after {START_TIMEOUT} s:\n{running.log.read_text()}")


@pytest.fixture
def supervisor(tmp_path: Path) -> Iterator[Supervisor]:
    """``papersift-server --workers 2`` on a free port, with metrics; stopped after the test."""
    port, metrics_port = free_port(), free_port()
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    log = tmp_path / "server.log"
    env = {
        **os.environ,
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "PAPERSIFT_DATABASE_URL": f"sqlite:///{tmp_path / 'papersift.db'}",
        "PAPERSIFT_MODEL_DIR": str(tmp_path / "models"),
    }
    env.pop("PAPERSIFT_REDIS_URL", None)
    command = [
        sys.executable,
        "-m",
        "papersift.server.cli",
        *("--workers", "2", "--listen", f"127.0.0.1:{port}", "--grace-period", "10"),
        *("--metrics-listen", f"127.0.0.1:{metrics_port}", "--log-format", "json"),
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    running = Supervisor(
        process, f"127.0.0.1:{port}", f"http://127.0.0.1:{metrics_port}/metrics", metrics_dir, log
    )
    try:
        wait_all_ready(running, 2)
        yield running
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def rank_on_new_connections(address: str, calls: int) -> list[grpc.StatusCode]:
    """One RankPapers per fresh channel (a new TCP connection, so the kernel picks a worker)."""
    codes = []
    for n in range(calls):
        # A distinct channel argument keeps gRPC from reusing one subchannel for all of them.
        with grpc.insecure_channel(address, options=[("papersift.test.n", n)]) as channel:
            stub = pb_grpc.RankerStub(channel)
            try:
                stub.RankPapers(pb.RankPapersRequest(user_id=f"u{n}", date=DAY), timeout=10)
                codes.append(grpc.StatusCode.OK)
            except grpc.RpcError as exc:
                codes.append(exc.code())
    return codes


def seed(address: str) -> None:
    with grpc.insecure_channel(address) as channel:
        stub = pb_grpc.RankerStub(channel)
        stub.UpsertPapers(pb.UpsertPapersRequest(papers=[make_paper(n) for n in range(1, 6)]))


def test_every_worker_serves_and_metrics_add_up(supervisor: Supervisor) -> None:
    seed(supervisor.address)
    codes = rank_on_new_connections(supervisor.address, 40)

    assert codes == [grpc.StatusCode.OK] * 40
    workers = supervisor.worker_pids()
    assert len(workers) == 2
    assert supervisor.served_by() == workers  # the kernel spread the connections
    assert rpc_count(supervisor.metrics(), "RankPapers") == 40
    log = supervisor.log.read_text()
    assert '"rpc": "RankPapers", "status": "OK"' in log
    assert '"user_id": "u39"' in log
    # --workers 2 without Redis: the supervisor states the trade-off once.
    warning = next(json.loads(line) for line in log.splitlines() if "caches on its own" in line)
    assert warning["level"] == "WARNING"
    assert "the next page of a list may be ranked again by another worker" in warning["message"]
    assert "DeleteUser clears only one worker's lists" in warning["message"]
    assert log.count("caches on its own") == 1


def test_a_killed_worker_is_replaced(supervisor: Supervisor) -> None:
    seed(supervisor.address)
    before = supervisor.worker_pids()
    victim = min(before)
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        now = supervisor.worker_pids()
        if len(now) == 2 and victim not in now:
            break
        time.sleep(0.1)
    after = supervisor.worker_pids()
    assert len(after) == 2 and victim not in after
    wait_all_ready(supervisor, 2)
    assert rank_on_new_connections(supervisor.address, 10) == [grpc.StatusCode.OK] * 10
    assert supervisor.process.poll() is None


def test_sigterm_drains_every_worker_and_frees_the_port(supervisor: Supervisor) -> None:
    seed(supervisor.address)
    workers = supervisor.worker_pids()
    channel = grpc.insecure_channel(supervisor.address)
    stub = pb_grpc.RankerStub(channel)
    futures = [
        stub.RankPapersBatch.future(
            pb.RankPapersBatchRequest(user_ids=[f"r{n}-{k}" for k in range(50)], date=DAY),
            timeout=20,
        )
        for n in range(10)
    ]
    # Let the calls reach the workers: this test is about calls in flight. (A call still on
    # the wire when the signal lands may end CANCELLED instead of UNAVAILABLE: see issue 7.)
    time.sleep(0.5)
    supervisor.process.send_signal(signal.SIGTERM)
    outcomes = []
    for future in futures:
        try:
            future.result()
            outcomes.append(grpc.StatusCode.OK)
        except grpc.RpcError as exc:
            outcomes.append(exc.code())
    channel.close()

    assert supervisor.process.wait(timeout=20) == 0
    # In flight: finished; arrived after the signal: refused cleanly, never cut off midway.
    assert set(outcomes) <= {grpc.StatusCode.OK, grpc.StatusCode.UNAVAILABLE}
    assert grpc.StatusCode.OK in outcomes
    assert not any(Path(f"/proc/{pid}").exists() for pid in workers)
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", int(supervisor.address.rsplit(":")[1]))) != 0
    assert "stopped" in supervisor.log.read_text()


def test_several_workers_need_a_fixed_port(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "papersift.server.cli", "--workers", "2", "--listen", "127.0.0.1:0"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert "--listen needs a fixed port" in result.stderr
