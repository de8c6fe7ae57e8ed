"""Commands whose standard output is piped into a reader that stops early (``| head``)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

EXIT_BROKEN_PIPE = 141
"""128 + SIGPIPE: what a shell reports for a process that SIGPIPE ended, as ``yes | head``."""


def run_without_broken_pipe(run: Callable[[], int]) -> int:
    """Run a command's ``run``; a reader that closed stdout early ends it quietly with 141.

    Standard output is flushed here, where the failure is caught, rather than at exit; output
    still buffered then goes to /dev/null, so the interpreter's own flush at exit cannot fail
    again (the "Note on SIGPIPE" of the Python documentation of :mod:`signal`).
    """
    try:
        try:
            return run()
        finally:
            sys.stdout.flush()
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return EXIT_BROKEN_PIPE
