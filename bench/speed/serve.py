"""Start and stop ``papersift-server`` subprocesses on loopback, wait for their model, read
their Prometheus metrics, and count the connections each of their workers holds."""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import grpc
import redis
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client.parser import text_string_to_metric_families

from papersift.v1 import ranker_pb2, ranker_pb2_grpc

__all__ = [
    "ServerProcess",
    "connections_by_pid",
    "delete_cache_keys",
    "free_port",
    "running_server",
    "scrape_metrics",
    "server_flags",
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
    #: ``host:port`` of its ``/metrics`` (``--metrics-listen``), if it serves them.
    metrics_address: str | None = None

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
    metrics: bool = False,
    extra_args: Sequence[str] = (),
) -> Iterator[ServerProcess]:
    """Run ``papersift-server`` on a free loopback port until the block ends.

    Waits until every worker answers health checks with SERVING. Stopped with SIGTERM (a
    graceful drain), killed if it has not exited 30 s later, also when the block fails.
    ``env``: extra environment variables of the server (e.g. ``PAPERSIFT_CONTENT_MODEL``).
    ``metrics``: serve ``/metrics`` on another free loopback port (``--metrics-listen``).
    ``extra_args``: more flags of ``papersift-server serve``.
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
    metrics_address = f"127.0.0.1:{free_port()}" if metrics else None
    if metrics_address:
        command += ["--metrics-listen", metrics_address]
    command += extra_args
    environment = {**os.environ, "PAPERSIFT_REDIS_URL": redis_url or "", **(env or {})}
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=environment)
        server = ServerProcess(address, process, log_path, workers, metrics_address)
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


@functools.cache
def server_flags() -> frozenset[str]:
    """The flags ``papersift-server serve`` knows (from its ``--help``)."""
    done = subprocess.run(
        [str(BIN / "papersift-server"), "serve", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    return frozenset(word.rstrip(",") for word in done.stdout.split() if word.startswith("--"))


def scrape_metrics(address: str, timeout: float = 5.0) -> dict[str, float]:
    """Every sample of ``http://address/metrics`` by sample name, summed over its labels."""
    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: no proxy
    with direct.open(f"http://{address}/metrics", timeout=timeout) as reply:
        text = reply.read().decode("utf-8")
    samples: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[sample.name] = samples.get(sample.name, 0.0) + float(sample.value)
    return samples


def connections_by_pid(pids: Sequence[int], address: str) -> dict[int, int]:
    """Established TCP connections to ``address`` (``host:port``) that each process holds.

    With ``--workers`` the kernel hands each new connection to one worker (SO_REUSEPORT); this
    is how the load was spread. Read from ``/proc/net/tcp*`` and each process's open files.
    """
    port = int(address.rsplit(":", 1)[1])
    inodes = _established_inodes(port)
    counts: dict[int, int] = {}
    for pid in pids:
        fd_dir = Path(f"/proc/{pid}/fd")
        held = 0
        try:
            for fd in fd_dir.iterdir():
                with contextlib.suppress(OSError):  # closed meanwhile
                    target = os.readlink(fd)
                    if target.startswith("socket:[") and target[8:-1] in inodes:
                        held += 1
        except OSError:  # the process ended
            pass
        counts[pid] = held
    return counts


def _established_inodes(port: int) -> set[str]:
    """Socket inodes of established connections whose local port is ``port``."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "01" and int(local.rsplit(":", 1)[1], 16) == port:
                inodes.add(inode)
    return inodes
