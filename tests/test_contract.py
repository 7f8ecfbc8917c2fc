"""One public API: the committed OpenAPI documents of the architectures describe the same
operations the same way, so a client moves between architectures unchanged.

Compared: each shared operation's request body and success answer, with their schemas resolved
and normalised (below), and the media types of its answers: the notes (python-api and every Node
API), the prediction and model routes (python-api with a model, and the hybrid gateway). The job
routes join the table when they match (issue 17). Not compared: the error statuses an operation
lists, which differ where the architectures do (the gateway adds 503 for an unreachable ML service).

Normalised away, because they describe no difference a client sees on the wire:
- `title`, `description`, `examples` and `$ref` names: documentation, and Zod's and pydantic's
  own ways of naming a schema;
- the safe-integer bounds Zod writes on every integer (+-(2^53 - 1)) and `propertyNames` of type
  string on a record: JSON object keys are strings and JSON integers are bounded anyway;
- the `pattern` Zod writes beside `format: uuid` and `format: date-time`: the format says it;
- `additionalProperties: false` on an answer: a service never sends a field its model lacks,
  whether or not its schema says so (on a request it stays: an unknown field is refused).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from harness.net import post_json
from harness.repo import REPO_ROOT

OPENAPI = REPO_ROOT / "generated" / "openapi"
SAFE_INTEGER = 2**53 - 1
DOCUMENTATION = frozenset({"title", "description", "examples", "example"})

# The documents of each public API (one per variant): python-api's services with and without a
# model, the Node APIs with and without the hybrid gateway.
PYTHON_API = sorted(p.name for p in OPENAPI.glob("python-*.json") if "ml-service" not in p.name)
PYTHON_MODEL = [name for name in PYTHON_API if name.startswith("python-model")]
NODE_API = sorted(p.name for p in OPENAPI.glob("node-*.json"))
GATEWAY = [name for name in NODE_API if "gateway" in name]

# Each shared operation, and the documents that serve it.
SHARED: dict[tuple[str, str], list[str]] = {
    ("post", "/v1/notes"): PYTHON_API + NODE_API,
    ("get", "/v1/notes"): PYTHON_API + NODE_API,
    ("get", "/v1/notes/{id}"): PYTHON_API + NODE_API,
    ("post", "/v1/predictions"): PYTHON_MODEL + GATEWAY,
    ("get", "/v1/models/{name}"): PYTHON_MODEL + GATEWAY,
}
# Formats whose regular expression Zod writes out as a `pattern` too.
ZOD_FORMATS = frozenset({"uuid", "date-time"})


def normalised(document: dict[str, Any], schema: Any, *, answer: bool) -> Any:
    """`schema` with its references resolved and the differences above removed."""
    if isinstance(schema, list):
        return [normalised(document, item, answer=answer) for item in schema]
    if not isinstance(schema, dict):
        return schema
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return normalised(document, document["components"]["schemas"][name], answer=answer)
    result = {}
    for key, value in schema.items():
        if key in DOCUMENTATION or (key == "propertyNames" and value == {"type": "string"}):
            continue
        zod_bound = key in ("minimum", "maximum") and schema.get("type") == "integer"
        if zod_bound and abs(value) == SAFE_INTEGER:
            continue
        if key == "additionalProperties" and value is False and answer:
            continue
        if key == "pattern" and schema.get("format") in ZOD_FORMATS:
            continue
        result[key] = normalised(document, value, answer=answer)
    return result


def public_part(path: Path, method: str, route: str) -> dict[str, Any]:
    """What a client of the operation sees: its parameters, request body, success answers and the
    media type of every answer it documents."""
    document = json.loads(path.read_text())
    operation = document["paths"][route][method]
    parameters = {
        (parameter["in"], parameter["name"]): {
            "required": parameter.get("required", False),
            "schema": normalised(document, parameter["schema"], answer=False),
        }
        for parameter in operation.get("parameters", [])
    }
    body = operation.get("requestBody", {}).get("content", {})
    answers = operation["responses"]
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


@pytest.mark.parametrize(("method", "route"), sorted(SHARED))
def test_shared_operation_is_the_same_in_every_document(method: str, route: str) -> None:
    """Every document that serves the operation describes the same request, success answer and
    media types as the first one."""
    documents = SHARED[(method, route)]
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
