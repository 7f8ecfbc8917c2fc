"""Bare FastAPI hello-world, run by the generated project's own interpreter (same FastAPI, same
uvicorn) with the same uvicorn.run settings as the generated `python -m app`.

With BENCH_CREATE_MODEL and BENCH_PUBLIC_MODEL (`module:Class`, the generated project's own
pydantic models) it also serves POST BENCH_RESOURCE_PATH: the body validated by the same model,
kept in memory (the public model by id, as the generated service keeps it), answered 201 with the
public model (id and created_at added). No middleware, no dependency: the yardstick of the
generated validated POST.
"""

from __future__ import annotations

import importlib
import os
import uuid
from datetime import UTC, datetime
from typing import Any

import uvicorn
from fastapi import FastAPI, HTTPException, status

app = FastAPI()


@app.get("/healthz")
async def read_health() -> dict[str, str]:
    return {"status": "ok"}


def _model(spec: str) -> Any:
    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)


if os.environ.get("BENCH_CREATE_MODEL"):
    Create = _model(os.environ["BENCH_CREATE_MODEL"])
    Public = _model(os.environ["BENCH_PUBLIC_MODEL"])
    keys: set[str] = set()
    # Kept as the generated service keeps them, so that both pay the cyclic garbage collector's
    # passes over a heap that grows with every note (docs/benchmarks.md).
    resources: dict[uuid.UUID, Any] = {}

    @app.post(os.environ["BENCH_RESOURCE_PATH"], status_code=201, response_model=Public)
    async def create(body: Create) -> Any:  # type: ignore[valid-type]
        fields = body.model_dump()  # type: ignore[attr-defined]
        key = str(next(iter(fields.values()))).lower()  # the unique field: the first one
        if key in keys:
            raise HTTPException(status.HTTP_409_CONFLICT)
        keys.add(key)
        resource = Public(id=uuid.uuid4(), created_at=datetime.now(UTC), **fields)
        resources[resource.id] = resource
        return resource


if __name__ == "__main__":
    uvicorn.run(
        "bare_fastapi:app",
        host="127.0.0.1",
        port=int(os.environ["PORT"]),
        access_log=False,
        proxy_headers=True,
        timeout_graceful_shutdown=20,
    )
