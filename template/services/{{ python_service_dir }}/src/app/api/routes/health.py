"""Liveness and readiness probes."""

from __future__ import annotations

import logging
from typing import Literal

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel

from app.core.errors import PROBLEM_RESPONSE
from app.parts import PartUnavailable
from app.parts.main import parts

router = APIRouter(tags=["health"])
logger = logging.getLogger(__name__)


# The answer of a probe that passed.
class HealthPublic(BaseModel):
    status: Literal["ok"] = "ok"
    checks: dict[str, Literal["ok"]] = {}


# The liveness answer, built once: pydantic deep-copies the mutable default of `checks` for every
# new instance, a twentieth of a GET /healthz.
_ALIVE = HealthPublic()


@router.get("/healthz")
async def read_health() -> HealthPublic:
    """Liveness: the process serves requests (checks no dependency)."""
    return _ALIVE


@router.get(
    "/readyz",
    responses={503: {**PROBLEM_RESPONSE, "description": "A dependency is not available"}},
)
async def read_readiness(request: Request) -> HealthPublic:
    """Readiness: every dependency this instance needs is available."""
    checks: dict[str, Literal["ok"]] = {}
    for part in parts:
        if part.check is None:
            continue
        try:
            checks[await part.check(request)] = "ok"
        except PartUnavailable as error:
            logger.warning(
                "readiness: %s unavailable", part.name, extra={"error": str(error.__cause__)}
            )
            raise HTTPException(503, str(error)) from None
    return HealthPublic(checks=checks)
