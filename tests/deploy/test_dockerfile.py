"""deploy/Dockerfile and .dockerignore: small, non-root final images on one base; the server
image's health check against a real server.

No Docker engine runs here, so the images are not built; these tests read the files.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shlex
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT
from tests.deploy.deployfiles import (
    DEPLOY,
    FINAL_TARGETS,
    Dockerfile,
    k8s_resources,
    parse_dockerfile,
    pod_spec,
    settings_from_env,
)

BASE_IMAGE = "python:3.11-slim"
# Package names that mean a compiler toolchain or headers: allowed in the builder only.
BUILD_TOOLS = re.compile(
    r"^(gcc|g\+\+|cpp|clang|llvm|build-essential|make|cmake|ninja(-build)?|meson|autoconf|"
    r"automake|libtool|pkg-config|cython3?|rustc|cargo|.*-dev(el)?)([=<>:].*)?$",
    re.IGNORECASE,
)
INSTALLERS = (("apt-get", "install"), ("apt", "install"), ("apk", "add"), ("pip", "install"))


@pytest.fixture(scope="module")
def dockerfile() -> Dockerfile:
    return parse_dockerfile()


def _installed_packages(command: str) -> list[str]:
    """Package arguments of the install commands in a shell command line."""
    packages: list[str] = []
    for part in re.split(r"&&|\|\||;", command):
        words = shlex.split(part)
        for tool, verb in INSTALLERS:
            for i in range(len(words) - 1):
                if Path(words[i]).name == tool and words[i + 1] == verb:
                    packages += [w for w in words[i + 2 :] if not w.startswith("-")]
    return packages


def test_installed_packages_are_found() -> None:
    command = "apt-get update && apt-get install -y --no-install-recommends gcc libgomp1"
    assert _installed_packages(command) == ["gcc", "libgomp1"]


@pytest.mark.parametrize("target", FINAL_TARGETS)
def test_final_image_runs_as_a_non_root_user(dockerfile: Dockerfile, target: str) -> None:
    user = dockerfile.user(target)
    assert user is not None, f"{target}: no USER; the image would run as root"
    uid, _, gid = user.partition(":")
    # Numeric, so Kubernetes' runAsNonRoot can check it without reading /etc/passwd.
    assert uid.isdigit() and int(uid) != 0, f"{target}: USER {user}"
    assert not gid or (gid.isdigit() and int(gid) != 0), f"{target}: USER {user}"


@pytest.mark.parametrize("target", FINAL_TARGETS)
def test_final_image_has_no_build_tools(dockerfile: Dockerfile, target: str) -> None:
    chain = dockerfile.chain(target)
    assert "builder" not in {stage.name for stage in chain}, f"{target} is built FROM builder"
    problems = []
    for stage in chain:
        for instruction in stage.all("RUN"):
            tools = [p for p in _installed_packages(instruction.arguments) if BUILD_TOOLS.match(p)]
            if tools:
                problems.append(f"line {instruction.line} ({stage.name}) installs {tools}")
        for instruction in stage.all("COPY"):
            # Wheels come in through a bind mount, so nothing of the builder is left behind.
            if "--from=builder" in instruction.arguments:
                problems.append(f"line {instruction.line} ({stage.name}) copies from builder")
    assert problems == []


@pytest.mark.parametrize("target", (*FINAL_TARGETS, "builder"))
def test_every_stage_is_built_on_the_same_base(dockerfile: Dockerfile, target: str) -> None:
    # The builder's compiled wheels must match the final images' glibc and Python.
    assert dockerfile.base_image(target) == BASE_IMAGE


def test_final_images_are_labelled(dockerfile: Dockerfile) -> None:
    for target in FINAL_TARGETS:
        labels = " ".join(i.arguments for s in dockerfile.chain(target) for i in s.all("LABEL"))
        for key in ("title", "version", "licenses", "revision"):
            assert f"org.opencontainers.image.{key}=" in labels, f"{target}: no {key} label"


def test_server_image_listens_on_all_interfaces(
    dockerfile: Dockerfile, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = dockerfile.stage("server")
    settings = settings_from_env(
        monkeypatch, {k: v for k, v in server.env().items() if k.startswith("PAPERSIFT_")}
    )
    host, _, port = settings.listen.rpartition(":")
    assert settings.metrics_listen is not None
    exposed = {word for i in server.all("EXPOSE") for word in i.arguments.split()}
    assert host == "0.0.0.0"
    assert {port, settings.metrics_listen.rpartition(":")[2]} <= exposed
    entrypoint = server.all("ENTRYPOINT")[-1].exec_form()
    assert entrypoint == ["papersift-server"]


def test_image_user_matches_the_kubernetes_pods(dockerfile: Dockerfile) -> None:
    """Files on the shared models volume belong to one uid, whichever pod writes them."""
    users = {str(dockerfile.user(target)).partition(":")[0] for target in FINAL_TARGETS}
    pods = {
        str(spec["securityContext"]["runAsUser"])
        for resource in k8s_resources()
        if (spec := pod_spec(resource)) is not None
    }
    assert users == pods


# --- .dockerignore ----------------------------------------------------------------------------


def _ignored(path: str, patterns: list[str]) -> bool:
    """Whether Docker leaves ``path`` out of the build context (last matching pattern wins;
    a pattern matching a parent directory matches everything below it)."""
    parts = path.split("/")
    ignored = False
    for raw in patterns:
        negate = raw.startswith("!")
        pattern = raw.removeprefix("!").strip("/").split("/")
        if any(_match(pattern, parts[:n]) for n in range(1, len(parts) + 1)):
            ignored = not negate
    return ignored


def _match(pattern: list[str], parts: list[str]) -> bool:
    if not pattern:
        return not parts
    if pattern[0] == "**":
        return any(_match(pattern[1:], parts[i:]) for i in range(len(parts) + 1))
    return (
        bool(parts) and fnmatch.fnmatchcase(parts[0], pattern[0]) and _match(pattern[1:], parts[1:])
    )


def _dockerignore() -> list[str]:
    lines = (REPO_ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


@pytest.mark.parametrize(
    "path",
    [
        ".git/config",
        ".venv/bin/python",
        "models/CURRENT",
        ".demo/server.log",
        "bench/results/speed.png",
        ".mypy_cache/3.11/x.json",
        "server/papersift/server/__pycache__/app.cpython-311.pyc",
        "deploy/compose.env",
        "papersift.db",
        "tests/conftest.py",
    ],
)
def test_build_context_leaves_out(path: str) -> None:
    assert _ignored(path, _dockerignore())


def test_build_context_has_what_the_dockerfile_copies(dockerfile: Dockerfile) -> None:
    sources = []
    for stage in dockerfile.stages:
        for instruction in stage.all("COPY"):
            words = [w for w in shlex.split(instruction.arguments) if not w.startswith("--")]
            sources += words[:-1]
    assert sources
    patterns = _dockerignore()
    for source in sources:
        path = REPO_ROOT / source
        assert path.exists(), source
        files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
        left_out = [
            relative
            for file in files
            if "__pycache__" not in file.parts
            if _ignored(relative := str(file.relative_to(REPO_ROOT)), patterns)
        ]
        assert left_out == [], f"COPY {source}: left out of the build context"


# --- the server image's HEALTHCHECK -----------------------------------------------------------


def _healthcheck(listen: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PAPERSIFT_LISTEN": listen}
    return subprocess.run(
        [sys.executable, str(DEPLOY / "healthcheck.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_healthcheck_is_the_installed_script(dockerfile: Dockerfile) -> None:
    server = dockerfile.stage("server")
    (check,) = server.all("HEALTHCHECK")
    _, _, command = check.arguments.partition("CMD ")
    program = json.loads(command)[0]
    (installed,) = [i for i in server.all("COPY") if "deploy/healthcheck.py" in i.arguments]
    assert shlex.split(installed.arguments)[-1] == f"/usr/local/bin/{program}"


def test_healthcheck_passes_on_a_serving_server(server_address: str) -> None:
    port = server_address.rpartition(":")[2]
    result = _healthcheck(f"0.0.0.0:{port}")
    assert result.returncode == 0, result.stderr


def test_healthcheck_fails_when_nothing_listens() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = _healthcheck(f"0.0.0.0:{port}")
    assert result.returncode == 1
    assert "UNAVAILABLE" in result.stderr
