"""What happens to a conversation: a message received on any channel (stored once, joined to its person's
thread, an unknown sender made a contact and a lead), a reply or a private note by staff, a message by the system,
delivery through the channel's adapter (via the outbox, with retries), the provider's delivery reports, staff's
status, assignment and read marks, and who answers a web chat: the assistant until a person takes it over."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import delete, func, literal, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from myhibachi.audit.commands import record_audit
from myhibachi.auth.permissions import P
from myhibachi.auth.principal import Principal
from myhibachi.bookings.models import Booking
from myhibachi.consent.queries import is_suppressed
from myhibachi.contacts.commands import Identity, find_contact, on_contact_merge
from myhibachi.contacts.models import Contact, ContactHandle, HandleKind
from myhibachi.core.cache import touch_tags
from myhibachi.core.db import utcnow
from myhibachi.core.errors import Conflict, NotFound, ValidationFailed
from myhibachi.core.outbox import OutboxContext, add_outbox_message, outbox_handler
from myhibachi.core.text import has_control_characters
from myhibachi.inbox.channels import ChannelRefused, Outgoing, adapter_for
from myhibachi.inbox.live import announce_conversation, announce_handoff, announce_message
from myhibachi.inbox.models import (
    DELIVERY_ORDER,
    Channel,
    Conversation,
    ConversationLabel,
    ConversationStatus,
    DeliveryState,
    Direction,
    HandledBy,
    HandoffReason,
    Message,
    Sender,
    inbox_tag,
)
from myhibachi.inbox.window import reply_tag
from myhibachi.leads.commands import Inquiry, capture_lead
from myhibachi.leads.models import Lead, LeadSource
from myhibachi.leads.queries import assignable_staff
from myhibachi.stations.models import Station

DELIVER_TOPIC = "inbox.deliver"
MAX_BODY = 10_000
MAX_LABELS = 20
log = structlog.get_logger(__name__)


class WindowClosed(Conflict):
    code = "window_closed"


class AlreadyTaken(Conflict):
    code = "already_taken"


class NotTaken(Conflict):
    code = "not_taken"


ReceivedHook = Callable[[AsyncSession, "Received"], Awaitable[None]]
_received_hooks: list[ReceivedHook] = []


def on_received(hook: ReceivedHook) -> ReceivedHook:
    """Run `hook` in the unit of work that stored a new inbound message (the assistant answers from here)."""
    _received_hooks.append(hook)
    return hook


def _insert(session: AsyncSession) -> Any:
    return pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert


# --- receiving ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Inbound:
    """A message a channel received, as its webhook read it (signature already checked)."""

    channel: Channel
    provider_message_id: str
    body: str
    name: str = ""
    email: str | None = None
    phone: str | None = None  # E.164
    handle: tuple[HandleKind, str] | None = None  # messenger / instagram / web_chat
    station_id: int | None = None  # None: the station that knows this person (`_station_for`), else the first
    body_html: str | None = None  # already made safe by the channel
    subject: str | None = None
    in_reply_to: str | None = None
    references: str | None = None
    conversation_id: int | None = None  # the channel's threading found it (email)
    at: datetime | None = None

    @property
    def identity(self) -> Identity:
        return Identity(email=self.email, phone=self.phone, handle=self.handle)


@dataclass(frozen=True)
class Received:
    message: Message
    conversation: Conversation
    created_contact: bool


async def receive(session: AsyncSession, inbound: Inbound) -> Received | None:
    """Stores the message once per (channel, provider message id) — None for a redelivery, also when two processes
    receive it at once (INSERT … ON CONFLICT DO NOTHING) — in the sender's thread on that channel at the station,
    reopened if it was resolved. A known email, phone or handle joins its contact; an unknown sender becomes a contact
    and a lead."""
    if await _stored(session, Channel(inbound.channel), inbound.provider_message_id):
        return None
    contact = await find_contact(session, inbound.identity)
    created_contact = contact is None
    conversation = await _conversation_for(session, inbound, contact)
    at = inbound.at or utcnow()
    message_id = (await session.execute(_insert(session)(Message).values(
        conversation_id=conversation.id, channel=conversation.channel, direction=Direction.inbound.value,
        sender=Sender.contact.value, body=inbound.body[:MAX_BODY], body_html=inbound.body_html, private=False,
        provider_message_id=inbound.provider_message_id, in_reply_to=inbound.in_reply_to,
        references=inbound.references, at=at,
    ).on_conflict_do_nothing(index_elements=["channel", "provider_message_id"]).returning(Message.id))
    ).scalar_one_or_none()
    if message_id is None:  # another process stored it between our check and our insert
        return None
    if conversation.status == ConversationStatus.resolved:
        conversation.status = ConversationStatus.open.value
    conversation.unread += 1
    conversation.last_message_at = max(conversation.last_message_at, at)
    conversation.last_inbound_at = max(conversation.last_inbound_at or at, at)
    await session.flush()  # a later locked read of the thread in this unit of work must see it (populate_existing)
    message = await session.get(Message, message_id)
    assert message is not None
    announce_message(session, conversation, message)
    announce_conversation(session, conversation)
    received = Received(message, conversation, created_contact)
    for hook in _received_hooks:
        await hook(session, received)
    return received


async def _stored(session: AsyncSession, channel: Channel, provider_message_id: str) -> bool:
    return await session.scalar(select(func.count()).select_from(Message).where(
        Message.channel == channel.value, Message.provider_message_id == provider_message_id)) > 0


async def _conversation_for(session: AsyncSession, inbound: Inbound, contact: Contact | None) -> Conversation:
    """The thread the message joins: the one the channel's threading found, else the person's thread on the channel
    at the station (made now if there is none: a new person also becomes a lead there)."""
    if inbound.conversation_id is not None:
        found = await _locked(session, inbound.conversation_id)
        if found is not None:
            return found
    channel = Channel(inbound.channel)
    station_id = inbound.station_id or await _station_for(session, contact, channel)
    if contact is None:
        lead = await capture_lead(session, Inquiry(
            station_id=station_id, source=LeadSource.inbox, name=inbound.name or _name_from(inbound),
            email=inbound.email, phone=inbound.phone, handle=inbound.handle, message=inbound.body[:500]))
        contact_id, lead_id = lead.contact_id, lead.id
    else:
        contact_id, lead_id = contact.id, None
    now = utcnow()
    await session.execute(_insert(session)(Conversation).values(
        station_id=station_id, contact_id=contact_id, channel=channel.value, status=ConversationStatus.open.value,
        handled_by=(HandledBy.bot if channel == Channel.web_chat else HandledBy.human).value, unread=0,
        last_message_at=inbound.at or now, subject=inbound.subject,
        lead_id=lead_id, created_at=now, updated_at=now,
    ).on_conflict_do_nothing(index_elements=["station_id", "contact_id", "channel"]))
    conversation = await session.scalar(select(Conversation).where(
        Conversation.station_id == station_id, Conversation.contact_id == contact_id,
        Conversation.channel == channel.value).with_for_update().execution_options(populate_existing=True))
    assert conversation is not None
    return conversation


def _name_from(inbound: Inbound) -> str:
    return inbound.email or inbound.phone or f"{Channel(inbound.channel).value.replace('_', ' ').title()} contact"


async def _station_for(session: AsyncSession, contact: Contact | None, channel: Channel) -> int:
    """Where a message to the business's one number or page belongs: with a person the business knows, the station
    that knows them best (their latest thread on this channel, else their latest booking, lead or thread on any
    channel); with a stranger, the first station."""
    if contact is not None:
        for known_at in (
                select(Conversation.station_id).where(Conversation.contact_id == contact.id,
                                                      Conversation.channel == channel.value)
                .order_by(Conversation.last_message_at.desc()),
                select(Booking.station_id).where(Booking.customer_id == contact.id).order_by(Booking.id.desc()),
                select(Lead.station_id).where(Lead.contact_id == contact.id).order_by(Lead.id.desc()),
                select(Conversation.station_id).where(Conversation.contact_id == contact.id)
                .order_by(Conversation.last_message_at.desc())):
            station_id = await session.scalar(known_at.limit(1))
            if station_id is not None:
                return station_id
    station_id = await session.scalar(select(func.min(Station.id)))
    if station_id is None:
        raise NotFound("There is no station to receive messages yet.")
    return station_id


async def _locked(session: AsyncSession, conversation_id: int) -> Conversation | None:
    return await session.scalar(select(Conversation).where(Conversation.id == conversation_id).with_for_update()
                                .execution_options(populate_existing=True))


async def locked_conversation(session: AsyncSession, conversation_id: int) -> Conversation:
    """The conversation, locked, for the system's own work on it (no principal: the assistant, a job)."""
    conversation = await _locked(session, conversation_id)
    if conversation is None:
        raise NotFound("No such conversation.")
    return conversation


