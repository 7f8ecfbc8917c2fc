"""Replace the items table with notes, the example domain every architecture serves.

The table is the Node service's (its migration 0001-create-notes.ts): same columns, the same
case-insensitive unique title, the same indexes. Existing items move across with their ids (so
the deprecated /v1/items/{item_id} keeps finding them): title = name, body = description or "",
no tags, created_at kept.

Revises 0001 whatever the project has: with the job worker, 0004 merges this branch with 0002, so
`alembic upgrade head` works for every combination, including a project that adds the worker later.

Revision ID: 0003
Revises: 0001
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "notes",
        sa.Column("id", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), server_default="", nullable=False),
        sa.Column("tags", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint("char_length(title) between 1 and 200", name=op.f("notes_title_length")),
        sa.PrimaryKeyConstraint("id", name="notes_pkey"),
    )
    op.create_index("notes_title_key", "notes", [sa.text("lower(title)")], unique=True)
    op.create_index(
        "notes_created_at_idx", "notes", [sa.text("created_at DESC"), sa.text("id DESC")]
    )
    op.create_index("notes_tags_idx", "notes", ["tags"], postgresql_using="gin")
    op.execute(
        "INSERT INTO notes (id, title, body, tags, created_at) "
        "SELECT id, name, coalesce(description, ''), '{}', created_at FROM items"
    )
    op.drop_table("items")


def downgrade() -> None:
    op.create_table(
        "items",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.String(length=1000), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint("btrim(name) <> ''", name="ck_items_name_not_blank"),
        sa.PrimaryKeyConstraint("id", name="pk_items"),
    )
    op.create_index("uq_items_lower_name", "items", [sa.text("lower(name)")], unique=True)
    # Back as items where they fit (a name has at most 100 characters, a description 1,000);
    # the tags have no place there and are lost.
    op.execute(
        "INSERT INTO items (id, name, description, created_at) "
        "SELECT id, title, nullif(body, ''), created_at FROM notes "
        "WHERE char_length(title) <= 100 AND char_length(body) <= 1000 AND btrim(title) <> ''"
    )
    op.drop_table("notes")
