"""Lead tables (SPEC §7 "Leads"): the lead, its timeline, and each station's learned win-probability counts."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Date, Float, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from myhibachi.core.db import Base, BigId, UTCDateTime, utcnow


class LeadStatus(StrEnum):
    new = "new"
    contacted = "contacted"
    qualified = "qualified"
    quoted = "quoted"
    won = "won"
    lost = "lost"

    @property
    def is_open(self) -> bool:
        return self in OPEN_LEAD_STATUSES


OPEN_LEAD_STATUSES = (LeadStatus.new, LeadStatus.contacted, LeadStatus.qualified, LeadStatus.quoted)
CLOSED_LEAD_STATUSES = (LeadStatus.won, LeadStatus.lost)
# The forward moves staff make; any open status may also go to `lost`, and only the system sets `won`.
NEXT_STATUS = {LeadStatus.new: LeadStatus.contacted, LeadStatus.contacted: LeadStatus.qualified,
               LeadStatus.qualified: LeadStatus.quoted}


class LeadSource(StrEnum):
    """The doors of SPEC §7."""

    contact_form = "contact_form"
    abandoned_booking = "abandoned_booking"
    slot_unavailable = "slot_unavailable"
    outside_service_area = "outside_service_area"
    chat = "chat"
    inbox = "inbox"
    staff = "staff"


class ActivityKind(StrEnum):
    # What staff log (SPEC: note | call | email | sms).
    note = "note"
    call = "call"
    email = "email"
    sms = "sms"
    # What the system writes on the timeline.
    inquiry = "inquiry"  # a door brought this lead (again)
    status = "status"
    assigned = "assigned"
    follow_up = "follow_up"
    quote_viewed = "quote_viewed"
    reply = "reply"  # the person wrote back (inbox, chat)
    merged = "merged"


STAFF_ACTIVITY_KINDS = (ActivityKind.note, ActivityKind.call, ActivityKind.email, ActivityKind.sms)
# The one-open-lead index's condition (migration 0011 wrote it out as it was then).
OPEN_LEAD_SQL = "status IN (" + ", ".join(f"'{status.value}'" for status in OPEN_LEAD_STATUSES) + ")"


class Lead(Base):
    __tablename__ = "leads"
    __table_args__ = (
        # Same station + same contact + an open lead = the same lead: two doors at once cannot make two.
        Index("uq_leads_open_per_contact", "station_id", "contact_id", unique=True,
              postgresql_where=text(OPEN_LEAD_SQL), sqlite_where=text(OPEN_LEAD_SQL)),
        Index("ix_leads_station_status_created", "station_id", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    source: Mapped[str] = mapped_column(String(30))  # LeadSource: the door it first came through
    status: Mapped[str] = mapped_column(String(20), default=LeadStatus.new.value)  # LeadStatus
    # What the person typed, kept on the lead (never written over the contact's own details).
    name: Mapped[str] = mapped_column(String(120))
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(20))
    event_date: Mapped[date | None] = mapped_column(Date)  # the station-local date they want
    guests: Mapped[int | None] = mapped_column(Integer)
    zip_code: Mapped[str | None] = mapped_column(String(10))
    message: Mapped[str | None] = mapped_column(Text)
    # Scores: recomputed on every change (leads/scoring.py).
    score: Mapped[int] = mapped_column(Integer, default=0)
    band: Mapped[str] = mapped_column(String(10), default="cold")  # hot | warm | cold
    score_factors: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    probability: Mapped[float] = mapped_column(Float, default=0.5)
    probability_factors: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # Work on it.
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    next_follow_up_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    follow_up_reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # for this next_follow_up_at
    lost_reason: Mapped[str | None] = mapped_column(String(40))  # a code of the station's lead_lost_reasons
    booking_id: Mapped[int | None] = mapped_column(ForeignKey("bookings.id", ondelete="SET NULL"))  # won by it
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class LeadActivity(Base):
    """The lead's timeline: what the doors, the system and staff did, oldest first."""

    __tablename__ = "lead_activities"
    __table_args__ = (Index("ix_lead_activities_lead_at", "lead_id", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))  # ActivityKind
    body: Mapped[str] = mapped_column(Text)
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LeadModel(Base):
    """A station's learned win-probability model (station_id 0: every station pooled), retrained by a periodic
    job: the counts of a smoothed naive Bayes over the scoring factors' bands."""

    __tablename__ = "lead_models"

    station_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    closed: Mapped[int] = mapped_column(Integer)
    won: Mapped[int] = mapped_column(Integer)
    counts: Mapped[dict[str, Any]] = mapped_column(JSON)  # {factor: {value: [won, lost]}}
    trained_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class FlowVisit(Base):
    """One visitor session of the site's quote and booking flow (a signed cookie's random key): counted once as a
    quote for the funnel when it priced a party, and, once it typed an email, a lead after `LEAD_ABANDON_MINUTES`
    without a booking (the `leads.catch_abandoned_flows` job)."""

    __tablename__ = "flow_visits"
    __table_args__ = (Index("ix_flow_visits_station_quoted", "station_id", "quoted_at"),)

    visitor_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id", ondelete="CASCADE"))
    quoted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The booking flow's details step, once an email was typed there.
    name: Mapped[str | None] = mapped_column(String(120))
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(20))
    event_date: Mapped[date | None] = mapped_column(Date)
    guests: Mapped[int | None] = mapped_column(Integer)
    zip_code: Mapped[str | None] = mapped_column(String(10))
    details_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    booked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # it became a booking: no lead
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("leads.id", ondelete="SET NULL"))  # it became this lead
