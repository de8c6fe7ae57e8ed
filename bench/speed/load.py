"""Closed-loop gRPC load from separate client processes, with per-request latencies.

A *client* is one gRPC channel (its own HTTP/2 connection) with one request in flight: it sends
the next request as soon as the previous answer arrives. The clients of a run are spread over
``processes`` OS processes (``spawn``ed, so no gRPC state crosses a fork), each driving its
clients as asyncio tasks on ``grpc.aio``. Requests are serialized before the clock starts and
sent as raw bytes, so a client's CPU goes to the transport, not to building messages; the
answers of a sample of requests are parsed to check what the server did (strategy, cached).

All processes start measuring together (a barrier), keep going for ``duration`` seconds, and
stop early when a pool of unique requests (cache misses, new papers) runs out. A *series*
(:func:`run_series`) runs several such loads one after the other from the same processes and
connections (e.g. the floor and a row, alternately), each after its own warm-up, with every
process waiting for the others between two runs.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import multiprocessing.synchronize
import os
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.queues import Queue
from pathlib import Path
from typing import Any, Literal

import grpc
import numpy as np
import numpy.typing as npt

from papersift.v1 import ranker_pb2 as pb

__all__ = [
    "CHECK_METHOD",
    "Checked",
    "LoadResult",
    "LoadSpec",
    "ProcessResult",
    "cpu_seconds",
    "percentile",
    "run_load",
    "run_series",
]

CHECK_METHOD = "/grpc.health.v1.Health/Check"
RANKER = "/papersift.v1.Ranker/"
#: How answers are checked: not at all, as a RankPapers reply, as a RankPapersBatch reply.
Checked = Literal["none", "rank", "batch"]

_CHANNEL_OPTIONS = (
    # Each client gets its own connection: channels of one process would otherwise share one.
    ("grpc.use_local_subchannel_pool", 1),
    ("grpc.max_receive_message_length", 64 * 1024 * 1024),
    ("grpc.max_send_message_length", 64 * 1024 * 1024),
)
_START_TIMEOUT = 60.0


@dataclass(frozen=True)
class LoadSpec:
    """One load run: which RPC, which requests, how many clients, for how long.

    Attributes:
        address: ``host:port`` of the server (loopback).
        method: Full gRPC method name, e.g. ``/papersift.v1.Ranker/RankPapers``.
        requests: Serialized request messages. Clients cycle through them, or, when ``unique``,
            each is sent once (split between the clients) and the run ends when they run out.
        clients: Concurrent clients, each one channel with one request in flight.
        processes: OS processes the clients are spread over (at most ``clients``).
        duration: Seconds of measurement.
        min_requests: Requests each client completes even past ``duration`` (slow calls).
        warmup: Requests each client sends before the clock starts (connection set-up);
            with ``unique`` they come from a separate ``warmup_requests`` pool.
        warmup_requests: Requests for the warm-up of ``unique`` runs (cycled).
        check: How answers are checked (a sample of them; see ``check_every``).
        check_every: Parse every n-th answer of each client (1: every answer).
        timeout: Deadline of each call in seconds.
    """

    address: str
    method: str
    requests: Sequence[bytes]
    clients: int = 1
    processes: int = 1
    unique: bool = False
    duration: float = 5.0
    min_requests: int = 1
    warmup: int = 3
    warmup_requests: Sequence[bytes] = ()
    check: Checked = "none"
    check_every: int = 1
    timeout: float = 120.0

    def __post_init__(self) -> None:
        """Refuse settings that cannot run, naming the field."""
        if not self.requests:
            raise ValueError("requests must not be empty")
        if self.clients < 1 or not 1 <= self.processes <= self.clients:
            raise ValueError(
                f"need clients >= 1 and 1 <= processes <= clients, got clients={self.clients}, "
                f"processes={self.processes}"
            )
        if self.duration <= 0 or self.min_requests < 0 or self.warmup < 0 or self.check_every < 1:
            raise ValueError("duration must be > 0, min_requests and warmup >= 0, check_every >= 1")


@dataclass
class ProcessResult:
    """What one client process measured (``perf_counter_ns`` timestamps, shared by processes)."""

    starts_ns: npt.NDArray[np.int64]
    latencies_ns: npt.NDArray[np.int64]
    errors: Counter[str] = field(default_factory=Counter)
    checks: Counter[str] = field(default_factory=Counter)
    cpu_seconds: float = 0.0


@dataclass(frozen=True)
class LoadResult:
    """A whole run: every process's requests together."""

    clients: int
    processes: int
    requests: int
    seconds: float
    latencies_ms: npt.NDArray[np.float64]
    errors: dict[str, int]
    checks: dict[str, int]
    client_cpu_seconds: float
    #: CPU seconds of each server process over the measured window, by process id.
    server_cpu_by_pid: dict[int, float] = field(default_factory=dict)

    @property
    def server_cpu_seconds(self) -> float:
        """CPU seconds of all the server's processes over the measured window."""
        return sum(self.server_cpu_by_pid.values())

    @property
    def throughput(self) -> float:
        """Completed requests per second over the measured window."""
        return self.requests / self.seconds if self.seconds > 0 else 0.0

    def latency_ms(self, q: float) -> float:
        """The ``q``-th percentile (0-100) of the latencies, in milliseconds."""
        return percentile(self.latencies_ms, q)

    @property
    def server_cores(self) -> float:
        """Mean number of cores the server's processes kept busy during the run."""
        return self.server_cpu_seconds / self.seconds if self.seconds > 0 else 0.0

    @property
    def client_cores(self) -> float:
        """Mean number of cores the load generator's processes kept busy during the run."""
        return self.client_cpu_seconds / self.seconds if self.seconds > 0 else 0.0


