"""The example domain: items, kept behind a repository interface.

`InMemoryItemRepository` keeps them for the life of the process; a database-backed repository
implementing `ItemRepository` replaces it without touching the routes. Both enforce the same rule:
item names are unique, whatever their case.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Annotated, Protocol

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


# What a client sends to create an item (an unknown field, such as a typo, is a 422).
class ItemCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    description: Annotated[str, StringConstraints(max_length=1000)] | None = None


# An item as the API returns it.
class ItemPublic(BaseModel):
    id: uuid.UUID
    name: str
    description: str | None
    created_at: datetime


# A page of items.
class ItemsPublic(BaseModel):
    data: list[ItemPublic]
    count: int = Field(description="How many items exist in total")


class DuplicateItemError(Exception):
    """An item with this name (in any case) already exists."""

    def __init__(self, name: str) -> None:
        super().__init__(f'An item named "{name}" already exists.')
        self.name = name


class ItemRepository(Protocol):
    """Where items live."""

    async def add(self, *, item_create: ItemCreate) -> ItemPublic:
        """Store a new item; raises DuplicateItemError if its name is taken."""
        ...

    async def get(self, *, item_id: uuid.UUID) -> ItemPublic | None: ...

    async def list(self, *, offset: int, limit: int) -> ItemsPublic: ...


class InMemoryItemRepository:
    """Items in a dict, oldest first; safe for concurrent requests on one event loop."""

    def __init__(self) -> None:
        self._items: dict[uuid.UUID, ItemPublic] = {}
        # Names taken, lower-cased as PostgreSQL's lower() does, so both repositories agree.
        self._lowercase_names: set[str] = set()
        self._lock = asyncio.Lock()

    async def add(self, *, item_create: ItemCreate) -> ItemPublic:
        item = ItemPublic(
            id=uuid.uuid4(),
            name=item_create.name,
            description=item_create.description,
            created_at=datetime.now(UTC),
        )
        async with self._lock:
            if item.name.lower() in self._lowercase_names:
                raise DuplicateItemError(item.name)
            self._lowercase_names.add(item.name.lower())
            self._items[item.id] = item
        return item

    async def get(self, *, item_id: uuid.UUID) -> ItemPublic | None:
        return self._items.get(item_id)

    async def list(self, *, offset: int, limit: int) -> ItemsPublic:
        items = list(self._items.values())
        return ItemsPublic(data=items[offset : offset + limit], count=len(items))
