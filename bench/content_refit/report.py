"""The content-refit benchmark's results: refits parsed from the server log, the tables, JSON.

Pure functions of measured numbers (no server, no clock), so the tests run them on fixed data.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from bench.results_files import write_results
from bench.speed.load import percentile

__all__ = [
    "ConfigRun",
    "IngestRun",
    "Phase",
    "Refit",
    "RefitResults",
    "markdown",
    "parse_refits",
    "results_table",
    "to_json",
    "write",
]

#: What ``ContentState`` logs after each fit (``server/papersift/server/content.py``), after the
#: text log format's ``asctime`` (local time).
REFIT_LINE = re.compile(
    r"^(?P<time>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) .*?"
    r"content model (?P<version>content-\d+) fitted on (?P<papers>\d+) papers "
    r"\((?P<features>\d+) features\) in (?P<seconds>\d+(?:\.\d+)?) s",
    re.MULTILINE,
)
_LOG_TIME = "%Y-%m-%d %H:%M:%S,%f"
#: Measured phases, with their labels in the table.
PHASE_LABELS = {"quiet": "quiet", "ingest": "during the quarter's ingest"}


@dataclass(frozen=True)
class Refit:
    """One content-model fit the server logged: when it ended (Unix time) and how long it took."""

    version: str
    papers: int
    features: int
    seconds: float
    ended_at: float

    @property
    def started_at(self) -> float:
        """When it began (Unix time; the log rounds its duration to 0.1 s)."""
        return self.ended_at - self.seconds


def parse_refits(log_text: str) -> list[Refit]:
    """The refits logged in ``log_text`` (the server's text log), in order."""
    return [
        Refit(
            version=match["version"],
            papers=int(match["papers"]),
            features=int(match["features"]),
            seconds=float(match["seconds"]),
            ended_at=dt.datetime.strptime(match["time"], _LOG_TIME).timestamp(),
        )
        for match in REFIT_LINE.finditer(log_text)
    ]


@dataclass(frozen=True)
class Phase:
    """Cached ``RankPapers`` latencies of one measured phase, one client, serial calls."""

    name: str
    latencies_ms: npt.NDArray[np.float64]
    seconds: float = 0.0
    errors: Mapping[str, int] = field(default_factory=dict)
    #: What the server said it did, per answer: e.g. ``{"POPULAR cached": 1200}``.
    checks: Mapping[str, int] = field(default_factory=dict)
    #: CPU seconds of the server's processes (with the fitting child) over the phase.
    server_cpu_seconds: float = 0.0
    #: When the measured window ended (Unix time); it began ``seconds`` earlier.
    ended_at: float = 0.0

    @property
    def started_at(self) -> float:
        """When the measured window began (Unix time)."""
        return self.ended_at - self.seconds

    @property
    def calls(self) -> int:
        """Completed calls."""
        return len(self.latencies_ms)

    def ms(self, q: float) -> float:
        """The nearest-rank ``q``-th percentile of the latencies (``nan`` for none)."""
        return percentile(self.latencies_ms, q)

    @property
    def max_ms(self) -> float:
        """The slowest call (``nan`` for none)."""
        return float(np.max(self.latencies_ms)) if self.calls else float("nan")

    @property
    def cached_share(self) -> float:
        """Share of the checked answers that came from the cache (``nan`` if none checked)."""
        total = sum(self.checks.values())
        cached = sum(n for label, n in self.checks.items() if label.endswith(" cached"))
        return cached / total if total else float("nan")

    @property
    def uncached(self) -> int:
        """Answers the server did not take from the cache (every answer is checked)."""
        return sum(n for label, n in self.checks.items() if not label.endswith(" cached"))


@dataclass(frozen=True)
class IngestRun:
    """The quarter's ``papersift ingest`` that ran in the background of the measured phase."""

    #: Seconds from start to exit, or ``None`` if it was still running when the window ended.
    seconds: float | None
    exit_code: int | None
    #: Whether the benchmark stopped it (SIGTERM) at the end of the window.
    stopped: bool
    summary: str = ""
    #: When it was started (Unix time).
    started_at: float = 0.0


@dataclass(frozen=True)
class ConfigRun:
    """One configuration against its own fresh server and store."""

    name: str
    content_model: bool
    phases: Sequence[Phase]
    refits: Sequence[Refit]
    ingest: IngestRun
    #: Whether the refit of the store as the ingest left it was logged before the server
    #: stopped (``None``: not waited for, e.g. with the content model off).
    caught_up: bool | None = None

    def refits_during(self, phase: Phase) -> list[Refit]:
        """The refits that ran, at least in part, during ``phase``'s window."""
        return [
            refit
            for refit in self.refits
            if refit.started_at < phase.ended_at and refit.ended_at > phase.started_at
        ]

    @property
    def origin(self) -> float:
        """Times in the report count from here: the start of the quarter's ingest."""
        return self.ingest.started_at


@dataclass
class RefitResults:
    """A whole run: both configurations and how the run was set up."""

    command: str
    configs: list[ConfigRun] = field(default_factory=list)
    setup: dict[str, Any] = field(default_factory=dict)
    wall_seconds: float = 0.0


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" if i < 2 else "---:" for i in range(len(header))) + "|",
    ]
    lines.extend("| " + " | ".join(row) + " |" for row in rows)
    return "\n".join(lines)


