"""Start-up of a server process, phase by phase, each logged with how long it took.

Log lines read ``start-up: <phase> 0.42 s``; as JSON they also carry ``phase`` and ``seconds``.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator

logger = logging.getLogger(__name__)

STARTED = time.monotonic()
"""When this module was first imported: by ``papersift-server`` before its other imports."""


def since_start() -> float:
    """Seconds since :data:`STARTED` (for a worker: since its supervisor started)."""
    return time.monotonic() - STARTED


def log_phase(phase: str, seconds: float) -> None:
    """Log that start-up ``phase`` took ``seconds``."""
    logger.info(
        "start-up: %s %.2f s", phase, seconds, extra={"phase": phase, "seconds": round(seconds, 3)}
    )


@contextlib.contextmanager
def timed(phase: str) -> Iterator[None]:
    """Log how long the block took, as start-up ``phase`` (nothing is logged if it raises)."""
    began = time.monotonic()
    yield
    log_phase(phase, time.monotonic() - began)
