"""Throwaway PostgreSQL databases, one per test or benchmark run, on a shared server."""

from __future__ import annotations

import uuid
from urllib.parse import urlsplit, urlunsplit

import psycopg


def new_database(server_url: str, label: str) -> str:
    """Create an empty database named `scaffold_<label>_<random>` on the server; return its URL.

    The random part keeps runs sharing a server apart.
    """
    name = f"scaffold_{label}_{uuid.uuid4().hex[:8]}".replace("-", "_").lower()
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))


def drop_databases(server_url: str, urls: list[str]) -> None:
    """Drop the databases `new_database` made, whoever is still connected to them."""
    with psycopg.connect(server_url, autocommit=True) as conn:
        for url in urls:
            conn.execute(f'DROP DATABASE IF EXISTS "{urlsplit(url).path[1:]}" WITH (FORCE)')