def _ms(value: float) -> str:
    if math.isnan(value):
        return "-"
    return f"{value:.2f}" if value < 10 else f"{value:,.1f}"


def _durations(refits: Sequence[Refit], phase: Phase) -> str:
    if not refits:
        return "-"
    return ", ".join(
        f"{refit.seconds:.1f}" + ("*" if refit.ended_at > phase.ended_at else "")
        for refit in refits
    )


def results_table(results: RefitResults) -> str:
    """One row per configuration and measured phase: calls, latencies, refits."""
    rows = []
    for config in results.configs:
        for phase in config.phases:
            refits = config.refits_during(phase)
            rows.append(
                [
                    config.name,
                    PHASE_LABELS.get(phase.name, phase.name),
                    f"{phase.calls:,}",
                    _ms(phase.ms(50)),
                    _ms(phase.ms(99)),
                    _ms(phase.max_ms),
                    f"{phase.uncached:,}" if phase.checks else "-",
                    str(len(refits)) if config.content_model else "- (off)",
                    _durations(refits, phase),
                ]
            )
    return _table(
        [
            "configuration",
            "phase",
            "calls",
            "p50 ms",
            "p99 ms",
            "max ms",
            "uncached",
            "refits",
            "each refit took (s)",
        ],
        rows,
    )


def _at(seconds: float) -> str:
    return f"{round(seconds, 1) + 0.0:+.1f}"  # + 0.0: no "-0.0"


def refits_table(config: ConfigRun) -> str:
    """Every refit of a configuration, and the windows, in seconds from the quarter's ingest."""
    rows = [
        [
            f"window: {PHASE_LABELS.get(phase.name, phase.name)}",
            "",
            "",
            "",
            _at(phase.started_at - config.origin),
            _at(phase.ended_at - config.origin),
            f"{phase.seconds:.1f}",
        ]
        for phase in config.phases
    ]
    if config.ingest.seconds is not None:
        rows.append(["the quarter's ingest", "", "", "", "+0.0", _at(config.ingest.seconds), ""])
    rows += [
        [
            "refit",
            refit.version,
            f"{refit.papers:,}",
            f"{refit.features:,}",
            _at(refit.started_at - config.origin),
            _at(refit.ended_at - config.origin),
            f"{refit.seconds:.1f}",
        ]
        for refit in config.refits
    ]
    rows.sort(key=lambda row: float(row[4]))
    return _table(["what", "version", "papers", "features", "from s", "to s", "seconds"], rows)


def _ingest_note(config: ConfigRun, window: float) -> str:
    ingest = config.ingest
    if ingest.seconds is None:
        how = f"was still running when the {window:g} s window ended and was stopped (SIGTERM)"
    else:
        how = f"took {ingest.seconds:.1f} s (exit code {ingest.exit_code})"
    summary = f": {ingest.summary}" if ingest.summary else ""
    return f"{config.name}: the quarter's ingest {how}{summary}"


