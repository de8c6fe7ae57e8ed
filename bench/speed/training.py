"""Time ``papersift-train`` and take its peak memory, as a separate process per run."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["TrainRun", "run_training"]

BIN = Path(sys.executable).parent
REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class TrainRun:
    """One ``papersift-train`` run: what it read and what it cost.

    ``peak_rss_mb`` is the training process's largest resident set (its own ``ru_maxrss``,
    taken by :mod:`bench.speed.rusage`); ``cpu_seconds`` its user + system time.
    """

    interactions: int
    users: int
    papers: int
    epochs: int | None
    threads: int
    seconds: float
    cpu_seconds: float
    peak_rss_mb: float
    exit_code: int
    log: Path


def run_training(
    papers_path: Path,
    events_path: Path,
    model_dir: Path,
    *,
    interactions: int,
    users: int,
    papers: int,
    epochs: int | None,
    threads: int = 1,
    log: Path,
) -> TrainRun:
    """Run ``papersift-train`` on JSONL exports and publish into ``model_dir``.

    ``epochs`` caps the epochs (``--epochs``; early stopping may stop sooner); ``None`` keeps
    the shipped configuration's. ``threads`` is LightFM's (``--threads``).
    """
    command = [
        str(BIN / "papersift-train"),
        "--papers", str(papers_path),
        "--interactions", str(events_path),
        "--model-dir", str(model_dir),
        "--no-register",
        "--no-progress",
        "--log-level", "WARNING",
        "--threads", str(threads),
    ]  # fmt: skip
    if epochs is not None:
        command += ["--epochs", str(epochs)]
    usage_path = log.with_suffix(".rusage.json")
    launcher = [sys.executable, "-m", "bench.speed.rusage", str(usage_path), "--"]
    with log.open("wb") as out:
        start = time.perf_counter()
        process = subprocess.Popen(
            [*launcher, *command], stdout=out, stderr=subprocess.STDOUT, cwd=REPO_ROOT
        )
        try:
            process.wait()
        except BaseException:
            process.terminate()  # the launcher passes it on to papersift-train
            process.wait()
            raise
        seconds = time.perf_counter() - start
    usage = json.loads(usage_path.read_text(encoding="utf-8"))
    return TrainRun(
        interactions=interactions,
        users=users,
        papers=papers,
        epochs=epochs,
        threads=threads,
        seconds=seconds,
        cpu_seconds=usage["user_seconds"] + usage["system_seconds"],
        peak_rss_mb=usage["max_rss_kb"] / 1024,
        exit_code=int(usage["exit_code"]),
        log=log,
    )
