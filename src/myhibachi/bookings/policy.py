"""The station's policies applied to one booking at one moment (pure): what each action may do now, what it costs
and what it refunds, or why it cannot be done. The commands enforce these terms, `GET /manage/{token}` shows the
customer's and `queries.staff_actions` the staff's: one predicate per rule, read by all three."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from myhibachi.bookings.models import Booking, BookingStatus
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


ALLOWED = Terms(True, "")


def _words(status: str) -> str:
    return status.replace("_", " ")


def _a(status: str) -> str:
    """ "A cancelled", "An expired": the status as the subject of a sentence."""
    words = _words(status)
    return f"{'An' if words[0] in 'aeiou' else 'A'} {words}"


def as_next_command_finds(booking: Booking, now: datetime) -> Booking:
    """The booking as any command will find it: each first expires the lapsed holds of the days it locks, so a hold
    that has lapsed is already expired to it (a copy: the row itself is left alone)."""
    if booking.status != BookingStatus.pending_deposit or not booking.hold_lapsed(now):
        return booking
    swept = Booking(**{column.key: getattr(booking, column.key) for column in Booking.__table__.columns})
    swept.status = BookingStatus.expired.value
    return swept


def _closed(booking: Booking, now: datetime) -> Terms | None:
    if not booking.is_open:
        return Terms(False, f"This booking is {_words(booking.status)}.")
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
        return Terms(False, f"This booking is {_words(booking.status)}.")
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


def party_change_terms(rules: BusinessRules, booking: Booking, now: datetime) -> Terms:
    """Whether anything of the party may still change: the guests, or at least the menu."""
    guests, menu = guest_change_terms(rules, booking, now), menu_change_terms(rules, booking, now)
    if guests.allowed or menu.allowed:
        return guests if guests.allowed else menu
    return Terms(False, f"{guests.message} {menu.message}" if guests.message != menu.message else guests.message)


# --- the staff's steps in the lifecycle ---------------------------------------------------------------------------


def confirm_terms(booking: Booking) -> Terms:
    if booking.awaits_deposit:
        return ALLOWED
    return Terms(False, f"Only a booking awaiting its deposit can be confirmed; this one is {_words(booking.status)}.")


def takes_payments_terms(booking: Booking) -> Terms:
    if booking.takes_payments:
        return ALLOWED
    return Terms(False, f"{_a(booking.status)} booking takes no payments; refund instead.")


def payment_terms(booking: Booking, net_paid_cents: int) -> Terms:
    """A payment may be recorded while the booking takes payments and something is still due."""
    if not (terms := takes_payments_terms(booking)).allowed:
        return terms
    return ALLOWED if total_due_cents(booking) > net_paid_cents else Terms(False, "Nothing is due on this booking.")


def assign_chef_terms(booking: Booking) -> Terms:
    return ALLOWED if booking.is_open else Terms(False, f"{_a(booking.status)} booking cannot get a chef.")


def unassign_chef_terms(booking: Booking) -> Terms:
    if not booking.is_open:
        return Terms(False, f"{_a(booking.status)} booking keeps the chef who was on it.")
    return ALLOWED if booking.chef_id is not None else Terms(False, "No chef is assigned to this booking.")


def close_terms(booking: Booking, now: datetime) -> Terms:
    """Completed or no-show: a confirmed booking, once its event has started."""
    if booking.status != BookingStatus.confirmed:
        return Terms(False, f"Only a confirmed booking can be closed; this one is {_words(booking.status)}.")
    if now < booking.event_start:
        return Terms(False, "The event has not started yet.", until=booking.event_start)
    return ALLOWED


def cancel_request_terms(booking: Booking) -> Terms:
    if not booking.is_open:
        return Terms(False, f"{_a(booking.status)} booking cannot be cancelled.")
    if booking.cancel_requested_at is not None:
        return Terms(False, "A cancellation has already been requested for this booking.")
    return ALLOWED


def decline_cancellation_terms(booking: Booking) -> Terms:
    if booking.cancel_requested_at is not None and booking.is_open:
        return ALLOWED
    return Terms(False, "There is no open cancellation request on this booking.")
