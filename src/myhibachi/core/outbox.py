"""Transactional outbox: side effects are rows written with the change, then run by a job after commit.

Nothing is sent for a rolled-back change; nothing is lost if the process dies after commit (the sweeper
re-enqueues what is still pending); a message is marked processed in the same transaction as its handler's
database effects, under a row lock, so running it twice does no harm twice.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy import JSON, Integer, String, Text, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from myhibachi.core.db import Base, BigId, Database, UTCDateTime, utcnow
from myhibachi.settings import Settings

if TYPE_CHECKING:
    from myhibachi.core.email import MailTransport
    from myhibachi.core.realtime import Hub

log = structlog.get_logger(__name__)
PENDING_IDS_KEY = "outbox_pending_ids"
MAX_ATTEMPTS = 8


class OutboxMessage(Base):
    __tablename__ = "outbox_messages"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    topic: Mapped[str] = mapped_column(String(100), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    available_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)


@dataclass(frozen=True)
class OutboxContext:
    """What a handler may use besides its own transaction."""

    settings: Settings
    mail: MailTransport
    live: Hub | None = None  # live events for open WebSockets (the web chat channel delivers through it)


Handler = Callable[[AsyncSession, dict[str, Any], OutboxContext], Awaitable[None]]
_handlers: dict[str, Handler] = {}


def outbox_handler(topic: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        _handlers[topic] = handler
        return handler

    return register


async def add_outbox_message(session: AsyncSession, topic: str, payload: dict[str, Any]) -> OutboxMessage:
    if topic not in _handlers:
        raise ValueError(f"no outbox handler for topic {topic!r}")
    message = OutboxMessage(topic=topic, payload=payload)
    session.add(message)
    await session.flush()
    session.info.setdefault(PENDING_IDS_KEY, []).append(message.id)
    return message


def take_pending_ids(session: AsyncSession) -> list[int]:
    """Ids written by this unit of work; call after commit and enqueue them."""
    return session.info.pop(PENDING_IDS_KEY, [])


def forget_pending_ids(session: AsyncSession) -> None:
    session.info.pop(PENDING_IDS_KEY, None)


async def process_outbox_message(db: Database, context: OutboxContext, message_id: int,
                                 enqueue: Callable[[list[int]], Awaitable[None]] | None = None,
                                 then: Callable[[str, dict[str, Any]], Awaitable[None]] | None = None) -> bool:
    """Run one message's handler and mark it processed in one transaction. True if it ran now. Messages the
    handler wrote (an email about what it did) go to `enqueue` once that transaction has committed; `then` gets
    the message's topic and payload after that (the job queue's follow-ups: work of many transactions)."""
    processed = await _process(db, context, message_id, enqueue)
    if processed is None:
        return False
    if then is not None:
        await then(processed.topic, processed.payload)
    return True


async def _process(db: Database, context: OutboxContext, message_id: int,
                   enqueue: Callable[[list[int]], Awaitable[None]] | None) -> OutboxMessage | None:
    """The message, if its handler ran now and it is marked processed."""
    try:
        async with db.transaction() as session:
            stmt = select(OutboxMessage).where(OutboxMessage.id == message_id)
            if db.dialect == "postgresql":
                stmt = stmt.with_for_update(skip_locked=True)
            message = (await session.execute(stmt)).scalar_one_or_none()
            if message is None or message.processed_at is not None:
                return None
            await _handlers[message.topic](session, message.payload, context)
            message.processed_at = utcnow()
            message.attempts += 1
        log.info("outbox_processed", message_id=message_id, topic=message.topic)
        written = take_pending_ids(session)
        if enqueue is not None and written:
            await enqueue(written)
        return message
    except Exception as exc:
        log.error("outbox_failed", message_id=message_id, exc_info=exc)
        await _record_failure(db, message_id, exc)
        return None


async def _record_failure(db: Database, message_id: int, exc: Exception) -> None:
    async with db.transaction() as session:
        message = await session.get(OutboxMessage, message_id)
        if message is None:
            return
        message.attempts += 1
        message.last_error = f"{type(exc).__name__}: {exc}"[:2000]
        # Exponential backoff before the sweeper offers it again.
        message.available_at = utcnow() + timedelta(seconds=min(3600, 2 ** message.attempts * 5))


async def due_message_ids(db: Database, older_than_seconds: float, limit: int = 100) -> list[int]:
    """Unprocessed messages that should have run by now (enqueue lost, or a retry is due)."""
    cutoff = utcnow() - timedelta(seconds=older_than_seconds)
    async with db.transaction(write=False) as session:
        rows = await session.scalars(
            select(OutboxMessage.id)
            .where(OutboxMessage.processed_at.is_(None), OutboxMessage.available_at <= cutoff,
                   OutboxMessage.attempts < MAX_ATTEMPTS)
            .order_by(OutboxMessage.id)
            .limit(limit)
        )
        return list(rows)
