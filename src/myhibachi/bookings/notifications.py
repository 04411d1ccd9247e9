"""Customer emails about a booking, queued through the outbox in the transaction of the change.

Each email has a plain-text and an HTML part rendered from one pair of templates; confirmations and
reschedules carry the event as an .ics invite in the station's time zone. In the plain-text part a value's
later lines are indented, so text a customer wrote (allergies) cannot pass for a line of ours.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from myhibachi.bookings.calendar import booking_calendar, venue_text
from myhibachi.bookings.ledger import booking_ledger
from myhibachi.bookings.models import Booking
from myhibachi.bookings.paying import payment_instructions
from myhibachi.bookings.policy import balance_due_cents, total_due_cents
from myhibachi.core.email import queue_email
from myhibachi.core.money import format_money
from myhibachi.core.templating import render
from myhibachi.pricing.queries import get_rules
from myhibachi.pricing.quote import PROTEIN_ENTITLEMENT, PartyOrder, label_of
from myhibachi.settings import Settings
from myhibachi.stations.models import Station


def local_time_text(moment: datetime, station: Station) -> str:
    local = moment.astimezone(ZoneInfo(station.timezone))
    return local.strftime("%A, %B %-d, %Y at %-I:%M %p %Z")


def proteins_text(booking: Booking) -> str:
    """The base proteins chosen ("Chicken × 12, Shrimp × 10"), or that they are still to choose."""
    chosen = [f"{label_of(code)} × {qty}" for code, qty in booking.proteins.items() if qty]
    return ", ".join(chosen) if chosen else "Not chosen yet: choose them from your booking page."


def menu_text(booking: Booking) -> str:
    """Upgrades, extras and sides as the quote's lines name them, or the standard menu."""
    lines = [f"{line['label']} × {line['quantity']}" for line in booking.quote["lines"] if ":" in line["code"]]
    return ", ".join(lines) or "Our standard menu"


def manage_link(settings: Settings, token: str) -> str:
    return f"{settings.base_url.rstrip('/')}/manage/{token}"


async def email_about_booking(session: AsyncSession, settings: Settings, station: Station, booking: Booking, *,
                              subject: str, lines: list[str], token: str | None = None, invite: bool = False,
                              to: str | None = None, how_to_pay: Any = None) -> None:  # noqa: ANN401
    """An email about the booking to its customer (or `to`): the lines, how to pay (`how_to_pay`: the payments
    domain's instructions, see `paying.py`), then the booking's details and link."""
    if to is None:
        to = booking.contact_email
    currency = booking.quote["currency"]
    paid = (await booking_ledger(session, booking.id)).net_paid_cents
    details = [
        ("Reference", booking.reference),
        ("When", local_time_text(booking.event_start, station)),
        ("Guests", f"{booking.adults} adults, {booking.children} children, {booking.toddlers} toddlers"),
        ("Proteins", proteins_text(booking)),
        ("Menu", menu_text(booking)),
        ("Where", venue_text(booking)),
        # The booking's own contact: anyone may type an address, so nothing of its customer's record is shown.
        ("Contact", f"{booking.contact_name}, {booking.contact_phone}"),
        ("Allergies", booking.allergies),
        ("Total", format_money(total_due_cents(booking), currency)),
        ("Deposit", format_money(booking.quote["deposit_cents"], currency)),
        ("Paid", format_money(paid, currency)),
    ]
    if booking.is_open:
        details.append(("Balance", format_money(balance_due_cents(booking, paid), currency)))
    link = manage_link(settings, token) if token else None
    context = {"brand": settings.brand_name, "station": station.name, "subject": subject, "lines": lines,
               "details": details, "link": link, "how_to_pay": how_to_pay, "money": format_money}
    attachments = []
    if invite:
        attachments.append({"filename": f"{booking.reference}.ics", "content_type": "text/calendar",
                             "content": booking_calendar(settings, station, booking, link)})
    await queue_email(session, to=to, subject=f"{subject} — {booking.reference}",
                      text=render("email/booking.txt", **context), html=render("email/booking.html", **context),
                      attachments=attachments, about=booking.reference)


