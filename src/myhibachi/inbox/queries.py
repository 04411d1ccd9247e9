"""Reading the inbox: conversations at the stations where the viewer works it, newest activity first, and one
conversation with its messages."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from myhibachi.auth.permissions import Permission
from myhibachi.auth.principal import Principal, scope_to_stations
from myhibachi.auth.queries import user_names
from myhibachi.contacts.models import Contact
from myhibachi.core.cursors import decode_cursor, encode_cursor
from myhibachi.core.errors import NotFound
from myhibachi.inbox.clocks import ConversationClock, conversation_clocks, late_conversations
from myhibachi.inbox.models import (
    Channel,
    Conversation,
    ConversationLabel,
    ConversationStatus,
    HandledBy,
    Message,
)
from myhibachi.inbox.schemas import ConversationDetail, ConversationRead, MessageRead
from myhibachi.inbox.window import META_CHANNELS, STANDARD_WINDOW


@dataclass(frozen=True)
class ConversationFilters:
    station_id: int | None = None
    status: ConversationStatus | None = None
    unresolved: bool = False  # open or pending
    channel: Channel | None = None
    assignee_id: int | None = None
    unassigned: bool = False
    contact_id: int | None = None
    label: str | None = None
    late: bool = False  # only those whose answer is overdue or whose hold lapses soon (inbox.clocks)
    wants_person: bool = False  # only web chats whose assistant asked for a person nobody has taken yet


async def list_conversations(session: AsyncSession, principal: Principal, filters: ConversationFilters, *,
                             cursor: str | None = None, limit: int = 50) -> tuple[list[ConversationRead], str | None]:
    if filters.station_id is not None:
        principal.authorize(Permission.engagement, filters.station_id)
    elif not principal.has_anywhere(Permission.engagement):
        principal.authorize(Permission.engagement)
    stmt = scope_to_stations(select(Conversation, Contact.name).join(Contact, Contact.id == Conversation.contact_id),
                             principal, Permission.engagement, Conversation.station_id)
    conditions = []
    if filters.station_id is not None:
        conditions.append(Conversation.station_id == filters.station_id)
    if filters.status is not None:
        conditions.append(Conversation.status == filters.status.value)
    elif filters.unresolved:
        conditions.append(Conversation.status != ConversationStatus.resolved.value)
    if filters.channel is not None:
        conditions.append(Conversation.channel == filters.channel.value)
    if filters.unassigned:
        conditions.append(Conversation.assignee_id.is_(None))
    elif filters.assignee_id is not None:
        conditions.append(Conversation.assignee_id == filters.assignee_id)
    if filters.contact_id is not None:
        conditions.append(Conversation.contact_id == filters.contact_id)
    if filters.label:
        conditions.append(Conversation.id.in_(select(ConversationLabel.conversation_id).where(
            ConversationLabel.label == " ".join(filters.label.split()).lower())))
    if filters.late:
        conditions.append(Conversation.id.in_(await _late_ids(session, principal, filters.station_id)))
    if filters.wants_person:
        conditions.append(and_(Conversation.handoff_requested_at.is_not(None),
                               Conversation.handled_by == HandledBy.bot.value))
    if cursor:
        at, conversation_id = decode_cursor(cursor)
        conditions.append(or_(Conversation.last_message_at < at,
                              and_(Conversation.last_message_at == at, Conversation.id < conversation_id)))
    rows = (await session.execute(stmt.where(*conditions).order_by(
        Conversation.last_message_at.desc(), Conversation.id.desc()).limit(limit + 1))).all()
    labels = await _labels(session, [conversation.id for conversation, _ in rows[:limit]])
    clocks = await _clocks(session, {conversation.station_id for conversation, _ in rows[:limit]})
    items = [conversation_read(conversation, name, labels.get(conversation.id, []), clocks.get(conversation.id))
             for conversation, name in rows[:limit]]
    last = rows[limit - 1][0] if len(rows) > limit else None
    next_cursor = encode_cursor(last.last_message_at, last.id) if last else None
    return items, next_cursor


async def who_is_late(session: AsyncSession, principal: Principal, station_id: int) -> list[ConversationRead]:
    """The station's conversations that need someone now, the most urgent first: holds lapsing unpaid within the
    hour, then answers overdue the longest (inbox.clocks)."""
    principal.authorize(Permission.engagement, station_id)
    clocks = await late_conversations(session, station_id)
    rows = {conversation.id: (conversation, name) for conversation, name in await session.execute(
        select(Conversation, Contact.name).join(Contact, Contact.id == Conversation.contact_id)
        .where(Conversation.id.in_([clock.conversation_id for clock in clocks])))}
    labels = await _labels(session, list(rows))
    return [conversation_read(*rows[clock.conversation_id], labels.get(clock.conversation_id, []), clock)
            for clock in clocks]


async def station_labels(session: AsyncSession, principal: Principal, station_id: int) -> list[str]:
    """Every label in use on the station's conversations, alphabetically (to filter by, and to offer again)."""
    principal.authorize(Permission.engagement, station_id)
    return list(await session.scalars(
        select(ConversationLabel.label).distinct()
        .join(Conversation, Conversation.id == ConversationLabel.conversation_id)
        .where(Conversation.station_id == station_id).order_by(ConversationLabel.label)))


