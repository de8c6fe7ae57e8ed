"""``papersift-train --database-url`` as a person writes it: libpq-style aliases, typos, and
SQLite files that do not exist (issue 11, deliverable 6). The real command, in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from papersift.core.store import Store


def train(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("PAPERSIFT_")}
    return subprocess.run(
        [sys.executable, "-m", "papersift.training.cli", *args, "--no-progress"],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=300,
        check=False,
    )


def test_a_missing_sqlite_file_is_named_and_not_created(tmp_path: Path) -> None:
    missing = tmp_path / "missing.db"

    completed = train("--database-url", f"sqlite:///{missing}", cwd=tmp_path)

    assert completed.returncode == 2, completed.stderr
    assert completed.stderr.startswith(
        f"papersift-train: --database-url: there is no store at {missing}; create it with "
        f"`papersift-server migrate --database-url sqlite:///{missing}`"
    )
    assert "Traceback" not in completed.stderr
    assert not missing.exists()
    assert not (tmp_path / "models").exists()


@pytest.mark.parametrize("url", ["mysql://app:secret@db/papersift", "papersift.db"])
def test_an_unusable_url_is_refused_with_a_hint(tmp_path: Path, url: str) -> None:
    completed = train("--database-url", url, cwd=tmp_path)

    assert completed.returncode == 2, completed.stderr
    assert completed.stderr.startswith("papersift-train: --database-url: ")
    assert "postgresql+psycopg://user@host/db or sqlite:///path" in completed.stderr
    assert "Traceback" not in completed.stderr
    assert "secret" not in completed.stderr


@pytest.mark.parametrize("scheme", ["postgres", "postgresql"])
def test_a_postgres_alias_reads_the_store(tmp_path: Path, postgres_url: str, scheme: str) -> None:
    store = Store(postgres_url)
    store.migrate()
    store.close()
    alias = scheme + "://" + postgres_url.split("://", 1)[1]

    completed = train("--database-url", alias, "--model-dir", str(tmp_path / "m"), cwd=tmp_path)

    # The store was reached and read: it is empty, so there is nothing to train on (exit 1).
    assert f"database URL {scheme}://... taken as postgresql+psycopg://..." in completed.stderr
    assert completed.returncode == 1, completed.stderr
    assert "nothing was published" in completed.stderr
    assert "Traceback" not in completed.stderr
    assert "ValueError" not in completed.stderr
