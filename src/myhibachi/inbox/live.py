"""The inbox's live events (SPEC §7 "Chat"), published after the unit of work commits: staff watching a station's
inbox hear of every message and conversation change there (`/ws/staff`), and a website visitor hears the messages of
their own chat (`/ws/chat`, through the web chat adapter, so a reply still goes through the outbox)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from myhibachi.contacts.models import ContactHandle, HandleKind
from myhibachi.core.realtime import publish_after_commit
from myhibachi.inbox.models import Channel, Conversation, Message


def station_channel(station_id: int) -> str:
    """What staff of a station hear: its conversations and their messages."""
    return f"inbox:{station_id}"


def visitor_channel(visitor_id: str) -> str:
    """What one website visitor hears (every tab they have open)."""
    return f"chat:{visitor_id}"


def message_event(conversation: Conversation, message: Message) -> dict[str, Any]:
    return {"type": "message", "conversation_id": conversation.id, "station_id": conversation.station_id,
            "channel": conversation.channel, "message": {
                "id": message.id, "direction": message.direction, "sender": message.sender, "body": message.body,
                "private": message.private, "delivery": message.delivery, "author_user_id": message.author_user_id,
                "at": message.at.isoformat()}}


def conversation_event(conversation: Conversation) -> dict[str, Any]:
    return {"type": "conversation", "conversation_id": conversation.id, "station_id": conversation.station_id,
            "channel": conversation.channel, "status": conversation.status, "assignee_id": conversation.assignee_id,
            "handled_by": conversation.handled_by, "handoff_reason": conversation.handoff_reason,
            "unread": conversation.unread,
            "last_message_at": conversation.last_message_at.isoformat()}


def announce_message(session: Any, conversation: Conversation, message: Message) -> None:
    """Tell the station's staff of a new message, or of its new delivery state (the latest state wins)."""
    publish_after_commit(session, f"message:{message.id}", station_channel(conversation.station_id),
                         message_event(conversation, message))


def announce_conversation(session: Any, conversation: Conversation) -> None:
    """Tell the station's staff of a conversation's state (status, assignee, unread…) as this unit of work left it."""
    publish_after_commit(session, f"conversation:{conversation.id}", station_channel(conversation.station_id),
                         conversation_event(conversation))


def visitor_message_event(message: Message) -> dict[str, Any]:
    """A message as the website chat shows it: the visitor's own, the assistant's (`bot`) or a person's (`staff`)."""
    sender = "visitor" if message.sender == "contact" else message.sender
    return {"type": "message", "id": message.id, "sender": sender, "body": message.body,
            "at": message.at.isoformat()}


async def visitor_of(session: AsyncSession, conversation: Conversation) -> str | None:
    """The visitor a web chat conversation is with (None on other channels)."""
    if conversation.channel != Channel.web_chat:
        return None
    return await session.scalar(select(ContactHandle.value).where(
        ContactHandle.contact_id == conversation.contact_id, ContactHandle.kind == HandleKind.web_chat.value)
        .order_by(ContactHandle.created_at.desc()).limit(1))


async def announce_handoff(session: AsyncSession, conversation: Conversation) -> None:
    """Tell the visitor, once this unit of work commits, that a person has taken the chat over from the assistant
    (the command that hands a conversation to a person calls it)."""
    if (visitor := await visitor_of(session, conversation)) is not None:
        publish_after_commit(session, f"handoff:{conversation.id}", visitor_channel(visitor), {"type": "handoff"})