# --- sending -----------------------------------------------------------------------------------------------------


async def find_conversation(session: AsyncSession, principal: Principal, conversation_id: int) -> Conversation:
    """The conversation, locked, if the principal works the inbox at its station (404 otherwise, as if absent)."""
    conversation = await _locked(session, conversation_id)
    if conversation is None:
        raise NotFound("No such conversation.")
    if not principal.can(P.engagement, conversation.station_id):  # another station's does not exist for you
        raise principal.hide(P.engagement, conversation.station_id, "No such conversation.")
    return conversation


async def reply(session: AsyncSession, principal: Principal, conversation_id: int, body: str, *,
                private: bool = False, human_agent: bool = False) -> Message:
    """Staff's reply through the conversation's channel (delivered by the outbox), or a private note that goes
    nowhere. Meta's window may refuse a reply (409 `window_closed`, saying why and what still works)."""
    conversation = await find_conversation(session, principal, conversation_id)
    text = _checked_body(body)
    if private:
        message = _message(conversation, Sender.staff, text, author_user_id=principal.user_id, private=True)
        session.add(message)
        await session.flush()
        announce_message(session, conversation, message)
        return message
    tag, problem = reply_tag(conversation, utcnow(), human=True, human_agent=human_agent)
    if problem:
        raise WindowClosed(problem)
    await _claim(session, principal, conversation)  # a person answering silences the assistant
    if conversation.assignee_id is None:
        conversation.assignee_id = principal.user_id  # who answers owns it, unless someone does already
    conversation.unread = 0
    message = await _queue(session, conversation, Sender.staff, text, author_user_id=principal.user_id, tag=tag)
    await record_audit(session, actor_user_id=principal.user_id, action="inbox.reply", target_type="conversation",
                       target_id=conversation.id, station_id=conversation.station_id,
                       after={"message_id": message.id, "tag": tag})
    return message


