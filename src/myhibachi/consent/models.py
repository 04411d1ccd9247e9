"""The consent ledger: one row per grant, confirmation or withdrawal, never updated (a merge of two contacts moves
rows to the kept one, nothing else does)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String, Text
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
    preferences = "preferences"  # the preference page
    csv_import = "csv_import"  # staff imported a list (the file's own consent source is kept in `detail`)
    sms_keyword = "sms_keyword"  # the person texted STOP, START… (the word and the MessageSid in `detail`)


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
    detail: Mapped[str | None] = mapped_column(Text)  # e.g. where an imported list's consent was given
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# What marketing is about, for the preference page: a person may keep one and drop the other.
class Topic(StrEnum):
    news = "news"  # campaigns: news and offers
    follow_ups = "follow_ups"  # automations: quote follow-ups, thank-yous, reactivation, birthday/anniversary notes


class OptOut(Base):
    """What a subscriber chose not to get on the preference page: a station's mail or a topic (no row: all)."""

    __tablename__ = "consent_opt_outs"

    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True)
    scope: Mapped[str] = mapped_column(String(10), primary_key=True)  # "station" | "topic"
    value: Mapped[str] = mapped_column(String(40), primary_key=True)  # a station id, or a Topic
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SuppressionReason(StrEnum):
    hard_bounce = "hard_bounce"
    complaint = "complaint"  # marked as spam
    soft_bounces = "soft_bounces"  # SOFT_BOUNCE_LIMIT soft bounces in a row
    manual = "manual"  # staff


class Suppression(Base):
    """An address no marketing goes to, at any station, whatever its consent says."""

    __tablename__ = "suppressions"

    email: Mapped[str] = mapped_column(String(254), primary_key=True)  # normalized
    reason: Mapped[str] = mapped_column(String(20))  # SuppressionReason
    source: Mapped[str] = mapped_column(String(30))  # "sendgrid", "dsn", "staff", …
    detail: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
