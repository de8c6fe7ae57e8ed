"""deploy/k8s: valid against Kubernetes' own schemas (offline), consistent with each other and
with the server's settings.

The schemas come bundled in kubernetes-validate, so this needs no cluster and no network.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from kubernetes_validate import utils as kubernetes_validate

from tests.deploy.deployfiles import (
    K8S,
    containers,
    cpu_cores,
    k8s_manifest_files,
    k8s_resource,
    k8s_resources,
    pod_spec,
    setting_env_names,
    settings_from_env,
    yaml_documents,
)

# The oldest Kubernetes the manifests are written for: native gRPC probes (1.27), the preStop
# `sleep` action (1.30), podFailurePolicy (1.31) and backoffLimitPerIndex (1.33).
KUBERNETES_VERSION = "1.33.0"

WORKLOADS = ("Deployment", "CronJob", "Job", "StatefulSet", "DaemonSet")
PLACEHOLDER = "CHANGE-ME"


def _name(resource: dict[str, Any]) -> str:
    return f"{resource['kind']}/{resource['metadata']['name']}"


def _workloads() -> list[dict[str, Any]]:
    return [resource for resource in k8s_resources() if resource["kind"] in WORKLOADS]


def _server() -> dict[str, Any]:
    return k8s_resource("Deployment", "papersift-server")


def _server_container() -> dict[str, Any]:
    spec = pod_spec(_server())
    assert spec is not None
    (container,) = [c for c in spec["containers"] if c["name"] == "server"]
    return dict(container)


def _env(container: dict[str, Any]) -> dict[str, Any]:
    return {item["name"]: item for item in container.get("env", [])}


def _config_data(kind: str, name: str) -> dict[str, str]:
    resource = k8s_resource(kind, name)
    return {**resource.get("data", {}), **resource.get("stringData", {})}


def _schema_problem(resource: dict[str, Any]) -> str | None:
    """The validator's message if the resource does not match the pinned schemas, else None."""
    try:
        checked = kubernetes_validate.validate(resource, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        where = ".".join(str(part) for part in exc.path) or "(top level)"
        return f"{where}: {exc.message} (Kubernetes {exc.version} schema, strict)"
    except kubernetes_validate.SchemaNotFoundError as exc:
        return str(exc.message)
    # The validator falls back to the newest schemas it has that are not newer than asked.
    if checked != KUBERNETES_VERSION.rpartition(".")[0]:
        return f"validated against Kubernetes {checked}, not {KUBERNETES_VERSION}"
    return None


@pytest.mark.parametrize("path", k8s_manifest_files(), ids=lambda path: path.name)
def test_manifest_is_valid_for_the_pinned_kubernetes(path: Path) -> None:
    documents = yaml_documents(path)
    assert documents, f"{path.name} holds no resource"
    for resource in documents:
        if (problem := _schema_problem(resource)) is not None:
            pytest.fail(f"{path.name}: {_name(resource)}: {problem}", pytrace=False)


def test_validator_rejects_an_unknown_field() -> None:
    """Strict mode is what catches typos; a misspelt probe must not pass as valid."""
    deployment = _server()
    broken = {**deployment, "spec": {**deployment["spec"], "replica": 3}}
    with pytest.raises(kubernetes_validate.ValidationError, match="replica"):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_kustomization_lists_every_manifest_and_image() -> None:
    (kustomization,) = yaml_documents(K8S / "kustomization.yaml")
    assert sorted(kustomization["resources"]) == [path.name for path in k8s_manifest_files()]
    used = {
        container["image"].rpartition(":")[0]
        for resource in _workloads()
        if (spec := pod_spec(resource)) is not None
        for container in containers(spec)
    }
    assert {image["name"] for image in kustomization["images"]} == used


def test_names_are_unique() -> None:
    names = [_name(resource) for resource in k8s_resources()]
    assert len(names) == len(set(names))


def test_references_resolve() -> None:
    """Every ConfigMap, Secret, key, claim and volume a pod names is defined in deploy/k8s."""
    defined = {_name(resource) for resource in k8s_resources()}
    problems: list[str] = []

    def need(kind: str, name: str, key: str | None, where: str) -> None:
        if f"{kind}/{name}" not in defined:
            problems.append(f"{where}: no {kind} {name!r}")
        elif key is not None and key not in _config_data(kind, name):
            problems.append(f"{where}: {kind} {name!r} has no key {key!r}")

    for resource in _workloads():
        spec = pod_spec(resource)
        assert spec is not None
        volumes = {volume["name"]: volume for volume in spec.get("volumes", [])}
        for volume in volumes.values():
            where = f"{_name(resource)} volume {volume['name']}"
            if "persistentVolumeClaim" in volume:
                need(
                    "PersistentVolumeClaim",
                    volume["persistentVolumeClaim"]["claimName"],
                    None,
                    where,
                )
            if "secret" in volume:
                need("Secret", volume["secret"]["secretName"], None, where)
            if "configMap" in volume:
                need("ConfigMap", volume["configMap"]["name"], None, where)
        for container in containers(spec):
            where = f"{_name(resource)} container {container['name']}"
            for source in container.get("envFrom", []):
                if "configMapRef" in source:
                    need("ConfigMap", source["configMapRef"]["name"], None, where)
                if "secretRef" in source:
                    need("Secret", source["secretRef"]["name"], None, where)
            for item in container.get("env", []):
                ref = item.get("valueFrom", {})
                if "configMapKeyRef" in ref:
                    need(
                        "ConfigMap",
                        ref["configMapKeyRef"]["name"],
                        ref["configMapKeyRef"]["key"],
                        where,
                    )
                if "secretKeyRef" in ref:
                    need("Secret", ref["secretKeyRef"]["name"], ref["secretKeyRef"]["key"], where)
            for mount in container.get("volumeMounts", []):
                if mount["name"] not in volumes:
                    problems.append(f"{where}: mounts undefined volume {mount['name']!r}")
    assert problems == []


def test_selectors_and_targets_find_the_server() -> None:
    spec = pod_spec(_server())
    assert spec is not None
    labels = _server()["spec"]["template"]["metadata"]["labels"]
    port_names = {port["name"] for port in _server_container()["ports"]}
    for resource in k8s_resources():
        kind = resource["kind"]
        if kind == "Service":
            assert resource["spec"]["selector"].items() <= labels.items(), _name(resource)
            for port in resource["spec"]["ports"]:
                assert port["targetPort"] in port_names, f"{_name(resource)} {port['name']}"
        elif kind == "PodDisruptionBudget":
            assert resource["spec"]["selector"]["matchLabels"].items() <= labels.items()
        elif kind == "HorizontalPodAutoscaler":
            target = resource["spec"]["scaleTargetRef"]
            assert (target["kind"], target["name"]) == ("Deployment", "papersift-server")
    assert _server()["spec"]["selector"]["matchLabels"].items() <= labels.items()


def test_pods_run_unprivileged_and_bounded() -> None:
    problems: list[str] = []
    for resource in _workloads():
        spec = pod_spec(resource)
        assert spec is not None
        pod_security = spec.get("securityContext", {})
        for container in containers(spec):
            where = f"{_name(resource)} container {container['name']}"
            security = {**pod_security, **container.get("securityContext", {})}
            if security.get("runAsNonRoot") is not True or security.get("runAsUser", 0) == 0:
                problems.append(f"{where}: not runAsNonRoot with a non-zero runAsUser")
            if security.get("allowPrivilegeEscalation") is not False:
                problems.append(f"{where}: allowPrivilegeEscalation is not false")
            if security.get("readOnlyRootFilesystem") is not True:
                problems.append(f"{where}: readOnlyRootFilesystem is not true")
            if "ALL" not in security.get("capabilities", {}).get("drop", []):
                problems.append(f"{where}: capabilities are not all dropped")
            resources = container.get("resources", {})
            for bound in ("requests", "limits"):
                missing = {"cpu", "memory"} - set(resources.get(bound, {}))
                if missing:
                    problems.append(f"{where}: no {bound} for {sorted(missing)}")
    assert problems == []


def test_server_settings_are_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    """The server's environment, as Kubernetes assembles it, is accepted by its Settings."""
    container = _server_container()
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        env.update(_config_data("ConfigMap", source["configMapRef"]["name"]))
    for name, item in _env(container).items():
        if "value" in item:
            env[name] = item["value"]
        else:
            ref = item["valueFrom"]["secretKeyRef"]
            env[name] = _config_data("Secret", ref["name"])[ref["key"]]
    unknown = set(env) - setting_env_names()
    assert unknown == set(), f"the server does not read {sorted(unknown)}"

    settings = settings_from_env(monkeypatch, env)

    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    assert settings.listen.rpartition(":") == ("0.0.0.0", ":", str(ports["grpc"]))
    assert settings.metrics_listen is not None
    assert settings.metrics_listen.rpartition(":")[2] == str(ports["metrics"])
    mounts = {mount["mountPath"]: mount for mount in container["volumeMounts"]}
    assert mounts[str(settings.model_dir)]["readOnly"] is True
    # One worker per CPU of the limit: fewer wastes it, more contends for the quota.
    assert settings.workers == cpu_cores(container["resources"]["limits"]["cpu"])


def test_server_probes_use_grpc_health_on_the_serving_port() -> None:
    container = _server_container()
    grpc_port = next(p["containerPort"] for p in container["ports"] if p["name"] == "grpc")
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["grpc"]["port"] == grpc_port, probe


def test_server_drains_before_it_is_killed(monkeypatch: pytest.MonkeyPatch) -> None:
    """SIGTERM comes after preStop; the drain must finish before the grace period runs out."""
    config = _config_data("ConfigMap", "papersift-config")
    grace = settings_from_env(monkeypatch, config).grace_period
    pause = _server_container().get("lifecycle", {}).get("preStop", {}).get("sleep", {})
    spec = pod_spec(_server())
    assert spec is not None
    assert spec["terminationGracePeriodSeconds"] > pause.get("seconds", 0) + grace


def test_server_metrics_are_scraped_from_the_metrics_port() -> None:
    annotations = _server()["spec"]["template"]["metadata"]["annotations"]
    ports = {port["name"]: port["containerPort"] for port in _server_container()["ports"]}
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == str(ports["metrics"])


def test_hpa_scales_on_cpu_within_bounds() -> None:
    spec = k8s_resource("HorizontalPodAutoscaler", "papersift-server")["spec"]
    assert 1 <= spec["minReplicas"] <= spec["maxReplicas"]
    assert [metric["resource"]["name"] for metric in spec["metrics"]] == ["cpu"]
    # HPA utilisation is relative to the request: without one it cannot scale.
    assert "cpu" in _server_container()["resources"]["requests"]
    assert "replicas" not in _server()["spec"], "the HPA owns the replica count"


def test_models_volume_is_shared_read_write_many() -> None:
    claim = k8s_resource("PersistentVolumeClaim", "papersift-models")
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]