async def booking_received(session: AsyncSession, settings: Settings, station: Station, booking: Booking,
                           to: str, token: str) -> None:
    assert booking.hold_expires_at is not None
    deposit = format_money(booking.quote["deposit_cents"], booking.quote["currency"])
    await email_about_booking(session, settings, station, booking, to=to, token=token,
                              how_to_pay=await payment_instructions(session, settings, booking),
                              subject="We're holding your date", lines=[
        f"Thank you! {station.name} is holding a chef for your party.",
        f"Your date is confirmed once the {deposit} deposit arrives: pay it by "
        f"{local_time_text(booking.hold_expires_at, station)}; after that the date is released.",
    ])


async def booking_confirmed(session: AsyncSession, settings: Settings, station: Station, booking: Booking,
                            token: str, *, receipt: str | None) -> None:
    """`receipt`: the payment that confirmed it; this email is then its receipt too."""
    subject = "Deposit received — you are confirmed" if receipt else "Your booking is confirmed"
    lines = [receipt] if receipt else []
    lines += ["Your hibachi party is confirmed. The invite is attached for your calendar.",
              "The balance is due at the event; you can also pay it ahead from your booking page."]
    await email_about_booking(session, settings, station, booking, token=token, invite=True, subject=subject,
                              lines=lines)


async def booking_rescheduled(session: AsyncSession, settings: Settings, station: Station, booking: Booking,
                              token: str, *, previous_start: datetime, fee_cents: int) -> None:
    lines = [f"Your party has moved from {local_time_text(previous_start, station)} to "
             f"{local_time_text(booking.event_start, station)}. The updated invite is attached."]
    if fee_cents:
        lines.append(f"A reschedule fee of {format_money(fee_cents, booking.quote['currency'])} was added to the "
                     "balance.")
    await email_about_booking(session, settings, station, booking, token=token, invite=True,
                              subject="Your booking has moved", lines=lines)


async def booking_cancelled(session: AsyncSession, settings: Settings, station: Station, booking: Booking, *,
                            refund_cents: int, paid_cents: int) -> None:
    currency = booking.quote["currency"]
    refund = (f"{format_money(refund_cents, currency)} will be refunded to you; we'll email you when it is on "
              "its way." if refund_cents
              else "No refund is due under our cancellation policy." if paid_cents
              else "Nothing was paid, so nothing is owed.")
    await email_about_booking(session, settings, station, booking, invite=True, subject="Your booking is cancelled",
                              lines=["Your hibachi party has been cancelled.", refund])


async def hold_expired(session: AsyncSession, settings: Settings, station: Station, booking: Booking) -> None:
    await email_about_booking(session, settings, station, booking, subject="Your hold has lapsed", lines=[
        "We did not receive the deposit in time, so the date has been released.",
        "Book again any time; we'd love to cook for you."])


async def event_reminder(session: AsyncSession, settings: Settings, station: Station, booking: Booking,
                         token: str) -> None:
    rules = await get_rules(session, station.id)
    reminder = "See you soon"
    await email_about_booking(session, settings, station, booking, token=token, invite=True, subject=reminder, lines=[
        f"Your hibachi party is on {local_time_text(booking.event_start, station)}.",
        f"Our chef arrives about {rules.busy_before_minutes} minutes early to set up; please have a flat outdoor "
        "space ready.",
        f"Guest counts can still change until {rules.guest_change_min_hours} hours before the event."])


async def proteins_requested(session: AsyncSession, settings: Settings, station: Station, booking: Booking,
                             token: str, *, until: datetime) -> None:
    """The one email asking for the base protein choices, before the menu window closes."""
    servings = PartyOrder(booking.adults, booking.children, booking.toddlers).protein_servings
    await email_about_booking(session, settings, station, booking, token=token, subject="Choose your proteins",
                              lines=[
        f"Your chef is planning the cook: please choose the {servings} proteins of your party "
        f"({PROTEIN_ENTITLEMENT}) from your booking page.",
        f"The menu can change until {local_time_text(until, station)}; after that, our chef chooses for you.",
    ])
