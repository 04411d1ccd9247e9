"""Running Alembic migrations programmatically (the CLI and the tests use this)."""

from __future__ import annotations

import asyncio

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import make_url


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", "myhibachi:migrations")
    config.attributes["database_url"] = database_url
    return config


def upgrade_to_head(database_url: str) -> None:
    """Blocking; env.py runs its own event loop, so call it from sync code or a worker thread."""
    command.upgrade(alembic_config(database_url), "head")


async def upgrade_to_head_async(database_url: str) -> None:
    await asyncio.to_thread(upgrade_to_head, database_url)


async def create_database_if_missing(database_url: str) -> bool:
    """Create a PostgreSQL database that does not exist yet (connecting to the server's `postgres` database); say
    whether it did. SQLite makes its file on first use, so there it does nothing."""
    from myhibachi.core.db import create_engine

    url = make_url(database_url)
    if url.get_backend_name() != "postgresql":
        return False
    engine = create_engine(url.set(database="postgres").render_as_string(hide_password=False),
                           isolation_level="AUTOCOMMIT")  # CREATE DATABASE cannot run inside a transaction
    try:
        async with engine.connect() as conn:
            if await conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": url.database}):
                return False
            await conn.execute(text(f"CREATE DATABASE {conn.dialect.identifier_preparer.quote(url.database)}"))
            return True
    finally:
        await engine.dispose()
