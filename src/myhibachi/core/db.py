"""Database engine, sessions and the declarative base, for SQLite (embedded) and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import BigInteger, DateTime, Integer, MetaData, event
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

from myhibachi.core.cache import CACHE_KEY, Cache, take_cache_tags
from myhibachi.core.changes import Changes
from myhibachi.core.realtime import Hub, take_events

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# BIGINT on PostgreSQL, but INTEGER on SQLite so that it is the rowid and autoincrements.
BigId = BigInteger().with_variant(Integer(), "sqlite")
# Both are 64-bit signed: the API refuses larger ids (422) instead of overflowing the driver (500).
MAX_ID = 2**63 - 1


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on both databases (SQLite stores it naive, we put the zone back)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; store times in UTC")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


_as_of: ContextVar[datetime | None] = ContextVar("myhibachi_as_of", default=None)


def utcnow() -> datetime:
    """The current UTC time, which every command and column default reads; inside `as_of(...)`, that instant."""
    return _as_of.get() or datetime.now(UTC)


@contextmanager
def as_of(moment: datetime) -> Iterator[None]:
    """Run the code inside as if it were `moment`, in this task only: the demo seed replays months of bookings
    through the real commands with it. It exists for writing history, never for serving a request."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime given; as_of needs an aware instant")
    token = _as_of.set(moment.astimezone(UTC))
    try:
        yield
    finally:
        _as_of.reset(token)


def create_engine(database_url: str, **kwargs: Any) -> AsyncEngine:
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)
        _configure_sqlite(engine)
        return engine
    return create_async_engine(url, pool_pre_ping=True, **kwargs)


def _configure_sqlite(engine: AsyncEngine) -> None:
    """WAL, a busy timeout, foreign keys, and transactions whose BEGIN we emit ourselves.

    pysqlite's own implicit BEGIN is deferred: two writers would both read, then one fails to upgrade its
    lock. Write transactions instead start with BEGIN IMMEDIATE and so queue on the write lock up front
    (the SQLAlchemy "serializable isolation / savepoints / transactional DDL" recipe).
    """

    @event.listens_for(engine.sync_engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def on_begin(connection: Any) -> None:
        options = connection.get_execution_options()
        if options.get("isolation_level") == "AUTOCOMMIT":  # Database.autocommit: each statement on its own
            return
        mode = "IMMEDIATE" if options.get("sqlite_write", True) else "DEFERRED"
        connection.exec_driver_sql(f"BEGIN {mode}")


class Database:
    """One engine and its session factories: write sessions take SQLite's write lock when they begin."""

    def __init__(self, database_url: str, *, cache: Cache | None = None, changes: Changes | None = None,
                 live: Hub | None = None, **engine_kwargs: Any) -> None:
        self.url = database_url
        self.cache = cache  # told which cached results each committed unit of work made stale
        self.changes = changes  # told the same tags, for live admin pages
        self.live = live  # given the unit of work's live events (chat, inbox), for open WebSockets
        self.engine = create_engine(database_url, **engine_kwargs)
        self.dialect = self.engine.dialect.name
        read_engine = self.engine.execution_options(sqlite_write=False)
        self._writer = async_sessionmaker(self.engine, expire_on_commit=False, autoflush=False)
        self._reader = async_sessionmaker(read_engine, expire_on_commit=False, autoflush=False)

    def session(self, *, write: bool = True) -> AsyncSession:
        session = (self._writer if write else self._reader)()
        if self.cache is not None:
            session.info[CACHE_KEY] = self.cache
        return session

    @asynccontextmanager
    async def transaction(self, *, write: bool = True) -> AsyncIterator[AsyncSession]:
        """A unit of work for jobs and the CLI: commit at the end, roll back on error."""
        async with self.session(write=write) as session:
            try:
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()
                raise
        await self.committed(session)

    @asynccontextmanager
    async def autocommit(self) -> AsyncIterator[AsyncConnection]:
        """A connection on which each statement commits by itself, with no BEGIN or COMMIT around it: one round trip
        for a write that is one statement (and so atomic on its own). It makes no cache tags."""
        async with self.engine.connect() as connection:
            yield await connection.execution_options(isolation_level="AUTOCOMMIT")

    async def committed(self, session: AsyncSession) -> None:
        """After a commit: drop the cached results its writes made stale, tell open admin pages, and publish its
        live events."""
        tags = take_cache_tags(session)
        if self.cache is not None:
            await self.cache.invalidate(tags)
        if self.changes is not None and tags:
            await self.changes.publish(tags)
        for channel, payload in take_events(session):
            if self.live is not None:
                await self.live.publish(channel, payload)

    async def dispose(self) -> None:
        await self.engine.dispose()
