"""Sample a running server with py-spy and sum where its busy time goes.

``py-spy record --format raw`` writes one line per distinct stack: frames joined by ``;`` (the
outermost first), a space, then how many samples had that stack. Idle threads are not sampled
(py-spy's default), so percentages are of the samples in which Python was busy.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

__all__ = ["FunctionShare", "Profile", "py_spy", "recording", "summarize"]


@dataclass(frozen=True)
class FunctionShare:
    """A function and its share of the busy samples: on top of the stack, and anywhere in it."""

    function: str
    self_share: float
    total_share: float


@dataclass(frozen=True)
class Profile:
    """A summary of one or more py-spy raw files."""

    samples: int
    functions: list[FunctionShare]

    def table(self, top: int = 15) -> str:
        """Markdown: the top functions by self share (where the CPU went), then papersift's
        own functions by inclusive share (which of our code paths spent it)."""
        by_self = sorted(self.functions, key=lambda f: f.self_share, reverse=True)
        ours = sorted(
            (f for f in self.functions if _is_ours(f.function)),
            key=lambda f: f.total_share,
            reverse=True,
        )
        return "\n\n".join(
            [
                "Top functions by self time:\n\n" + _rows(by_self[:top]),
                "papersift's functions by inclusive time:\n\n" + _rows(ours[:top]),
            ]
        )


#: Path prefixes (as py-spy shortens them) of papersift's own code.
OUR_CODE = ("server/", "core/", "client/", "training/")
#: Start-up frames that hold every sample of a process: no information.
_ENTRY_POINTS = ("server/cli.py:", "server/workers.py:")


def _is_ours(function: str) -> bool:
    return function.startswith(OUR_CODE) and not function.startswith(_ENTRY_POINTS)


def _rows(functions: Sequence[FunctionShare]) -> str:
    lines = ["| function | self % | total % |", "|---|---:|---:|"]
    lines += [
        f"| `{f.function}` | {100 * f.self_share:.1f} | {100 * f.total_share:.1f} |"
        for f in functions
    ]
    return "\n".join(lines)


def py_spy() -> str | None:
    """The py-spy executable next to this Python, or on PATH; ``None`` when not installed."""
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


@contextmanager
def recording(
    pids: Sequence[int], out_dir: Path, name: str, rate: int = 100
) -> Iterator[list[Path]]:
    """Record each of ``pids`` with py-spy while the block runs; yields the raw files' paths."""
    executable = py_spy()
    if executable is None:
        raise RuntimeError("py-spy is not installed: .venv/bin/pip install py-spy")
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / f"{name}-{pid}.txt" for pid in pids]
    samplers = []
    for pid, path in zip(pids, paths, strict=True):
        command = [executable, "record", "--pid", str(pid), "--format", "raw"]
        command += ["--rate", str(rate), "--output", str(path), "--nonblocking"]
        samplers.append(
            subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        )
    try:
        yield paths
    finally:
        for sampler in samplers:
            sampler.send_signal(signal.SIGINT)  # py-spy writes its file on Ctrl-C
        for sampler in samplers:
            try:
                sampler.wait(timeout=30)
            except subprocess.TimeoutExpired:
                sampler.kill()
                sampler.wait()


def _frame_name(frame: str) -> str:
    """``function (pkg/module.py:123)`` as ``pkg/module.py:function`` (lines merged)."""
    function, _, where = frame.partition(" (")
    module = where.rstrip(")").rsplit(":", 1)[0]
    return f"{module}:{function}" if module else function


def summarize(lines: Iterable[str]) -> Profile:
    """Self and inclusive shares of every function in py-spy raw (collapsed) stack lines."""
    total = 0
    own: Counter[str] = Counter()
    anywhere: Counter[str] = Counter()
    for line in lines:
        stack, _, count = line.strip().rpartition(" ")
        if not stack or not count.isdigit():
            continue
        samples = int(count)
        frames = [_frame_name(frame) for frame in stack.split(";") if frame]
        if not frames:
            continue
        total += samples
        own[frames[-1]] += samples
        for name in set(frames):
            anywhere[name] += samples
    shares = (
        [FunctionShare(name, own[name] / total, anywhere[name] / total) for name in anywhere]
        if total
        else []
    )
    return Profile(samples=total, functions=shares)


def summarize_files(paths: Sequence[Path]) -> Profile:
    """:func:`summarize` over several raw files (e.g. one per worker process)."""
    lines: list[str] = []
    for path in paths:
        if path.exists():
            lines += path.read_text(encoding="utf-8").splitlines()
    return summarize(lines)
