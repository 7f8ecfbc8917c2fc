"""Generated-project tier for hybrid: render once, install both halves from their lockfiles, migrate
the gateway's throwaway PostgreSQL database (the ML service has none), run each half's own checks,
then start all five processes (Node gateway and its BullMQ worker, the ML service and its Celery
worker, on the real Redis) and drive everything through the gateway only.

The processes run with OpenTelemetry on, the standard OTEL_* variables pointed at a real OTLP/HTTP
receiver on loopback (tests/otlp.py): a prediction is one trace across gateway and ML service, each
job's trace reaches its worker, probes make no spans, the queue, job, pool and HTTP metrics come
from the processes that own them, and shutdown flushes the metrics. Each process also serves its
metrics to Prometheus (OTEL_METRICS_EXPORTER=otlp,prometheus) on a port of its own, scraped over
HTTP. The telemetry-off default runs in every other tier (node-api, python-api, conformance, fuzz,
scale-out)."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import run, run_once
from otlp import OtlpReceiver, Span
from processes import (
    Process,
    outputs,
    replay_readme_examples,
    routes_without_example,
    start_process,
    stop_all,
    wait_until,
)

from harness.commands import celery_worker_command
from harness.net import Reply, delete_redis_keys, free_port, http, post_json
from harness.oidc import service_env
from harness.toolchain import NODE, tool_env

pytestmark = pytest.mark.generated

# As `npm start` and the image run them: the OpenTelemetry set-up loaded before the app.
NODE_WITH_TELEMETRY = [str(NODE), "--import", "./dist/telemetry.js"]

# realtime on: the richest hybrid, whose gateway also streams ML jobs' progress over SSE.
HYBRID = {"architecture": "hybrid", "ml": "core", "realtime": True}
SLUG = "demo-shop"  # conftest BASE_ANSWERS: the default service names are derived from it
SETOSA = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}
PROBES = ("/healthz", "/readyz")


@pytest.fixture(scope="module")
def project(rendered_project: Callable[..., Path], redis_url: str) -> Path:
    """hybrid, rendered and installed: `npm ci` at the root, `uv sync --locked` in services/ml."""
    root = rendered_project(**HYBRID)
    run_once(["npm", "ci"], cwd=root)
    run_once(["uv", "sync", "--locked"], cwd=root / "services/ml", env=python_env(redis_url))
    return root


@pytest.fixture(scope="module")
def gateway_database(project: Path, create_database: Callable[[str], str]) -> str:
    """The gateway's throwaway database, migrated by `npm run migrate`."""
    url = create_database("hybrid_gateway")
    output = run(["npm", "run", "migrate"], cwd=project, env={"DATABASE_URL": url}).stdout
    assert "applied 0002-create-job-submissions" in output, output
    return url


def python_env(redis_url: str, **extra: str) -> dict[str, str]:
    return {
        "REDIS_URL": redis_url,
        **extra,
    }


@dataclass
class Hybrid:
    """The five processes of a hybrid project, and how to reach and restart them."""

    gateway_url: str
    ml_url: str
    processes: dict[str, Process]
    start_ml: Callable[[], Process]
    start_gateway: Callable[[], Process]
    otlp: OtlpReceiver
    prometheus_ports: dict[str, int]  # process name -> its Prometheus scrape port
    exports_before_sigterm: int = -1  # len(otlp.metric_exports) when the processes were stopped

    def log(self) -> str:
        return outputs(list(self.processes.values()))

    def predict(self, **headers: str) -> Reply:
        return post_json(f"{self.gateway_url}/v1/predictions", {"instances": [SETOSA]}, **headers)

    def wait_for_job(self, job_id: str) -> dict[str, object]:
        job: dict[str, object] = {}

        def finished() -> bool:
            nonlocal job
            reply = http("GET", f"{self.gateway_url}/v1/jobs/{job_id}")
            assert 200 == reply.status, reply.body
            job = reply.json()
            return job["state"] in ("completed", "failed")

        wait_until(finished, f"job {job_id}", list(self.processes.values()), timeout=60)
        return job


