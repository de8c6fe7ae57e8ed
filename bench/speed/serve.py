"""Start and stop ``papersift-server`` subprocesses on loopback, and wait for their model."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import grpc
import redis
from grpc_health.v1 import health_pb2, health_pb2_grpc

from papersift.v1 import ranker_pb2, ranker_pb2_grpc

__all__ = [
    "ServerProcess",
    "delete_cache_keys",
    "free_port",
    "running_server",
    "wait_for_model",
]

BIN = Path(sys.executable).parent


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class ServerProcess:
    """A running ``papersift-server``: its address, its process and its log file."""

    address: str
    process: subprocess.Popen[bytes]
    log: Path
    workers: int

    @property
    def pids(self) -> list[int]:
        """The server's process ids: the process itself and, with workers, its children."""
        pid = self.process.pid
        try:
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:
            children = []
        return [pid, *(int(child) for child in children)]

    @property
    def worker_pids(self) -> list[int]:
        """The processes that serve requests (the workers, or the single process)."""
        pids = self.pids
        return pids[1:] if self.workers > 1 else pids[:1]


@contextlib.contextmanager
def running_server(
    workdir: Path,
    *,
    database_url: str,
    model_dir: Path,
    workers: int = 1,
    redis_url: str | None = None,
    cache_prefix: str = "papersift",
    log_level: str = "INFO",
    name: str = "server",
    ready_timeout: float = 120.0,
    env: Mapping[str, str] | None = None,
) -> Iterator[ServerProcess]:
    """Run ``papersift-server`` on a free loopback port until the block ends.

    Waits until every worker answers health checks with SERVING. Stopped with SIGTERM (a
    graceful drain), killed if it has not exited 30 s later, also when the block fails.
    ``env``: extra environment variables of the server (e.g. ``PAPERSIFT_CONTENT_MODEL``).
    """
    workdir.mkdir(parents=True, exist_ok=True)
    address = f"127.0.0.1:{free_port()}"
    log_path = workdir / f"{name}.log"
    command = [
        str(BIN / "papersift-server"),
        "serve",
        "--listen", address,
        "--workers", str(workers),
        "--database-url", database_url,
        "--model-dir", str(model_dir),
        "--model-poll-interval", "0.5",
        "--log-level", log_level,
    ]  # fmt: skip
    if redis_url:
        command += ["--redis-url", redis_url, "--cache-prefix", cache_prefix]
    environment = {**os.environ, "PAPERSIFT_REDIS_URL": redis_url or "", **(env or {})}
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=environment)
        server = ServerProcess(address, process, log_path, workers)
        try:
            _wait_until_serving(server, ready_timeout)
            yield server
        finally:
            _stop(process)


def _wait_until_serving(server: ServerProcess, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"papersift-server exited early; see {server.log}")
        if len(server.pids) >= (server.workers + 1 if server.workers > 1 else 1) and _serving(
            server.address, server.workers
        ):
            return
        time.sleep(0.2)
    raise RuntimeError(f"papersift-server was not ready within {timeout:.0f} s; see {server.log}")


def _serving(address: str, workers: int) -> bool:
    """Whether fresh connections (which the kernel spreads over the workers) all say SERVING."""
    for _ in range(max(1, 4 * workers) if workers > 1 else 1):
        options = [("grpc.use_local_subchannel_pool", 1)]
        with grpc.insecure_channel(address, options=options) as channel:
            try:
                reply = health_pb2_grpc.HealthStub(channel).Check(
                    health_pb2.HealthCheckRequest(service=""), timeout=2
                )
            except grpc.RpcError:
                return False
            if reply.status != health_pb2.HealthCheckResponse.SERVING:
                return False
    return True


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def delete_cache_keys(redis_url: str, prefix: str) -> int:
    """Delete every key under ``prefix:`` in the Redis at ``redis_url``; how many went."""
    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
        return int(client.delete(*keys)) if keys else 0
    finally:
        client.close()


def wait_for_model(address: str, version: str = "", timeout: float = 120.0) -> str:
    """Wait until the server ranks with a model (``version`` when given); return its version."""
    deadline = time.monotonic() + timeout
    with grpc.insecure_channel(address) as channel:
        stub = ranker_pb2_grpc.RankerStub(channel)
        while time.monotonic() < deadline:
            info = stub.GetModelInfo(ranker_pb2.GetModelInfoRequest(), timeout=5)
            if info.loaded and (not version or info.version == version):
                return str(info.version)
            time.sleep(0.2)
    raise RuntimeError(f"the server at {address} did not load a model within {timeout:.0f} s")
