"""Prometheus metrics of the server, and the endpoint that serves them.

With several workers (``--workers``) each process writes its samples to files in
``PROMETHEUS_MULTIPROC_DIR`` (prometheus-client's multiprocess mode) and the supervisor serves
them summed (counters, histograms) or as the largest value (gauges) on one port. The variable
must be set before ``prometheus_client`` is imported, which the supervisor does before it forks
(see ``workers.py``). With one worker the process serves its own registry.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    start_http_server,
)
from prometheus_client.multiprocess import MultiProcessCollector

from papersift.server.config import split_host_port

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"

# From a cached page (~1 ms) to a big batch on a cold day (seconds).
_LATENCY_BUCKETS = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip

RPC_DURATION = Histogram(
    "papersift_rpc_duration_seconds",
    "Time to answer an RPC, by method and status code.",
    ["method", "code"],
    buckets=_LATENCY_BUCKETS,
)
CACHE_REQUESTS = Counter(
    "papersift_cache_requests_total",
    "Ranked-list cache lookups and writes by result: hit, miss, error (the backend failed) "
    "or skipped (the backend was marked down).",
    ["result"],
)
RANKINGS = Counter(
    "papersift_rankings_total",
    "Ranked lists computed (cache misses), by strategy.",
    ["strategy"],
)
MODEL_VERSION = Gauge(
    "papersift_model_info",
    "1 for the model version a worker ranks with, 0 for one it ranked with before.",
    ["version"],
    multiprocess_mode="max",
)
MODEL_AGE = Gauge(
    "papersift_model_age_seconds",
    "Seconds since the loaded model was trained (refreshed at every model check).",
    multiprocess_mode="max",
)
DAY_CANDIDATES = Gauge(
    "papersift_day_candidates",
    "Candidate papers of the day most recently prepared for scoring.",
    multiprocess_mode="mostrecent",
)

PRECOMPUTE_LISTS = Counter(
    "papersift_precompute_lists_total",
    "Known readers' lists cached by the background precompute.",
)
PRECOMPUTE_PENDING = Gauge(
    "papersift_precompute_pending_readers",
    "Readers (times current days) the running background pass has not computed yet; 0 idle.",
    multiprocess_mode="max",
)
PRECOMPUTE_BLOCK_SECONDS = Histogram(
    "papersift_precompute_block_seconds",
    "Time one block of the background precompute spent in its worker thread.",
    buckets=_LATENCY_BUCKETS,
)


def record_rpc(method: str, code: str, seconds: float) -> None:
    """Count one answered RPC."""
    RPC_DURATION.labels(method=method, code=code).observe(seconds)


def record_cache(result: str) -> None:
    """Count one cache lookup or write outcome (``hit``, ``miss``, ``error``, ``skipped``)."""
    CACHE_REQUESTS.labels(result=result).inc()


def record_model(version: str | None, previous: str | None, trained_at: float | None) -> None:
    """Publish the loaded model's version and age (``None``: no model)."""
    if previous and previous != version:
        MODEL_VERSION.labels(version=previous).set(0)
    if version:
        MODEL_VERSION.labels(version=version).set(1)
    if trained_at is not None:
        MODEL_AGE.set(max(time.time() - trained_at, 0.0))


def serve_metrics(listen: str, *, multiprocess: bool) -> Callable[[], None]:
    """Serve ``/metrics`` on ``listen`` in a background thread; returns a function to stop it.

    Raises:
        OSError: The address cannot be bound.
    """
    host, port = split_host_port(listen)
    registry = REGISTRY
    if multiprocess:
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=os.environ[MULTIPROCESS_ENV])  # type: ignore[no-untyped-call]
    server, thread = start_http_server(port, addr=host, registry=registry)

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

    return stop
