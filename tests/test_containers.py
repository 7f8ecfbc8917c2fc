"""Containers tier: every generated image is built, twice, and run as compose and Kubernetes run it.

For a curated set of projects (each Dockerfile variant at least once: the Node image plain and
hybrid's, the Python image with and without the model), each image is built twice with
`--no-cache` (BuildKit runs stages in parallel, so a race between them shows up as a flaky build;
the cache mounts survive `--no-cache`, so the second build is the warm-cache one). Then every
compose service is started from its image as compose would start it (its command, environment,
healthcheck and stop grace period), on the host network against this machine's Redis and a
throwaway PostgreSQL database, with a read-only root filesystem, /tmp on a tmpfs and the image's
own user: migrations first, then the services in dependency order. The images' HEALTHCHECKs
reach `healthy`, the documented endpoints answer, the workers run jobs, and `docker stop` ends
every container with exit code 0 inside its grace period.

The base images are stand-ins with the official tags (tests/standins.py); scripts/test installs
Docker and starts its daemon.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import time
import tomllib
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from processes import wait_until
from standins import DOCKER, build_network, docker, ensure_standins, require_docker
from test_k8s import containers, kustomize, workloads

from harness.net import delete_redis_keys, free_port, http, post_json
from harness.oidc import service_env

pytestmark = [pytest.mark.generated, pytest.mark.containers]

# The answers match other tiers' renders, so a full run renders each project once.
PROJECTS: dict[str, dict[str, Any]] = {
    "node-api": {"architecture": "node-api"},
    "python-api": {"architecture": "python-api", "ml": "core"},
    "python-api-no-model": {
        "architecture": "python-api",
        "ml": "none",
        "background_jobs": True,
        "database": "none",
    },
    "hybrid": {"architecture": "hybrid", "ml": "core", "realtime": True},
}
SETOSA = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}
# What a process prints when it tries to write to the read-only root filesystem.
WRITE_FAILURES = re.compile(r"read-only file system|EROFS|failed to persist", re.IGNORECASE)
# Waits end as soon as their condition holds; the bounds only keep a broken run from hanging.
WAIT = 120.0
RUN_ID = uuid.uuid4().hex[:8]


# Images ###########################################################################################


@dataclass
class Image:
    """One image of a project: where compose builds it from, its tag, and its two build times."""

    context: Path
    dockerfile: str
    tag: str
    seconds: list[float] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)  # one per build, all removed at the end

    def inspect(self) -> dict[str, Any]:
        config: dict[str, Any] = json.loads(docker("image", "inspect", self.tag))[0]["Config"]
        return config


def compose_services(project: Path) -> dict[str, dict[str, Any]]:
    services: dict[str, dict[str, Any]] = yaml.safe_load((project / "compose.yaml").read_text())[
        "services"
    ]
    return services


def build(image: Image) -> None:
    """`docker build --no-cache` as compose builds the service (its context and Dockerfile)."""
    started = time.monotonic()
    docker(
        "build",
        "--no-cache",
        *build_network(),
        "--file",
        str(image.context / image.dockerfile),
        "--tag",
        image.tag,
        str(image.context),
    )
    image.seconds.append(time.monotonic() - started)
    image.ids.append(docker("image", "inspect", "--format", "{{.Id}}", image.tag).strip())


@pytest.fixture(scope="module")
def images(rendered_project: Callable[..., Path]) -> Iterator[dict[str, dict[str, Image]]]:
    """Per project: compose service -> its image, each distinct build built twice, no cache."""
    require_docker()
    built: dict[str, dict[str, Image]] = {}
    by_build: dict[tuple[Path, str], Image] = {}
    for name, answers in PROJECTS.items():
        project = rendered_project(**answers)
        built[name] = {}
        for service, spec in compose_services(project).items():
            if "build" not in spec:
                continue
            context = project / spec["build"]["context"]
            dockerfile = spec["build"].get("dockerfile", "Dockerfile")
            key = (context.resolve(), dockerfile)
            if key not in by_build:
                tag = f"scaffold-test-{name}-{len(by_build)}:{RUN_ID}"
                by_build[key] = Image(context, dockerfile, tag)
            built[name][service] = by_build[key]
    ensure_standins([image.context / image.dockerfile for image in by_build.values()])
    for image in by_build.values():
        build(image)
    for image in by_build.values():
        build(image)
    yield built
    for image in by_build.values():
        remove = [DOCKER, "rmi", "--force", image.tag, *image.ids]
        subprocess.run(remove, capture_output=True, check=False)


# Running them #####################################################################################


@dataclass
class Container:
    name: str
    service: str
    grace: int  # seconds `docker stop` waits before SIGKILL: compose's stop_grace_period
    healthchecked: bool  # the image's HEALTHCHECK or compose's, unless compose disables it

    def state(self) -> dict[str, Any]:
        state: dict[str, Any] = json.loads(docker("inspect", self.name))[0]["State"]
        return state

    def logs(self) -> str:
        result = subprocess.run([DOCKER, "logs", self.name], capture_output=True, check=False)
        return (result.stdout + result.stderr).decode(errors="replace")


@dataclass
class Deployment:
    """The containers of one project, and where its HTTP services listen on 127.0.0.1."""

    containers: dict[str, Container]
    urls: dict[str, str]

    def log(self) -> str:
        return "\n".join(
            f"--- {c.service} ---\n{c.logs()[-3000:]}" for c in self.containers.values()
        )

    def wait_healthy(self) -> None:
        def healthy() -> bool:
            for container in self.containers.values():
                state = container.state()
                if not state["Running"]:
                    pytest.fail(f"{container.service} exited ({state})\n{self.log()}")
            health = {
                c.service: c.state().get("Health", {}).get("Status")
                for c in self.containers.values()
                if c.healthchecked
            }
            assert None not in health.values(), f"a container without a healthcheck: {health}"
            return all(status == "healthy" for status in health.values())

        wait_until(healthy, "every container's healthcheck to pass", timeout=WAIT)


def resolve_defaults(value: Any) -> str:
    """Compose's `${NAME:-default}` with nothing set: the default."""
    return re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", str(value))


