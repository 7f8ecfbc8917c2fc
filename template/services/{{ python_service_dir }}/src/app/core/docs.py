"""The API docs, /docs and /openapi.json, served only when DOCS_ENABLED is true.

Off by default, so a production deployment shows neither the UI nor the schema unless someone
turns them on (`.env.example` does, for local runs). Clients build against the committed
contracts/openapi.json either way.

The document says what the service really sends, in OpenAPI 3.1 terms (`contract_document`).
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse

from app.core.errors import PROBLEM_JSON
from app.core.limits import RateLimitMiddleware

EVENT_STREAM = "text/event-stream"


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


# What every route that takes a body may answer before its handler runs: the body limit
# (app.core.limits.BodyLimitMiddleware) and the body check (app.core.bodies).
BODY_ERRORS: dict[str, str] = {
    "413": "The body is larger than BODY_LIMIT bytes",
    "415": "The body is not application/json",
}
# What every route that takes a body or parameters may answer (app.core.errors, app.core.bodies).
INVALID_REQUEST = (
    "The request is invalid: a field of the body, the query or the path (see `errors`), "
    "malformed JSON, or a body that is not Unicode text (RFC 8259 §8)"
)
# FastAPI's own validation error, which the service never sends (it answers 400 as Node does).
_FASTAPI_VALIDATION = ("HTTPValidationError", "ValidationError")
# What every route that declares `security` (a scope, app.api.access) may answer.
ACCESS_ERRORS: dict[str, str] = {
    "401": "No bearer token, or one that is not valid (WWW-Authenticate says why)",
    "403": "The token lacks the scope this operation needs",
}
# What every route but the probes may answer while the rate limit is on (RATE_LIMIT_ENABLED).
TOO_MANY_REQUESTS = "This client used up its RATE_LIMIT_MAX requests: retry after Retry-After"
UNAVAILABLE = "The service is overloaded, or the request outlasted its time: retry later"


def contract_document(document: dict[str, Any]) -> dict[str, Any]:
    """Make FastAPI's document say what the service sends, as valid OpenAPI 3.1; edits in place.

    - An error response declared with `PROBLEM_RESPONSE` is sent as application/problem+json only
      (app.core.errors), but FastAPI files the model's schema under the route's own media type
      (application/json, or text/event-stream): move it to application/problem+json.
    - FastAPI documents a server-sent-events route with `itemSchema` (one event), an OpenAPI 3.2
      keyword that 3.1 tools reject. In 3.1 the media type's `schema` describes one event (as
      `itemSchema` does in 3.2; schemathesis validates each event of a stream against it), so
      the event's schema moves there.
    - A request that fails validation is a 400 (as on the Node service), never FastAPI's 422:
      the 422 FastAPI adds to each route with a body or parameters becomes a 400 problem, and
      its HTTPValidationError schemas go.
    - Answers that middleware gives on every route are declared on each operation, where the
      route does not: 413 and 415 where it takes a body (`BODY_ERRORS`); on every route but the
      probes, 429 and 503 (REQUEST_TIMEOUT_SECONDS, or a dependency gone). The Node service's
      documents declare the same (src/plugins/external/swagger.ts).
    - An operation that declares `security` (its scope) answers 401 and 403 problems
      (`ACCESS_ERRORS`).
    Idempotent: FastAPI caches the document, and this runs on each read of it.
    """
    for name in _FASTAPI_VALIDATION:
        document.get("components", {}).get("schemas", {}).pop(name, None)
    for path, item in document["paths"].items():
        for operation in item.values():
            if operation["responses"].pop("422", None) or "requestBody" in operation:
                operation["responses"].setdefault("400", _problem(INVALID_REQUEST))
            if "requestBody" in operation:
                for status, description in BODY_ERRORS.items():
                    operation["responses"].setdefault(status, _problem(description))
            if "security" in operation:
                for status, description in ACCESS_ERRORS.items():
                    operation["responses"].setdefault(status, _problem(description))
            if path not in RateLimitMiddleware.EXEMPT:
                operation["responses"].setdefault("429", _problem(TOO_MANY_REQUESTS))
                operation["responses"].setdefault("503", _problem(UNAVAILABLE))
    for operation in (op for item in document["paths"].values() for op in item.values()):
        for status, response in operation["responses"].items():
            content: dict[str, Any] = response.get("content", {})
            if PROBLEM_JSON in content:
                schema = next((c["schema"] for c in content.values() if "schema" in c), None)
                content.clear()
                content[PROBLEM_JSON] = {"schema": schema} if schema else {}
            elif status.startswith("2") and "itemSchema" in content.get(EVENT_STREAM, {}):
                content[EVENT_STREAM]["schema"] = content[EVENT_STREAM].pop("itemSchema")
    return document


def _require_docs_enabled(request: Request) -> None:
    if not request.state.settings.docs_enabled:
        raise HTTPException(status_code=404, detail="Not Found")


def add_docs(app: FastAPI) -> None:
    """Add the docs routes, answering 404 (like any unknown path) while DOCS_ENABLED is false,
    and make `app.openapi()` return the `contract_document`."""
    only_when_enabled = [Depends(_require_docs_enabled)]
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        return contract_document(generate())

    app.openapi = openapi  # type: ignore[method-assign]

    @app.get("/openapi.json", include_in_schema=False, dependencies=only_when_enabled)
    async def read_openapi() -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False, dependencies=only_when_enabled)
    async def read_docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title=f"{app.title} docs")