async def send_system_message(session: AsyncSession, conversation_id: int, body: str, *,
                              sender: Sender = Sender.bot) -> Message:
    """A message the system writes into a thread (the assistant, a quote, a keyword's answer), delivered like a
    reply; inside Meta's 24-hour window only."""
    conversation = await locked_conversation(session, conversation_id)
    _, problem = reply_tag(conversation, utcnow(), human=sender == Sender.staff, human_agent=False)
    if problem:
        raise WindowClosed(problem)
    return await _queue(session, conversation, sender, _checked_body(body))


def _checked_body(body: str) -> str:
    text = body.strip()
    if not text:
        raise ValidationFailed.on("body", "Write something to send.")
    if len(text) > MAX_BODY:
        raise ValidationFailed.on("body", f"At most {MAX_BODY} characters.")
    return text


def _message(conversation: Conversation, sender: Sender, body: str, **values: Any) -> Message:
    return Message(conversation_id=conversation.id, channel=conversation.channel, direction=Direction.outbound.value,
                   sender=sender.value, body=body, at=utcnow(), **values)


async def _queue(session: AsyncSession, conversation: Conversation, sender: Sender, body: str,
                 **values: Any) -> Message:
    message = _message(conversation, sender, body, delivery=DeliveryState.queued.value, **values)
    session.add(message)
    conversation.last_message_at = message.at
    if conversation.status == ConversationStatus.open:
        conversation.status = ConversationStatus.pending.value  # answered: waiting for the person
    await session.flush()
    await add_outbox_message(session, DELIVER_TOPIC, {"message_id": message.id})
    announce_message(session, conversation, message)
    announce_conversation(session, conversation)
    return message