@pytest.fixture(scope="module")
def hybrid(
    project: Path,
    redis_url: str,
    gateway_database: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Hybrid]:
    """All five processes, each with its own port, queue prefix and Celery queue on the real Redis,
    exporting traces and metrics to one OTLP receiver."""
    run_once(["npm", "run", "build"], cwd=project)
    otlp = OtlpReceiver()
    telemetry = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": otlp.endpoint,
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_BSP_SCHEDULE_DELAY": "100",  # spans within 0.1 s, so the tests wait little
        # Gauges are read while the processes run (the queue is closed by the time they stop).
        "OTEL_METRIC_EXPORT_INTERVAL": "2000",
        "OTEL_METRICS_EXPORTER": "otlp,prometheus",
        "OTEL_EXPORTER_PROMETHEUS_HOST": "127.0.0.1",
    }
    # Celery's one pool process serves on the port itself (port + pool index 0).
    ports = {name: free_port() for name in ("gateway", "worker", "ml", "celery")}

    def scrape_port(name: str) -> dict[str, str]:
        return {"OTEL_EXPORTER_PROMETHEUS_PORT": str(ports[name])}

    logs = tmp_path_factory.mktemp("hybrid-logs")
    unique = uuid.uuid4().hex[:12]
    gateway_port, ml_port = free_port(), free_port()
    ml_url = f"http://127.0.0.1:{ml_port}"
    node_env = tool_env(
        {
            "HOST": "127.0.0.1",
            "PORT": str(gateway_port),
            "REDIS_URL": redis_url,
            "QUEUE_PREFIX": f"pytest-{unique}",
            "LOG_LEVEL": "info",
            "ML_SERVICE_URL": ml_url,
            "DATABASE_URL": gateway_database,
            **service_env(),  # the session's OpenID provider (tests/conftest.py)
            **telemetry,
        }
    )
    ml_env = tool_env(
        python_env(redis_url, JOBS_QUEUE=f"hybrid-{unique}", LOG_LEVEL="info", **telemetry)
    )
    ml_dir, api_dir = project / "services/ml", project / "services/api"
    venv = ml_dir / ".venv/bin"
    processes: dict[str, Process] = {}
    starts = {"ml": 0, "gateway": 0}

    def start_ml() -> Process:
        starts["ml"] += 1
        command = [str(venv / "python"), "-m", "app", "--host", "127.0.0.1", "--port", str(ml_port)]
        env, log = {**ml_env, **scrape_port("ml")}, f"ml-{starts['ml']}"
        processes["ml"] = start_process("ml", command, ml_dir, env, logs, log)
        return processes["ml"]

    def start_gateway() -> Process:
        starts["gateway"] += 1
        command, log = [*NODE_WITH_TELEMETRY, "dist/server.js"], f"gateway-{starts['gateway']}"
        env = {**node_env, **scrape_port("gateway")}
        processes["gateway"] = start_process("gateway", command, api_dir, env, logs, log)
        return processes["gateway"]

    start_ml()
    processes["celery"] = start_process(
        "celery",
        celery_worker_command(ml_dir, "hybrid"),
        ml_dir,
        {**ml_env, **scrape_port("celery")},
        logs,
    )
    start_gateway()
    processes["worker"] = start_process(
        "worker",
        [*NODE_WITH_TELEMETRY, "dist/worker.js"],
        api_dir,
        {**node_env, **scrape_port("worker")},
        logs,
    )
    started = Hybrid(
        f"http://127.0.0.1:{gateway_port}", ml_url, processes, start_ml, start_gateway, otlp, ports
    )
    wait_until(
        lambda: (
            http("GET", f"{started.gateway_url}/readyz").status == 200
            and " ready." in processes["celery"].log.read_text()
        ),
        "the gateway (ML service included) and the Celery worker to be ready",
        list(processes.values()),
    )
    yield started
    stop_all(list(processes.values()))
    delete_redis_keys(redis_url, f"pytest-{unique}:*")
    delete_redis_keys(redis_url, f"hybrid-{unique}*")
    delete_redis_keys(redis_url, "celery-task-meta-*")  # results of this run's jobs expire anyway
    otlp.close()


