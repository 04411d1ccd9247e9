"""The payment ledger: payments in, refunds out, and the Stripe events that moved them.

What a booking has paid and still owes is derived from these rows (see `queries.booking_ledgers`), never stored.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from myhibachi.core.cache import tag_writes
from myhibachi.core.db import Base, BigId, UTCDateTime, utcnow


class PaymentPurpose(StrEnum):
    deposit = "deposit"
    balance = "balance"
    fee = "fee"


class PaymentMethod(StrEnum):
    card = "card"
    cash = "cash"
    zelle = "zelle"
    venmo = "venmo"
    check = "check"


MANUAL_METHODS = (PaymentMethod.cash, PaymentMethod.zelle, PaymentMethod.venmo, PaymentMethod.check)


class PaymentStatus(StrEnum):
    pending = "pending"  # a card intent awaiting the customer
    succeeded = "succeeded"
    failed = "failed"  # the last card attempt was declined; the customer may try again with the same intent
    canceled = "canceled"  # withdrawn (the amount due changed, or the booking closed)


class RefundStatus(StrEnum):
    pending = "pending"
    succeeded = "succeeded"
    failed = "failed"


class Payment(Base):
    __tablename__ = "payments"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    booking_id: Mapped[int] = mapped_column(ForeignKey("bookings.id", ondelete="RESTRICT"), index=True)
    # The columns the day totals read load their old value when set (active_history), see day_totals.py.
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id", ondelete="RESTRICT"), active_history=True)
    purpose: Mapped[str] = mapped_column(String(20), active_history=True)
    method: Mapped[str] = mapped_column(String(20), active_history=True)
    status: Mapped[str] = mapped_column(String(20), active_history=True)
    amount_cents: Mapped[int] = mapped_column(Integer, active_history=True)
    currency: Mapped[str] = mapped_column(String(3))
    reference: Mapped[str | None] = mapped_column(String(200))  # a manual payment's receipt / transfer id
    provider_intent_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    provider_charge_id: Mapped[str | None] = mapped_column(String(255))
    # Scoped, deterministic key (`deposit:{booking}:{attempt}`, `manual:{booking}:{client key}`): the same key is
    # the same payment, here and at Stripe.
    idempotency_key: Mapped[str | None] = mapped_column(String(300), unique=True)
    request_hash: Mapped[str | None] = mapped_column(String(64))
    failure_message: Mapped[str | None] = mapped_column(Text)
    disputed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    dispute_reason: Mapped[str | None] = mapped_column(String(100))
    recorded_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    succeeded_at: Mapped[datetime | None] = mapped_column(UTCDateTime, active_history=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    __table_args__ = (
        CheckConstraint("amount_cents > 0", name="amount_positive"),
        Index("ix_payments_station_created", "station_id", "created_at"),
        # Analytics: a range scan per station that answers from the index alone (it holds every column used).
        Index("ix_payments_station_succeeded", "station_id", "succeeded_at", "status", "method", "amount_cents"),
    )


class Refund(Base):
    __tablename__ = "refunds"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id", ondelete="RESTRICT"), index=True)
    # The payment's station, copied (it never changes): station-scoped reports read refunds without a join.
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id", ondelete="RESTRICT"), active_history=True)
    amount_cents: Mapped[int] = mapped_column(Integer, active_history=True)
    method: Mapped[str] = mapped_column(String(20), active_history=True)
    status: Mapped[str] = mapped_column(String(20), active_history=True)
    reason: Mapped[str] = mapped_column(Text)
    provider_refund_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(300), unique=True)
    request_hash: Mapped[str | None] = mapped_column(String(64))
    requested_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, active_history=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    __table_args__ = (
        CheckConstraint("amount_cents > 0", name="amount_positive"),
        Index("ix_refunds_station_created", "station_id", "created_at"),  # analytics: a range scan a station
    )


class StripeEvent(Base):
    """Each webhook event once, by Stripe's id; `handled_at` is set in the transaction that applied it."""

    __tablename__ = "stripe_events"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    type: Mapped[str] = mapped_column(String(100))
    payment_intent_id: Mapped[str | None] = mapped_column(String(255), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[str | None] = mapped_column(Text)


class NoticeMethod(StrEnum):
    """How the customer says they sent a payment (SPEC §4 `payment-sent`)."""

    zelle = "zelle"
    venmo = "venmo"
    cash = "cash"
    other = "other"


class PaymentNotice(Base):
    """The customer's word that a manual payment is on its way ("I've sent it"): shown to staff, who record the
    payment once it arrives. Nothing here counts as paid."""

    __tablename__ = "payment_notices"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    booking_id: Mapped[int] = mapped_column(ForeignKey("bookings.id", ondelete="RESTRICT"), index=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id", ondelete="RESTRICT"))
    method: Mapped[str] = mapped_column(String(20))  # NoticeMethod
    reference: Mapped[str | None] = mapped_column(String(200))  # the transfer's id or memo, as the customer typed it
    # What was due when they told us (what our instructions asked them to send): the amount they claim.
    amount_cents: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DepositReminder(Base):
    """The reminder sent before an unpaid hold lapses, once per booking: its row is written in the transaction that
    queues the email, under the booking's lock, and its key refuses a second one whatever the race."""

    __tablename__ = "deposit_reminders"

    booking_id: Mapped[int] = mapped_column(ForeignKey("bookings.id", ondelete="CASCADE"), primary_key=True)
    hold_expires_at: Mapped[datetime] = mapped_column(UTCDateTime)  # the hold it reminded of
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


def payments_tag(station_id: int | None) -> str:
    """The cache tag of a station's payments and refunds (None: of every station)."""
    return f"payments:{'all' if station_id is None else station_id}"


tag_writes(Payment, lambda payment: [payments_tag(payment.station_id), payments_tag(None)])
tag_writes(Refund, lambda refund: [payments_tag(refund.station_id), payments_tag(None)])


# Every process that writes the ledger keeps its per-day totals: their flush hooks register on import.
from myhibachi.payments import day_totals  # noqa: E402, F401
