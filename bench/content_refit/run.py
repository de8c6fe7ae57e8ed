"""``python -m bench.content_refit``: cached RankPapers latency while the content model refits.

For each configuration (content model on, then off) a fresh ``papersift-server`` runs under a
temporary folder with its own SQLite store and an empty model folder, on a free loopback port
(:func:`bench.speed.serve.running_server`, with ``PAPERSIFT_CONTENT_MODEL`` set). The sample
days are ingested with the ``papersift`` CLI; with the content model on, the run waits for its
first fit. Then one client (:func:`bench.speed.load.run_load`, one spawned process) calls
``RankPapers`` for one reader's cached list back to back: ``--quiet-seconds`` quiet, then
``--seconds`` while ``papersift ingest`` sends the whole quarter in the background, which
triggers refits. An ingest still running when the window ends is stopped (SIGTERM, then a
wait), and so is every server. Refits are read from the server log. The table goes to stdout
and ``bench/results/content_refit.md`` (with ``content_refit.json``); progress to stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.content_refit.report import (
    ConfigRun,
    IngestRun,
    Phase,
    RefitResults,
    parse_refits,
    write,
)
from bench.speed.data import ARXIV_PATH
from bench.speed.load import RANKER, LoadSpec, run_load
from bench.speed.run import Progress, _machine
from bench.speed.serve import BIN, ServerProcess, running_server
from papersift.client import Client
from papersift.core import limits
from papersift.server.content import MAX_FIT_PAPERS
from papersift.v1 import ranker_pb2 as pb

__all__ = ["Options", "main", "parse_args", "run"]

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT_DIR = REPO_ROOT / "bench" / "results"
DAY_FILE = REPO_ROOT / "data" / "sample" / "arxiv-2025-04-01_03.jsonl.gz"
#: The reader whose list is ranked (no interactions: a POPULAR list, cached after one call).
READER = "bench-reader"
DATE = "2025-04-01"
#: (name, PAPERSIFT_CONTENT_MODEL) of each configuration, in the order they run.
CONFIGS = (("content model on", True), ("content model off", False))
_FIRST_FIT_TIMEOUT = 120.0
#: Default of --refit-timeout: most seconds waited after the window for the last refit.
REFIT_TIMEOUT = 60.0
_STOP_TIMEOUT = 30.0


@dataclass(frozen=True)
class Options:
    """What to run; see ``--help``."""

    seconds: float = 25.0
    quiet_seconds: float = 3.0
    day_file: Path = DAY_FILE
    quarter_file: Path = ARXIV_PATH
    out_dir: Path = DEFAULT_OUT_DIR
    keep_work: bool = False
    refit_timeout: float = REFIT_TIMEOUT


def parse_args(argv: Sequence[str] | None = None) -> Options:
    """Options from the command line; ``--quick`` shortens both phases."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.content_refit",
        description="Latency of cached RankPapers while the untrained content model refits "
        "during a big ingest, with the content model on and off (a fresh server each).",
    )
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: 5 s during the ingest, 1 s quiet"
    )
    parser.add_argument(
        "--seconds", type=float, help="seconds measured during the quarter's ingest (25)"
    )
    parser.add_argument("--quiet-seconds", type=float, help="seconds measured before it (3)")
    parser.add_argument(
        "--day-file", type=Path, default=DAY_FILE, help="papers ingested first (the sample days)"
    )
    parser.add_argument(
        "--quarter-file",
        type=Path,
        default=ARXIV_PATH,
        help="papers ingested in the background of the measured window (the 2025 Q2 export)",
    )
    parser.add_argument(
        "--refit-timeout",
        type=float,
        default=REFIT_TIMEOUT,
        help="most seconds waited, unmeasured, after the window for the refit of the whole "
        f"store to be logged (default {REFIT_TIMEOUT:g})",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT_DIR, help="results folder")
    parser.add_argument(
        "--keep-work", action="store_true", help="keep the temporary folder (stores, logs)"
    )
    args = parser.parse_args(argv)
    seconds = args.seconds if args.seconds is not None else (5.0 if args.quick else 25.0)
    quiet = args.quiet_seconds if args.quiet_seconds is not None else (1.0 if args.quick else 3.0)
    if seconds <= 0 or quiet <= 0 or args.refit_timeout < 0:
        parser.error("--seconds and --quiet-seconds must be positive, --refit-timeout >= 0")
    for path in (args.day_file, args.quarter_file):
        if not path.is_file():
            parser.error(f"no such file: {path}")
    return Options(
        seconds=seconds,
        quiet_seconds=quiet,
        day_file=args.day_file,
        quarter_file=args.quarter_file,
        out_dir=args.out,
        keep_work=args.keep_work,
        refit_timeout=args.refit_timeout,
    )


