"""``python -m bench.speed.rusage OUT -- COMMAND ...``: run COMMAND, write its resource use to OUT.

Linux counts into a child's peak RSS (``ru_maxrss``) the memory of the process it was forked
from: the high-water mark carries over the fork and the exec. Forked straight from the
benchmark, which holds the papers and a million events, a small training run would report the
benchmark's own size. This launcher is a fresh, small interpreter: it forks and execs COMMAND,
waits for it, and writes ``{"exit_code", "max_rss_kb", "user_seconds", "system_seconds"}`` as
JSON. SIGTERM and SIGINT are passed on to COMMAND.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from types import FrameType


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command after ``--`` and record its own rusage; return its exit code."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    if len(arguments) < 3 or arguments[1] != "--":
        print("usage: python -m bench.speed.rusage OUT -- COMMAND ...", file=sys.stderr)
        return 2
    out, command = Path(arguments[0]), arguments[2:]
    pid = os.fork()
    if pid == 0:
        try:
            os.execvp(command[0], command)
        finally:
            os._exit(127)

    def forward(signum: int, _frame: FrameType | None) -> None:
        os.kill(pid, signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    _, status, usage = os.wait4(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    out.write_text(
        json.dumps(
            {
                "exit_code": code,
                "max_rss_kb": usage.ru_maxrss,
                "user_seconds": usage.ru_utime,
                "system_seconds": usage.ru_stime,
            }
        ),
        encoding="utf-8",
    )
    return code


if __name__ == "__main__":
    raise SystemExit(main())