def start_order(services: dict[str, dict[str, Any]]) -> list[str]:
    """The built services, each after the ones it depends on (compose's `depends_on`)."""
    order: list[str] = []

    def visit(name: str) -> None:
        if name in order or "build" not in services[name]:
            return
        for dependency in services[name].get("depends_on", {}):
            visit(dependency)
        order.append(name)

    for name in services:
        visit(name)
    return order


def run_args(spec: dict[str, Any], environment: dict[str, str]) -> list[str]:
    """`docker run` flags for a compose service as compose and the manifests run it: host network,
    read-only root, /tmp on a tmpfs, the image's own user, compose's healthcheck (checked every
    2 s rather than every 30 s, so the test does not wait)."""
    args = ["--network", "host", "--read-only", "--tmpfs", "/tmp"]
    for key, value in environment.items():
        args += ["--env", f"{key}={value}"]
    healthcheck = spec.get("healthcheck", {})
    if healthcheck.get("disable"):
        args.append("--no-healthcheck")
    else:
        if "test" in healthcheck:
            kind, *test = healthcheck["test"]
            assert "CMD-SHELL" == kind, "write compose healthchecks as CMD-SHELL"
            args += ["--health-cmd", " ".join(test).replace("$$", "$")]
        args += ["--health-interval", "2s"]
    return args


