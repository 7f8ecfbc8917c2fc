"""One public API: the committed OpenAPI documents of the architectures describe the same
operations the same way, so a client moves between architectures unchanged.

Compared: each shared operation's parameters, request body and success answer, with their schemas
resolved and normalised (below), and the media types of its answers. Today that is the prediction
route, which python-api (with a model) and the hybrid gateway both serve, and the job routes
(`POST /v1/jobs`, `GET /v1/jobs/{id}`) of every variant with jobs; the hybrid ML service's internal
job API has the gateway's shape too, which is what lets the gateway pass its jobs on as they are.
The notes routes are still two APIs (issue 17) and join the table when they match. Not compared
yet either: the error statuses, which differ by language (a body the schema refuses is a 400 from
Node, a 422 from FastAPI; the gateway adds 503 for an unreachable ML service, the Python service
413), and the job events stream, whose events the generated-project tests compare.

Normalised away, because they describe no difference a client sees on the wire:
- `title`, `description`, `examples` and `$ref` names: documentation, and Zod's and pydantic's
  own ways of naming a schema;
- the safe-integer bounds Zod writes on every integer (+-(2^53 - 1)) and `propertyNames` of type
  string on a record: JSON object keys are strings and JSON integers are bounded anyway;
- the `pattern` Zod writes beside `format: date-time` (its own spelling of RFC 3339's grammar);
- `discriminator` beside a `oneOf` (pydantic's hint; each branch's `type` const says the same);
- `additionalProperties: false` on an answer: a service never sends a field its model lacks,
  whether or not its schema says so (on a request it stays: an unknown field is refused);
- a request property marked `deprecated`: kept for one release for the clients of one
  architecture (the Node API's `idempotencyKey` in the body of POST /v1/jobs);
- the case of a header parameter's name: HTTP field names are case-insensitive.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from harness.net import http, post_json
from harness.repo import REPO_ROOT

OPENAPI = REPO_ROOT / "generated" / "openapi"
SAFE_INTEGER = 2**53 - 1
DOCUMENTATION = frozenset({"title", "description", "examples", "example"})

# The job routes, and the groups of documents (one per variant) that serve them the same way.
JOB_ROUTES = [("post", "/v1/jobs"), ("get", "/v1/jobs/{id}")]
JOB_DOCUMENTS = [
    # `digest` jobs: node-api, and python-api without a model.
    ["node-jobs.json", "node-jobs-realtime.json", "python-web-worker.json"],
    # `digest` and `ml-batch-predict` jobs: the hybrid gateway, and python-api with a model.
    [
        "node-jobs-gateway.json",
        "node-jobs-gateway-realtime.json",
        "python-model-worker.json",
        "python-model-worker-realtime.json",
    ],
    # `ml-batch-predict` jobs only: the gateway without a worker, and the ML service it maps.
    [
        "node-web-gateway.json",
        "node-web-gateway-realtime.json",
        "python-ml-service.json",
        "python-ml-service-realtime.json",
    ],
]
# Each shared operation, and the documents (one per variant) that serve it the same way.
SHARED: list[tuple[str, str, list[str]]] = [
    (
        "post",
        "/v1/predictions",
        [
            "python-model-worker.json",
            "python-model-worker-realtime.json",
            "node-jobs-gateway.json",
            "node-jobs-gateway-realtime.json",
            "node-web-gateway.json",
            "node-web-gateway-realtime.json",
        ],
    ),
    *[(method, route, group) for method, route in JOB_ROUTES for group in JOB_DOCUMENTS],
]


def normalised(document: dict[str, Any], schema: Any, *, answer: bool) -> Any:
    """`schema` with its references resolved and the differences above removed."""
    if isinstance(schema, list):
        return [normalised(document, item, answer=answer) for item in schema]
    if not isinstance(schema, dict):
        return schema
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return normalised(document, document["components"]["schemas"][name], answer=answer)
    deprecated = set()
    if not answer and isinstance(schema.get("properties"), dict):
        deprecated = {
            name
            for name, field in schema["properties"].items()
            if isinstance(field, dict) and field.get("deprecated")
        }
    result = {}
    for key, value in schema.items():
        if key in DOCUMENTATION or (key == "propertyNames" and value == {"type": "string"}):
            continue
        zod_bound = key in ("minimum", "maximum") and schema.get("type") == "integer"
        if zod_bound and abs(value) == SAFE_INTEGER:
            continue
        if key == "pattern" and schema.get("format") == "date-time":
            continue
        if key == "discriminator" and "oneOf" in schema:
            continue
        if key == "additionalProperties" and value is False and answer:
            continue
        if key == "properties" and deprecated:
            value = {name: field for name, field in value.items() if name not in deprecated}
        result[key] = normalised(document, value, answer=answer)
    return result


def public_part(path: Path, method: str, route: str) -> dict[str, Any]:
    """What a client of the operation sees: its request body, its success answers and the media
    type of every answer it documents."""
    document = json.loads(path.read_text())
    operation = document["paths"][route][method]
    body = operation.get("requestBody", {}).get("content", {})
    answers = operation["responses"]
    parameters = sorted(
        (
            parameter["in"],
            parameter["name"].lower() if parameter["in"] == "header" else parameter["name"],
            parameter.get("required", False),
            json.dumps(normalised(document, parameter["schema"], answer=False), sort_keys=True),
        )
        for parameter in operation.get("parameters", [])
    )
    return {
        "parameters": parameters,
        "request": {
            media: normalised(document, content["schema"], answer=False)
            for media, content in body.items()
        },
        "success": {
            status: {
                media: normalised(document, content.get("schema"), answer=True)
                for media, content in answer.get("content", {}).items()
            }
            for status, answer in answers.items()
            if status.startswith("2")
        },
        "media_types": sorted(
            {media for answer in answers.values() for media in answer.get("content", {})}
        ),
    }


@pytest.mark.parametrize(
    ("method", "route", "documents"),
    SHARED,
    ids=[f"{method.upper()} {route} {documents[0]}" for method, route, documents in SHARED],
)
def test_shared_operation_is_the_same_in_every_document(
    method: str, route: str, documents: list[str]
) -> None:
    """Every document that serves the operation describes the same parameters, request, success
    answer and media types as the first one."""
    first, *others = [public_part(OPENAPI / name, method, route) for name in documents]
    for name, other in zip(documents[1:], others, strict=True):
        assert first == other, f"{method.upper()} {route}: {documents[0]} and {name} differ"


def test_normalising_keeps_what_a_client_sees() -> None:
    """The normaliser drops documentation and Zod's integer bounds, but not a real difference: a
    field, a type, a bound of the API's own, or a refused unknown field on a request."""
    document: dict[str, Any] = {"components": {"schemas": {}}}
    zod = {"type": "integer", "minimum": -SAFE_INTEGER, "maximum": SAFE_INTEGER, "title": "N"}
    assert {"type": "integer"} == normalised(document, zod, answer=True)
    assert {"type": "integer", "maximum": 100} == normalised(
        document, {"type": "integer", "maximum": 100}, answer=True
    )
    strict = {"type": "object", "additionalProperties": False}
    assert strict == normalised(document, strict, answer=False)
    assert {"type": "object"} == normalised(document, strict, answer=True)
    assert normalised(document, {"type": "string"}, answer=True) != normalised(
        document, {"type": "number"}, answer=True
    )
    zod_datetime = {"type": "string", "format": "date-time", "pattern": "^\\d{4}-.*$"}
    assert {"type": "string", "format": "date-time"} == normalised(
        document, zod_datetime, answer=True
    )
    assert {"type": "string", "pattern": "^a$"} == normalised(
        document, {"type": "string", "pattern": "^a$"}, answer=True
    )
    with_old_field = {
        "type": "object",
        "properties": {"type": {"type": "string"}, "key": {"type": "string", "deprecated": True}},
    }
    assert {"type": "object", "properties": {"type": {"type": "string"}}} == normalised(
        document, with_old_field, answer=False
    )