@outbox_handler(DELIVER_TOPIC)
async def _deliver(session: AsyncSession, payload: dict[str, Any], context: OutboxContext) -> None:
    """Hands a queued message to its channel: `sent` with the provider's id, `failed` if refused for good; any other
    error leaves it queued and the outbox tries again."""
    message = await session.get(Message, int(payload["message_id"]))
    if message is None or message.delivery != DeliveryState.queued:
        return
    conversation = await session.get(Conversation, message.conversation_id)
    assert conversation is not None
    await _hand_to_channel(session, conversation, message, context)
    announce_message(session, conversation, message)


async def _hand_to_channel(session: AsyncSession, conversation: Conversation, message: Message,
                           context: OutboxContext) -> None:
    outgoing = await _outgoing(session, conversation, message)
    if outgoing is None:
        message.delivery, message.delivery_error = DeliveryState.failed.value, "No address for this channel."
        return
    if outgoing.channel == Channel.email and await is_suppressed(session, outgoing.to):  # transactional or not
        message.delivery, message.delivery_error = DeliveryState.failed.value, "The address is suppressed (a hard " \
            "bounce or a spam complaint): nothing is sent to it."
        return
    try:
        sent = await adapter_for(context, Channel(conversation.channel)).send(outgoing)
    except ChannelRefused as refused:
        message.delivery, message.delivery_error = DeliveryState.failed.value, str(refused)[:2000]
        log.warning("inbox_delivery_refused", message_id=message.id, error=str(refused))
        return
    message.delivery, message.provider_message_id = DeliveryState.sent.value, sent.provider_message_id


async def _outgoing(session: AsyncSession, conversation: Conversation, message: Message) -> Outgoing | None:
    channel = Channel(conversation.channel)
    to = await _address(session, conversation.contact_id, channel)
    if to is None:
        return None
    last_inbound = await session.scalar(
        select(Message).where(Message.conversation_id == conversation.id, Message.direction == Direction.inbound.value)
        .order_by(Message.at.desc(), Message.id.desc()).limit(1)) if channel == Channel.email else None
    return Outgoing(message_id=message.id, conversation_id=conversation.id, channel=channel, to=to,
                    body=message.body, subject=conversation.subject,
                    in_reply_to=last_inbound.provider_message_id if last_inbound else None,
                    references=_references(last_inbound) if last_inbound else None, tag=message.tag,
                    sender=message.sender, at=message.at.isoformat())


def _references(message: Message) -> str | None:
    ids = [*(message.references or "").split(), *([message.provider_message_id] if message.provider_message_id else [])]
    return " ".join(ids) or None


async def _address(session: AsyncSession, contact_id: int, channel: Channel) -> str | None:
    contact = await session.get(Contact, contact_id)
    if contact is None:
        return None
    if channel == Channel.email:
        return contact.email
    if channel == Channel.sms:
        return contact.phone
    return await session.scalar(select(ContactHandle.value).where(
        ContactHandle.contact_id == contact_id, ContactHandle.kind == channel.value).limit(1))


async def record_delivery(session: AsyncSession, channel: Channel, provider_message_id: str, state: DeliveryState,
                          error: str | None = None) -> bool:
    """A provider's delivery report: the outbound message moves forward only (queued < sent < delivered < read;
    `failed` is final). False when there is no such message."""
    message = await session.scalar(select(Message).where(
        Message.channel == channel.value, Message.provider_message_id == provider_message_id,
        Message.direction == Direction.outbound.value).with_for_update())
    if message is None:
        return False
    current = DeliveryState(message.delivery) if message.delivery else DeliveryState.queued
    if current == DeliveryState.failed:
        return True
    if state == DeliveryState.failed:
        message.delivery, message.delivery_error = state.value, (error or "The provider could not deliver it.")[:2000]
    elif DELIVERY_ORDER[state] > DELIVERY_ORDER[current]:
        message.delivery = state.value
    else:
        return True
    conversation = await session.get(Conversation, message.conversation_id)
    assert conversation is not None
    announce_message(session, conversation, message)
    return True


# --- staff's handling --------------------------------------------------------------------------------------------


