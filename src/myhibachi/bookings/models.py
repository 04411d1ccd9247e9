"""Booking tables. Capacity is guarded by `locks.py` plus database triggers (see migration 0004)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint, inspect, text
from sqlalchemy.orm import Mapped, mapped_column

from myhibachi.core.cache import tag_writes
from myhibachi.core.db import Base, BigId, UTCDateTime, utcnow


class BookingStatus(StrEnum):
    pending_deposit = "pending_deposit"
    confirmed = "confirmed"
    completed = "completed"
    no_show = "no_show"
    cancelled = "cancelled"
    expired = "expired"

    @property
    def is_open(self) -> bool:
        return self in OPEN_STATUSES

    @property
    def awaits_deposit(self) -> bool:
        return self in AWAITING_DEPOSIT

    @property
    def takes_payments(self) -> bool:
        return self not in TAKES_NO_PAYMENTS


# The status groups, defined here only. Open: holds a chef (a pending hold only until it lapses) and may still be
# changed or cancelled. Awaiting deposit: a deposit would confirm it (a lapsed hold too, while its date is free).
OPEN_STATUSES = frozenset({BookingStatus.pending_deposit, BookingStatus.confirmed})
HELD_STATUSES = tuple(sorted(status.value for status in OPEN_STATUSES))  # as SQL spells them (index predicates)
class Occasion(StrEnum):
    birthday = "birthday"
    anniversary = "anniversary"


AWAITING_DEPOSIT = frozenset({BookingStatus.pending_deposit, BookingStatus.expired})
# Takes no payments: a cancelled or no-show booking is settled by refunds only.
TAKES_NO_PAYMENTS = frozenset({BookingStatus.cancelled, BookingStatus.no_show})


class Booking(Base):
    __tablename__ = "bookings"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    reference: Mapped[str] = mapped_column(String(12), unique=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id"))  # indexed by the composite indexes below
    customer_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)  # the contact who booked
    status: Mapped[str] = mapped_column(String(20))  # BookingStatus
    # When: the station-local date and slot the customer chose, and the UTC instants derived from them.
    event_date: Mapped[date] = mapped_column(Date)
    slot_time: Mapped[str] = mapped_column(String(5))  # "HH:MM", station-local
    event_start: Mapped[datetime] = mapped_column(UTCDateTime)
    event_end: Mapped[datetime] = mapped_column(UTCDateTime)
    busy_start: Mapped[datetime] = mapped_column(UTCDateTime)  # the chef's window: travel + setup before,
    busy_end: Mapped[datetime] = mapped_column(UTCDateTime)  # clean-up after
    chef_id: Mapped[int | None] = mapped_column(ForeignKey("chefs.id", ondelete="SET NULL"), index=True)
    # What: the party and its price as quoted (the quote document of SPEC §4, frozen at each change).
    adults: Mapped[int] = mapped_column(Integer)
    children: Mapped[int] = mapped_column(Integer)
    toddlers: Mapped[int] = mapped_column(Integer)
    upgrades: Mapped[dict[str, int]] = mapped_column(JSON)
    extra_proteins: Mapped[dict[str, int]] = mapped_column(JSON)
    addons: Mapped[dict[str, int]] = mapped_column(JSON)
    # The base protein of each serving, {code: quantity} ({}: not chosen yet; a reminder asks for them).
    proteins: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    quote: Mapped[dict[str, Any]] = mapped_column(JSON)
    fees_cents: Mapped[int] = mapped_column(Integer, default=0)  # reschedule fees added to the balance
    # Where and who.
    venue_line1: Mapped[str] = mapped_column(String(200))
    venue_line2: Mapped[str | None] = mapped_column(String(200))
    venue_city: Mapped[str] = mapped_column(String(100))
    venue_state: Mapped[str] = mapped_column(String(2))
    venue_zip: Mapped[str] = mapped_column(String(10))
    # The contact the booking was made with: what a public form typed belongs to this booking, never to the
    # customer record that its email matched (SPEC §7); every view and email of the booking shows these.
    contact_name: Mapped[str] = mapped_column(String(120))
    contact_email: Mapped[str] = mapped_column(String(254))  # normalized; the booking's emails go here
    contact_phone: Mapped[str] = mapped_column(String(20))  # E.164
    allergies: Mapped[str] = mapped_column(Text)
    notes: Mapped[str | None] = mapped_column(Text)
    occasion: Mapped[str | None] = mapped_column(String(20))  # Occasion, if the customer said what it celebrates
    # Self-service: the manage link's token is derived from the secret key and this nonce; only its digest is
    # stored, so the database alone never yields a working link.
    manage_nonce: Mapped[str] = mapped_column(String(32))
    manage_token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # Lifecycle facts.
    hold_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reschedule_count: Mapped[int] = mapped_column(Integer, default=0)
    cancel_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancel_requested_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    cancel_request_reason: Mapped[str | None] = mapped_column(Text)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    refund_owed_cents: Mapped[int | None] = mapped_column(Integer)  # under policy, at cancellation
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # completed, no-show or expired
    reminder_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    proteins_reminder_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the one ask for them
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    __table_args__ = (
        Index("ix_bookings_station_busy", "station_id", "busy_start"),
        Index("ix_bookings_station_event_date", "station_id", "event_date"),
        Index("ix_bookings_status_event_start", "status", "event_start"),
        # Availability reads the held bookings of a station's dates from this index alone (an index-only scan), in
        # the order it groups them by window.
        Index("ix_bookings_station_held", "station_id", "event_date", "busy_start", "busy_end",
              postgresql_include=["chef_id", "status", "hold_expires_at", "id"],
              postgresql_where=text(f"status IN {HELD_STATUSES}"), sqlite_where=text(f"status IN {HELD_STATUSES}")),
    )

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def awaits_deposit(self) -> bool:
        return self.status in AWAITING_DEPOSIT

    @property
    def takes_payments(self) -> bool:
        return self.status not in TAKES_NO_PAYMENTS

    def hold_lapsed(self, now: datetime) -> bool:
        """Awaiting a deposit whose hold has run out (expired already, or about to be by the next sweep)."""
        return self.status == BookingStatus.expired.value or (
            self.status == BookingStatus.pending_deposit.value and self.hold_expires_at is not None
            and self.hold_expires_at <= now)

    @property
    def guests(self) -> int:
        return self.adults + self.children + self.toddlers


class BookingIdempotencyKey(Base):
    """`Idempotency-Key` of `POST /bookings`: the same key and body give the same booking."""

    __tablename__ = "booking_idempotency_keys"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key: Mapped[str] = mapped_column(String(255), unique=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    booking_id: Mapped[int] = mapped_column(ForeignKey("bookings.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("booking_id"),)


def bookings_tag(station_id: int | None) -> str:
    """The cache tag of a station's bookings (None: of every station)."""
    return f"bookings:{'all' if station_id is None else station_id}"


# A booking's busy window reaches at most two local dates either side of its own (travel, event and clean-up are
# capped at 600 minutes each): the dates whose availability it may change.
DATES_REACHED = 2


def booking_day_tag(station_id: int, day: date) -> str:
    """The cache tag of one local date's availability at a station: changed by a booking of a date within
    `DATES_REACHED` of it (so a hold drops the kept answers of five dates, not of the whole calendar)."""
    return f"bookings:{station_id}:{day.isoformat()}"


def _tags_of_booking(booking: Booking) -> list[str]:
    state = inspect(booking)  # a moved booking frees its old station and date too: their values before the flush
    stations = {booking.station_id, *state.attrs.station_id.history.deleted}
    days = {booking.event_date, *state.attrs.event_date.history.deleted}
    return [bookings_tag(booking.station_id), bookings_tag(None), *(
        booking_day_tag(station_id, day + timedelta(days=offset)) for station_id in stations for day in days
        for offset in range(-DATES_REACHED, DATES_REACHED + 1) if station_id is not None and day is not None)]


tag_writes(Booking, _tags_of_booking)
