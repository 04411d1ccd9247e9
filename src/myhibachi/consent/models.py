"""The consent ledger: one row per grant, confirmation or withdrawal, never updated (a merge of two contacts moves
rows to the kept one, nothing else does)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from myhibachi.core.db import Base, BigId, UTCDateTime, utcnow


class ConsentChannel(StrEnum):
    email = "email"
    sms = "sms"


class ConsentPurpose(StrEnum):
    marketing = "marketing"
    transactional = "transactional"


class ConsentAction(StrEnum):
    granted = "granted"  # asked for (a form, a ticked box): not enough to send marketing
    confirmed = "confirmed"  # the double opt-in link was followed
    withdrawn = "withdrawn"


class ConsentSource(StrEnum):
    footer_form = "footer_form"
    booking_flow = "booking_flow"
    landing_page = "landing_page"
    api = "api"
    confirmation_link = "confirmation_link"
    staff = "staff"
    unsubscribe = "unsubscribe"


# What a public caller of POST /subscribe may say it came from.
PUBLIC_SOURCES = (ConsentSource.api, ConsentSource.footer_form, ConsentSource.booking_flow,
                  ConsentSource.landing_page)


class ConsentEvent(Base):
    __tablename__ = "consent_events"
    __table_args__ = (Index("ix_consent_events_contact_channel_purpose", "contact_id", "channel", "purpose", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(10))  # ConsentChannel
    purpose: Mapped[str] = mapped_column(String(20))  # ConsentPurpose
    action: Mapped[str] = mapped_column(String(20))  # ConsentAction
    source: Mapped[str] = mapped_column(String(30))  # ConsentSource
    station_id: Mapped[int | None] = mapped_column(ForeignKey("stations.id", ondelete="SET NULL"))
    ip: Mapped[str | None] = mapped_column(String(45))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
