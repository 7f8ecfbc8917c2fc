"""Bare FastAPI hello-world, run by the generated project's own interpreter (same FastAPI, same
uvicorn) with the same uvicorn.run settings as the generated `python -m app`."""

from __future__ import annotations

import os

import uvicorn
from fastapi import FastAPI

app = FastAPI()


@app.get("/healthz")
async def read_health() -> dict[str, str]:
    return {"status": "ok"}


if __name__ == "__main__":
    uvicorn.run(
        "bare_fastapi:app",
        host="127.0.0.1",
        port=int(os.environ["PORT"]),
        access_log=False,
        proxy_headers=True,
        timeout_graceful_shutdown=20,
    )
