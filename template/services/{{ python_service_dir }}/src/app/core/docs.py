"""The API docs, /docs and /openapi.json, served only when DOCS_ENABLED is true.

Off by default, so a production deployment shows neither the UI nor the schema unless someone
turns them on (`.env.example` does, for local runs). Clients build against the committed
contracts/openapi.json either way.
"""

from __future__ import annotations

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse


def _require_docs_enabled(request: Request) -> None:
    if not request.state.settings.docs_enabled:
        raise HTTPException(status_code=404, detail="Not Found")


def add_docs(app: FastAPI) -> None:
    """Add the docs routes, answering 404 (like any unknown path) while DOCS_ENABLED is false."""
    only_when_enabled = [Depends(_require_docs_enabled)]

    @app.get("/openapi.json", include_in_schema=False, dependencies=only_when_enabled)
    async def read_openapi() -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False, dependencies=only_when_enabled)
    async def read_docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title=f"{app.title} docs")
