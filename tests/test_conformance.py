"""One table of HTTP cases, run against every service of every architecture (processes.SERVICES):
the Node API, the hybrid gateway, the Python API and the ML service answer each the same way.

The cases come from public bug reports against Fastify and FastAPI services, one row per kind of
request, and the routes from each service's committed OpenAPI document, so a route added later
is held to the same rules:

- HEAD works on every GET route: the GET's status and headers, no body (RFC 9110 section 9.3.2).
- A body in a media type the route does not take (text/plain JSON, none named, XML, a form) is a
  415 problem, on every route that takes a body.
- Text that cannot round-trip (a lone UTF-16 surrogate in any string, invalid UTF-8) is a 400
  problem, in every string field of every body.
- A request target the framework cannot decode (`/v1/notes/%`) is a 4xx problem like any other
  error, with the request id.

Every error answer is `application/problem+json` whose `status` is the HTTP status, and carries
the request id in `X-Request-ID` (the Node services also in the body's `requestId`). An answer
from a documented operation is documented there, status and media type, so typed clients know it.

A second table starts every server and worker with settings that contradict each other, or
parse but mean nothing: each process refuses to start, in one line naming the variables.
"""

from __future__ import annotations

import json
import re
import subprocess
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from processes import SERVICES, Service

from harness.commands import celery_worker_command
from harness.net import Reply, http
from harness.toolchain import NODE, tool_env

pytestmark = pytest.mark.generated

JSON = "application/json"