def markdown(results: RefitResults) -> str:
    """The whole report: what ran, the table, every refit, notes."""
    setup = results.setup
    window = float(setup.get("seconds", 0))
    parts = [
        "# papersift content-model refits: cached RankPapers latency",
        "",
        f"Command: `{results.command}`  ",
        f"Wall time: {results.wall_seconds:.0f} s  ",
        f"Machine: {setup.get('machine', '?')}",
        "",
        "Each configuration gets a fresh `papersift-server` (`--workers 1`, SQLite, in-process "
        "cache, no trained model) on loopback. It ingests the sample days "
        f"(`{setup.get('day_file', '?')}`), one reader's list for {setup.get('date', '?')} is "
        "cached, and one client calls `RankPapers` for it back to back: "
        f"{setup.get('quiet_seconds', '?')} s quiet, then {setup.get('seconds', '?')} s while "
        f"`papersift ingest` sends the quarter (`{setup.get('quarter_file', '?')}`) in the "
        "background. With the content model on, each burst of new papers triggers a refit "
        "(the featurizer is fitted in a spawned child process); off, nothing is fitted. "
        "'uncached': answers the server did not mark as cached (a refit changes the content "
        "model's version, which is part of the cache keys, so the list is ranked again once). "
        "A refit counts for a phase if it ran during its window, at least in part (* it "
        "finished after the window: the run waits, unmeasured, for the refit of the whole "
        "store before stopping the server). Refit times come from the server log; the "
        "timeline below counts seconds from the start of the quarter's ingest.",
        "",
        results_table(results),
    ]
    for config in results.configs:
        if config.refits:
            parts += ["", f"Timeline, {config.name}:", "", refits_table(config)]
    notes = [_ingest_note(config, window) for config in results.configs]
    for config in results.configs:
        if config.caught_up is False:
            notes.append(
                f"{config.name}: the refit of the whole store was not logged before the server "
                "was stopped (it is missing above)"
            )
    for config in results.configs:
        for phase in config.phases:
            if phase.errors:
                errors = ", ".join(f"{code} {n}" for code, n in sorted(phase.errors.items()))
                notes.append(f"{config.name}, {phase.name}: failed calls: {errors}")
    parts += ["", "Notes:", "", *(f"- {note}" for note in notes), ""]
    return "\n".join(parts)


def _number(value: float) -> float | None:
    return None if math.isnan(value) else round(value, 3)


def _phase_json(phase: Phase) -> dict[str, Any]:
    return {
        "name": phase.name,
        "calls": phase.calls,
        "seconds": round(phase.seconds, 3),
        "p50_ms": _number(phase.ms(50)),
        "p90_ms": _number(phase.ms(90)),
        "p99_ms": _number(phase.ms(99)),
        "p999_ms": _number(phase.ms(99.9)),
        "max_ms": _number(phase.max_ms),
        "mean_ms": _number(float(np.mean(phase.latencies_ms)) if phase.calls else math.nan),
        "cached_share": _number(phase.cached_share),
        "uncached": phase.uncached,
        "checks": dict(phase.checks),
        "errors": dict(phase.errors),
        "server_cpu_seconds": round(phase.server_cpu_seconds, 3),
        "ended_at": round(phase.ended_at, 3),
    }


def _config_json(config: ConfigRun) -> dict[str, Any]:
    ingest = config.ingest
    return {
        "name": config.name,
        "content_model": config.content_model,
        "phases": [_phase_json(phase) for phase in config.phases],
        "refits": [
            {
                "version": refit.version,
                "papers": refit.papers,
                "features": refit.features,
                "seconds": refit.seconds,
                "ended_at": round(refit.ended_at, 3),
                "during": [p.name for p in config.phases if refit in config.refits_during(p)],
            }
            for refit in config.refits
        ],
        "caught_up": config.caught_up,
        "ingest": {
            "seconds": None if ingest.seconds is None else round(ingest.seconds, 2),
            "exit_code": ingest.exit_code,
            "stopped": ingest.stopped,
            "summary": ingest.summary,
            "started_at": round(ingest.started_at, 3),
        },
    }


def to_json(results: RefitResults) -> dict[str, Any]:
    """Everything measured, for scripts (latency percentiles, not every call; Unix times)."""
    return {
        "command": results.command,
        "wall_seconds": round(results.wall_seconds, 1),
        "setup": results.setup,
        "configs": [_config_json(config) for config in results.configs],
    }


def write(results: RefitResults, out_dir: Path) -> dict[str, Path]:
    """``content_refit.md`` and ``content_refit.json`` in ``out_dir``; their paths."""
    return write_results(
        out_dir, "content_refit", markdown=markdown(results), data=to_json(results)
    )
