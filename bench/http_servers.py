"""HTTP throughput: the generated services against the bare frameworks (node, python and hybrid
groups), each server pinned to one core and driven by wrk from the other."""

from __future__ import annotations

import json
import shutil

from bench.common import (
    BENCH,
    PREDICT_BODY,
    RESOURCES,
    Bench,
    Target,
    create,
    log,
    measure,
    run,
    wait_ready,
)
from harness.commands import python_api_command
from harness.net import free_port
from harness.toolchain import NODE


def section_node(bench: Bench) -> None:
    project = bench.project("node-api")
    bench.install_node(project)
    fastify = bench.node_version(project, "fastify")
    bench.results["versions"].update(
        {
            "node": run([str(NODE), "--version"], project, bench.env()).strip(),
            "fastify": fastify,
        }
    )
    resource = RESOURCES["node-api"]
    bare = bench.work / "bare-node"
    bare.mkdir(exist_ok=True)
    # The bare apps at the generated project's exact versions (Zod for the validated POST).
    dependencies = {
        name: bench.node_version(project, name)
        for name in ("fastify", "zod", "@fastify/type-provider-zod")
    }
    (bare / "package.json").write_text(
        json.dumps({"private": True, "type": "module", "dependencies": dependencies})
    )
    for server in ("bare_http.mjs", "bare_fastify.mjs", "bare_fastify_zod.mjs"):
        shutil.copy2(BENCH / "servers" / server, bare / server)
    run(["npm", "install", "--prefer-offline", "--no-audit", "--no-fund"], bare, bench.env())
    node = str(NODE)
    targets = []
    if not bench.settings.smoke:
        port = free_port()
        p = bench.processes.start(
            "bare-http", [node, "bare_http.mjs"], bare, bench.env({"PORT": str(port)})
        )
        wait_ready(p, f"http://127.0.0.1:{port}/healthz")
        targets.append(
            Target(
                "node_bare_http",
                "bare node:http GET /healthz",
                p,
                f"http://127.0.0.1:{port}/healthz",
            )
        )
    port = free_port()
    p = bench.processes.start(
        "bare-fastify", [node, "bare_fastify.mjs"], bare, bench.env({"PORT": str(port)})
    )
    wait_ready(p, f"http://127.0.0.1:{port}/healthz")
    targets.append(
        Target(
            "node_bare_fastify",
            f"bare Fastify {fastify} GET /healthz",
            p,
            f"http://127.0.0.1:{port}/healthz",
        )
    )
    port = free_port()
    p = bench.processes.start(
        "bare-fastify-zod", [node, "bare_fastify_zod.mjs"], bare, bench.env({"PORT": str(port)})
    )
    wait_ready(p, f"http://127.0.0.1:{port}/healthz")
    targets.append(
        Target(
            "node_bare_zod_create",
            f"bare Fastify + Zod POST {resource.path} (memory)",
            p,
            f"http://127.0.0.1:{port}{resource.path}",
            resource.body,
        )
    )
    for prefix, before in bench.variants():
        _node_generated(bench, prefix, before, targets)
    database = bench.database(project)
    if not bench.settings.smoke:
        port = free_port()
        p = bench.processes.start(
            "node-api-warn",
            [node, "dist/server.js"],
            project / "services/api",
            bench.node_api_env(port, LOG_LEVEL="warn", **database),
        )
        wait_ready(p, f"http://127.0.0.1:{port}/readyz")
        targets.append(
            Target(
                "node_gen_notes_warn",
                f"generated node-api POST {resource.path}, LOG_LEVEL=warn",
                p,
                f"http://127.0.0.1:{port}{resource.path}",
                resource.body,
            )
        )
    log("node group: " + ", ".join(t.label for t in targets))
    bench.results["http"] += measure(bench.wrk, bench.cpus, bench.settings, targets)
    bench.processes.stop_all()


