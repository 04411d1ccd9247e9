"""Response clocks (SPEC §7): how long a person has waited for an answer, against the station's first-response and
next-response targets counted in its inbox hours, and which held bookings lapse soon unpaid. The admin's "who is
late" reads it, and the conversation list orders and flags its rows with it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict
from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from myhibachi.bookings.models import Booking, BookingStatus
from myhibachi.core.db import utcnow
from myhibachi.inbox.models import Conversation, ConversationStatus, Direction, Message
from myhibachi.pricing.queries import get_rules
from myhibachi.pricing.rules import BusinessRules
from myhibachi.stations.queries import get_station

# A hold this close to lapsing unpaid raises its conversation to the top: time for one more nudge.
HOLD_LAPSES_SOON = timedelta(minutes=60)
NEVER = datetime.max.replace(tzinfo=UTC)
MAX_DAYS_COUNTED = 400  # a target far beyond any inbox hours still ends (the rules cap targets at 7 days)


class Awaiting(StrEnum):
    first = "first"  # the person's first message has no answer yet
    next = "next"  # a later message of theirs has none


@dataclass(frozen=True)
class ConversationClock:
    conversation_id: int
    assignee_id: int | None
    awaiting: Awaiting | None  # None: answered, the person has the last word… of ours
    waiting_since: datetime | None
    due_at: datetime | None
    late: bool
    hold_expires_at: datetime | None  # the linked booking's unpaid hold
    hold_lapses_soon: bool

    @property
    def urgency(self) -> tuple[int, datetime]:
        """Sort key: lapsing holds first (soonest first), then late answers (most overdue first), then the rest by
        when their answer is due."""
        if self.hold_lapses_soon and self.hold_expires_at is not None:
            return 0, self.hold_expires_at
        if self.late and self.due_at is not None:
            return 1, self.due_at
        return 2, self.due_at or NEVER


class ConversationClockRead(BaseModel):
    conversation_id: int
    assignee_id: int | None
    awaiting: Awaiting | None
    waiting_since: datetime | None
    due_at: datetime | None
    late: bool
    hold_expires_at: datetime | None
    hold_lapses_soon: bool

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "conversation_id": 5, "assignee_id": 3, "awaiting": "first", "waiting_since": "2026-12-01T08:00:00Z",
        "due_at": "2026-12-01T18:00:00Z", "late": True, "hold_expires_at": None, "hold_lapses_soon": False}]})

    @classmethod
    def of(cls, clock: ConversationClock) -> ConversationClockRead:
        return cls(**vars(clock))


# --- counting in inbox hours ---------------------------------------------------------------------------------------


def _at(day: date, moment: time, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, moment, zone)


def add_inbox_minutes(start: datetime, minutes: int, rules: BusinessRules, zone: ZoneInfo) -> datetime:
    """The moment `minutes` of the station's inbox hours after `start` (outside the hours the clock stands still);
    the same start and end time means the hours are the whole day: wall-clock minutes."""
    opens, closes = rules.inbox_hours_start, rules.inbox_hours_end
    if opens == closes:
        return start + timedelta(minutes=minutes)
    left = timedelta(minutes=minutes)
    cursor = start.astimezone(zone)
    for _ in range(MAX_DAYS_COUNTED):
        day = cursor.date()
        window_open, window_close = _at(day, opens, zone), _at(day, closes, zone)
        if cursor >= window_close:
            cursor = _at(day + timedelta(days=1), opens, zone)
            continue
        cursor = max(cursor, window_open)
        if cursor + left <= window_close:
            return (cursor + left).astimezone(start.tzinfo)
        left -= window_close - cursor
        cursor = _at(day + timedelta(days=1), opens, zone)
    raise ValueError("the inbox hours never add up to the target")  # unreachable with validated rules


# --- the station's clocks ------------------------------------------------------------------------------------------


async def conversation_clocks(session: AsyncSession, station_id: int, now: datetime | None = None, *,
                              only: int | None = None) -> dict[int, ConversationClock]:
    """Every unresolved conversation of the station (or `only` that one) with its clock, by conversation id. The
    caller has authorized the station (`engagement`)."""
    now = now or utcnow()
    station = await get_station(session, station_id)
    rules, zone = await get_rules(session, station_id), ZoneInfo(station.timezone)
    clocks = {}
    statement = _waiting_statement(station_id)
    if only is not None:
        statement = statement.where(Conversation.id == only)
    for row in await session.execute(statement):
        awaiting = None if row.waiting_since is None else Awaiting.next if row.answered_at else Awaiting.first
        target = rules.first_response_minutes if awaiting == Awaiting.first else rules.next_response_minutes
        due = add_inbox_minutes(row.waiting_since, target, rules, zone) if row.waiting_since else None
        hold = row.hold_expires_at if row.booking_status == BookingStatus.pending_deposit.value else None
        clocks[row.id] = ConversationClock(
            conversation_id=row.id, assignee_id=row.assignee_id, awaiting=awaiting, waiting_since=row.waiting_since,
            due_at=due, late=due is not None and now > due, hold_expires_at=hold,
            hold_lapses_soon=hold is not None and now < hold <= now + HOLD_LAPSES_SOON)
    return clocks


def _waiting_statement(station_id: int):  # noqa: ANN202 - a select of several columns
    """Per unresolved conversation: the last answer (staff's or the bot's, not a private note) and the person's
    first message after it — unanswered since then."""
    answer, waiting = aliased(Message), aliased(Message)
    answered_at = (select(func.max(answer.at)).where(
        answer.conversation_id == Conversation.id, answer.direction == Direction.outbound.value,
        answer.private.is_(False)).correlate(Conversation).scalar_subquery())
    waiting_since = (select(func.min(waiting.at)).where(
        waiting.conversation_id == Conversation.id, waiting.direction == Direction.inbound.value,
        or_(answered_at.is_(None), waiting.at > answered_at)).correlate(Conversation).scalar_subquery())
    return (select(Conversation.id, Conversation.assignee_id, answered_at.label("answered_at"),
                   waiting_since.label("waiting_since"), Booking.hold_expires_at,
                   Booking.status.label("booking_status"))
            .outerjoin(Booking, Booking.id == Conversation.booking_id)
            .where(Conversation.station_id == station_id,
                   Conversation.status != ConversationStatus.resolved.value))


async def late_conversations(session: AsyncSession, station_id: int,
                             now: datetime | None = None) -> list[ConversationClock]:
    """Who is late: conversations whose answer is overdue or whose hold lapses soon, the most urgent first."""
    clocks = await conversation_clocks(session, station_id, now)
    return sorted((clock for clock in clocks.values() if clock.late or clock.hold_lapses_soon),
                  key=lambda clock: clock.urgency)
