"""A station's sequences and their steps, who is enrolled in which, and each message a step sent."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from myhibachi.core.db import Base, BigId, UTCDateTime, utcnow


class AutomationKind(StrEnum):
    abandoned_quote = "abandoned_quote"  # a quote or lead with no booking; goal: a booking is made
    thank_you = "thank_you"  # 24 h after the event, with the review request; goal: feedback given
    reactivation = "reactivation"  # 11 months after a past customer's event; goal: a new booking
    occasion = "occasion"  # a year after a birthday/anniversary event; goal: a new booking


class Automation(Base):
    __tablename__ = "automations"
    __table_args__ = (UniqueConstraint("station_id", "kind", name="uq_automations_station_kind"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))  # AutomationKind
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # When it was created or last turned on: what happened before enrolls nobody (setting up or turning on a
    # sequence never emails everyone from the past).
    live_since: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class AutomationStep(Base):
    """One email of a sequence, sent `delay_minutes` after the previous one (the first: after the trigger)."""

    __tablename__ = "automation_steps"
    __table_args__ = (UniqueConstraint("automation_id", "position", name="uq_automation_steps_position"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    automation_id: Mapped[int] = mapped_column(ForeignKey("automations.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)  # 1, 2, …
    delay_minutes: Mapped[int] = mapped_column(Integer)
    subject: Mapped[str] = mapped_column(String(200))
    body_markdown: Mapped[str] = mapped_column(Text)


class EnrollmentStatus(StrEnum):
    active = "active"
    completed = "completed"  # every step sent
    goal_met = "goal_met"  # stopped: what the sequence was for happened
    stopped = "stopped"  # no longer allowed (withdrew, suppressed) or the automation was turned off


class Enrollment(Base):
    """A contact going through one automation because of one thing (a lead, a booking): once per thing."""

    __tablename__ = "automation_enrollments"
    __table_args__ = (UniqueConstraint("automation_id", "trigger_key", name="uq_automation_enrollments_trigger"),
                      Index("ix_automation_enrollments_due", "status", "next_due_at"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    automation_id: Mapped[int] = mapped_column(ForeignKey("automations.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(254))
    trigger_key: Mapped[str] = mapped_column(String(60))  # "lead:12", "booking:34", "flow:…"
    booking_id: Mapped[int | None] = mapped_column(ForeignKey("bookings.id", ondelete="SET NULL"))
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("leads.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(10), default=EnrollmentStatus.active.value)
    stop_reason: Mapped[str | None] = mapped_column(String(200))
    next_position: Mapped[int] = mapped_column(Integer, default=1)
    next_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    enrolled_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AutomationMessage(Base):
    """What one step sent to one enrollment: once (the unique pair), and what counts toward the daily cap."""

    __tablename__ = "automation_messages"
    __table_args__ = (UniqueConstraint("enrollment_id", "position", name="uq_automation_messages_step"),
                      Index("ix_automation_messages_contact_sent", "contact_id", "sent_at"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    enrollment_id: Mapped[int] = mapped_column(ForeignKey("automation_enrollments.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    subject: Mapped[str] = mapped_column(String(200))
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
