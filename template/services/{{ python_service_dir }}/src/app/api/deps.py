"""Dependencies for routes, as `Annotated` aliases over what the lifespan built.

Each part of the service exports its own next to the client it opens (app.parts: `ItemsDep` in
app.parts.store, `ModelDep` in app.parts.model, `CeleryDep` in app.parts.jobs); this module holds
those of the app itself.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from app.core.config import Settings


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_settings)]
