"""The one place that says what a booking has paid: sums of the ledger's rows, provided to the bookings domain."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from myhibachi.bookings.ledger import BookingLedger, PaymentLine, provide_ledger
from myhibachi.payments.models import Payment, PaymentStatus, Refund, RefundStatus


def refunds_counted():  # noqa: ANN201 - a SQL condition
    """Refunds that are out or on their way: a pending refund already reduces what may be refunded again."""
    return Refund.status != RefundStatus.failed.value


async def read_booking_ledgers(session: AsyncSession, booking_ids: list[int]) -> dict[int, BookingLedger]:
    """Succeeded payments and their refunds, two queries for any number of bookings."""
    if not booking_ids:
        return {}
    payments = list(await session.scalars(
        select(Payment).where(Payment.booking_id.in_(booking_ids), Payment.status == PaymentStatus.succeeded.value)
        .order_by(Payment.succeeded_at, Payment.id)))
    refunded = await refunded_by_payment(session, [p.id for p in payments])
    lines: dict[int, list[PaymentLine]] = defaultdict(list)
    for payment in payments:
        lines[payment.booking_id].append(PaymentLine(
            purpose=payment.purpose, method=payment.method, amount_cents=payment.amount_cents,
            refunded_cents=refunded.get(payment.id, 0), received_at=payment.succeeded_at))
    return {booking_id: BookingLedger(paid_cents=sum(line.amount_cents for line in booking_lines),
                                      refunded_cents=sum(line.refunded_cents for line in booking_lines),
                                      payments=booking_lines)
            for booking_id, booking_lines in lines.items()}


async def refunded_by_payment(session: AsyncSession, payment_ids: list[int]) -> dict[int, int]:
    if not payment_ids:
        return {}
    rows = await session.execute(
        select(Refund.payment_id, func.sum(Refund.amount_cents))
        .where(Refund.payment_id.in_(payment_ids), refunds_counted()).group_by(Refund.payment_id))
    return {payment_id: int(total) for payment_id, total in rows}


provide_ledger(read_booking_ledgers)