def operations(service: Service, method: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """(path, operation) for every `method` operation of the service's committed document."""
    for path, item in service.document()["paths"].items():
        if method in item:
            yield path, item[method]


def concrete(path: str) -> str:
    """The path with each parameter filled in: an id no resource has (a 404, or a 4xx)."""
    return re.sub(r"\{[^}]+\}", str(uuid.uuid4()), path)


def body_routes(service: Service) -> list[str]:
    return [path for path, operation in operations(service, "post") if "requestBody" in operation]


def string_fields(service: Service, path: str) -> list[str]:
    """The top-level string properties of the route's JSON body schema."""
    document = service.document()
    schema = document["paths"][path]["post"]["requestBody"]["content"][JSON]["schema"]
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return [
        name
        for name, field in schema.get("properties", {}).items()
        if field.get("type") == "string" or {"type": "string"} in field.get("anyOf", [])
    ]


def assert_documented(service: Service, sent: Sent) -> None:
    """The answer's status is documented for its operation, with the media type it was sent in."""
    if sent.operation is None:
        return
    method, path = sent.operation
    responses = service.document()["paths"][path][method]["responses"]
    documented = responses.get(str(sent.reply.status))
    assert documented is not None, f"{sent.reply.status} is not documented: {sorted(responses)}"
    media_type = sent.reply.content_type.split(";")[0]
    assert media_type in documented.get("content", {}), (media_type, documented)


def assert_problem(reply: Reply, status: int | None = None) -> None:
    """A 4xx problem (of `status`, when given) with the request id in the header and body."""
    where = (reply.status, reply.body[:300])
    assert 400 <= reply.status < 500, where
    assert status in (None, reply.status), where
    assert "application/problem+json" == reply.content_type.split(";")[0], reply.headers
    problem = reply.json()
    assert reply.status == problem["status"], problem
    request_id = reply.headers.get("x-request-id")
    assert request_id, reply.headers
    assert problem.get("requestId", request_id) == request_id, problem


# The table ########################################################################################


@dataclass(frozen=True)
class Sent:
    """One request of a case: what it sent, its answer, and the answer to compare it with."""

    what: str
    reply: Reply
    like: Reply | None = None
    operation: tuple[str, str] | None = None  # (method, path) in the document, when it has one


@dataclass(frozen=True)
class Case:
    """One row: the requests it sends to a service, and what every answer must be."""

    send: Callable[[Service], list[Sent]]
    check: Callable[[Sent], None]


def head_of_every_get_route(service: Service) -> list[Sent]:
    sent = []
    for path, _ in operations(service, "get"):
        url = f"{service.url}{concrete(path)}"
        sent.append(Sent(f"HEAD {path}", http("HEAD", url), like=http("GET", url)))
    return sent


def head_answers_like_get(sent: Sent) -> None:
    assert sent.like is not None
    head, get = sent.reply, sent.like
    assert (get.status, get.content_type) == (head.status, head.content_type), head.body[:300]
    assert b"" == head.body
    assert head.headers.get("x-request-id")


# Bodies a JSON route does not take, by content type ("" sends none).
WRONG_MEDIA_TYPES = {
    "json-as-text-plain": "text/plain",
    "json-as-text-plain-utf8": "text/plain; charset=utf-8",
    "no-content-type": "",
    "xml": "application/xml",
    "form-urlencoded": "application/x-www-form-urlencoded",
    "multipart": "multipart/form-data; boundary=x",
    "octet-stream": "application/octet-stream",
    "json-lookalike": "application/jsonx",
}


def wrong_media_types(service: Service) -> list[Sent]:
    body = json.dumps({"title": "x", "name": "x"}).encode()
    sent = []
    for path in body_routes(service):
        for case, media_type in WRONG_MEDIA_TYPES.items():
            headers = {"content-type": media_type} if media_type else {}
            reply = http("POST", f"{service.url}{concrete(path)}", body, headers)
            sent.append(Sent(f"POST {path} {case}", reply, operation=("post", path)))
    return sent


# Strings that are not text: lone surrogates, as JSON escapes (each decodes to no character).
LONE_SURROGATES = ["x\\ud800y", "\\udfff", "\\ud83d", "a\\udc00\\ud800b"]


def text_that_cannot_round_trip(service: Service) -> list[Sent]:
    sent = []
    for path in body_routes(service):
        url = f"{service.url}{concrete(path)}"
        bodies = {
            f"{field}={value}": f'{{"{field}": "{value}"}}'.encode()
            for field in string_fields(service, path)
            for value in LONE_SURROGATES
        }
        # Anywhere in the body, not only in a known field: a key, a nested array.
        bodies["in-a-key"] = b'{"\\ud800": 1}'
        bodies["nested"] = b'{"a": [{"b": ["\\udc00"]}]}'
        bodies["invalid-utf8"] = b'{"name": "\xff\xfe", "title": "\xc0\xaf"}'
        bodies["utf8-encoded-surrogate"] = b'{"name": "\xed\xa0\x80"}'
        for case, body in bodies.items():
            reply = http("POST", url, body, {"content-type": JSON})
            sent.append(Sent(f"POST {path} {case}", reply, operation=("post", path)))
    return sent


# Request targets the frameworks cannot decode, or decode to nothing routable.
BAD_TARGETS = ["/%", "/v1/notes/%", "/v1/items/%", "/v1/jobs/%zz", "/%ff", "/%c0%af", "/healthz%"]


def malformed_targets(service: Service) -> list[Sent]:
    return [Sent(f"GET {target}", http("GET", f"{service.url}{target}")) for target in BAD_TARGETS]


CASES: dict[str, Case] = {
    "head-on-every-get-route": Case(head_of_every_get_route, head_answers_like_get),
    "body-in-another-media-type": Case(
        wrong_media_types, lambda sent: assert_problem(sent.reply, 415)
    ),
    "text-that-cannot-round-trip": Case(
        text_that_cannot_round_trip, lambda sent: assert_problem(sent.reply, 400)
    ),
    "target-the-framework-cannot-decode": Case(
        malformed_targets, lambda sent: assert_problem(sent.reply)
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("name", SERVICES)
def test_every_service_answers_the_case_the_same_way(
    services: Callable[[str], Service], name: str, case: str
) -> None:
    """Each row of the table, against each running service: every answer as the row says."""
    service = services(name)
    row = CASES[case]

    sent = row.send(service)

    assert sent, f"{case} sent nothing to {name}: its document has no such route"
    failures = []
    for one in sent:
        try:
            row.check(one)
            assert_documented(service, one)
        except AssertionError as error:
            failures.append(f"{one.what}: {error}")
    assert service.process.running(), service.process.output()
    assert [] == failures, "\n".join(failures)


# Settings refused at start-up #####################################################################

# Each process of each architecture, started with settings that contradict each other or mean
# nothing: (service, process, environment, the variables the refusal must name).
REFUSALS = [
    ("node-api/api", "server", {"CORS_ORIGINS": "https://app.example/app"}, ["CORS_ORIGINS"]),
    ("node-api/api", "server", {"TRUST_PROXY": "everyone"}, ["TRUST_PROXY"]),
    ("node-api/api", "worker", {"JOB_LOCK_MS": "10"}, ["JOB_LOCK_MS"]),
    ("hybrid/api", "server", {"ML_CIRCUIT_RESET_MS": "0"}, ["ML_CIRCUIT_RESET_MS"]),
    (
        "hybrid/api",
        "server",
        {"ML_TIMEOUT_MS": "20000", "SHUTDOWN_GRACE_MS": "10000"},
        ["ML_TIMEOUT_MS", "SHUTDOWN_GRACE_MS"],
    ),
    ("python-api/api", "server", {"TRUST_PROXY": "everyone"}, ["TRUST_PROXY"]),
    ("python-api/api", "server", {"REQUEST_TIMEOUT_SECONDS": "60"}, ["REQUEST_TIMEOUT_SECONDS"]),
    (
        "python-api/api",
        "server",
        {"DATABASE_POOL_TIMEOUT": "30", "REQUEST_TIMEOUT_SECONDS": "10"},
        ["DATABASE_POOL_TIMEOUT", "REQUEST_TIMEOUT_SECONDS"],
    ),
    (
        "python-api/api",
        "worker",
        {"JOB_VISIBILITY_TIMEOUT": "5", "JOB_TIME_LIMIT": "300"},
        ["JOB_VISIBILITY_TIMEOUT", "JOB_TIME_LIMIT"],
    ),
    (
        "hybrid/ml",
        "server",
        {"JOB_RESULT_TTL": "60", "JOB_TIME_LIMIT": "600"},
        ["JOB_RESULT_TTL", "JOB_TIME_LIMIT"],
    ),
    (
        "hybrid/ml",
        "worker",
        {"JOB_VISIBILITY_TIMEOUT": "26", "JOB_TIME_LIMIT": "10"},
        ["JOB_VISIBILITY_TIMEOUT", "JOB_TIME_LIMIT"],
    ),
]


def process_command(service: Service, process: str) -> tuple[list[str], Path]:
    """The command compose and the images run for the service's server or worker, and where."""
    directory = service.openapi.parent
    if service.language == "node":
        return [str(NODE), f"dist/{process}.js"], directory
    directory = directory.parent  # contracts/openapi.json
    if process == "worker":
        return celery_worker_command(directory, "refused"), directory
    return [str(directory / ".venv/bin/python"), "-m", "app", "--port", "0"], directory


@pytest.mark.parametrize(
    ("name", "process", "env", "named"),
    REFUSALS,
    ids=[f"{name}-{process}-{'-'.join(env)}" for name, process, env, _ in REFUSALS],
)
def test_every_process_refuses_bad_settings_at_start_up(
    services: Callable[[str], Service],
    redis_url: str,
    name: str,
    process: str,
    env: dict[str, str],
    named: list[str],
) -> None:
    """The process exits 1 before serving or taking a job, with one line naming the variables
    and the rule, and no stack trace."""
    command, directory = process_command(services(name), process)

    result = subprocess.run(
        command,
        cwd=directory,
        env=tool_env({"REDIS_URL": redis_url, "JOBS_QUEUE": "refused", **env}),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    output = (result.stdout + result.stderr).strip()
    assert 1 == result.returncode, output
    assert all(variable in output for variable in named), output
    assert "Traceback" not in output and "    at " not in output, output
    assert 1 == len(output.splitlines()), output
