"""The data layer: migrations from empty, SQLite's connection settings and write lock, the append-only audit
log, UTC datetimes, and the request owning its transaction."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from fastapi import APIRouter
from sqlalchemy import event, func, inspect, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, StatementError

from myhibachi.audit.commands import record_audit
from myhibachi.audit.models import AuditEntry
from myhibachi.auth.commands import create_user
from myhibachi.auth.dependencies import CurrentPrincipal
from myhibachi.auth.models import User
from myhibachi.auth.permissions import Role
from myhibachi.auth.schemas import UserCreate
from myhibachi.core.cache import CACHE_KEY
from myhibachi.core.db import Database, UTCDateTime, create_engine
from myhibachi.core.errors import Conflict
from myhibachi.core.migrations import alembic_config
from myhibachi.core.outbox import OutboxMessage
from myhibachi.core.web import DbSession, LazyReadSession
from myhibachi.schema import metadata
from tests.conftest import PG_URL, _pg_admin, create_pg_database  # noqa: E402


@pytest.fixture
async def empty_database_url(tmp_path: Path) -> AsyncIterator[str]:
    """A database with nothing in it, of the configured kind: a new SQLite file or a new PostgreSQL database."""
    if not PG_URL:
        yield f"sqlite+aiosqlite:///{tmp_path / 'empty.sqlite'}"
        return
    name = f"myhibachi_migrations_{os.getpid()}"
    try:
        yield await asyncio.to_thread(create_pg_database, name)
    finally:
        await _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', PG_URL)


async def _schema(url: str) -> tuple[set[str], set[str], list[Any]]:
    """(tables, trigger names, differences between the models and the migrated schema)."""
    engine = create_engine(url)

    def inspect_schema(conn: Any) -> tuple[set[str], set[str], list[Any]]:
        tables = set(inspect(conn).get_table_names())
        if conn.dialect.name == "postgresql":
            triggers = set(conn.execute(text(
                "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")).scalars())
        else:
            triggers = set(conn.execute(text(
                "SELECT name FROM sqlite_master WHERE type = 'trigger'")).scalars())
        diffs = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
        return tables, triggers, diffs

    try:
        async with engine.connect() as conn:
            return await conn.run_sync(inspect_schema)
    finally:
        await engine.dispose()


async def test_migrations_run_up_down_and_up_again_from_empty(empty_database_url: str):
    config = alembic_config(empty_database_url)
    head = ScriptDirectory.from_config(config).get_current_head()
    model_tables = set(metadata.tables)
    audit_triggers = {"audit_log_no_update", "audit_log_no_delete"} if not PG_URL else {
        "audit_log_no_update", "audit_log_no_truncate"}

    tables, triggers, _ = await _schema(empty_database_url)
    assert tables == set()

    await asyncio.to_thread(command.upgrade, config, "head")
    tables, triggers, diffs = await _schema(empty_database_url)
    assert tables == model_tables | {"alembic_version"}
    assert audit_triggers <= triggers
    assert diffs == []  # the migrations build exactly what the models declare
    engine = create_engine(empty_database_url)
    try:
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar_one() == head
    finally:
        await engine.dispose()

    await asyncio.to_thread(command.downgrade, config, "base")
    tables, triggers, _ = await _schema(empty_database_url)
    assert tables == {"alembic_version"}
    assert triggers == set()

    await asyncio.to_thread(command.upgrade, config, "head")
    tables, triggers, diffs = await _schema(empty_database_url)
    assert tables == model_tables | {"alembic_version"}
    assert audit_triggers <= triggers
    assert diffs == []


# --- SQLite: connection settings and the write lock ---------------------------------------------------------

@pytest.fixture
async def sqlite_db(tmp_path: Path) -> AsyncIterator[Database]:
    """An SQLite database of its own (SQLite is the embedded default, so it is tested on every run)."""
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'locks.sqlite'}")
    async with database.engine.begin() as conn:
        await conn.execute(text("CREATE TABLE counter (id INTEGER PRIMARY KEY, value INTEGER NOT NULL)"))
        await conn.execute(text("INSERT INTO counter (id, value) VALUES (1, 0)"))
    try:
        yield database
    finally:
        await database.dispose()


def _sqlite_path(database: Database) -> str:
    path = make_url(database.url).database
    assert path
    return path


async def test_sqlite_connections_use_wal_busy_timeout_and_foreign_keys(sqlite_db: Database):
    for write in (True, False):
        async with sqlite_db.session(write=write) as session:
            assert (await session.execute(text("PRAGMA journal_mode"))).scalar_one().lower() == "wal"
            assert (await session.execute(text("PRAGMA busy_timeout"))).scalar_one() > 0
            assert (await session.execute(text("PRAGMA foreign_keys"))).scalar_one() == 1


async def test_sqlite_enforces_foreign_keys(sqlite_db: Database):
    async with sqlite_db.engine.begin() as conn:
        await conn.execute(text("CREATE TABLE parent (id INTEGER PRIMARY KEY)"))
        await conn.execute(text("CREATE TABLE child (id INTEGER PRIMARY KEY, "
                                "parent_id INTEGER NOT NULL REFERENCES parent (id))"))
    with pytest.raises(DBAPIError, match="FOREIGN KEY"):
        async with sqlite_db.transaction() as session:
            await session.execute(text("INSERT INTO child (id, parent_id) VALUES (1, 42)"))


async def test_write_sessions_begin_immediate_and_read_sessions_deferred(sqlite_db: Database):
    statements: list[str] = []

    @event.listens_for(sqlite_db.engine.sync_engine, "before_cursor_execute")
    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    other = sqlite3.connect(_sqlite_path(sqlite_db), timeout=0, isolation_level=None)
    try:
        async with sqlite_db.session(write=True) as session:
            await session.execute(text("SELECT value FROM counter"))
            assert statements[0] == "BEGIN IMMEDIATE"
            # The write lock is held from the start, even though only a read ran so far.
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
            await session.rollback()

        statements.clear()
        async with sqlite_db.session(write=False) as session:
            await session.execute(text("SELECT value FROM counter"))
            assert statements[0] == "BEGIN DEFERRED"
            other.execute("BEGIN IMMEDIATE")  # a reader does not block a writer
            other.execute("ROLLBACK")
    finally:
        other.close()


async def _increment(database: Database, *, write: bool) -> None:
    async with database.transaction(write=write) as session:
        value = (await session.execute(text("SELECT value FROM counter WHERE id = 1"))).scalar_one()
        await asyncio.sleep(0.005)  # let the others start their transactions meanwhile
        await session.execute(text("UPDATE counter SET value = :value WHERE id = 1"), {"value": value + 1})


async def _run_increments(databases: list[Database], count: int, *,
                          write: bool = True) -> tuple[int, list[BaseException]]:
    results = await asyncio.wait_for(asyncio.gather(
        *(_increment(databases[i % len(databases)], write=write) for i in range(count)),
        return_exceptions=True), timeout=60)
    async with databases[0].session(write=False) as session:
        final = (await session.execute(text("SELECT value FROM counter WHERE id = 1"))).scalar_one()
    return final, [r for r in results if isinstance(r, BaseException)]


async def test_concurrent_write_transactions_serialize_without_lost_updates(sqlite_db: Database):
    # Two engines on one file, as two processes would be.
    second = Database(sqlite_db.url)
    try:
        final, errors = await _run_increments([sqlite_db, second], 20)
    finally:
        await second.dispose()
    assert errors == []
    assert final == 20


async def test_deferred_transactions_would_conflict(sqlite_db: Database):
    """The control: the same workload in deferred (read) transactions fails or loses updates."""
    second = Database(sqlite_db.url)
    try:
        final, errors = await _run_increments([sqlite_db, second], 20, write=False)
    finally:
        await second.dispose()
    assert errors or final < 20
    assert all("locked" in str(e) for e in errors)


# --- the audit log is append-only -----------------------------------------------------------------------------

async def test_audit_log_refuses_update_and_delete(db: Database):
    async with db.transaction() as session:
        entry = await record_audit(session, actor_user_id=None, action="tests.audited", target_type="test",
                                   target_id=1, after={"value": 1})

    statements = [
        text("UPDATE audit_log SET action = 'tests.tampered' WHERE id = :id"),
        text("DELETE FROM audit_log WHERE id = :id"),
    ]
    if db.dialect == "postgresql":
        statements.append(text("TRUNCATE audit_log"))
    for statement in statements:
        with pytest.raises(DBAPIError, match="append-only"):
            async with db.transaction() as session:
                await session.execute(statement, {"id": entry.id})

    # The ORM cannot do it either.
    with pytest.raises(DBAPIError, match="append-only"):
        async with db.transaction() as session:
            row = await session.get_one(AuditEntry, entry.id)
            row.reason = "rewritten history"
            await session.flush()

    async with db.transaction(write=False) as session:
        rows = (await session.scalars(select(AuditEntry))).all()
    assert [(r.id, r.action, r.reason, r.after) for r in rows] == [(entry.id, "tests.audited", None, {"value": 1})]


# --- UTC datetimes --------------------------------------------------------------------------------------------

async def test_utc_datetime_round_trips_aware_datetimes(db: Database):
    local = datetime(2031, 3, 9, 1, 30, 15, 123456, tzinfo=ZoneInfo("America/Los_Angeles"))
    async with db.transaction() as session:
        message = OutboxMessage(topic="tests.time", payload={}, available_at=local)
        session.add(message)
        await session.flush()
        message_id = message.id

    async with db.transaction(write=False) as session:
        stored = await session.get_one(OutboxMessage, message_id)
        raw = (await session.execute(text("SELECT available_at FROM outbox_messages WHERE id = :id"),
                                     {"id": message_id})).scalar_one()
        # Compared in the database, as a query would: the stored instant is the UTC one.
        later = await session.scalar(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.available_at > datetime(2031, 3, 9, 9, 30, 15, tzinfo=UTC)))
        earlier = await session.scalar(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.available_at > datetime(2031, 3, 9, 9, 30, 16, tzinfo=UTC)))
    assert stored.available_at == local
    assert stored.available_at.utcoffset() == timedelta(0)
    assert stored.available_at == datetime(2031, 3, 9, 9, 30, 15, 123456, tzinfo=UTC)
    assert stored.created_at.utcoffset() == timedelta(0)
    assert (later, earlier) == (1, 0)
    if db.dialect == "sqlite":
        assert str(raw).startswith("2031-03-09 09:30:15.123456")  # stored as UTC wall time


async def test_utc_datetime_rejects_naive_datetimes(db: Database):
    with pytest.raises(StatementError, match="naive datetime"):
        async with db.transaction() as session:
            session.add(OutboxMessage(topic="tests.time", payload={}, available_at=datetime(2031, 1, 1, 12, 0)))
            await session.flush()
    async with db.transaction(write=False) as session:
        assert await session.scalar(select(func.count()).select_from(OutboxMessage)) == 0


def test_utc_datetime_bind_and_result_conversion():
    column = UTCDateTime()
    aware = datetime(2031, 7, 1, 12, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    assert column.process_bind_param(aware, sqlite.dialect()) == datetime(2031, 7, 1, 10, 0)
    assert column.process_bind_param(aware, postgresql.dialect()) == datetime(2031, 7, 1, 10, 0, tzinfo=UTC)
    assert column.process_result_value(datetime(2031, 7, 1, 10, 0), sqlite.dialect()) == datetime(
        2031, 7, 1, 10, 0, tzinfo=UTC)
    assert column.process_bind_param(None, sqlite.dialect()) is None
    with pytest.raises(ValueError, match="naive"):
        column.process_bind_param(datetime(2031, 7, 1, 12, 0), postgresql.dialect())


# --- the request owns the transaction ---------------------------------------------------------------------

async def test_failed_command_leaves_nothing_written(client, db: Database, make_user, login):
    await make_user("root@example.com", Role.super_admin)
    await make_user("taken@example.com", Role.super_admin)
    headers = await login("root@example.com")
    async with db.transaction(write=False) as session:
        audit_rows = await session.scalar(select(func.count()).select_from(AuditEntry))

    response = await client.post("/api/v1/users", headers=headers, json={
        "email": "TAKEN@example.com", "name": "Duplicate", "role": "super_admin", "password": "long-enough-pw"})
    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "conflict"

    async with db.transaction(write=False) as session:
        assert await session.scalar(select(func.count()).select_from(User).where(
            func.lower(User.email) == "taken@example.com")) == 1
        assert await session.scalar(select(func.count()).select_from(AuditEntry)) == audit_rows


async def test_error_after_flush_rolls_back_the_whole_request(app, client, db: Database, make_user, login):
    """A route that writes (user, audit row, invite in the outbox), flushes, then fails: nothing remains."""
    router = APIRouter()

    @router.post("/tests/create-then-fail")
    async def create_then_fail(principal: CurrentPrincipal, session: DbSession) -> None:
        await create_user(session, app.state.settings, principal, UserCreate(
            email="half@example.com", name="Half Written", role=Role.super_admin, password=None))
        await session.flush()
        raise Conflict("changed my mind")

    app.include_router(router)
    await make_user("root@example.com", Role.super_admin)
    headers = await login("root@example.com")
    async with db.transaction(write=False) as session:
        audit_rows = await session.scalar(select(func.count()).select_from(AuditEntry))

    response = await client.post("/tests/create-then-fail", headers=headers)
    assert response.status_code == 409

    async with db.transaction(write=False) as session:
        assert await session.scalar(select(User.id).where(User.email == "half@example.com")) is None
        assert await session.scalar(select(func.count()).select_from(AuditEntry)) == audit_rows
        assert await session.scalar(select(func.count()).select_from(OutboxMessage)) == 0


async def test_migration_0011_makes_customers_contacts_with_their_handles(empty_database_url: str):
    """Data written before contacts existed survives: the customer is the same contact (id, name, email, phone),
    found by both its email and its phone, and its booking keeps the email it was made with."""
    config = alembic_config(empty_database_url)
    await asyncio.to_thread(command.upgrade, config, "0010")
    at = datetime(2026, 5, 1, 18, 0, tzinfo=UTC)
    engine = create_engine(empty_database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(
                "INSERT INTO stations (id, code, name, timezone, address_line1, city, state, zip_code, latitude, "
                "longitude, is_active, created_at, updated_at) VALUES (1, 'FRE', 'Fremont', 'America/Los_Angeles', "
                "'1 Main St', 'Fremont', 'CA', '94538', 37.5, -121.9, :yes, :at, :at)"), {"yes": True, "at": at})
            await conn.execute(text(
                "INSERT INTO customers (id, email, name, phone, created_at, updated_at) "
                "VALUES (7, 'dana@example.com', 'Dana Reyes', '+15105550142', :at, :at)"), {"at": at})
            await conn.execute(text(
                "INSERT INTO bookings (id, reference, station_id, customer_id, status, event_date, slot_time, "
                "event_start, event_end, busy_start, busy_end, adults, children, toddlers, upgrades, extra_proteins, "
                "addons, quote, fees_cents, venue_line1, venue_city, venue_state, venue_zip, allergies, "
                "manage_nonce, manage_token_hash, reschedule_count, created_at, updated_at) VALUES (3, 'MH-OLD001', "
                "1, 7, 'cancelled', :day, '18:00', :at, :at, :at, :at, 10, 0, 0, '{}', '{}', '{}', '{}', 0, "
                "'1 Main St', 'Fremont', 'CA', '94538', 'none', 'n', 'h', 0, :at, :at)"),
                {"day": at.date(), "at": at})

        await asyncio.to_thread(command.upgrade, config, "head")

        async with engine.connect() as conn:
            contact = (await conn.execute(text("SELECT id, name, email, phone FROM contacts"))).all()
            handles = (await conn.execute(text(
                "SELECT kind, value, contact_id FROM contact_handles ORDER BY kind"))).all()
            booking = (await conn.execute(text("SELECT customer_id, contact_email FROM bookings"))).all()
    finally:
        await engine.dispose()
    assert [tuple(row) for row in contact] == [(7, "Dana Reyes", "dana@example.com", "+15105550142")]
    assert [tuple(row) for row in handles] == [("email", "dana@example.com", 7), ("phone", "+15105550142", 7)]
    assert [tuple(row) for row in booking] == [(7, "dana@example.com")]


async def test_a_lazy_read_session_is_made_on_first_use_and_shares_its_info(db):
    lazy = LazyReadSession(db)
    assert (lazy.info.get(CACHE_KEY), lazy.made) == (db.cache, None)  # the cache lookup needs no session
    assert (await lazy.execute(text("SELECT 1"))).scalar_one() == 1
    assert lazy.made is not None and lazy.made.info is lazy.info and lazy.info[CACHE_KEY] is db.cache
    await lazy.close()
