"""Every PAPERSIFT_* variable deploy/ sets or mentions is one some papersift program reads.

The names come from the code (the server's Settings, the client CLI's constants), so a renamed
or removed setting fails here instead of being silently ignored in production.
"""

from __future__ import annotations

import re

from tests.conftest import REPO_ROOT
from tests.deploy.deployfiles import DEPLOY, ENV_PREFIX, known_env_names

NAME = re.compile(rf"\b{re.escape(ENV_PREFIX.upper())}[A-Z0-9][A-Z0-9_]*\b")


def test_settings_have_the_expected_prefix() -> None:
    assert ENV_PREFIX.upper() == "PAPERSIFT_"
    assert {"PAPERSIFT_LISTEN", "PAPERSIFT_DATABASE_URL", "PAPERSIFT_SERVER"} <= known_env_names()


def test_every_papersift_variable_in_deploy_is_real() -> None:
    files = [
        path
        for path in DEPLOY.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    ]
    files.append(REPO_ROOT / ".dockerignore")
    unknown: dict[str, list[str]] = {}
    seen: set[str] = set()
    for path in files:
        found = set(NAME.findall(path.read_text(encoding="utf-8")))
        seen |= found
        if bad := found - known_env_names():
            unknown[str(path.relative_to(REPO_ROOT))] = sorted(bad)
    assert unknown == {}, f"not read by any papersift program: {unknown}"
    assert "PAPERSIFT_WORKERS" in seen  # the scan does find names
