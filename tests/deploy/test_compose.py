"""deploy/compose.yaml: the services, their order of start, and what they are given.

Docker cannot run here, so this checks the file itself: it parses, names the expected
services, and its settings are ones the server accepts.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.conftest import REPO_ROOT
from tests.deploy.deployfiles import (
    COMPOSE,
    DEPLOY,
    parse_dockerfile,
    setting_env_names,
    settings_from_env,
    yaml_documents,
)

SERVICES = {"postgres", "redis", "migrate", "server", "train", "digest"}
JOBS = {"train", "digest"}


def _compose() -> dict[str, Any]:
    (compose,) = yaml_documents(COMPOSE)
    assert isinstance(compose, dict)
    return compose


def _service(name: str) -> dict[str, Any]:
    return dict(_compose()["services"][name])


def _env_file(name: str) -> dict[str, str]:
    values = {}
    for line in (DEPLOY / name).read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def _interpolated_default(text: str) -> str:
    """``${VAR:-default}`` with the default filled in, as compose does when VAR is unset."""
    return re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", text)


def test_compose_defines_the_expected_services() -> None:
    assert set(_compose()["services"]) == SERVICES


def test_jobs_run_only_when_asked() -> None:
    for name, service in _compose()["services"].items():
        assert (service.get("profiles") == ["jobs"]) == (name in JOBS), name


def test_images_build_from_existing_dockerfile_targets() -> None:
    stages = {stage.name for stage in parse_dockerfile().stages}
    for name, service in _compose()["services"].items():
        build = service.get("build")
        if build is None:
            continue
        context = (COMPOSE.parent / build["context"]).resolve()
        assert context == REPO_ROOT, f"{name}: the Dockerfile expects the repository root"
        assert (context / build["dockerfile"]).is_file(), name
        assert build["target"] in stages, f"{name}: no stage {build['target']!r}"


def test_postgres_keeps_its_data_and_reports_health() -> None:
    postgres = _service("postgres")
    assert "healthcheck" in postgres
    named = {entry.split(":")[0] for entry in postgres["volumes"]}
    assert named <= set(_compose()["volumes"]), "PostgreSQL's data needs a named volume"


def test_server_starts_after_migrations_succeed() -> None:
    migrate = _service("migrate")
    assert migrate["command"] == ["migrate"]
    assert migrate["restart"] == "no"
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    server = _service("server")
    assert server["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert server["depends_on"]["redis"]["condition"] == "service_healthy"


def test_server_publishes_grpc_and_metrics_and_reads_models(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = _service("server")
    env = {
        **parse_dockerfile().stage("server").env(),
        **_env_file("compose.env.example"),
        **server["environment"],
    }
    settings = settings_from_env(
        monkeypatch, {key: value for key, value in env.items() if key in setting_env_names()}
    )
    published = {entry.rsplit(":", 1)[-1] for entry in server["ports"]}
    assert settings.listen.rpartition(":")[2] in published
    assert settings.metrics_listen is not None
    assert settings.metrics_listen.rpartition(":")[2] in published
    volumes = {entry.split(":")[1]: entry for entry in server["volumes"]}
    assert volumes[str(settings.model_dir)].endswith(":ro")
    stop_grace = float(server["stop_grace_period"].removesuffix("s"))
    assert stop_grace > settings.grace_period


def test_training_writes_the_servers_models_volume() -> None:
    train = _service("train")
    server_models = next(v for v in _service("server")["volumes"] if v.startswith("models:"))
    assert f"{server_models.split(':')[0]}:/models" in train["volumes"]
    assert "--model-dir /models" in " ".join(train["entrypoint"])


def test_digest_writes_an_outbox_unless_told_to_mail() -> None:
    digest = _service("digest")
    command = digest["command"]
    assert "--outbox" in command
    assert "--smtp" not in command and "--smtp" not in " ".join(digest["entrypoint"])
    outbox = command[command.index("--outbox") + 1]
    assert any(volume.endswith(f":{outbox}") for volume in digest["volumes"])
    subscribers = command[command.index("--subscribers") + 1]
    (source,) = [
        _interpolated_default(volume).split(":")[0]
        for volume in digest["volumes"]
        if f":{subscribers}" in volume
    ]
    assert (DEPLOY / source).is_file(), f"the default subscriber file {source} is missing"


def test_env_file_example_holds_only_placeholder_secrets() -> None:
    referenced = {service.get("env_file") for service in _compose()["services"].values()}
    assert referenced - {None} == {"compose.env"}
    example = _env_file("compose.env.example")
    for key, value in example.items():
        credentials = "PASSWORD" in key or ("URL" in key and "@" in value)
        assert not credentials or "CHANGE-ME" in value, f"{key}: not a CHANGE-ME placeholder"
    assert "compose.env" in (DEPLOY / ".gitignore").read_text(encoding="utf-8")