class TestHybridProject:
    def test_only_the_gateway_has_a_database(self, project: Path) -> None:
        """The gateway owns the tables; the ML service stays stateless (no migrations, no driver)."""
        assert (project / "services/api/src/database/migrations/index.ts").is_file()
        assert not (project / "services/ml/migrations").exists()
        assert "DATABASE_URL" not in (project / "services/ml/.env.example").read_text()

    def test_node_half_passes_its_own_check(
        self, project: Path, redis_url: str, postgres_url: str
    ) -> None:
        """`npm run check`: lint, typecheck (Zod vs the generated ML types), tests (against a
        database of their own), drift of the generated TypeScript against the ML service's
        committed OpenAPI."""
        env = {"REDIS_URL": redis_url, "DATABASE_URL": postgres_url}
        result = run(["npm", "run", "check"], cwd=project, env=env)
        assert "fail 0" in result.stdout

    def test_ml_half_passes_its_own_check(self, project: Path, redis_url: str) -> None:
        """`make check` in services/ml: ruff, mypy, pytest with a real Celery worker and model."""
        run(["make", "check"], cwd=project / "services/ml", env=python_env(redis_url))

    def test_prediction_through_the_gateway_comes_from_the_real_model(self, hybrid: Hybrid) -> None:
        """POST /v1/predictions on the gateway answers with the ML service's ONNX model."""
        reply = hybrid.predict()
        assert 200 == reply.status, f"{reply.body!r}\n{hybrid.log()}"
        body = reply.json()
        assert "setosa" == body["predictions"][0]["label"]
        assert "1.0.0" == body["model_version"]

    def test_readme_examples_answer_as_documented(self, project: Path, hybrid: Hybrid) -> None:
        """Every gateway route has a curl example in its README; each succeeds, SSE included."""
        readme = (project / "services/api/README.md").read_text()
        openapi = json.loads((project / "services/api/openapi.json").read_text())
        assert [] == routes_without_example(openapi, readme)
        replies = replay_readme_examples(readme, hybrid.gateway_url)
        failed = [(m, p, r.status, r.body[:300]) for m, p, r in replies if r.status >= 400]
        assert [] == failed, hybrid.log()

    def test_gateway_refuses_an_invalid_prediction_without_calling_the_ml_service(
        self, hybrid: Hybrid
    ) -> None:
        """Zod validation at the gateway: a 400 problem naming the field."""
        reply = post_json(f"{hybrid.gateway_url}/v1/predictions", {"instances": [{"sepal": 1}]})
        assert (400, "application/problem+json") == (reply.status, reply.content_type.split(";")[0])

    def test_request_id_and_trace_reach_the_ml_service_and_the_celery_task_logs(
        self, hybrid: Hybrid
    ) -> None:
        """One request id and one trace id appear in the gateway, ML service and Celery logs."""
        request_id = f"trace-test-{uuid.uuid4().hex}"
        trace_id = uuid.uuid4().hex
        reply = post_json(
            f"{hybrid.gateway_url}/v1/jobs",
            {"type": "ml-batch-predict", "data": {"instances": [SETOSA] * 2}},
            **{"x-request-id": request_id, "traceparent": f"00-{trace_id}-{'1' * 16}-01"},
        )
        assert 202 == reply.status, f"{reply.body!r}\n{hybrid.log()}"
        hybrid.wait_for_job(reply.json()["id"])
        for name in ("gateway", "ml", "celery"):
            log = hybrid.processes[name].log.read_text()
            assert request_id in log, f"request id missing from the {name} log\n{hybrid.log()}"
            assert trace_id in log, f"trace id missing from the {name} log\n{hybrid.log()}"

    def test_ml_job_runs_to_completion_on_celery(self, hybrid: Hybrid) -> None:
        """An `ml-batch-predict` job goes to the ML service, runs on Celery, is read via /v1/jobs."""
        reply = post_json(
            f"{hybrid.gateway_url}/v1/jobs",
            {"type": "ml-batch-predict", "data": {"instances": [SETOSA] * 3}},
        )
        assert 202 == reply.status, f"{reply.body!r}\n{hybrid.log()}"
        assert reply.json()["id"].startswith("ml:")
        job = hybrid.wait_for_job(reply.json()["id"])
        assert "completed" == job["state"], f"{job}\n{hybrid.log()}"
        assert ["setosa"] * 3 == [p["label"] for p in job["result"]["predictions"]]  # type: ignore[index]

    def test_ml_job_progress_streams_through_the_gateway(self, hybrid: Hybrid) -> None:
        """GET /v1/jobs/ml:<id>/events streams the Celery job in the gateway's event format and
        ends once the job has completed."""
        reply = post_json(
            f"{hybrid.gateway_url}/v1/jobs",
            {"type": "ml-batch-predict", "data": {"instances": [SETOSA] * 2}},
        )
        assert 202 == reply.status, f"{reply.body!r}\n{hybrid.log()}"
        job_id = reply.json()["id"]
        stream = http("GET", f"{hybrid.gateway_url}/v1/jobs/{job_id}/events", timeout=60)
        assert (200, "text/event-stream") == (stream.status, stream.content_type.split(";")[0])
        events = [
            json.loads(block.split("data: ", 1)[1])
            for block in stream.body.decode().split("\n\n")
            if block.startswith("event:")
        ]
        assert {"event": "progress", "jobId": job_id, "progress": 100} in events, events
        assert ("completed", job_id) == (events[-1]["event"], events[-1]["jobId"]), events
        assert ["setosa"] * 2 == [p["label"] for p in events[-1]["result"]["predictions"]]

    def test_gateway_job_runs_to_completion_on_bullmq(self, hybrid: Hybrid) -> None:
        """A `digest` job still runs on the gateway's own BullMQ worker."""
        reply = post_json(
            f"{hybrid.gateway_url}/v1/jobs",
            {"type": "digest", "data": {"text": "hi", "rounds": 10}},
        )
        assert 202 == reply.status, reply.body
        job = hybrid.wait_for_job(reply.json()["id"])
        assert "completed" == job["state"], f"{job}\n{hybrid.log()}"

    def test_repeated_ml_job_after_a_gateway_restart_returns_the_same_job(
        self, hybrid: Hybrid
    ) -> None:
        """The gateway stores ML jobs' idempotency keys in its database: after it restarts, the same
        submit answers 200 with the first job."""
        submit = {"type": "ml-batch-predict", "data": {"instances": [SETOSA]}}
        key = {"Idempotency-Key": f"batch-{uuid.uuid4().hex}"}
        first = post_json(f"{hybrid.gateway_url}/v1/jobs", submit, **key)
        assert 202 == first.status, f"{first.body!r}\n{hybrid.log()}"

        assert 0 == hybrid.processes["gateway"].stop(), hybrid.log()
        hybrid.start_gateway()
        wait_until(
            lambda: http("GET", f"{hybrid.gateway_url}/readyz").status == 200,
            "the gateway to be ready again",
            list(hybrid.processes.values()),
        )
        again = post_json(f"{hybrid.gateway_url}/v1/jobs", submit, **key)
        assert (200, first.json()["id"]) == (again.status, again.json()["id"]), again.body

    def test_gateway_answers_503_while_the_ml_service_is_down_and_recovers(
        self, hybrid: Hybrid
    ) -> None:
        """ML service stopped: 503 problem+json with Retry-After, then the circuit opens; restarted:
        200 again."""
        assert 0 == hybrid.processes["ml"].stop(), hybrid.log()

        down = hybrid.predict()
        assert (503, "application/problem+json") == (down.status, down.content_type.split(";")[0])
        assert down.headers.get("retry-after", "").isdigit(), down.headers  # whole seconds
        for _ in range(5):  # enough failures in a row to open the circuit
            hybrid.predict()
        assert 503 == hybrid.predict().status
        assert 503 == http("GET", f"{hybrid.gateway_url}/readyz").status

        hybrid.start_ml()
        wait_until(
            lambda: http("GET", f"{hybrid.ml_url}/readyz").status == 200,
            "the ML service to come back",
            [hybrid.processes["ml"]],
        )
        wait_until(
            lambda: hybrid.predict().status == 200,
            "the gateway to recover (circuit closed again)",
            list(hybrid.processes.values()),
            timeout=30,
        )

    def test_one_prediction_is_one_trace_across_gateway_and_ml_service(
        self, hybrid: Hybrid
    ) -> None:
        """The caller's `traceparent` is honoured: the gateway's server span is its child, the
        gateway's fetch is a client span under it, and the ML service's server span is the child of
        that client span, all in the caller's trace."""
        trace_id, caller_span = uuid.uuid4().hex, uuid.uuid4().hex[:16]
        reply = hybrid.predict(traceparent=f"00-{trace_id}-{caller_span}-01")
        assert 200 == reply.status, f"{reply.body!r}\n{hybrid.log()}"
        spans = wait_for_spans(hybrid, trace_id, {f"{SLUG}-api", f"{SLUG}-ml"})
        print("\n".join(["spans of one prediction:", *map(str, spans)]))
        by_id = {span.span_id: span for span in spans}
        gateway_server = only(spans, f"{SLUG}-api", "SERVER")
        assert caller_span == gateway_server.parent_span_id, spans
        assert "/v1/predictions" == gateway_server.attributes.get("http.route"), gateway_server
        ml_server = only(spans, f"{SLUG}-ml", "SERVER")
        gateway_client = by_id[ml_server.parent_span_id]
        assert (f"{SLUG}-api", "CLIENT") == (gateway_client.service, gateway_client.kind), spans
        for name in ("gateway", "ml"):  # pino lines, the JSON logs: ids of this trace's spans
            lines = log_lines(hybrid.processes[name].log.read_text(), trace_id)
            assert lines, f"no log line of the trace in the {name} log"
            assert {line.get("span_id") for line in lines} <= set(by_id), (name, lines)

    def test_each_job_trace_reaches_its_worker(self, hybrid: Hybrid) -> None:
        """A `digest` job is one trace from the gateway into its BullMQ worker; an ML job is one
        trace from the gateway through the ML service into the Celery worker."""
        for job, worker in (
            ({"type": "digest", "data": {"text": "hi", "rounds": 10}}, f"{SLUG}-worker"),
            ({"type": "ml-batch-predict", "data": {"instances": [SETOSA]}}, f"{SLUG}-ml-worker"),
        ):
            trace_id = uuid.uuid4().hex
            reply = post_json(
                f"{hybrid.gateway_url}/v1/jobs", job, traceparent=f"00-{trace_id}-{'2' * 16}-01"
            )
            assert 202 == reply.status, f"{reply.body!r}\n{hybrid.log()}"
            assert "completed" == hybrid.wait_for_job(reply.json()["id"])["state"], hybrid.log()
            spans = wait_for_spans(hybrid, trace_id, {f"{SLUG}-api", worker})
            print("\n".join([f"spans of one {job['type']} job:", *map(str, spans)]))
            by_id = {span.span_id: span for span in spans}
            for span in spans:  # one tree: every parent is in the trace, up to the caller's span
                assert span.parent_span_id in by_id or span.parent_span_id == "2" * 16, spans
            assert f"{SLUG}-api" in {span.service for span in spans}, spans

    def test_probes_make_no_spans(self, hybrid: Hybrid) -> None:
        """/healthz and /readyz of both services, even with a caller's `traceparent`, export no
        span (nor do /readyz's own calls to Redis, PostgreSQL and the ML service)."""
        probe_trace = uuid.uuid4().hex
        for url in (hybrid.gateway_url, hybrid.ml_url):
            for path in PROBES:
                traceparent = f"00-{probe_trace}-{uuid.uuid4().hex[:16]}-01"
                reply = http("GET", f"{url}{path}", headers={"traceparent": traceparent})
                assert 200 == reply.status, reply.body
        # A later request's spans leave each process after the probes' would have.
        trace_id = uuid.uuid4().hex
        assert 200 == hybrid.predict(traceparent=f"00-{trace_id}-{'3' * 16}-01").status
        wait_for_spans(hybrid, trace_id, {f"{SLUG}-api", f"{SLUG}-ml"})
        assert [] == hybrid.otlp.trace(probe_trace)
        probe_spans = [
            span
            for span in hybrid.otlp.spans
            if {span.attributes.get("http.route"), span.attributes.get("url.path")} & set(PROBES)
        ]
        assert [] == probe_spans, "\n".join(map(str, probe_spans))

    def test_every_process_serves_prometheus_on_its_own_port(self, hybrid: Hybrid) -> None:
        """OTEL_METRICS_EXPORTER=otlp,prometheus: each process answers a scrape of its port with
        the text format; the services' carry the HTTP duration histogram of the prediction route."""
        assert 200 == hybrid.predict().status
        duration = re.compile(
            r'^http_server_request_duration(_seconds)?_bucket\{[^}]*http_route="/v1/predictions"',
            re.MULTILINE,
        )
        for name, port in hybrid.prometheus_ports.items():
            reply = http("GET", f"http://127.0.0.1:{port}/metrics")
            assert 200 == reply.status, (name, reply.body[:300])
            assert reply.content_type.startswith("text/plain"), (name, reply.content_type)
            text = reply.body.decode()
            assert "target_info{" in text, (name, text[:500])
            if name in ("gateway", "ml"):
                assert duration.search(text), f"{name}: no HTTP duration histogram\n{text[:3000]}"
            assert not re.search(r'http_route="/(healthz|readyz)"', text), (name, "probe counted")

    def test_every_process_exits_0_on_sigterm(self, hybrid: Hybrid) -> None:
        """SIGTERM: gateway, gateway worker, ML service and Celery worker all exit 0."""
        hybrid.exports_before_sigterm = len(hybrid.otlp.metric_exports)
        codes = stop_all(list(hybrid.processes.values()))
        assert {"gateway": 0, "worker": 0, "ml": 0, "celery": 0} == codes, hybrid.log()

    def test_shutdown_flushed_the_metrics_of_every_process(self, hybrid: Hybrid) -> None:
        """Each of the four processes sent metrics after its SIGTERM (the SDK's shutdown flush;
        the periodic export is every 2 s)."""
        assert hybrid.exports_before_sigterm >= 0, "run with test_every_process_exits_0_on_sigterm"
        after = set(hybrid.otlp.metric_exports[hybrid.exports_before_sigterm :])
        services = {f"{SLUG}-{name}" for name in ("api", "worker", "ml", "ml-worker")}
        assert services <= after, sorted(after)
        assert not hybrid.otlp.errors, hybrid.otlp.errors

    def test_http_metrics_per_route_and_status_from_both_services(self, hybrid: Hybrid) -> None:
        """http.server.request.duration per route and status came from gateway and ML service,
        with no point for the probes."""
        routes = {
            (point.service, *map(point.attributes.get, ("http.route", "http.response.status_code")))
            for point in hybrid.otlp.metrics
            if point.name == "http.server.request.duration"
        }
        assert (f"{SLUG}-api", "/v1/predictions", 200) in routes, sorted(map(str, routes))
        assert (f"{SLUG}-ml", "/v1/predictions", 200) in routes, sorted(map(str, routes))
        assert not {route for _, route, _ in routes} & set(PROBES), sorted(map(str, routes))

    def test_queue_job_and_pool_metrics_come_from_the_processes_that_own_them(
        self, hybrid: Hybrid
    ) -> None:
        """Queue depth from the APIs that feed the queues (bullmq.queue.jobs by state, Celery's
        celery.queue.length), messaging.process.duration of the jobs from both workers, BullMQ's
        own job metrics from its worker, and the gateway's pg pool by connection state."""
        seen: dict[str, set[tuple[str, str]]] = {}
        for point in hybrid.otlp.metrics:
            attributes = point.attributes
            seen.setdefault(point.name, set()).add(
                (point.service, str(attributes.get("bullmq.queue.jobs.state")
                                    or attributes.get("messaging.system")
                                    or attributes.get("db.client.connection.state")))
            )  # fmt: skip
        api, ml = f"{SLUG}-api", f"{SLUG}-ml"
        expected = {
            "bullmq.queue.jobs": {(api, state) for state in ("waiting", "active", "delayed")},
            "celery.queue.length": {(ml, "None")},
            "messaging.process.duration": {(f"{SLUG}-worker", "bullmq"), (f"{SLUG}-ml-worker", "celery")},
            "bullmq.job.duration": {(f"{SLUG}-worker", "None")},
            "db.client.connection.count": {(api, "idle"), (api, "used")},
        }  # fmt: skip
        missing = {name: want - seen.get(name, set()) for name, want in expected.items()}
        assert {} == {name: want for name, want in missing.items() if want}, sorted(seen)
        failed = [
            point
            for point in hybrid.otlp.metrics
            if point.name == "messaging.process.duration" and "error.type" in point.attributes
        ]
        assert [] == failed, failed


