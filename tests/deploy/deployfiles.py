"""Readers of deploy/: YAML documents, the Dockerfile's stages, and the names of real settings.

Shared by the tests of this folder; nothing here needs Docker, a cluster or the network.
"""

from __future__ import annotations

import functools
import json
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from papersift.client import cli as client_cli
from papersift.client._connection import API_KEY_ENV
from papersift.client.digest import smtp
from papersift.server.config import Settings
from tests.conftest import REPO_ROOT

DEPLOY = REPO_ROOT / "deploy"
K8S = DEPLOY / "k8s"
DOCKERFILE = DEPLOY / "Dockerfile"
COMPOSE = DEPLOY / "compose.yaml"

ENV_PREFIX = str(Settings.model_config.get("env_prefix", ""))

# The images deploy/ builds, by Dockerfile target.
FINAL_TARGETS = ("server", "training", "digest")


def setting_env_names() -> set[str]:
    """Environment variables the server's Settings read (``PAPERSIFT_LISTEN``, ...)."""
    return {f"{ENV_PREFIX}{name}".upper() for name in Settings.model_fields}


def known_env_names() -> set[str]:
    """Every ``PAPERSIFT_*`` variable some papersift program reads: settings and client CLI."""
    return setting_env_names() | {
        client_cli.SERVER_ENV,
        API_KEY_ENV,
        smtp.USER_ENV,
        smtp.PASSWORD_ENV,
    }


def settings_from_env(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> Settings:
    """The server's Settings as built in an environment holding exactly ``env`` of ours."""
    for name in setting_env_names():
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    no_overrides: dict[str, Any] = {}  # every value from the environment
    return Settings(**no_overrides)


def yaml_documents(path: Path) -> list[Any]:
    """The non-empty YAML documents of a file."""
    with path.open(encoding="utf-8") as stream:
        return [document for document in yaml.safe_load_all(stream) if document is not None]


def k8s_manifest_files() -> list[Path]:
    """Every Kubernetes manifest in deploy/k8s (kustomization.yaml is not a resource)."""
    return sorted(path for path in K8S.glob("*.yaml") if path.name != "kustomization.yaml")


@functools.cache
def _k8s_resources() -> tuple[dict[str, Any], ...]:
    return tuple(document for path in k8s_manifest_files() for document in yaml_documents(path))


def k8s_resources() -> list[dict[str, Any]]:
    """Every resource of every manifest (parsed once per run: read them, do not change them)."""
    return list(_k8s_resources())


def k8s_resource(kind: str, name: str) -> dict[str, Any]:
    """The one resource of that kind and name; fails the test if there is none."""
    for resource in k8s_resources():
        if resource["kind"] == kind and resource["metadata"]["name"] == name:
            return resource
    pytest.fail(f"deploy/k8s defines no {kind} named {name!r}")


def pod_spec(resource: dict[str, Any]) -> dict[str, Any] | None:
    """The pod spec of a workload (Deployment, Job, CronJob, ...), or None for other kinds."""
    spec = resource.get("spec", {})
    if resource["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    template = spec.get("template")
    return None if template is None else dict(template["spec"])


def containers(spec: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Init containers, then containers, of a pod spec."""
    yield from spec.get("initContainers", [])
    yield from spec.get("containers", [])


def cpu_cores(quantity: str | int | float) -> float:
    """A Kubernetes CPU quantity ("2", "1500m", 2) in cores."""
    text = str(quantity)
    return int(text[:-1]) / 1000 if text.endswith("m") else float(text)


# --- the Dockerfile ---------------------------------------------------------------------------


@dataclass
class Instruction:
    """One Dockerfile instruction, continuation lines joined."""

    keyword: str
    arguments: str
    line: int

    def exec_form(self) -> list[str] | None:
        """The JSON array of an exec-form instruction (CMD ["a", "b"]), else None."""
        text = self.arguments.strip()
        if not text.startswith("["):
            return None
        value = json.loads(text)
        assert isinstance(value, list)
        return [str(item) for item in value]


@dataclass
class Stage:
    """A build stage: ``FROM base AS name`` and its instructions."""

    name: str
    base: str
    line: int
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        """This stage's instructions with that keyword."""
        return [instruction for instruction in self.instructions if instruction.keyword == keyword]

    def env(self) -> dict[str, str]:
        """The variables this stage's ENV instructions set (``ENV KEY=value ...`` form)."""
        values: dict[str, str] = {}
        for instruction in self.all("ENV"):
            for word in shlex.split(instruction.arguments):
                key, _, value = word.partition("=")
                values[key] = value
        return values


@dataclass
class Dockerfile:
    """A parsed Dockerfile: global ARG defaults and the stages in order."""

    global_args: dict[str, str]
    stages: list[Stage]

    def stage(self, name: str) -> Stage:
        """The stage of that name; fails the test if there is none."""
        for stage in self.stages:
            if stage.name == name:
                return stage
        pytest.fail(f"deploy/Dockerfile has no stage {name!r}")

    def chain(self, name: str) -> list[Stage]:
        """The stage and the stages it is built FROM, nearest first."""
        chain = [self.stage(name)]
        names = {stage.name for stage in self.stages}
        while chain[-1].base in names:
            chain.append(self.stage(chain[-1].base))
        return chain

    def user(self, name: str) -> str | None:
        """The USER a stage's image runs as (the last one along its chain), or None for root."""
        users = [i.arguments for stage in reversed(self.chain(name)) for i in stage.all("USER")]
        return users[-1] if users else None

    def base_image(self, name: str) -> str:
        """The external image a stage is ultimately built on, with global ARGs filled in."""
        base = self.chain(name)[-1].base
        return re.sub(
            r"\$\{(\w+)\}|\$(\w+)",
            lambda match: self.global_args.get(match[1] or match[2], match[0]),
            base,
        )


def parse_dockerfile(path: Path = DOCKERFILE) -> Dockerfile:
    """Split a Dockerfile into global ARGs and stages (enough of the syntax for deploy/)."""
    instructions: list[Instruction] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):  # comments inside a continued instruction
            continue
        if not pending:
            start = number
        continued = line.endswith("\\")
        pending.append(line[:-1].strip() if continued else line)
        if not continued:
            keyword, _, arguments = " ".join(part for part in pending if part).partition(" ")
            instructions.append(Instruction(keyword.upper(), arguments.strip(), start))
            pending = []
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for instruction in instructions:
        if instruction.keyword == "FROM":
            words = [w for w in shlex.split(instruction.arguments) if not w.startswith("--")]
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else ""
            stages.append(Stage(name or str(len(stages)), words[0], instruction.line))
        elif not stages:
            if instruction.keyword == "ARG":
                key, _, default = instruction.arguments.partition("=")
                global_args[key.strip()] = default.strip()
        else:
            stages[-1].instructions.append(instruction)
    return Dockerfile(global_args, stages)
