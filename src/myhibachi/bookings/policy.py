"""The station's policies applied to one booking at one moment (pure): what each customer action may do now,
what it costs and what it refunds. Commands enforce these terms and `GET /manage/{token}` shows them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from myhibachi.bookings.models import Booking
from myhibachi.core.money import format_money
from myhibachi.pricing.rules import BusinessRules


@dataclass(frozen=True)
class Terms:
    allowed: bool
    message: str
    until: datetime | None = None  # UTC
    fee_cents: int = 0
    refund_cents: int = 0


def total_due_cents(booking: Booking) -> int:
    return booking.quote["total_cents"] + booking.fees_cents


def balance_due_cents(booking: Booking, net_paid_cents: int) -> int:
    """What is still to pay on an open booking (nothing once it is closed)."""
    return max(0, total_due_cents(booking) - net_paid_cents) if booking.is_open else 0


def _closed(booking: Booking, now: datetime) -> Terms | None:
    if not booking.is_open:
        return Terms(False, f"This booking is {booking.status.replace('_', ' ')}.")
    if booking.hold_lapsed(now):
        return Terms(False, "The hold on this date has lapsed without a deposit.")
    if now >= booking.event_start:
        return Terms(False, "The event has already started.")
    return None


def reschedule_terms(rules: BusinessRules, booking: Booking, now: datetime) -> Terms:
    if closed := _closed(booking, now):
        return closed
    free_until = booking.event_start - timedelta(hours=rules.free_reschedule_min_hours)
    if booking.reschedule_count == 0 and now <= free_until:
        return Terms(True, f"Your first reschedule is free until {rules.free_reschedule_min_hours} hours before "
                           "the event.", until=free_until)
    fee = format_money(rules.reschedule_fee_cents, rules.currency)
    why = "You have rescheduled before" if booking.reschedule_count else \
        f"It is less than {rules.free_reschedule_min_hours} hours before the event"
    return Terms(True, f"{why}: a reschedule now adds {fee} to the balance.", fee_cents=rules.reschedule_fee_cents)


def _change_terms(booking: Booking, now: datetime, hours: int, what: str) -> Terms:
    if closed := _closed(booking, now):
        return closed
    until = booking.event_start - timedelta(hours=hours)
    if now > until:
        return Terms(False, f"{what} can change only until {hours} hours before the event; please call us.",
                     until=until)
    return Terms(True, f"{what} can change until {hours} hours before the event.", until=until)


def guest_change_terms(rules: BusinessRules, booking: Booking, now: datetime) -> Terms:
    return _change_terms(booking, now, rules.guest_change_min_hours, "Guest counts")


def menu_change_terms(rules: BusinessRules, booking: Booking, now: datetime) -> Terms:
    return _change_terms(booking, now, rules.menu_change_min_hours, "The menu")


def cancel_terms(rules: BusinessRules, booking: Booking, now: datetime, net_paid_cents: int) -> Terms:
    """Everything paid comes back until the refund window closes; after it the deposit is forfeited (and any
    balance paid ahead still comes back)."""
    if not booking.is_open:
        return Terms(False, f"This booking is {booking.status.replace('_', ' ')}.")
    if now >= booking.event_start:
        return Terms(False, "The event has already started.")
    if net_paid_cents <= 0:
        return Terms(True, "Nothing has been paid yet; cancelling costs nothing.")
    refund_until = booking.event_start - timedelta(hours=rules.deposit_refund_min_hours)
    paid = format_money(net_paid_cents, rules.currency)
    if now <= refund_until:
        return Terms(True, f"Cancelling now refunds the {paid} you have paid, in full.", until=refund_until,
                     refund_cents=net_paid_cents)
    forfeit = min(net_paid_cents, booking.quote["deposit_cents"])
    refund = net_paid_cents - forfeit
    message = (f"It is less than {rules.deposit_refund_min_hours} hours before the event: cancelling now forfeits "
               f"the {format_money(forfeit, rules.currency)} deposit")
    if refund:
        message += f" and refunds the other {format_money(refund, rules.currency)}"
    return Terms(True, message + ".", refund_cents=refund)
