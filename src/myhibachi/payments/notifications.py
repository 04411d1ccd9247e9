"""Payment emails through the outbox: the customer's receipts and refund notices, and staff alerts."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from myhibachi.auth.permissions import Permission
from myhibachi.auth.queries import staff_emails_with
from myhibachi.bookings.commands import manage_token
from myhibachi.bookings.models import Booking
from myhibachi.bookings.notifications import email_about_booking, local_time_text
from myhibachi.core.email import queue_email
from myhibachi.core.money import format_money
from myhibachi.core.templating import render
from myhibachi.payments.models import NoticeMethod, Payment, PaymentMethod, PaymentNotice, Refund
from myhibachi.payments.schemas import NoticeRead
from myhibachi.settings import Settings
from myhibachi.stations.queries import get_station

METHOD_NAMES = {PaymentMethod.card: "card", PaymentMethod.cash: "cash", PaymentMethod.zelle: "Zelle",
                PaymentMethod.venmo: "Venmo", PaymentMethod.check: "check"}
NOTICE_METHOD_NAMES = {NoticeMethod.zelle: "Zelle", NoticeMethod.venmo: "Venmo", NoticeMethod.cash: "cash",
                       NoticeMethod.other: "another way"}


def _money(cents: int, payment: Payment) -> str:
    return format_money(cents, payment.currency)


async def _to_customer(session: AsyncSession, settings: Settings, booking: Booking, subject: str,
                       lines: list[str]) -> None:
    station = await get_station(session, booking.station_id)
    await email_about_booking(session, settings, station, booking, subject=subject, lines=lines,
                             token=manage_token(settings, booking))


async def _to_staff(session: AsyncSession, settings: Settings, booking: Booking, permission: Permission,
                    subject: str, lines: list[str]) -> None:
    subject = f"{subject} — {booking.reference}"
    for to in await staff_emails_with(session, booking.station_id, permission):
        await queue_email(session, to=to, subject=subject,
                          text=render("email/staff_notice.txt", brand=settings.brand_name, subject=subject,
                                      lines=lines), about=booking.reference)


def receipt_line(payment: Payment) -> str:
    line = (f"We received {_money(payment.amount_cents, payment)} by {METHOD_NAMES[PaymentMethod(payment.method)]} "
            f"for your {payment.purpose}.")
    return line + (f" Reference: {payment.reference}." if payment.reference else "")


async def payment_receipt(session: AsyncSession, settings: Settings, booking: Booking, payment: Payment) -> None:
    await _to_customer(session, settings, booking, "Payment received", [receipt_line(payment), "Thank you!"])


async def refund_notice(session: AsyncSession, settings: Settings, booking: Booking, payment: Payment,
                        refund: Refund) -> None:
    method = METHOD_NAMES[PaymentMethod(refund.method)]
    where = "to your card; it shows on your statement within 5–10 business days" if refund.method == "card" \
        else f"by {method}"
    await _to_customer(session, settings, booking, "Your refund", [
        f"We are refunding {_money(refund.amount_cents, payment)} {where}.", f"Reason: {refund.reason}"])


async def refund_by_hand(session: AsyncSession, settings: Settings, booking: Booking,
                         owed: list[tuple[Payment, int]]) -> None:
    lines = [f"{booking.reference} was cancelled and the policy refunds money that was paid by hand; "
             "pay it back and record it as a refund of the payment:"]
    lines += [f"- {_money(amount, p)} of payment #{p.id} ({METHOD_NAMES[PaymentMethod(p.method)]}, "
              f"reference {p.reference or 'none'})" for p, amount in owed]
    await _to_staff(session, settings, booking, Permission.payments_refund, "Refund to pay by hand", lines)


async def deposit_returned(session: AsyncSession, settings: Settings, booking: Booking, payment: Payment,
                           why: str) -> None:
    amount = _money(payment.amount_cents, payment)
    await _to_customer(session, settings, booking, "Your deposit is on its way back", [
        f"Your {amount} deposit arrived, but it could not confirm your booking: {why}",
        "We have refunded it in full to your card. We are sorry; please book another date."])
    await _to_staff(session, settings, booking, Permission.payments_refund, "Late deposit refunded", [
        f"A {amount} card deposit for {booking.reference} arrived but could not confirm it: {why}",
        "It was refunded automatically and the customer was told."])


async def dispute_opened(session: AsyncSession, settings: Settings, booking: Booking, payment: Payment,
                         amount_cents: int) -> None:
    await _to_staff(session, settings, booking, Permission.payments_refund, "Card payment disputed", [
        f"The customer's bank opened a dispute of {_money(amount_cents, payment)} on payment #{payment.id} "
        f"for {booking.reference} (reason: {payment.dispute_reason}).",
        "Answer it in the Stripe dashboard before its deadline."])


def notice_line(notice: PaymentNotice | NoticeRead, when: str) -> str:
    """What the customer told us, as staff read it: "The customer says they sent $100.00 by Zelle, ref ZL-1, on …"."""
    amount = format_money(notice.amount_cents, notice.currency)
    ref = f", ref {notice.reference}," if notice.reference else ""
    return f"The customer says they sent {amount} by {NOTICE_METHOD_NAMES[NoticeMethod(notice.method)]}{ref} on {when}."


async def payment_sent(session: AsyncSession, settings: Settings, booking: Booking, notice: PaymentNotice) -> None:
    """The station's staff who record payments learn that a deposit is on its way, and where to record it."""
    station = await get_station(session, booking.station_id)
    lines = [notice_line(notice, local_time_text(notice.created_at, station)),
             "Nothing is recorded as paid yet. When the money arrives, record it on the booking (which confirms it): "
             f"{settings.base_url.rstrip('/')}/admin/bookings/{booking.id}"]
    if booking.hold_expires_at is not None:
        lines.append(f"The hold lapses on {local_time_text(booking.hold_expires_at, station)}.")
    await _to_staff(session, settings, booking, Permission.payments_record, "Customer says a payment is on its way",
                    lines)


async def deposit_reminder(session: AsyncSession, settings: Settings, booking: Booking, how_to_pay: object) -> None:
    """Before the hold lapses: how to pay (the same instructions as every page) and the manage link."""
    assert booking.hold_expires_at is not None
    station = await get_station(session, booking.station_id)
    await email_about_booking(session, settings, station, booking, token=manage_token(settings, booking),
                              how_to_pay=how_to_pay, subject="Reminder: pay the deposit to keep your date", lines=[
        f"We are still holding your date until {local_time_text(booking.hold_expires_at, station)}, but the "
        "deposit has not reached us yet. Pay it by then to confirm your party; after that the date is released.",
        "Already sent it? Tell us from your booking page, so we look out for it."])