def _node_generated(bench: Bench, prefix: str, before: bool, targets: list[Target]) -> None:
    """The generated node-api's rows (keys `prefix`node_gen_*): /healthz, the validated POST
    without a database, and with PostgreSQL the POST and the read by id."""
    resource = RESOURCES["node-api"]
    project = bench.project("node-api", before=before)
    bench.install_node(project)
    tag = " [before]" if before else ""
    if not bench.settings.smoke:
        memory = bench.project("node-api-memory", before=before)
        bench.install_node(memory)
        port = free_port()
        p = bench.processes.start(
            f"{prefix}node-api-memory",
            [str(NODE), "dist/server.js"],
            memory / "services/api",
            bench.node_api_env(port),
        )
        wait_ready(p, f"http://127.0.0.1:{port}/readyz")
        targets.append(
            Target(
                f"{prefix}node_gen_create_memory",
                f"generated node-api POST {resource.path} (memory){tag}",
                p,
                f"http://127.0.0.1:{port}{resource.path}",
                resource.body,
            )
        )
    port = free_port()
    database = bench.database(project)
    p = bench.processes.start(
        f"{prefix}node-api",
        [str(NODE), "dist/server.js"],
        project / "services/api",
        bench.node_api_env(port, **database),
    )
    wait_ready(p, f"http://127.0.0.1:{port}/readyz")
    base = f"http://127.0.0.1:{port}"
    targets.append(
        Target(
            f"{prefix}node_gen_healthz",
            f"generated node-api GET /healthz{tag}",
            p,
            f"{base}/healthz",
        )
    )
    if before:
        return  # the rows of the targets only
    targets.append(
        Target(
            "node_gen_notes",
            f"generated node-api POST {resource.path}",
            p,
            f"{base}{resource.path}",
            resource.body,
        )
    )
    if database:
        note = create(f"{base}{resource.path}", resource.body)
        targets.append(
            Target(
                "node_gen_note_get",
                f"generated node-api GET {resource.path}/{{id}} (PostgreSQL)",
                p,
                f"{base}{resource.path}/{note['id']}",
            )
        )


def section_python(bench: Bench) -> None:
    project = bench.project("python-api")
    service = project / "services/api"
    bench.install_python(service)
    bench.results["versions"].update(
        bench.python_versions(service, "fastapi", "uvicorn", "pydantic", "onnxruntime", "celery")
    )
    python = str(service / ".venv/bin/python")
    resource = RESOURCES["python-api"]
    targets = []
    port = free_port()
    p = bench.processes.start(
        "bare-fastapi",
        [python, str(BENCH / "servers/bare_fastapi.py")],
        BENCH / "servers",
        bench.env(
            {
                "PORT": str(port),
                "BENCH_RESOURCE_PATH": resource.path,
                "BENCH_CREATE_MODEL": resource.create_model or "",
                "BENCH_PUBLIC_MODEL": resource.public_model or "",
            }
        ),
    )
    wait_ready(p, f"http://127.0.0.1:{port}/healthz")
    targets.append(
        Target(
            "python_bare_fastapi",
            f"bare FastAPI {bench.results['versions']['fastapi']} GET /healthz",
            p,
            f"http://127.0.0.1:{port}/healthz",
        )
    )
    targets.append(
        Target(
            "python_bare_create",
            f"bare FastAPI + pydantic POST {resource.path} (memory)",
            p,
            f"http://127.0.0.1:{port}{resource.path}",
            resource.body,
        )
    )
    for prefix, before in bench.variants():
        _python_generated(bench, prefix, before, targets)
    database = bench.database(project)
    if not bench.settings.smoke:
        port = free_port()
        p = bench.processes.start(
            "python-api-warning",
            python_api_command(service, port),
            service,
            bench.python_env(LOG_LEVEL="warning", **database),
        )
        wait_ready(p, f"http://127.0.0.1:{port}/readyz")
        targets.append(
            Target(
                "python_gen_healthz_warning",
                "generated python-api GET /healthz, LOG_LEVEL=warning",
                p,
                f"http://127.0.0.1:{port}/healthz",
            )
        )
    log("python group: " + ", ".join(t.label for t in targets))
    bench.results["http"] += measure(bench.wrk, bench.cpus, bench.settings, targets)
    bench.processes.stop_all()


