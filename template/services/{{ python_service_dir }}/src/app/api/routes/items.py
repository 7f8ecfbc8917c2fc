"""Items: create, list, read."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status

from app.core.errors import PROBLEM_RESPONSE
from app.items import DuplicateItemError, ItemCreate, ItemPublic, ItemsPublic
from app.parts.store import ItemsDep

router = APIRouter(prefix="/v1/items", tags=["items"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses={
        409: {**PROBLEM_RESPONSE, "description": "An item with this name exists"},
        422: PROBLEM_RESPONSE,
    },
)
async def create_item(item_create: ItemCreate, items: ItemsDep) -> ItemPublic:
    """Create an item; names are unique, whatever their case."""
    try:
        return await items.add(item_create=item_create)
    except DuplicateItemError as error:
        raise HTTPException(status.HTTP_409_CONFLICT, str(error)) from None


@router.get("", responses={422: PROBLEM_RESPONSE})
async def read_items(
    items: ItemsDep,
    # Bounded: past a million rows OFFSET scans them all (page by a cursor instead), and an
    # unbounded integer would overflow the database's bigint (a 500 the fuzz found).
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> ItemsPublic:
    """Retrieve items, oldest first."""
    return await items.list(offset=offset, limit=limit)


@router.get("/{item_id}", responses={404: PROBLEM_RESPONSE, 422: PROBLEM_RESPONSE})
async def read_item(item_id: uuid.UUID, items: ItemsDep) -> ItemPublic:
    """Retrieve one item."""
    item = await items.get(item_id=item_id)
    if item is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"Item {item_id} does not exist.")
    return item