def percentile(values: Sequence[float] | npt.NDArray[np.float64], q: float) -> float:
    """The nearest-rank ``q``-th percentile: the smallest value with at least q% at or below it.

    No interpolation, so p99 of 100 values is the 99th smallest, always a measured value.
    ``nan`` for no values.
    """
    if not 0 <= q <= 100:
        raise ValueError(f"q must be in [0, 100], got {q}")
    ordered = np.sort(np.asarray(values, dtype=np.float64))
    if len(ordered) == 0:
        return float("nan")
    rank = max(1, int(np.ceil(q / 100 * len(ordered))))
    return float(ordered[rank - 1])


def cpu_seconds(pids: Sequence[int]) -> float:
    """User + system CPU seconds the processes have used so far (Linux ``/proc``)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:  # the process ended: its time is gone with it
            continue
        # Fields after the command name (which may hold spaces) start at the last ')'.
        fields = stat[stat.rindex(")") + 2 :].split()
        total += int(fields[11]) + int(fields[12])
    return total / ticks


def run_load(spec: LoadSpec, server_pids: Sequence[int] = ()) -> LoadResult:
    """Run ``spec`` from ``spec.processes`` client processes; return the merged measurements.

    ``server_pids``: processes whose CPU time over the measured window is reported.
    """
    return run_series([spec], server_pids)[0]


def run_series(
    specs: Sequence[LoadSpec],
    server_pids: Sequence[int] = (),
    on_start: Callable[[int], object] | None = None,
) -> list[LoadResult]:
    """Run ``specs`` one after the other from one set of client processes; a result each.

    Interleaving runs (the floor, a row, the floor, a row, ...) in the same processes costs one
    process start for the whole series, and keeps each row next to its floor in time. Every
    spec must have the same ``clients`` and ``processes``; each has its own warm-up, and all
    processes start each measurement together. ``on_start(i)`` is called as spec ``i``'s
    measurement starts (its connections are open by then).
    """
    if not specs:
        return []
    first_spec = specs[0]
    shape = (first_spec.address, first_spec.clients, first_spec.processes)
    if any((spec.address, spec.clients, spec.processes) != shape for spec in specs):
        raise ValueError("specs: every run of a series needs the same address, clients, processes")
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(first_spec.processes + 1)
    results: Queue[ProcessResult | str] = context.Queue()
    shares = _split(first_spec.clients, first_spec.processes)
    workers = []
    first = 0
    for share in shares:
        worker = context.Process(
            target=_process_main,
            args=(list(specs), first, share, barrier, results),
            daemon=True,
        )
        worker.start()
        workers.append(worker)
        first += share
    merged: list[LoadResult] = []
    try:
        for index, spec in enumerate(specs):
            barrier.wait(timeout=_START_TIMEOUT + spec.timeout)
            if on_start is not None:
                on_start(index)
            server_before = {pid: cpu_seconds([pid]) for pid in server_pids}
            collected: list[ProcessResult] = []
            for _ in workers:
                wait = spec.duration + spec.timeout * max(1, spec.min_requests)
                outcome = results.get(timeout=wait)
                if isinstance(outcome, str):
                    raise RuntimeError(f"a load process failed: {outcome}")
                collected.append(outcome)
            server_cpu = {pid: cpu_seconds([pid]) - server_before[pid] for pid in server_pids}
            merged.append(_merge(spec, collected, server_cpu))
            barrier.wait(timeout=_START_TIMEOUT + spec.timeout)
    finally:
        for worker in workers:
            worker.join(timeout=10)
            if worker.is_alive():
                worker.terminate()
                worker.join()
    return merged


def _split(clients: int, processes: int) -> list[int]:
    base, extra = divmod(clients, processes)
    return [base + (1 if index < extra else 0) for index in range(processes)]


def _merge(
    spec: LoadSpec, parts: Sequence[ProcessResult], server_cpu: dict[int, float]
) -> LoadResult:
    starts = np.concatenate([part.starts_ns for part in parts])
    latencies = np.concatenate([part.latencies_ns for part in parts])
    seconds = float((starts + latencies).max() - starts.min()) / 1e9 if len(starts) else 0.0
    errors: Counter[str] = Counter()
    checks: Counter[str] = Counter()
    for part in parts:
        errors.update(part.errors)
        checks.update(part.checks)
    return LoadResult(
        clients=spec.clients,
        processes=spec.processes,
        requests=len(latencies),
        seconds=seconds,
        latencies_ms=latencies.astype(np.float64) / 1e6,
        errors=dict(errors),
        checks=dict(checks),
        client_cpu_seconds=sum(part.cpu_seconds for part in parts),
        server_cpu_by_pid=server_cpu,
    )


def _process_main(
    specs: Sequence[LoadSpec],
    first_client: int,
    n_clients: int,
    barrier: multiprocessing.synchronize.Barrier,
    results: Queue[ProcessResult | str],
) -> None:
    """Body of a client process: connect; per spec warm up, start together, measure, report."""
    try:
        asyncio.run(_drive(specs, first_client, n_clients, barrier, results))
    except BaseException as exc:  # the parent must hear of it, not wait for a result forever
        results.put(f"{type(exc).__name__}: {exc}")
        raise


async def _drive(
    specs: Sequence[LoadSpec],
    first_client: int,
    n_clients: int,
    barrier: multiprocessing.synchronize.Barrier,
    results: Queue[ProcessResult | str],
) -> None:
    channels = [
        grpc.aio.insecure_channel(specs[0].address, options=_CHANNEL_OPTIONS)
        for _ in range(n_clients)
    ]
    try:
        for spec in specs:
            results.put(await _measure(spec, channels, first_client, barrier))
            # Nobody warms up for the next run while another process still measures this one.
            await asyncio.to_thread(barrier.wait, _START_TIMEOUT + spec.timeout)
    finally:
        for channel in channels:
            await channel.close()


async def _measure(
    spec: LoadSpec,
    channels: Sequence[grpc.aio.Channel],
    first_client: int,
    barrier: multiprocessing.synchronize.Barrier,
) -> ProcessResult:
    calls: list[grpc.aio.UnaryUnaryMultiCallable[bytes, bytes]] = [
        channel.unary_unary(spec.method) for channel in channels
    ]
    own = [_requests_of(spec, first_client + index) for index in range(len(channels))]
    warmups = list(spec.warmup_requests) if spec.unique else list(spec.requests)
    for call in calls:
        for n in range(spec.warmup):
            if warmups:
                await call(warmups[n % len(warmups)], timeout=spec.timeout)
    await asyncio.to_thread(barrier.wait, _START_TIMEOUT)
    cpu_start = time.process_time()
    deadline = time.perf_counter_ns() + int(spec.duration * 1e9)
    logs = await asyncio.gather(
        *(
            _client(spec, call, requests, deadline)
            for call, requests in zip(calls, own, strict=True)
        )
    )
    cpu = time.process_time() - cpu_start
    result = ProcessResult(
        starts_ns=np.array([start for log in logs for start in log.starts], dtype=np.int64),
        latencies_ns=np.array([lat for log in logs for lat in log.latencies], dtype=np.int64),
        cpu_seconds=cpu,
    )
    for log in logs:
        result.errors.update(log.errors)
        result.checks.update(log.checks)
    return result


def _requests_of(spec: LoadSpec, client: int) -> Sequence[bytes]:
    if spec.unique:
        return spec.requests[client :: spec.clients]
    # Cycled: each client starts at its own offset so the clients do not move in lockstep.
    offset = (client * len(spec.requests)) // spec.clients
    return [*spec.requests[offset:], *spec.requests[:offset]]


@dataclass
class _ClientLog:
    starts: list[int] = field(default_factory=list)
    latencies: list[int] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    checks: Counter[str] = field(default_factory=Counter)


async def _client(
    spec: LoadSpec,
    call: grpc.aio.UnaryUnaryMultiCallable[Any, Any],
    requests: Sequence[bytes],
    deadline_ns: int,
) -> _ClientLog:
    log = _ClientLog()
    n = 0
    while True:
        if spec.unique and n >= len(requests):
            break
        now = time.perf_counter_ns()
        if now >= deadline_ns and n >= spec.min_requests:
            break
        request = requests[n % len(requests)]
        try:
            answer = await call(request, timeout=spec.timeout)
        except grpc.aio.AioRpcError as exc:
            log.errors[exc.code().name] += 1
            answer = None
        end = time.perf_counter_ns()
        if answer is not None:
            log.starts.append(now)
            log.latencies.append(end - now)
            if spec.check != "none" and n % spec.check_every == 0:
                log.checks.update(_checked(spec.check, answer))
        n += 1
    return log


def _checked(kind: Checked, answer: bytes) -> Counter[str]:
    """Labels of what the server did, e.g. ``PERSONAL cached`` or ``FOLD_IN fresh``."""
    if kind == "rank":
        replies = [pb.RankPapersResponse.FromString(answer)]
    else:
        replies = [
            result.ranking for result in pb.RankPapersBatchResponse.FromString(answer).results
        ]
    return Counter(
        f"{pb.Strategy.Name(reply.strategy).removeprefix('STRATEGY_')} "
        f"{'cached' if reply.cached else 'fresh'}"
        for reply in replies
    )
