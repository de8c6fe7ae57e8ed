"""``--workers N``: N server processes sharing one port, each with its own event loop.

The supervisor forks the workers before anything of gRPC exists in it (gRPC's threads do not
survive a fork), so each worker builds its own server on a socket bound with ``SO_REUSEPORT``:
the kernel spreads new connections over them. SIGTERM or SIGINT to the supervisor is passed on
to every worker, which drains its in-flight calls (``grace_period``) and exits. A worker that
dies on its own is started again, at most ``MAX_RESTARTS`` times a minute; beyond that the
supervisor stops everything and exits non-zero rather than flap.

Metrics: the supervisor sets ``PROMETHEUS_MULTIPROC_DIR`` before the workers import
prometheus-client and serves their summed samples on ``metrics_listen`` (see ``metrics.py``).
"""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.connection
import os
import shutil
import signal
import tempfile
import time
from collections import deque
from collections.abc import Callable
from multiprocessing.process import BaseProcess
from types import FrameType

from papersift.server.config import Settings

logger = logging.getLogger(__name__)

MAX_RESTARTS = 5
"""Worker restarts allowed within ``RESTART_WINDOW`` seconds."""
RESTART_WINDOW = 60.0
_EXTRA_STOP_SECONDS = 5.0  # beyond the grace period, before a stuck worker is killed

Worker = Callable[[Settings, int], int]
"""Runs worker ``index`` with the settings; returns its exit code (in the child process)."""


def run_supervised(settings: Settings, worker: Worker) -> int:
    """Run ``settings.workers`` workers until a signal; return the exit code of the whole."""
    metrics_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    own_metrics_dir = None
    if settings.metrics_listen and not metrics_dir:
        own_metrics_dir = tempfile.mkdtemp(prefix="papersift-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = own_metrics_dir
    try:
        return _Supervisor(settings, worker).run()
    finally:
        if own_metrics_dir is not None:
            shutil.rmtree(own_metrics_dir, ignore_errors=True)


def _child(worker: Worker, settings: Settings, index: int) -> None:
    # Inherited Python-level handlers belong to the supervisor; the worker installs its own.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    raise SystemExit(worker(settings, index))


class _Supervisor:
    def __init__(self, settings: Settings, worker: Worker) -> None:
        self.settings = settings
        self.worker = worker
        self.context = multiprocessing.get_context("fork")
        self.processes: dict[int, BaseProcess] = {}
        self.restarts: deque[float] = deque()
        self.stopping = False
        self.deadline = 0.0  # when stopping: the time after which stuck workers are killed
        self.failed = False

    def run(self) -> int:
        for index in range(self.settings.workers):
            self._start(index)
        previous = {
            sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGTERM, signal.SIGINT)
        }
        stop_metrics = self._serve_metrics()
        logger.info(
            "supervisor %d: %d workers on %s",
            os.getpid(),
            len(self.processes),
            self.settings.listen,
        )
        try:
            while self.processes:
                sentinels = {process.sentinel: index for index, process in self.processes.items()}
                ready = multiprocessing.connection.wait(list(sentinels), timeout=0.5)
                for sentinel in ready:
                    assert isinstance(sentinel, int)
                    self._reap(sentinels[sentinel])
                if self.stopping and time.monotonic() > self.deadline:
                    self._kill_stuck()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            if stop_metrics is not None:
                stop_metrics()
        return 1 if self.failed else 0

    def _start(self, index: int) -> None:
        process = self.context.Process(
            target=_child,
            args=(self.worker, self.settings, index),
            name=f"papersift-worker-{index}",
        )
        process.start()
        self.processes[index] = process
        logger.info("worker %d started (pid %s)", index, process.pid)

    def _reap(self, index: int) -> None:
        process = self.processes.pop(index)
        process.join()
        if process.pid is not None:
            _mark_dead(process.pid)
        if self.stopping:
            logger.info("worker %d (pid %s) stopped", index, process.pid)
            return
        logger.error("worker %d (pid %s) exited with %s", index, process.pid, process.exitcode)
        now = time.monotonic()
        while self.restarts and now - self.restarts[0] > RESTART_WINDOW:
            self.restarts.popleft()
        if len(self.restarts) >= MAX_RESTARTS:
            logger.error(
                "%d worker restarts within %.0f s; stopping every worker",
                MAX_RESTARTS,
                RESTART_WINDOW,
            )
            self.failed = True
            self._stop_all()
            return
        self.restarts.append(now)
        self._start(index)

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        logger.info("%s: stopping %d workers", name, len(self.processes))
        self._stop_all()

    def _stop_all(self) -> None:
        """Ask every worker to drain and exit; the main loop reaps them (never blocks here)."""
        if not self.stopping:
            self.stopping = True
            self.deadline = time.monotonic() + self.settings.grace_period + _EXTRA_STOP_SECONDS
        for process in list(self.processes.values()):
            if process.is_alive():
                process.terminate()  # SIGTERM: the worker drains, then exits

    def _kill_stuck(self) -> None:
        for process in list(self.processes.values()):
            if process.is_alive():
                logger.error("worker pid %s did not stop in time; killing it", process.pid)
                process.kill()

    def _serve_metrics(self) -> Callable[[], None] | None:
        if not self.settings.metrics_listen:
            return None
        from papersift.server.metrics import serve_metrics  # after PROMETHEUS_MULTIPROC_DIR

        stop = serve_metrics(self.settings.metrics_listen, multiprocess=True)
        logger.info("metrics of every worker on http://%s/metrics", self.settings.metrics_listen)
        return stop


def _mark_dead(pid: int) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]