async def update_conversation(session: AsyncSession, principal: Principal, conversation_id: int, *,
                              status: ConversationStatus | None = None, assignee_id: int | None = None,
                              unassign: bool = False, labels: list[str] | None = None) -> Conversation:
    """Status, assignment and (`labels`: the whole set) labels; the assignee must work the inbox at the
    conversation's station."""
    conversation = await find_conversation(session, principal, conversation_id)
    if labels is not None:
        wanted = {label_text(label) for label in labels}
        await _relabel(session, principal, conversation, lambda _current: wanted)
    before = {"status": conversation.status, "assignee_id": conversation.assignee_id}
    if status is not None:
        conversation.status = status.value
    if unassign:
        conversation.assignee_id = None
    elif assignee_id is not None:
        staff_ids = {user_id for user_id, _ in await assignable_staff(session, conversation.station_id)}
        if assignee_id not in staff_ids:
            raise ValidationFailed.on("assignee_id", "That person does not work the inbox at this station.")
        conversation.assignee_id = assignee_id
    after = {"status": conversation.status, "assignee_id": conversation.assignee_id}
    announce_conversation(session, conversation)
    if after != before:
        await record_audit(session, actor_user_id=principal.user_id, action="inbox.update",
                           target_type="conversation", target_id=conversation.id,
                           station_id=conversation.station_id, before=before, after=after)
    return conversation


async def change_labels(session: AsyncSession, principal: Principal, conversation_id: int, *,
                        add: Iterable[str] = (), remove: Iterable[str] = ()) -> list[str]:
    """Labels on and off (one change each, so two people labelling at once both count); a label is kept in lower
    case, and a conversation holds at most MAX_LABELS. Returns the labels now on it."""
    conversation = await find_conversation(session, principal, conversation_id)
    adding, removing = {label_text(label) for label in add}, {label_text(label) for label in remove}
    return await _relabel(session, principal, conversation, lambda current: (current - removing) | adding)


async def _relabel(session: AsyncSession, principal: Principal, conversation: Conversation,
                   wanted_of: Callable[[set[str]], set[str]]) -> list[str]:
    """The conversation's labels made `wanted_of(its current labels)`, audited; the labels now on it."""
    current = set(await session.scalars(select(ConversationLabel.label).where(
        ConversationLabel.conversation_id == conversation.id)))
    wanted = wanted_of(current)
    if len(wanted) > MAX_LABELS:
        raise ValidationFailed.on("labels", f"A conversation takes at most {MAX_LABELS} labels.")
    if wanted == current:
        return sorted(current)
    if gone := current - wanted:
        await session.execute(delete(ConversationLabel).where(
            ConversationLabel.conversation_id == conversation.id, ConversationLabel.label.in_(gone)))
    session.add_all(ConversationLabel(conversation_id=conversation.id, label=label) for label in wanted - current)
    await record_audit(session, actor_user_id=principal.user_id, action="inbox.labels", target_type="conversation",
                       target_id=conversation.id, station_id=conversation.station_id,
                       before={"labels": sorted(current)}, after={"labels": sorted(wanted)})
    touch_tags(session, inbox_tag(conversation.station_id))
    announce_conversation(session, conversation)
    return sorted(wanted)


def label_text(label: str) -> str:
    """A label as stored: trimmed, lower case, one line of 1–40 characters."""
    text = " ".join(label.split()).lower()
    if not 0 < len(text) <= 40 or has_control_characters(text):
        raise ValidationFailed.on("labels", "A label is 1 to 40 characters on one line.")
    return text


async def mark_read(session: AsyncSession, principal: Principal, conversation_id: int) -> Conversation:
    conversation = await find_conversation(session, principal, conversation_id)
    conversation.unread = 0
    announce_conversation(session, conversation)
    return conversation


async def mark_outbound_read(session: AsyncSession, conversation_id: int, until: datetime) -> int:
    """A read receipt up to a moment (Meta's watermark): the outbound messages sent by then are `read`."""
    done = await session.execute(update(Message).where(
        Message.conversation_id == conversation_id, Message.direction == Direction.outbound.value,
        Message.at <= until, Message.delivery.in_([DeliveryState.sent.value, DeliveryState.delivered.value]),
    ).values(delivery=DeliveryState.read.value))
    return done.rowcount or 0  # type: ignore[attr-defined]