async def _clocks(session: AsyncSession, station_ids: set[int]) -> dict[int, ConversationClock]:
    found: dict[int, ConversationClock] = {}
    for station_id in sorted(station_ids):
        found.update(await conversation_clocks(session, station_id))
    return found


async def _late_ids(session: AsyncSession, principal: Principal, station_id: int | None) -> list[int]:
    """The late conversations of the station asked for, else of every station where the viewer works the inbox."""
    stations = {station_id} if station_id is not None else principal.stations_with(Permission.engagement)
    if stations is None:
        stations = set(await session.scalars(select(Conversation.station_id).distinct()))
    clocks = await _clocks(session, stations)
    return [clock.conversation_id for clock in clocks.values() if clock.late or clock.hold_lapses_soon]


def conversation_read(conversation: Conversation, contact_name: str, labels: list[str],
                      clock: ConversationClock | None = None) -> ConversationRead:
    window = (conversation.last_inbound_at + STANDARD_WINDOW
              if Channel(conversation.channel) in META_CHANNELS and conversation.last_inbound_at else None)
    return ConversationRead(
        id=conversation.id, station_id=conversation.station_id, contact_id=conversation.contact_id,
        contact_name=contact_name, channel=Channel(conversation.channel),
        status=ConversationStatus(conversation.status), assignee_id=conversation.assignee_id,
        handled_by=conversation.handled_by, handoff_requested_at=conversation.handoff_requested_at,
        handoff_reason=conversation.handoff_reason, unread=conversation.unread,
        last_message_at=conversation.last_message_at, window_closes_at=window, subject=conversation.subject,
        lead_id=conversation.lead_id, booking_id=conversation.booking_id, labels=labels,
        late=clock is not None and clock.late, answer_due_at=clock.due_at if clock else None,
        hold_lapses_soon=clock is not None and clock.hold_lapses_soon,
        hold_expires_at=clock.hold_expires_at if clock else None)


async def conversation_detail(session: AsyncSession, principal: Principal, conversation_id: int) -> ConversationDetail:
    found = (await session.execute(select(Conversation, Contact.name).join(
        Contact, Contact.id == Conversation.contact_id).where(Conversation.id == conversation_id))).first()
    if found is None:
        raise NotFound("No such conversation.")
    conversation, name = found
    if not principal.can(Permission.engagement, conversation.station_id):
        raise principal.hide(Permission.engagement, conversation.station_id, "No such conversation.")
    messages = list(await session.scalars(select(Message).where(Message.conversation_id == conversation.id)
                                          .order_by(Message.at, Message.id)))
    authors = await user_names(session, {m.author_user_id for m in messages if m.author_user_id is not None})
    labels = await _labels(session, [conversation.id])
    clock = (await conversation_clocks(session, conversation.station_id, only=conversation.id)).get(conversation.id)
    return ConversationDetail(
        **conversation_read(conversation, name, labels.get(conversation.id, []), clock).model_dump(),
        messages=[MessageRead(id=m.id, direction=m.direction, sender=m.sender,
                              author=authors[m.author_user_id][0] if m.author_user_id in authors else None,
                              body=m.body, body_html=m.body_html, private=m.private, at=m.at, delivery=m.delivery,
                              delivery_error=m.delivery_error, tag=m.tag) for m in messages])


async def _labels(session: AsyncSession, conversation_ids: list[int]) -> dict[int, list[str]]:
    if not conversation_ids:
        return {}
    found: dict[int, list[str]] = {}
    for conversation_id, label in await session.execute(
            select(ConversationLabel.conversation_id, ConversationLabel.label)
            .where(ConversationLabel.conversation_id.in_(conversation_ids)).order_by(ConversationLabel.label)):
        found.setdefault(conversation_id, []).append(label)
    return found
