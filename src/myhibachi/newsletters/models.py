"""Segments, campaigns, one row per recipient of a campaign, what recipients did with it, and the bounces and
complaints providers reported."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from myhibachi.core.db import Base, BigId, UTCDateTime, utcnow


class Segment(Base):
    """A station's saved audience: rules over bookings, leads and tags (SPEC §7), read afresh at each use."""

    __tablename__ = "segments"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    rules: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CampaignStatus(StrEnum):
    draft = "draft"
    scheduled = "scheduled"  # send_at in the future
    sending = "sending"
    paused = "paused"
    sent = "sent"
    cancelled = "cancelled"


class Campaign(Base):
    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    subject: Mapped[str] = mapped_column(String(200))
    body_markdown: Mapped[str] = mapped_column(Text)
    segment_id: Mapped[int | None] = mapped_column(ForeignKey("segments.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(20), default=CampaignStatus.draft.value, index=True)
    send_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # when scheduled
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # recipients fixed, sending began
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The one job sending it now, renewed at each batch: another job (a second kick, the periodic recovery) starts
    # only once this is free or older than NEWSLETTER_CLAIM_SECONDS, so the rate holds however it was started.
    sender_lease: Mapped[str | None] = mapped_column(String(32))
    sender_lease_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class RecipientState(StrEnum):
    pending = "pending"
    sending = "sending"  # claimed by a worker; the SMTP server has not been told to accept it yet
    sent = "sent"
    failed = "failed"
    skipped = "skipped"  # no longer eligible when its turn came (withdrew, suppressed)


class CampaignRecipient(Base):
    """One person of a campaign: fixed when sending starts, its state moved by the sender, so a restarted worker
    knows exactly who is left."""

    __tablename__ = "campaign_recipients"
    __table_args__ = (UniqueConstraint("campaign_id", "contact_id", name="uq_campaign_recipients_contact"),
                      Index("ix_campaign_recipients_campaign_state", "campaign_id", "state", "id"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(254))
    state: Mapped[str] = mapped_column(String(10), default=RecipientState.pending.value)
    claim: Mapped[str | None] = mapped_column(String(32))  # the claiming worker's token
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    message_id: Mapped[str | None] = mapped_column(String(200), index=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    error: Mapped[str | None] = mapped_column(Text)
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    clicked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    unsubscribed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    bounced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    complained_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class TrackingKind(StrEnum):
    open = "open"
    click = "click"


class TrackingEvent(Base):
    """Each open and click, for the campaign's chart over time (the recipient row keeps the first of each)."""

    __tablename__ = "tracking_events"
    __table_args__ = (Index("ix_tracking_events_campaign_at", "campaign_id", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    recipient_id: Mapped[int] = mapped_column(ForeignKey("campaign_recipients.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(10))  # TrackingKind
    url: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class BounceKind(StrEnum):
    hard = "hard"
    soft = "soft"
    complaint = "complaint"


class BounceEvent(Base):
    """A bounce or complaint a provider reported (a signed webhook, or a DSN mailed back): stored once per
    provider event, so a redelivery changes nothing."""

    __tablename__ = "bounce_events"
    __table_args__ = (UniqueConstraint("provider", "provider_event_id", name="uq_bounce_events_provider_event"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), index=True)  # normalized
    kind: Mapped[str] = mapped_column(String(10))  # BounceKind
    provider: Mapped[str] = mapped_column(String(20))  # "sendgrid" | "dsn"
    provider_event_id: Mapped[str] = mapped_column(String(200))
    recipient_id: Mapped[int | None] = mapped_column(ForeignKey("campaign_recipients.id", ondelete="SET NULL"))
    detail: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
