"""Running Alembic migrations programmatically (the CLI and the tests use this)."""

from __future__ import annotations

import asyncio

from alembic import command
from alembic.config import Config


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
