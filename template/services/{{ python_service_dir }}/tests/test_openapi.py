"""The committed OpenAPI document (contracts/openapi.json) matches the code."""

import json
from pathlib import Path

from app.openapi import render

CONTRACT = Path(__file__).resolve().parents[1] / "contracts" / "openapi.json"


def test_committed_openapi_matches_the_app() -> None:
    """If this fails, run `make openapi` and commit contracts/openapi.json with the change."""
    assert json.loads(CONTRACT.read_text()) == json.loads(render())


def test_operation_ids_are_unique_and_named() -> None:
    """Operation ids are unique and named (the Node API's names where the route is shared, else
    `{tag}-{function}`), never FastAPI's path-derived default, for generated clients."""
    document = json.loads(render())
    ids = [op["operationId"] for path in document["paths"].values() for op in path.values()]

    assert len(ids) == len(set(ids))
    assert not [operation_id for operation_id in ids if operation_id.endswith(("_get", "_post"))]


def test_invalid_requests_are_400_not_422() -> None:
    """Validation errors are 400 problems, as on the Node service: no operation declares 422."""
    document = json.loads(render())
    statuses = {
        status
        for path in document["paths"].values()
        for op in path.values()
        for status in op["responses"]
    }

    assert "400" in statuses
    assert "422" not in statuses
    assert "HTTPValidationError" not in document["components"]["schemas"]