def _python_generated(bench: Bench, prefix: str, before: bool, targets: list[Target]) -> None:
    """The generated python-api's rows (keys `prefix`python_gen_*): /healthz, the validated POST
    without a database, the read by id from PostgreSQL, and a prediction."""
    resource = RESOURCES["python-api"]
    project = bench.project("python-api", before=before)
    service = project / "services/api"
    bench.install_python(service)
    tag = " [before]" if before else ""
    if not bench.settings.smoke:
        memory = bench.project("python-api-memory", before=before) / "services/api"
        bench.install_python(memory)
        port = free_port()
        p = bench.processes.start(
            f"{prefix}python-api-memory",
            python_api_command(memory, port),
            memory,
            bench.python_env(),
        )
        wait_ready(p, f"http://127.0.0.1:{port}/readyz")
        targets.append(
            Target(
                f"{prefix}python_gen_create_memory",
                f"generated python-api POST {resource.path} (memory){tag}",
                p,
                f"http://127.0.0.1:{port}{resource.path}",
                resource.body,
            )
        )
    port = free_port()
    database = bench.database(project)
    p = bench.processes.start(
        f"{prefix}python-api",
        python_api_command(service, port),
        service,
        bench.python_env(**database),
    )
    wait_ready(p, f"http://127.0.0.1:{port}/readyz")
    base = f"http://127.0.0.1:{port}"
    targets.append(
        Target(
            f"{prefix}python_gen_healthz",
            f"generated python-api GET /healthz{tag}",
            p,
            f"{base}/healthz",
        )
    )
    if database:
        note = create(f"{base}{resource.path}", resource.body)
        targets.append(
            Target(
                f"{prefix}python_gen_note_get",
                f"generated python-api GET {resource.path}/{{id}} (PostgreSQL){tag}",
                p,
                f"{base}{resource.path}/{note['id']}",
            )
        )
    if not before:
        targets.append(
            Target(
                "python_gen_predict",
                "generated python-api POST /v1/predictions",
                p,
                f"{base}/v1/predictions",
                PREDICT_BODY,
            )
        )


def section_hybrid(bench: Bench) -> None:
    project = bench.project("hybrid")
    routes = project / "services/api/src/routes"
    if not any("predictions" in str(path) for path in routes.rglob("*")):
        bench.skip(
            "hybrid",
            "POST /v1/predictions (gateway) is not available in this template "
            "version: no predictions route in the rendered gateway",
        )
        return
    if bench.settings.smoke:
        bench.skip("hybrid", "available, not measured in --smoke (two installs)")
        return
    if bench.ml_url_variable(project) is None:
        bench.skip("hybrid", "the gateway's .env.example names no ML service URL variable")
        return
    targets: list[Target] = []
    for prefix, before in bench.variants():
        targets += _hybrid_pair(bench, prefix, before)
    log("hybrid group: " + ", ".join(t.label for t in targets))
    bench.results["http"] += measure(bench.wrk, bench.cpus, bench.settings, targets)
    bench.processes.stop_all()


def _hybrid_pair(bench: Bench, prefix: str, before: bool) -> list[Target]:
    """A hybrid's ML service and gateway, started; the rows of a prediction through the gateway
    and straight to the ML service (keys `prefix`hybrid_*)."""
    project = bench.project("hybrid", before=before)
    ml_url_var = bench.ml_url_variable(project) or "ML_SERVICE_URL"
    tag = " [before]" if before else ""
    bench.install_node(project)
    service = project / "services/ml"
    bench.install_python(service)
    ml_port = free_port()
    ml = bench.processes.start(
        f"{prefix}hybrid-ml",
        python_api_command(service, ml_port),
        service,
        bench.python_env(),
    )
    wait_ready(ml, f"http://127.0.0.1:{ml_port}/readyz")
    port = free_port()
    gateway = bench.processes.start(
        f"{prefix}hybrid-gateway",
        [str(NODE), "dist/server.js"],
        project / "services/api",
        bench.node_api_env(
            port, **bench.database(project), **{ml_url_var: f"http://127.0.0.1:{ml_port}"}
        ),
    )
    wait_ready(gateway, f"http://127.0.0.1:{port}/readyz")
    direct = f"http://127.0.0.1:{ml_port}/v1/predictions"
    through = f"http://127.0.0.1:{port}/v1/predictions"
    targets = [
        # One connection: the latency the hop adds when neither process queues work (at the
        # run's concurrency both share the server core, so p50 there is mostly queueing).
        Target(
            f"{prefix}hybrid_direct_predict_c1",
            f"hybrid ML service POST /v1/predictions, 1 connection{tag}",
            ml,
            direct,
            PREDICT_BODY,
            connections=1,
        ),
        Target(
            f"{prefix}hybrid_gateway_predictions_c1",
            f"hybrid gateway POST /v1/predictions, 1 connection{tag}",
            gateway,
            through,
            PREDICT_BODY,
            connections=1,
        ),
    ]
    if not before:
        targets += [
            Target(
                "hybrid_direct_predict",
                "hybrid ML service POST /v1/predictions (direct)",
                ml,
                direct,
                PREDICT_BODY,
            ),
            Target(
                "hybrid_gateway_predictions",
                "hybrid gateway POST /v1/predictions",
                gateway,
                through,
                PREDICT_BODY,
            ),
        ]
    return targets
