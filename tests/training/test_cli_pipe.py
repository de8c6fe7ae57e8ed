"""``papersift-train`` into a reader that is gone (``| head``): exit 141, no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.training.worlds import export, new_readers_on_the_latest_day


def test_training_into_a_closed_pipe_exits_141_quietly(tmp_path: Path) -> None:
    papers, events = export(new_readers_on_the_latest_day(), tmp_path)
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "papersift.training.cli", "--papers", str(papers),
             "--interactions", str(events), "--model-dir", str(tmp_path / "models"),
             "--epochs", "2", "--no-progress"],
            stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=300, check=False,
        )  # fmt: skip
    finally:
        os.close(write_end)

    assert done.returncode == 141, done.stderr
    assert "Traceback" not in done.stderr
