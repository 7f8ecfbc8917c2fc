"""HTTP throughput: the generated services against the bare frameworks (node, python and hybrid
groups), each server pinned to one core and driven by wrk from the other."""

from __future__ import annotations

import json
import shutil

from bench.common import (
    BENCH,
    NOTE_BODY,
    PREDICT_BODY,
    Bench,
    Target,
    create,
    log,
    measure,
    run,
    wait_ready,
)
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
    bare = bench.work / "bare-node"
    bare.mkdir(exist_ok=True)
    (bare / "package.json").write_text(
        json.dumps({"private": True, "type": "module", "dependencies": {"fastify": fastify}})
    )
    for server in ("bare_http.mjs", "bare_fastify.mjs"):
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
    database = bench.database(project)
    p = bench.processes.start(
        "node-api",
        [node, "dist/server.js"],
        project / "services/api",
        bench.node_api_env(port, **database),
    )
    wait_ready(p, f"http://127.0.0.1:{port}/readyz")
    base = f"http://127.0.0.1:{port}"
    targets.append(
        Target("node_gen_healthz", "generated node-api GET /healthz", p, f"{base}/healthz")
    )
    targets.append(
        Target(
            "node_gen_notes",
            "generated node-api POST /v1/notes",
            p,
            f"{base}/v1/notes",
            NOTE_BODY,
        )
    )
    if database:
        note = create(f"{base}/v1/notes", NOTE_BODY)
        targets.append(
            Target(
                "node_gen_note_get",
                "generated node-api GET /v1/notes/{id} (PostgreSQL)",
                p,
                f"{base}/v1/notes/{note['id']}",
            )
        )
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
                "generated node-api POST /v1/notes, LOG_LEVEL=warn",
                p,
                f"http://127.0.0.1:{port}/v1/notes",
                NOTE_BODY,
            )
        )
    log("node group: " + ", ".join(t.label for t in targets))
    bench.results["http"] += measure(bench.wrk, bench.cpus, bench.settings, targets)
    bench.processes.stop_all()


def section_python(bench: Bench) -> None:
    project = bench.project("python-api")
    service = project / "services/api"
    bench.install_python(service)
    bench.results["versions"].update(
        bench.python_versions(service, "fastapi", "uvicorn", "pydantic", "onnxruntime", "celery")
    )
    python = str(service / ".venv/bin/python")
    targets = []
    port = free_port()
    p = bench.processes.start(
        "bare-fastapi",
        [python, str(BENCH / "servers/bare_fastapi.py")],
        BENCH / "servers",
        bench.env({"PORT": str(port)}),
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
    port = free_port()
    database = bench.database(project)
    p = bench.processes.start(
        "python-api",
        [python, "-m", "app", "--host", "127.0.0.1", "--port", str(port)],
        service,
        bench.python_env(**database),
    )
    wait_ready(p, f"http://127.0.0.1:{port}/readyz")
    base = f"http://127.0.0.1:{port}"
    targets.append(
        Target("python_gen_healthz", "generated python-api GET /healthz", p, f"{base}/healthz")
    )
    if database:
        note = create(f"{base}/v1/notes", NOTE_BODY)
        targets.append(
            Target(
                "python_gen_note_get",
                "generated python-api GET /v1/notes/{id} (PostgreSQL)",
                p,
                f"{base}/v1/notes/{note['id']}",
            )
        )
    targets.append(
        Target(
            "python_gen_predict",
            "generated python-api POST /v1/predictions",
            p,
            f"{base}/v1/predictions",
            PREDICT_BODY,
        )
    )
    if not bench.settings.smoke:
        port = free_port()
        p = bench.processes.start(
            "python-api-warning",
            [python, "-m", "app", "--host", "127.0.0.1", "--port", str(port)],
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
    ml_url_var = bench.ml_url_variable(project)
    if ml_url_var is None:
        bench.skip("hybrid", "the gateway's .env.example names no ML service URL variable")
        return
    bench.install_node(project)
    service = project / "services/ml"
    bench.install_python(service)
    python = str(service / ".venv/bin/python")
    ml_port = free_port()
    ml = bench.processes.start(
        "hybrid-ml",
        [python, "-m", "app", "--host", "127.0.0.1", "--port", str(ml_port)],
        service,
        bench.python_env(),
    )
    wait_ready(ml, f"http://127.0.0.1:{ml_port}/readyz")
    port = free_port()
    gateway = bench.processes.start(
        "hybrid-gateway",
        [str(NODE), "dist/server.js"],
        project / "services/api",
        bench.node_api_env(
            port, **bench.database(project), **{ml_url_var: f"http://127.0.0.1:{ml_port}"}
        ),
    )
    wait_ready(gateway, f"http://127.0.0.1:{port}/readyz")
    targets = [
        Target(
            "hybrid_direct_predict",
            "hybrid ML service POST /v1/predictions (direct)",
            ml,
            f"http://127.0.0.1:{ml_port}/v1/predictions",
            PREDICT_BODY,
        ),
        Target(
            "hybrid_gateway_predictions",
            "hybrid gateway POST /v1/predictions",
            gateway,
            f"http://127.0.0.1:{port}/v1/predictions",
            PREDICT_BODY,
        ),
        # One connection: the latency the hop adds when neither process queues work (at the
        # run's concurrency both share the server core, so p50 there is mostly queueing).
        Target(
            "hybrid_direct_predict_c1",
            "hybrid ML service POST /v1/predictions, 1 connection",
            ml,
            f"http://127.0.0.1:{ml_port}/v1/predictions",
            PREDICT_BODY,
            connections=1,
        ),
        Target(
            "hybrid_gateway_predictions_c1",
            "hybrid gateway POST /v1/predictions, 1 connection",
            gateway,
            f"http://127.0.0.1:{port}/v1/predictions",
            PREDICT_BODY,
            connections=1,
        ),
    ]
    log("hybrid group: " + ", ".join(t.label for t in targets))
    bench.results["http"] += measure(bench.wrk, bench.cpus, bench.settings, targets)
    bench.processes.stop_all()