@pytest.fixture
def deploy(
    images: dict[str, dict[str, Image]],
    rendered_project: Callable[..., Path],
    redis_url: str,
    create_database: Callable[[str], str],
) -> Iterator[Callable[[str], Deployment]]:
    """`deploy(project)`: every compose service of the project running in containers."""
    started: list[Container] = []
    queues: list[str] = []

    def _deploy(name: str) -> Deployment:
        project = rendered_project(**PROJECTS[name])
        services = compose_services(project)
        database = create_database(f"containers_{name}")
        ports = {s: free_port() for s, spec in services.items() if "command" not in spec}
        queue = f"containers-{uuid.uuid4().hex[:12]}"
        queues.append(queue)
        deployment = Deployment({}, {s: f"http://127.0.0.1:{p}" for s, p in ports.items()})
        for service in start_order(services):
            spec = services[service]
            environment = {k: resolve_defaults(v) for k, v in spec["environment"].items()}
            # compose's host names (redis, postgres, ml) are this machine's services here.
            environment["REDIS_URL"] = redis_url
            if "DATABASE_URL" in environment:
                environment["DATABASE_URL"] = database
            if "ML_SERVICE_URL" in environment:
                environment["ML_SERVICE_URL"] = deployment.urls["ml"]
            # compose's placeholder issuer: the session's real provider instead (host network).
            environment.update({k: v for k, v in service_env().items() if k in environment})
            if service in ports:
                environment.update(HOST="127.0.0.1", PORT=str(ports[service]))
            # Jobs of this test only, whatever else uses the Redis.
            environment.update(QUEUE_PREFIX=queue, JOBS_QUEUE=queue)
            container = Container(
                f"scaffold-test-{name}-{service}-{uuid.uuid4().hex[:8]}",
                service,
                int(str(spec.get("stop_grace_period", "10s")).removesuffix("s")),
                not spec.get("healthcheck", {}).get("disable", False),
            )
            image = images[name][service].tag
            command = spec.get("command", [])
            if spec.get("restart") == "no":  # a one-off (migrate): run it to completion first
                args = run_args(spec, environment)
                output = docker("run", "--rm", "--name", container.name, *args, image, *command)
                assert not WRITE_FAILURES.search(output), output
                continue
            started.append(container)
            docker("run", "--detach", "--name", container.name, *run_args(spec, environment),
                   image, *command)  # fmt: skip
            deployment.containers[service] = container
            # compose's depends_on: service_healthy. Waiting for every container at each step is
            # the same order, a little slower.
            deployment.wait_healthy()
        return deployment

    yield _deploy
    for container in started:
        subprocess.run([DOCKER, "rm", "--force", container.name], capture_output=True, check=False)
    for queue in queues:
        delete_redis_keys(redis_url, f"{queue}*")


def stop_every_container(deployment: Deployment) -> None:
    """`docker stop` with each service's grace period: every container exits 0 (a process still
    running at the end of the grace period is killed and exits 137)."""
    codes = {}
    for service, container in deployment.containers.items():
        docker("stop", "--time", str(container.grace), container.name, timeout=container.grace + 30)
        state = container.state()
        codes[service] = (state["ExitCode"], state["OOMKilled"])
    assert {s: (0, False) for s in deployment.containers} == codes, deployment.log()
    for service, container in deployment.containers.items():
        logs = container.logs()
        assert not WRITE_FAILURES.search(logs), f"{service} wrote to its root:\n{logs[-3000:]}"


def wait_for_job(url: str, deployment: Deployment, done: Callable[[dict[str, Any]], bool]) -> Any:
    job: dict[str, Any] = {}

    def finished() -> bool:
        nonlocal job
        reply = http("GET", url)
        assert 200 == reply.status, reply.body
        job = reply.json()
        return done(job)

    try:
        wait_until(finished, f"the job at {url}", timeout=WAIT)
    except pytest.fail.Exception:
        pytest.fail(f"the job at {url} did not finish: {job}\n{deployment.log()}")
    return job


# Tests ############################################################################################


