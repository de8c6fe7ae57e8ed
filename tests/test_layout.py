"""The layout of DESIGN.md holds: one namespace package, imports flowing one way, a light client."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

# Which papersift parts each source folder may import (besides itself).
ALLOWED_IMPORTS = {
    "core": {"core"},
    "client": {"client", "v1"},
    "server": {"server", "core", "v1"},
    "training": {"training", "core"},
}


def papersift_imports(path: Path) -> set[str]:
    """The papersift parts (``core``, ``v1``, ...) a module imports."""
    parts = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        parts |= {name.split(".")[1] for name in names if name.startswith("papersift.")}
    return parts


@pytest.mark.parametrize("folder", sorted(ALLOWED_IMPORTS))
def test_imports_flow_one_way(folder: str) -> None:
    package = REPO_ROOT / folder / "papersift"
    offenders = {
        str(path.relative_to(REPO_ROOT)): sorted(extra)
        for path in package.rglob("*.py")
        if "v1" not in path.relative_to(package).parts[:1]
        if (extra := papersift_imports(path) - ALLOWED_IMPORTS[folder])
    }
    assert offenders == {}


def test_papersift_is_a_namespace_package() -> None:
    assert sorted(REPO_ROOT.glob("*/papersift/__init__.py")) == []


def test_server_never_imports_training_or_lightfm() -> None:
    for path in (REPO_ROOT / "server").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                module = getattr(node, "module", None) or ""
                names = [module, *(alias.name for alias in node.names)]
                assert not any(n.startswith(("lightfm", "papersift.training")) for n in names), path


def test_client_and_cli_import_without_server_dependencies() -> None:
    script = (
        "import sys\n"
        "import papersift.client, papersift.client.cli, papersift.client.feeds\n"
        "heavy = {'sqlalchemy', 'numpy', 'redis', 'pydantic', 'alembic', 'httpx', 'tqdm'}\n"
        "print(sorted(heavy & set(sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