def wait_for_spans(hybrid: Hybrid, trace_id: str, services: set[str]) -> list[Span]:
    """The spans of `trace_id`, once each of `services` has sent its server span (an API: it ends
    after the API's other spans of the request) or any span (a worker)."""
    apis = {f"{SLUG}-api", f"{SLUG}-ml"}

    def arrived() -> bool:
        spans = hybrid.otlp.trace(trace_id)
        return services <= {s.service for s in spans if s.kind == "SERVER" or s.service not in apis}

    try:
        wait_until(arrived, f"the spans of trace {trace_id}", list(hybrid.processes.values()), 30)
    except pytest.fail.Exception as timeout:
        received = sorted({(span.service, span.kind) for span in hybrid.otlp.spans})
        spans = "\n".join(map(str, hybrid.otlp.trace(trace_id)))
        pytest.fail(f"{timeout}\nspans of the trace:\n{spans}\nreceived: {received}")
    return hybrid.otlp.trace(trace_id)


def log_lines(log: str, trace_id: str) -> list[dict[str, object]]:
    """The JSON log lines (pino's, the ML service's) that carry `trace_id`."""
    lines = (json.loads(line) for line in log.splitlines() if line.startswith("{"))
    return [line for line in lines if line.get("trace_id") == trace_id]


def only(spans: list[Span], service: str, kind: str) -> Span:
    found = [span for span in spans if (span.service, span.kind) == (service, kind)]
    assert 1 == len(found), "\n".join(map(str, spans))
    return found[0]


class TestHybridWithoutBackgroundJobs:
    def test_gateway_still_fronts_the_ml_jobs_and_passes_its_check(
        self, rendered_project: Callable[..., Path], redis_url: str, postgres_url: str
    ) -> None:
        """background_jobs=false: no BullMQ worker, but the ML service keeps its Celery worker, so
        the gateway keeps /v1/jobs (and its events) for ML jobs; `npm run check` passes."""
        root = rendered_project(**HYBRID, background_jobs=False)
        api = root / "services/api"
        assert not (api / "src/worker.ts").exists()
        assert (api / "src/routes/v1/jobs/index.ts").exists()
        assert (api / "src/routes/v1/jobs/events.ts").exists()
        run(["npm", "ci"], cwd=root)
        env = {"REDIS_URL": redis_url, "DATABASE_URL": postgres_url}
        result = run(["npm", "run", "check"], cwd=root, env=env)
        assert "fail 0" in result.stdout
