"""The website's chat as an inbox channel (SPEC §7 "Chat"): a visitor is the contact handle `(web_chat, visitor id)`,
the id kept in a signed cookie; what they type is received like any channel's message (stored once per message id
the widget gives it, so a resend after a reconnect is no duplicate); staff's and the assistant's messages reach them
through this channel's adapter, which publishes to the visitor's live channel from the outbox (delivery states as on
every channel). A visitor who is not connected when it is delivered reads it in the history when they come back."""

from __future__ import annotations

import re
import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from myhibachi.auth.permissions import P
from myhibachi.auth.principal import Principal
from myhibachi.contacts.models import ContactHandle, HandleKind
from myhibachi.core.errors import ValidationFailed
from myhibachi.core.outbox import OutboxContext
from myhibachi.core.realtime import Hub, publish_after_commit
from myhibachi.core.security import read_signed_value, sign_value
from myhibachi.inbox.channels import Outgoing, Sent, register_adapter
from myhibachi.inbox.commands import Inbound, Received, receive
from myhibachi.inbox.live import station_channel, visitor_channel, visitor_message_event, visitor_of
from myhibachi.inbox.models import Channel, Conversation, Message

COOKIE_PURPOSE = "web-chat-visitor"
CLIENT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")  # the widget's id for a message it sends


def new_visitor_id() -> str:
    return secrets.token_urlsafe(18)


def visitor_cookie(secret: str, visitor_id: str) -> str:
    return sign_value(secret, COOKIE_PURPOSE, visitor_id)


def visitor_from_cookie(secret: str, cookie: str | None) -> str | None:
    """The visitor a cookie of ours names; None for a missing or forged one."""
    return read_signed_value(secret, COOKIE_PURPOSE, cookie) if cookie else None


async def receive_visitor_message(session: AsyncSession, visitor_id: str, client_message_id: str | None,
                                  body: str, *, station_id: int | None = None,
                                  at: datetime | None = None) -> Received | None:
    """A visitor's message into their web chat thread at the station whose page they chat on (None: where their
    thread is, else the first station); a new visitor becomes a contact and a lead. The widget's message id makes a
    resend (after a reconnect) a no-op: None then. Every tab of the visitor hears it."""
    if client_message_id is None:
        client_message_id = secrets.token_urlsafe(12)
    elif not CLIENT_ID.fullmatch(client_message_id):
        raise ValidationFailed.on("id", "A message id is 1 to 64 letters, digits, '-' or '_'.")
    text = body.strip()
    if not text:
        raise ValidationFailed.on("body", "Write something to send.")
    received = await receive(session, Inbound(
        channel=Channel.web_chat, provider_message_id=f"{visitor_id}:{client_message_id}", body=text,
        handle=(HandleKind.web_chat, visitor_id), station_id=station_id, at=at))
    if received is not None:
        publish_after_commit(session, f"visitor-message:{received.message.id}", visitor_channel(visitor_id),
                             visitor_message_event(received.message))
    return received


def _visitor_chats(visitor_id: str, *columns: Any) -> Select[Any]:
    """The visitor's web chat conversations (one per station they chatted at)."""
    return select(*columns).join(ContactHandle, ContactHandle.contact_id == Conversation.contact_id).where(
        ContactHandle.kind == HandleKind.web_chat.value, ContactHandle.value == visitor_id,
        Conversation.channel == Channel.web_chat.value)


async def visitor_history(session: AsyncSession, visitor_id: str, limit: int) -> list[dict[str, Any]]:
    """The latest `limit` messages the visitor sees (no private notes), oldest first, as the chat shows them."""
    latest = await session.scalars(select(Message).where(
        Message.conversation_id.in_(_visitor_chats(visitor_id, Conversation.id)), Message.private.is_(False))
        .order_by(Message.at.desc(), Message.id.desc()).limit(limit))
    return [visitor_message_event(message) for message in reversed(list(latest))]


async def staff_typing(session: AsyncSession, live: Hub, principal: Principal, conversation_id: int) -> bool:
    """Staff are typing in a web chat thread they work: the visitor sees `{"type": "typing", "sender": "staff"}`
    (nothing is stored, so it goes at once). False when there is no such thread for them or it is not a web chat."""
    conversation = await session.get(Conversation, conversation_id)
    if conversation is None or not principal.can(P.engagement, conversation.station_id):
        return False
    if (visitor := await visitor_of(session, conversation)) is None:
        return False
    await live.publish(visitor_channel(visitor), {"type": "typing", "sender": "staff"})
    return True


async def visitor_typing(session: AsyncSession, live: Hub, visitor_id: str) -> bool:
    """The visitor is typing: staff watching the station of their latest web chat see `{"type": "typing",
    "conversation_id", "station_id", "channel": "web_chat", "sender": "visitor"}` (nothing stored). False when the
    visitor has no chat yet (their first message makes one)."""
    conversation = await session.scalar(_visitor_chats(visitor_id, Conversation)
                                        .order_by(Conversation.last_message_at.desc()).limit(1))
    if conversation is None:
        return False
    await live.publish(station_channel(conversation.station_id), {
        "type": "typing", "conversation_id": conversation.id, "station_id": conversation.station_id,
        "channel": Channel.web_chat.value, "sender": "visitor"})
    return True


class WebChatAdapter:
    """Delivering a message to a website visitor: publishing it to their live channel (every tab they have open).
    At least once: if the outbox's transaction fails after the publish, the retry publishes it again, with the same
    id (the widget shows a message id once)."""

    def __init__(self, live: Hub) -> None:
        self.live = live

    async def send(self, message: Outgoing) -> Sent:
        await self.live.publish(visitor_channel(message.to), {
            "type": "message", "id": message.message_id, "sender": message.sender, "body": message.body,
            "at": message.at})
        return Sent(f"web-{message.message_id}")


def web_chat_adapter(context: OutboxContext) -> WebChatAdapter | None:
    return WebChatAdapter(context.live) if context.live is not None else None


register_adapter(Channel.web_chat, web_chat_adapter)
