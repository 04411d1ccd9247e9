"""Inbox tables (SPEC §7 "Inbox"): one conversation per person per channel at a station, its messages (inbound,
outbound and private notes), canned replies and labels."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from myhibachi.core.cache import tag_writes
from myhibachi.core.db import Base, BigId, UTCDateTime, utcnow


class Channel(StrEnum):
    web_chat = "web_chat"
    email = "email"
    sms = "sms"
    messenger = "messenger"
    instagram = "instagram"


class ConversationStatus(StrEnum):
    open = "open"
    pending = "pending"  # waiting for the customer
    resolved = "resolved"


class HandledBy(StrEnum):
    bot = "bot"
    human = "human"


class HandoffReason(StrEnum):
    """Why the assistant asked for a person."""

    asked = "asked"  # the visitor asked for one
    refund = "refund"
    complaint = "complaint"
    allergy = "allergy"
    large_party = "large_party"
    outside_area = "outside_area"
    not_understood = "not_understood"  # two answers in a row that did not help


class Direction(StrEnum):
    inbound = "in"
    outbound = "out"


class Sender(StrEnum):
    contact = "contact"
    bot = "bot"
    staff = "staff"


class DeliveryState(StrEnum):
    """An outbound message's way to the person, forward only (`failed` is final)."""

    queued = "queued"
    sent = "sent"
    delivered = "delivered"
    read = "read"
    failed = "failed"


DELIVERY_ORDER = {DeliveryState.queued: 0, DeliveryState.sent: 1, DeliveryState.delivered: 2, DeliveryState.read: 3}


class Conversation(Base):
    __tablename__ = "conversations"
    __table_args__ = (
        UniqueConstraint("station_id", "contact_id", "channel", name="uq_conversations_thread"),
        Index("ix_conversations_station_status_last", "station_id", "status", "last_message_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(20))  # Channel
    status: Mapped[str] = mapped_column(String(10), default=ConversationStatus.open.value)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    handled_by: Mapped[str] = mapped_column(String(10), default=HandledBy.human.value)
    # The assistant asked for a person (the visitor wanted one, or a rule did) and nobody has taken it yet.
    handoff_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    handoff_reason: Mapped[str | None] = mapped_column(String(40))  # HandoffReason
    unread: Mapped[int] = mapped_column(Integer, default=0)  # inbound messages since staff last read the thread
    last_message_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Meta's 24-hour window counts from the person's last message.
    last_inbound_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    subject: Mapped[str | None] = mapped_column(String(200))  # an email thread's
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("leads.id", ondelete="SET NULL"))
    booking_id: Mapped[int | None] = mapped_column(ForeignKey("bookings.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Message(Base):
    __tablename__ = "conversation_messages"
    __table_args__ = (
        # A provider's redelivery (same message id) is stored once, also when two processes receive it at once.
        UniqueConstraint("channel", "provider_message_id", name="uq_conversation_messages_provider_id"),
        Index("ix_conversation_messages_conversation_at", "conversation_id", "at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(20))  # the conversation's (for the unique provider id)
    direction: Mapped[str] = mapped_column(String(3))  # Direction
    sender: Mapped[str] = mapped_column(String(10))  # Sender
    author_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    body: Mapped[str] = mapped_column(Text)  # plain text, as staff read it
    body_html: Mapped[str | None] = mapped_column(Text)  # inbound email's HTML, made safe
    private: Mapped[bool] = mapped_column(Boolean, default=False)  # a note for staff: goes nowhere
    provider_message_id: Mapped[str | None] = mapped_column(String(255))
    delivery: Mapped[str | None] = mapped_column(String(10))  # DeliveryState; outbound only
    delivery_error: Mapped[str | None] = mapped_column(Text)
    tag: Mapped[str | None] = mapped_column(String(30))  # e.g. Meta's HUMAN_AGENT
    in_reply_to: Mapped[str | None] = mapped_column(String(255))  # email threading, as received or sent
    references: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CannedReply(Base):
    """A reply staff insert with a click; its body may name the station's rules (`{deposit}`, `{minimum}` …), filled
    in when used, so it never disagrees with the site."""

    __tablename__ = "canned_replies"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    station_id: Mapped[int | None] = mapped_column(ForeignKey("stations.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(80))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ConversationLabel(Base):
    __tablename__ = "conversation_labels"

    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"),
                                                 primary_key=True)
    label: Mapped[str] = mapped_column(String(40), primary_key=True)


def inbox_tag(station_id: int) -> str:
    """The change-feed tag of a station's inbox: open admin pages refresh when a conversation changes."""
    return f"inbox:{station_id}"


tag_writes(Conversation, lambda conversation: [inbox_tag(conversation.station_id)])