def test_training_runs_one_at_a_time_and_writes_the_models_volume() -> None:
    cronjob = k8s_resource("CronJob", "papersift-train")
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"
    spec = pod_spec(cronjob)
    assert spec is not None
    (container,) = spec["containers"]
    model_dir = container["args"][container["args"].index("--model-dir") + 1]
    mounts = {mount["mountPath"]: mount for mount in container["volumeMounts"]}
    assert mounts[model_dir].get("readOnly", False) is False
    assert "$(PAPERSIFT_DATABASE_URL)" in container["args"]
    assert "PAPERSIFT_DATABASE_URL" in _env(container)


def test_digest_is_an_indexed_job_with_one_shard_per_index() -> None:
    cronjob = k8s_resource("CronJob", "papersift-digest")
    job = cronjob["spec"]["jobTemplate"]["spec"]
    assert job["completionMode"] == "Indexed"
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"
    spec = pod_spec(cronjob)
    assert spec is not None
    (container,) = spec["containers"]
    args = container["args"]
    shard = args[args.index("--shard") + 1]
    match = re.fullmatch(r"\$\(JOB_COMPLETION_INDEX\)/(\d+)", shard)
    assert match, f"--shard {shard}: expected $(JOB_COMPLETION_INDEX)/N"
    assert int(match[1]) == job["completions"], "N shards must equal the Job's completions"
    assert job["parallelism"] <= job["completions"]
    # Every $(VAR) the arguments use is defined (JOB_COMPLETION_INDEX by the Job controller).
    used = set(re.findall(r"\$\((\w+)\)", " ".join(args)))
    assert used - set(_env(container)) == {"JOB_COMPLETION_INDEX"}


def test_secrets_hold_only_placeholders() -> None:
    """Real credentials never go into the repository: every Secret value is a placeholder."""
    for resource in k8s_resources():
        if resource["kind"] != "Secret":
            continue
        assert "data" not in resource, f"{_name(resource)}: use stringData placeholders"
        for key, value in resource["stringData"].items():
            assert PLACEHOLDER in value, f"{_name(resource)} {key}: not a {PLACEHOLDER} value"
