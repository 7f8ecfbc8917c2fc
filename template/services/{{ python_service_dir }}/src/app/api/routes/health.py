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


# The answer of a probe that passed (the Node API's, field for field).
class HealthPublic(BaseModel):
    status: Literal["ok"]


# The answer of both probes, built once.
_OK = HealthPublic(status="ok")


@router.get("/healthz")
async def read_health() -> HealthPublic:
    """Liveness: the process serves requests (checks no dependency)."""
    return _OK


@router.get(
    "/readyz",
    responses={503: {**PROBLEM_RESPONSE, "description": "A dependency is not available"}},
)
async def read_readiness(request: Request) -> HealthPublic:
    """Readiness: every dependency this instance needs is available."""
    for part in parts:
        if part.check is None:
            continue
        try:
            await part.check(request)
        except PartUnavailable as error:
            logger.warning(
                "readiness: %s unavailable", part.name, extra={"error": str(error.__cause__)}
            )
            raise HTTPException(503, str(error)) from None
    return _OK