class TestNodeImage:
    def test_api_worker_and_migrations_run_read_only(self, deploy: Callable[[str], Deployment]):
        """node-api: the migrations in the image, then the API and the BullMQ worker, read-only as
        `node`: healthy, a note created and read back, a job done by the worker, clean stops."""
        deployment = deploy("node-api")
        api = deployment.urls["api"]
        created = post_json(f"{api}/v1/notes", {"title": "From a container", "tags": ["docker"]})
        assert 201 == created.status, f"{created.body!r}\n{deployment.log()}"
        note = created.json()
        assert note == http("GET", f"{api}/v1/notes/{note['id']}").json()
        submitted = post_json(
            f"{api}/v1/jobs", {"type": "digest", "data": {"text": "hi", "rounds": 10}}
        )
        assert 202 == submitted.status, submitted.body
        job = wait_for_job(
            f"{api}/v1/jobs/{submitted.json()['id']}",
            deployment,
            lambda job: job["state"] in ("completed", "failed"),
        )
        assert "completed" == job["state"], f"{job}\n{deployment.log()}"
        stop_every_container(deployment)


class TestPythonImage:
    def test_api_worker_and_migrations_run_read_only(self, deploy: Callable[[str], Deployment]):
        """python-api with the model: Alembic in the image, then the API and the Celery worker,
        read-only as `app`: healthy, a note created and read back, a prediction, a batch job done
        by the worker, clean stops."""
        deployment = deploy("python-api")
        api = deployment.urls["api"]
        created = post_json(f"{api}/v1/notes", {"title": f"container-{uuid.uuid4().hex[:6]}"})
        assert 201 == created.status, f"{created.body!r}\n{deployment.log()}"
        note = created.json()
        assert note == http("GET", f"{api}/v1/notes/{note['id']}").json()
        predicted = post_json(f"{api}/v1/predictions", {"instances": [SETOSA]})
        assert 200 == predicted.status, f"{predicted.body!r}\n{deployment.log()}"
        assert "setosa" == predicted.json()["predictions"][0]["label"]
        submitted = post_json(
            f"{api}/v1/jobs",
            {"type": "ml-batch-predict", "data": {"instances": [SETOSA] * 2}},
            **{"Idempotency-Key": uuid.uuid4().hex},
        )
        assert 202 == submitted.status, submitted.body
        job = wait_for_job(
            f"{api}{submitted.headers['location']}",
            deployment,
            lambda job: job["state"] in ("completed", "failed"),
        )
        assert "completed" == job["state"], f"{job}\n{deployment.log()}"
        stop_every_container(deployment)

    def test_without_model_the_api_and_worker_run_read_only(
        self, deploy: Callable[[str], Deployment]
    ):
        """python-api without the model or a database: notes in memory, a job done by the
        worker, clean stops."""
        deployment = deploy("python-api-no-model")
        api = deployment.urls["api"]
        created = post_json(f"{api}/v1/notes", {"title": "in memory"})
        assert 201 == created.status, f"{created.body!r}\n{deployment.log()}"
        stop_every_container(deployment)


class TestHybridImages:
    def test_gateway_ml_service_and_workers_run_read_only(
        self, deploy: Callable[[str], Deployment]
    ):
        """hybrid: the gateway's migrations, then the ML service, its Celery worker, the gateway
        and its BullMQ worker: a prediction and an ML batch job through the gateway, clean stops."""
        deployment = deploy("hybrid")
        gateway = deployment.urls["api"]
        predicted = post_json(f"{gateway}/v1/predictions", {"instances": [SETOSA]})
        assert 200 == predicted.status, f"{predicted.body!r}\n{deployment.log()}"
        assert "setosa" == predicted.json()["predictions"][0]["label"]
        submitted = post_json(
            f"{gateway}/v1/jobs", {"type": "ml-batch-predict", "data": {"instances": [SETOSA]}}
        )
        assert 202 == submitted.status, submitted.body
        job = wait_for_job(
            f"{gateway}/v1/jobs/{submitted.json()['id']}",
            deployment,
            lambda job: job["state"] in ("completed", "failed"),
        )
        assert "completed" == job["state"], f"{job}\n{deployment.log()}"
        stop_every_container(deployment)