# --- who answers a web chat: the assistant, or a person who took it over ----------------------------------------
# Taking over is one conditional UPDATE (`… WHERE handled_by = 'bot'`): of two staff who take at once, on either
# database, exactly one wins; from then on the assistant says nothing (it checks under the conversation's lock).

HANDED_BACK = ("You are chatting with our automated assistant again. Ask for a person at any time and someone from "
               "our team will join.")


async def request_handoff(session: AsyncSession, conversation_id: int, reason: HandoffReason) -> bool:
    """The assistant asks the station's staff for a person (the first request's reason stands). False when a person
    handles the conversation already or one was asked for already."""
    conversation = await locked_conversation(session, conversation_id)
    if conversation.handled_by != HandledBy.bot or conversation.handoff_requested_at is not None:
        return False
    conversation.handoff_requested_at, conversation.handoff_reason = utcnow(), reason.value
    await record_audit(session, actor_user_id=None, action="inbox.handoff_requested", target_type="conversation",
                       target_id=conversation.id, station_id=conversation.station_id, after={"reason": reason.value})
    _handling_changed(session, conversation)
    return True


async def take_over(session: AsyncSession, principal: Principal, conversation_id: int) -> Conversation:
    """The principal takes the conversation from the assistant and owns it (assigned to them); the visitor hears
    `{"type": "handoff"}`. Taking one you handle already changes nothing; one another person took: 409
    `already_taken`."""
    conversation = await find_conversation(session, principal, conversation_id)
    if not await _claim(session, principal, conversation) and conversation.assignee_id != principal.user_id:
        raise AlreadyTaken("A person handles this conversation already"
                           + (": it is assigned to someone else." if conversation.assignee_id else "."))
    return conversation


async def _claim(session: AsyncSession, principal: Principal, conversation: Conversation) -> bool:
    """Bot → this person, if the assistant still has it; True if it was this call that took it."""
    if conversation.handled_by != HandledBy.bot:
        return False
    won = await session.execute(update(Conversation).where(
        Conversation.id == conversation.id, Conversation.handled_by == HandledBy.bot.value,
    ).values(handled_by=HandledBy.human.value, assignee_id=principal.user_id, handoff_requested_at=None,
             handoff_reason=None).execution_options(synchronize_session=False))
    await session.refresh(conversation)
    if not won.rowcount:  # type: ignore[attr-defined]
        return False
    await record_audit(session, actor_user_id=principal.user_id, action="inbox.take_over", target_type="conversation",
                       target_id=conversation.id, station_id=conversation.station_id)
    await announce_handoff(session, conversation)
    _handling_changed(session, conversation)
    return True


async def hand_back(session: AsyncSession, principal: Principal, conversation_id: int) -> Conversation:
    """The assistant answers again (the visitor is told so); the conversation keeps its assignee for follow-ups.
    Only a web chat has the assistant; 409 `not_taken` when it has the conversation already."""
    conversation = await find_conversation(session, principal, conversation_id)
    if conversation.channel != Channel.web_chat:
        raise ValidationFailed.on("conversation_id", "Only a website chat has the assistant to hand it back to.")
    if conversation.handled_by == HandledBy.bot:
        raise NotTaken("The assistant has this conversation already.")
    conversation.handled_by = HandledBy.bot.value
    await record_audit(session, actor_user_id=principal.user_id, action="inbox.hand_back", target_type="conversation",
                       target_id=conversation.id, station_id=conversation.station_id)
    await send_system_message(session, conversation.id, HANDED_BACK)
    _handling_changed(session, conversation)
    return conversation


def _handling_changed(session: AsyncSession, conversation: Conversation) -> None:
    touch_tags(session, inbox_tag(conversation.station_id))
    announce_conversation(session, conversation)