def run(options: Options, command: str) -> RefitResults:
    """Both configurations, one after the other, each on its own server and store."""
    progress = Progress()
    results = RefitResults(command=command)
    results.setup.update(
        machine=_machine(),
        seconds=options.seconds,
        quiet_seconds=options.quiet_seconds,
        day_file=_shown(options.day_file),
        quarter_file=_shown(options.quarter_file),
        reader=READER,
        date=DATE,
        backend="SQLite + in-process cache, --workers 1, no trained model",
    )
    work = Path(tempfile.mkdtemp(prefix="papersift-content-refit-"))
    try:
        for name, content_model in CONFIGS:
            folder = work / ("on" if content_model else "off")
            results.configs.append(_measure(name, content_model, folder, options, progress))
    finally:
        if options.keep_work:
            print(f"work folder kept: {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    results.wall_seconds = progress.seconds
    return results


def _measure(
    name: str, content_model: bool, folder: Path, options: Options, progress: Progress
) -> ConfigRun:
    models = folder / "models"
    models.mkdir(parents=True)
    env = {"PAPERSIFT_CONTENT_MODEL": "true" if content_model else "false"}
    with running_server(
        folder,
        database_url=f"sqlite:///{folder / 'store.db'}",
        model_dir=models,
        log_level="INFO",
        env=env,
    ) as server:
        progress(f"{name}: papersift-server at {server.address} (pid {server.process.pid})")
        _ingest(server.address, options.day_file)
        if content_model:
            _wait_for_fit(server, _store_papers(server.address), 0.0, _FIRST_FIT_TIMEOUT)
        else:
            time.sleep(1.0)  # whatever the ingest set off settles, as with the first fit
        request = pb.RankPapersRequest(user_id=READER, date=DATE).SerializeToString()
        quiet = _phase(server, "quiet", request, options.quiet_seconds)
        progress(f"{name}: {_summary(quiet)}; ingesting {_shown(options.quarter_file)}")
        with _background_ingest(server.address, options.quarter_file, folder) as ingest:
            busy = _phase(server, "ingest", request, options.seconds)
        progress(f"{name}: {_summary(busy)}")
        caught_up = None
        if content_model:
            # Unmeasured: let the refit of the whole store finish, so that it is logged (the
            # server, stopped, would abandon it, and its exit would wait for the fit anyway).
            caught_up = _wait_for_fit(
                server,
                _store_papers(server.address),
                ingest.started_at,
                options.refit_timeout,
                required=False,
            )
    refits = parse_refits(server.log.read_text(encoding="utf-8", errors="replace"))
    config = ConfigRun(name, content_model, (quiet, busy), refits, ingest.result(), caught_up)
    if content_model:
        during = config.refits_during(busy)
        progress(
            f"{name}: {len(during)} refit(s) during the ingest window, "
            f"{', '.join(f'{refit.seconds:.1f}' for refit in during) or '-'} s"
        )
    return config


def _phase(server: ServerProcess, name: str, request: bytes, seconds: float) -> Phase:
    """Back-to-back cached RankPapers from one client for ``seconds``."""
    spec = LoadSpec(
        address=server.address,
        method=RANKER + "RankPapers",
        requests=[request],
        duration=seconds,
        warmup=3,  # the first call caches the list (it is cached already after the quiet phase)
        check="rank",
        timeout=60.0,
    )
    result = run_load(spec, server.pids)
    ended_at = time.time()
    return Phase(
        name=name,
        latencies_ms=result.latencies_ms,
        seconds=result.seconds,
        errors=result.errors,
        checks=result.checks,
        server_cpu_seconds=result.server_cpu_seconds,
        ended_at=ended_at,
    )


def _summary(phase: Phase) -> str:
    return (
        f"{phase.name}: {phase.calls:,} calls, p50 {phase.ms(50):.2f} ms, "
        f"p99 {phase.ms(99):.2f} ms, max {phase.max_ms:.1f} ms"
    )


def _ingest(address: str, path: Path) -> None:
    """``papersift ingest`` of ``path``, to the end."""
    completed = subprocess.run(
        _ingest_command(address, path), capture_output=True, text=True, timeout=600
    )
    if completed.returncode != 0:
        raise RuntimeError(f"papersift ingest {path} failed: {completed.stderr.strip()}")


def _ingest_command(address: str, path: Path) -> list[str]:
    return [str(BIN / "papersift"), "ingest", "--server", address, "--no-progress", str(path)]


class _Ingest:
    """A background ``papersift ingest``; :meth:`result` once it has exited."""

    def __init__(self, process: subprocess.Popen[bytes], output: Path) -> None:
        self.process = process
        self.output = output
        self.started = time.monotonic()
        self.started_at = time.time()
        self.ended: float | None = None
        self.stopped = False
        self._waiter = threading.Thread(target=self._wait, daemon=True)
        self._waiter.start()

    def _wait(self) -> None:
        self.process.wait()
        self.ended = time.monotonic()

    def stop(self) -> None:
        """Stop it if it still runs (SIGTERM, then wait; SIGKILL only if that fails)."""
        if self.ended is None and self.process.poll() is None:
            self.stopped = True
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._waiter.join()

    def result(self) -> IngestRun:
        """How it went (after :meth:`stop`)."""
        seconds = None if self.stopped or self.ended is None else self.ended - self.started
        lines = self.output.read_text(encoding="utf-8", errors="replace").splitlines()
        summary = next((line for line in lines if line.startswith("read ")), "")
        return IngestRun(
            seconds, self.process.returncode, self.stopped, summary, started_at=self.started_at
        )


@contextlib.contextmanager
def _background_ingest(address: str, path: Path, folder: Path) -> Iterator[_Ingest]:
    output = folder / "ingest.log"
    with output.open("wb") as log:
        process = subprocess.Popen(
            _ingest_command(address, path), stdout=log, stderr=subprocess.STDOUT
        )
        ingest = _Ingest(process, output)
        try:
            yield ingest
        finally:
            ingest.stop()


def _store_papers(address: str) -> int:
    """How many papers the server's store holds (every listing day's count)."""
    with Client(address, timeout=30) as client:
        return sum(day.papers for day in client.list_days(limit=limits.MAX_DAYS).days)


def _wait_for_fit(
    server: ServerProcess, papers: int, after: float, timeout: float, *, required: bool = True
) -> bool:
    """Until the server logs a fit on all of ``papers`` (at most ``MAX_FIT_PAPERS``), ended
    after ``after`` (Unix time); whether it came within ``timeout`` s (or raise if
    ``required``). Papers are only added here, so such a fit is of the store as it is."""
    want = min(papers, MAX_FIT_PAPERS)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = server.log.read_text(encoding="utf-8", errors="replace")
        if any(r.papers == want and r.ended_at > after for r in parse_refits(text)):
            return True
        if server.process.poll() is not None:
            raise RuntimeError(f"papersift-server exited; see {server.log}")
        time.sleep(0.2)
    if required:
        raise RuntimeError(f"no content model fitted within {timeout:.0f} s; see {server.log}")
    return False


def _shown(path: Path) -> str:
    """``path`` relative to the repository when it is inside it (or next to it)."""
    try:
        return os.path.relpath(path, REPO_ROOT)
    except ValueError:
        return str(path)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark, print the table, write the results files; exit code 0."""
    options = parse_args(argv)
    arguments = list(argv) if argv is not None else sys.argv[1:]
    command = ("python -m bench.content_refit " + shlex.join(arguments)).strip()
    results = run(options, command)
    paths = write(results, options.out_dir)
    print(paths["markdown"].read_text(encoding="utf-8"), end="")
    print(f"wrote {', '.join(str(path) for path in paths.values())}", file=sys.stderr)
    return 0