# What compose and the manifests say about the images #############################################


@pytest.mark.parametrize("name", sorted(PROJECTS))
def test_compose_and_manifests_match_the_built_images(
    name: str,
    images: dict[str, dict[str, Image]],
    rendered_project: Callable[..., Path],
    redis_url: str,
    create_database: Callable[[str], str],
) -> None:
    """Each compose service and Kubernetes workload runs what its image holds: the program and
    entry file (or module) of its command exist in the image, the Pod's runAsUser/runAsGroup are
    the image's own non-root user, and the server listens on the port the Dockerfile EXPOSEs
    (started with compose's environment and its defaults), which test_k8s ties to the manifests'
    containerPort and compose's ports."""
    project = rendered_project(**PROJECTS[name])
    services = compose_services(project)
    built = images[name]
    commands = {(s, tuple(spec.get("command") or built[s].inspect()["Cmd"])) for s, spec in
                services.items() if s in built}  # fmt: skip
    users: dict[str, tuple[int, int]] = {}
    for doc in workloads(kustomize(project / "deploy/k8s/base")):
        service = doc["metadata"]["name"]
        (container,) = containers(doc)
        config = {
            **doc["spec"]["template"]["spec"]["securityContext"],
            **container.get("securityContext", {}),
        }
        users[service] = (config["runAsUser"], config["runAsGroup"])
        command = container.get("command") or built[service].inspect()["Cmd"]
        commands.add((service, tuple(re.sub(r"\$\(\w+\)", "1", part) for part in command)))
    for service, command in sorted(commands):
        assert_entry_exists(built[service], list(command), service)
    for service, (uid, gid) in users.items():
        image_user = built[service].inspect()["User"]
        assert image_user not in ("", "root", "0"), f"{service}: the image runs as root"
        ids = docker("run", "--rm", "--network", "none", "--entrypoint", "id", built[service].tag)
        assert f"uid={uid}(" in ids and f"gid={gid}(" in ids, f"{service}: {ids} vs the manifest"
    local = {"REDIS_URL": redis_url, "DATABASE_URL": create_database(f"ports_{name}")}
    local["ML_SERVICE_URL"] = "http://127.0.0.1:9"  # the gateway listens without it
    for service, spec in services.items():
        if service in built and "command" not in spec:
            assert_listens_on_exposed_port(built[service], spec, service, local)


