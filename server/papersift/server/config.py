"""Server settings: environment variables ``PAPERSIFT_*``, each also a command-line flag."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from papersift.core.store import resolve_url

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]
LogFormat = Literal["text", "json"]


CGROUP_ROOT = Path("/sys/fs/cgroup")


def _cores(cgroup_root: Path = CGROUP_ROOT) -> int:
    """CPUs this process may use: the affinity mask (a container's cpuset), capped by a CPU
    quota (a container's ``--cpus`` or a Kubernetes CPU limit, cgroup v2 or v1), rounded up.

    A container limited to 2 CPUs on a 64-core host sees 64 CPUs in its affinity mask.
    """
    count = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    quota = _cpu_quota(cgroup_root)
    return max(1, min(count or 1, math.ceil(quota) if quota else count or 1))


def _cpu_quota(cgroup_root: Path) -> float | None:
    """CPUs' worth of time the cgroup may use per period, or ``None`` for no limit."""
    try:
        quota, _, period = (cgroup_root / "cpu.max").read_text().partition(" ")
        if quota != "max":
            return int(quota) / int(period)
        return None
    except (OSError, ValueError):
        pass
    try:
        quota_us = int((cgroup_root / "cpu" / "cpu.cfs_quota_us").read_text())
        period_us = int((cgroup_root / "cpu" / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    return quota_us / period_us if quota_us > 0 and period_us > 0 else None


def default_workers(redis_url: str | None) -> int:
    """Workers when ``workers`` is not set: the CPU count with Redis, one without.

    Without Redis each worker has a cache of its own: a list's next page may be ranked again on
    another worker, and DeleteUser clears one worker's lists. Several workers then only when
    asked for (``--workers N``).
    """
    return _cores() if redis_url else 1


def _default_workers(data: dict[str, Any]) -> int:
    return default_workers(data.get("redis_url"))


class Settings(BaseSettings):
    """Everything the server needs to start, validated once and passed in."""

    model_config = SettingsConfigDict(env_prefix="PAPERSIFT_", extra="forbid", frozen=True)

    listen: str = Field("127.0.0.1:50051", description="gRPC address to listen on (host:port)")
    database_url: str = Field(
        "sqlite:///papersift.db", description="SQLAlchemy URL of the store (SQLite or PostgreSQL)"
    )
    redis_url: str | None = Field(
        None, description="Redis URL of the ranking cache; unset means an in-process cache"
    )
    cache_prefix: str = Field(
        "papersift", pattern=r"^[A-Za-z0-9_.-]+$", description="prefix of every Redis key"
    )
    model_dir: Path = Field(Path("models"), description="where model bundles are read from")
    model_poll_interval: float = Field(
        2.0, gt=0, description="seconds between checks for a newly published model bundle"
    )
    content_refresh_interval: float = Field(
        60.0,
        gt=0,
        description=(
            "most seconds between refreshes of the untrained content model and the community's "
            "taste (new papers through this worker refit it sooner; the taste reloads at most "
            "this often)"
        ),
    )
    content_model: bool = Field(
        True,
        description=(
            "while no trained model is loaded, rank readers who saved or clicked papers by "
            "content (CONTENT), fitted on the store's papers; false: POPULAR for everyone"
        ),
    )
    log_level: LogLevel = Field("INFO", description="log level")
    log_format: LogFormat = Field(
        "text", description="log lines as text, or as JSON objects (one per line)"
    )
    # After redis_url: the default depends on it.
    workers: int = Field(
        default_factory=_default_workers,
        ge=1,
        le=256,
        description="server processes sharing the port (SO_REUSEPORT)",
    )
    metrics_listen: str | None = Field(
        None,
        description="host:port of the Prometheus /metrics endpoint (all workers' metrics); "
        "unset means none",
    )
    max_list_length: int = Field(
        1_000, ge=1, le=10_000, description="longest ranked list kept per reader and day"
    )
    grace_period: float = Field(
        10.0, ge=0, description="seconds in-flight calls get to finish on SIGTERM"
    )
    api_keys_file: Path | None = Field(
        None,
        description="JSON file of named API keys (SHA-256) with scopes; unset: no keys needed",
    )
    tls_cert_file: Path | None = Field(
        None, description="PEM certificate chain of the server; with tls_key_file turns on TLS"
    )
    tls_key_file: Path | None = Field(None, description="PEM private key of the server")
    tls_client_ca_file: Path | None = Field(
        None, description="PEM CA that client certificates must chain to; set: they are required"
    )
    revision_board: Literal["auto", "store"] = Field(
        "auto",
        description=(
            "where a cache hit reads the revisions that key the lists: auto = Redis when "
            "configured, else this process's memory with one worker (kept current by the "
            "server's own writes), else the database; store = the database on every request "
            "(for a store that something other than papersift-server writes to)"
        ),
    )
    precompute: bool = Field(
        True,
        description=(
            "when a trained model loads or a current day's papers change, cache every known "
            "reader's plain list for the current days in the background"
        ),
    )
    precompute_block: int = Field(
        256, ge=1, le=10_000, description="most readers the background precompute scores at once"
    )
    precompute_days: int = Field(
        1, ge=1, le=31, description="latest listing days the background precompute covers"
    )
    precompute_block_seconds: float = Field(
        0.25,
        gt=0,
        le=60,
        description="time a background precompute block should take (its size adapts)",
    )
    max_concurrent_rpcs: int = Field(
        256,
        ge=1,
        le=100_000,
        description="calls a worker runs at once; beyond it gRPC answers RESOURCE_EXHAUSTED",
    )

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str) -> str:
        resolve_url(value)  # a DatabaseUrlError (ValueError) names the two URL forms
        return value

    @field_validator("listen")
    @classmethod
    def _check_listen(cls, value: str) -> str:
        return _host_port(value, "127.0.0.1:50051")

    @field_validator("metrics_listen")
    @classmethod
    def _check_metrics_listen(cls, value: str | None) -> str | None:
        return _host_port(value, "0.0.0.0:9464") if value else None

    @model_validator(mode="after")
    def _tls_files_together(self) -> Settings:
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError("tls_cert_file and tls_key_file: set both, or neither")
        if self.tls_client_ca_file is not None and self.tls_cert_file is None:
            raise ValueError("tls_client_ca_file: needs tls_cert_file and tls_key_file too")
        return self

    @property
    def tls(self) -> bool:
        """Whether the server speaks TLS."""
        return self.tls_cert_file is not None

    @field_validator("redis_url")
    @classmethod
    def _empty_redis_is_none(cls, value: str | None) -> str | None:
        return value or None


def _host_port(value: str, example: str) -> str:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"{value!r} is not host:port (e.g. {example})")
    return value


def split_host_port(value: str) -> tuple[str, int]:
    """``"host:port"`` (validated by :class:`Settings`) as ``(host, port)``; IPv6 brackets go."""
    host, _, port = value.rpartition(":")
    return host.strip("[]"), int(port)
