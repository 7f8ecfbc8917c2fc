"""Alembic's entry point: applies the revisions in versions/ to the database at DATABASE_URL.

It runs only when asked (`make migrate`, or `alembic upgrade head` in the image), never when the
API starts: two replicas starting at once would race to migrate.
"""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context
from sqlalchemy import create_engine, make_url, pool
from sqlalchemy.exc import OperationalError

import app.tables  # noqa: F401 (defines the tables on Base.metadata, for autogenerate)
from app.core.config import ConfigurationError, load_settings
from app.core.db import Base, driver_url

config = context.config
# Tests run migrations in their own process and keep their logging as it is.
if config.config_file_name and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

# The same URL as the app, with the same driver, used synchronously (psycopg 3 does both).
try:
    url = driver_url(load_settings(serving=False).database_url)  # serves no request
except ConfigurationError as error:
    raise SystemExit(f"error: {error}") from None  # one line naming the variable, as the app
target_metadata = Base.metadata

if context.is_offline_mode():
    # `alembic upgrade head --sql`: print the SQL for review instead of running it.
    context.configure(url=url, target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    # One connection, no pool: migrations are a one-off process.
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        connection = engine.connect()
    except OperationalError as error:
        # One line, as `npm run migrate` prints it: the database (never the password) and why.
        database = make_url(url)
        reason = " ".join(str(error.orig).split())
        raise SystemExit(
            f"{database.host}:{database.port or 5432}/{database.database}: {reason}\n"
            f"Start PostgreSQL and create the database (createdb {database.database}), or set "
            "DATABASE_URL (see .env.example)."
        ) from None
    with connection:
        context.configure(connection=connection, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()