# The same client, against each architecture's public API ##########################################

SETOSA = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}
VIRGINICA = {"sepal_length": 6.9, "sepal_width": 3.1, "petal_length": 5.4, "petal_width": 2.1}
# The public API of each architecture that serves predictions: python-api's service, the gateway.
PREDICTING = ["python-api/api", "hybrid/api"]


@pytest.mark.generated
def test_one_prediction_client_works_against_every_architecture(
    services: Callable[[str], Any],
) -> None:
    """The same request to POST /v1/predictions of python-api and of the hybrid gateway gets the
    same answer: the same model, the same fields, the same classes in request order."""
    answers = {}
    for name in PREDICTING:
        reply = post_json(
            f"{services(name).url}/v1/predictions", {"instances": [SETOSA, VIRGINICA]}
        )
        media_type = reply.content_type.split(";")[0]
        assert (200, "application/json") == (reply.status, media_type), (name, reply.body)
        answers[name] = reply.json()

    first, *others = answers.values()
    assert all(first == other for other in others), answers
    assert ["setosa", "virginica"] == [p["label"] for p in first["predictions"]]


# The public APIs with jobs (python-api with a model runs `digest` jobs too). No worker runs here:
# the scenario is the API's, and the jobs stay waiting.
WITH_JOBS = ["node-api/api", "python-api/api", "hybrid/api"]


@pytest.mark.generated
def test_one_job_client_works_against_every_architecture(
    services: Callable[[str], Any],
) -> None:
    """The same job client (queue with an Idempotency-Key, resend, conflict, poll, unknown id)
    gets the same statuses, headers and fields from every architecture's public API."""
    for name in WITH_JOBS:
        url = services(name).url
        key = {"Idempotency-Key": f'"{uuid.uuid4()}"'}
        job = {"type": "digest", "data": {"text": f"client {name}", "rounds": 10}}

        created = post_json(f"{url}/v1/jobs", job, **key)
        again = post_json(f"{url}/v1/jobs", job, **key)
        other = post_json(f"{url}/v1/jobs", {**job, "data": {"text": "other"}}, **key)
        unkeyed = post_json(f"{url}/v1/jobs", job)
        bad_key = post_json(f"{url}/v1/jobs", job, **{"Idempotency-Key": "two words"})

        assert (202, 200, 409, 202) == (
            created.status,
            again.status,
            other.status,
            unkeyed.status,
        ), (name, created.body, other.body)
        assert created.json()["id"] == again.json()["id"] != unkeyed.json()["id"], name
        location = created.headers["location"]
        assert f"/v1/jobs/{created.json()['id']}" == location, name
        # A refused header is a client error with a problem body (400 from Node; FastAPI's
        # validation status from Python).
        assert 400 <= bad_key.status < 500, (name, bad_key.body)
        assert "application/problem+json" == bad_key.content_type.split(";")[0], name
        read = http("GET", f"{url}{location}").json()
        assert {"id", "type", "state", "progress", "attemptsMade", "createdAt"} == read.keys(), name
        assert ("digest", 0) == (read["type"], read["attemptsMade"]), name
        assert read["state"] in ("waiting", "active", "completed"), name
        assert 404 == http("GET", f"{url}/v1/jobs/{uuid.uuid4()}").status, name
