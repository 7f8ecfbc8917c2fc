"""The committed OpenAPI document (contracts/openapi.json) matches the code."""

import json
from pathlib import Path

from app.openapi import render

CONTRACT = Path(__file__).resolve().parents[1] / "contracts" / "openapi.json"


def test_committed_openapi_matches_the_app() -> None:
    """If this fails, run `make openapi` and commit contracts/openapi.json with the change."""
    assert json.loads(CONTRACT.read_text()) == json.loads(render())


def test_operation_ids_are_tag_and_function() -> None:
    """Operation ids are `{tag}-{function}`, which generated clients turn into method names."""
    document = json.loads(render())
    ids = [op["operationId"] for path in document["paths"].values() for op in path.values()]

    assert "items-create_item" in ids
    assert all("-" in operation_id for operation_id in ids)