def assert_entry_exists(image: Image, command: list[str], service: str) -> None:
    """The command's program is on the image's PATH; a script or config file it names exists in
    the working directory; a module it names (`-A app.worker`, `-m app`) is importable."""
    program, *args = command
    checks = [f'command -v "{program}" >/dev/null || {{ echo "no {program}"; exit 1; }}']
    checks += [
        f'test -f "{arg}" || {{ echo "no {arg}"; exit 1; }}'
        for arg in args
        if re.fullmatch(r"[\w./-]+\.(js|mjs|cjs|py)", arg)
    ]
    if program == "alembic":
        checks.append('test -f alembic.ini || { echo "no alembic.ini"; exit 1; }')
    modules = [b for a, b in zip(args, args[1:], strict=False) if a in ("-A", "-m", "--app")]
    checks += [
        f"python -c \"import importlib.util as u, sys; sys.exit(u.find_spec('{module}') is None)\""
        f' || {{ echo "no module {module}"; exit 1; }}'
        for module in modules
    ]
    result = subprocess.run(
        [DOCKER, "run", "--rm", "--network", "none", "--read-only", "--entrypoint", "sh",
         image.tag, "-c", "; ".join(checks)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert 0 == result.returncode, (
        f"{service}: `{' '.join(command)}`: {result.stdout}{result.stderr}"
    )


def assert_listens_on_exposed_port(
    image: Image, spec: dict[str, Any], service: str, local: dict[str, str]
) -> None:
    """Start the image's own command with compose's environment (PORT as compose sets it, or
    not at all) and this machine's Redis and PostgreSQL, and connect to the EXPOSEd port."""
    (exposed,) = [int(port.split("/")[0]) for port in image.inspect()["ExposedPorts"]]
    environment = {k: resolve_defaults(v) for k, v in spec["environment"].items()}
    environment.update({k: v for k, v in local.items() if k in environment}, HOST="127.0.0.1")
    with socket.socket() as holder:
        try:
            holder.bind(("127.0.0.1", exposed))
        except OSError:
            pytest.fail(f"port {exposed} is taken on this machine; stop what holds it", False)
    name = f"scaffold-test-port-{uuid.uuid4().hex[:8]}"
    env_flags = [flag for k, v in environment.items() for flag in ("--env", f"{k}={v}")]
    docker("run", "--detach", "--name", name, "--network", "host", "--read-only", "--tmpfs",
           "/tmp", "--no-healthcheck", *env_flags, image.tag)  # fmt: skip

    def listening() -> bool:
        state = json.loads(docker("inspect", name))[0]["State"]
        assert state["Running"], f"{service} exited: {state}"
        with socket.create_connection(("127.0.0.1", exposed), timeout=2):
            return True

    try:
        wait_until(listening, f"{service} to listen on {exposed}", timeout=WAIT)
    except (pytest.fail.Exception, AssertionError) as error:
        logs = subprocess.run([DOCKER, "logs", name], capture_output=True, text=True).stderr
        pytest.fail(
            f"{service} does not listen on its EXPOSEd port {exposed}: {error}\n{logs[-3000:]}"
        )
    finally:
        subprocess.run([DOCKER, "rm", "--force", name], capture_output=True, check=False)


@pytest.mark.parametrize("name", sorted(PROJECTS))
def test_runtime_images_hold_production_dependencies_only(
    name: str, images: dict[str, dict[str, Image]], rendered_project: Callable[..., Path]
) -> None:
    """No development dependency is in a runtime image: none of the packages the npm lockfile
    marks dev-only (the workspaces' devDependencies and what only they need; a devDependency that
    a production package needs too, such as @types/pg for the pg instrumentation, is not one)
    under /app, none of pyproject.toml's dependency groups (dev, train) among the virtualenv's
    distributions."""
    project = rendered_project(**PROJECTS[name])
    for image in {image.tag: image for image in images[name].values()}.values():
        if (image.context / "package.json").is_file():
            lock = json.loads((image.context / "package-lock.json").read_text())
            dev = sorted(
                path
                for path, entry in lock["packages"].items()
                if entry.get("dev") and path.startswith("node_modules/")
            )
            script = " ".join(f'[ ! -e "/app/{path}" ] || echo {path};' for path in dev)
        else:
            groups = tomllib.loads((image.context / "pyproject.toml").read_text())
            requirements = [r for g in groups.get("dependency-groups", {}).values() for r in g]
            dev = sorted(
                {normalized(re.split(r"[<>=!~;\[ ]", r, maxsplit=1)[0]) for r in requirements}
            )
            script = (
                "python -c 'import importlib.metadata as m, re, sys; "
                'installed = {re.sub(r"[-_.]+", "-", d.metadata["Name"]).lower() '
                "for d in m.distributions()}; "
                "print(*sorted(installed & set(sys.argv[1:])))' " + " ".join(dev)
            )
        assert dev, f"{project}: no development dependencies found to look for"
        found = docker(
            "run", "--rm", "--network", "none", "--entrypoint", "sh", image.tag, "-c", script
        )
        assert "" == found.strip(), f"{image.context}: development dependencies in the image"


def normalized(distribution: str) -> str:
    """A distribution name as PEP 503 compares them."""
    return re.sub(r"[-_.]+", "-", distribution).lower()
