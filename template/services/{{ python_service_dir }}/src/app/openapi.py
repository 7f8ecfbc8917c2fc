"""Print the OpenAPI document: `uv run python -m app.openapi > contracts/openapi.json`."""

import json
import sys

from app.main import create_app


def render() -> str:
    """The document as committed in contracts/openapi.json."""
    return json.dumps(create_app().openapi(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