@on_contact_merge
async def _move_conversations(session: AsyncSession, keep_id: int, merge_id: int) -> None:
    """A contact merge: the merged contact's threads become the kept one's. Where both have a thread on one channel
    at one station, the merged thread's messages and labels join the kept thread (one thread per person per
    channel), which takes its unread count, its latest times, its links and, if it was open, its openness."""
    kept = {(c.station_id, c.channel): c for c in await session.scalars(
        select(Conversation).where(Conversation.contact_id == keep_id).with_for_update())}
    for gone in list(await session.scalars(
            select(Conversation).where(Conversation.contact_id == merge_id).with_for_update())):
        twin = kept.get((gone.station_id, gone.channel))
        if twin is None:
            gone.contact_id = keep_id
            continue
        await session.execute(update(Message).where(Message.conversation_id == gone.id)
                              .values(conversation_id=twin.id))
        labels = select(literal(twin.id), ConversationLabel.label).where(ConversationLabel.conversation_id == gone.id)
        await session.execute(_insert(session)(ConversationLabel).from_select(["conversation_id", "label"], labels)
                              .on_conflict_do_nothing())
        twin.unread += gone.unread
        twin.last_message_at = max(twin.last_message_at, gone.last_message_at)
        twin.last_inbound_at = max(filter(None, (twin.last_inbound_at, gone.last_inbound_at)), default=None)
        twin.lead_id, twin.booking_id = twin.lead_id or gone.lead_id, twin.booking_id or gone.booking_id
        if gone.status != ConversationStatus.resolved and twin.status == ConversationStatus.resolved:
            twin.status = gone.status
        await session.flush()
        await session.delete(gone)
    await session.flush()


# --- messages the business sent elsewhere, and read receipts (Meta) ------------------------------------------------


async def record_sent_elsewhere(session: AsyncSession, channel: Channel, provider_message_id: str,
                                handle: tuple[HandleKind, str], body: str, at: datetime) -> Message | None:
    """A message the business sent to a person outside this app (Meta Business Suite, the Instagram app), as the
    channel echoed it: stored once, as staff's and sent, in that person's latest thread on the channel. None when it
    is stored already, when it is one of ours still on its way (the same text, queued), or when the person has no
    thread here (an echo makes no contact)."""
    if await _stored(session, channel, provider_message_id):
        return None
    contact = await find_contact(session, Identity(handle=handle))
    conversation = None if contact is None else await session.scalar(
        select(Conversation).where(Conversation.contact_id == contact.id, Conversation.channel == channel.value)
        .order_by(Conversation.last_message_at.desc()).limit(1).with_for_update())
    if conversation is None or await session.scalar(select(func.count()).select_from(Message).where(
            Message.conversation_id == conversation.id, Message.delivery == DeliveryState.queued.value,
            Message.body == body)):
        return None
    message_id = (await session.execute(_insert(session)(Message).values(
        conversation_id=conversation.id, channel=channel.value, direction=Direction.outbound.value,
        sender=Sender.staff.value, body=body[:MAX_BODY], private=False, provider_message_id=provider_message_id,
        delivery=DeliveryState.sent.value, at=at,
    ).on_conflict_do_nothing(index_elements=["channel", "provider_message_id"]).returning(Message.id))
    ).scalar_one_or_none()
    if message_id is None:
        return None
    conversation.last_message_at = max(conversation.last_message_at, at)
    message = await session.get(Message, message_id)
    assert message is not None
    announce_message(session, conversation, message)
    return message


async def record_read(session: AsyncSession, channel: Channel, handle: tuple[HandleKind, str], *,
                      until: datetime | None = None, through_provider_message_id: str | None = None) -> int:
    """A person's read receipt on a channel, up to a moment (Messenger's watermark) or through one of our messages
    (Instagram's): our outbound messages in their threads on that channel sent by then become `read`; how many."""
    if until is None and through_provider_message_id is not None:
        until = await session.scalar(select(Message.at).where(
            Message.channel == channel.value, Message.provider_message_id == through_provider_message_id))
    contact = await find_contact(session, Identity(handle=handle))
    if until is None or contact is None:
        return 0
    conversation_ids = await session.scalars(select(Conversation.id).where(
        Conversation.contact_id == contact.id, Conversation.channel == channel.value))
    return sum([await mark_outbound_read(session, conversation_id, until) for conversation_id in conversation_ids])
