"""Reading payments: the staff's station-scoped list and detail, and what a customer may pay and how."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, false, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from myhibachi.auth.permissions import Permission
from myhibachi.auth.principal import Principal, scope_to_stations
from myhibachi.bookings.ledger import booking_ledger
from myhibachi.bookings.models import Booking, BookingStatus
from myhibachi.bookings.notifications import local_time_text
from myhibachi.bookings.paying import provide_payment_instructions
from myhibachi.bookings.policy import balance_due_cents
from myhibachi.core.cursors import decode_cursor, encode_cursor
from myhibachi.core.db import utcnow
from myhibachi.core.errors import NotFound, ValidationFailed
from myhibachi.core.money import format_money
from myhibachi.payments.commands import payment_sent_refusal
from myhibachi.payments.instructions import manual_ways
from myhibachi.payments.ledger import refunded_by_payment
from myhibachi.payments.models import (
    NoticeMethod,
    Payment,
    PaymentMethod,
    PaymentNotice,
    PaymentStatus,
    Refund,
    StripeEvent,
)
from myhibachi.payments.schemas import (
    ManualPaymentOption,
    NoticeRead,
    OnlinePurpose,
    PaymentDetail,
    PaymentEventRead,
    PaymentOptions,
    PaymentRead,
    RefundRead,
)
from myhibachi.settings import Settings
from myhibachi.stations.models import Station
from myhibachi.stations.queries import get_station


@dataclass(frozen=True)
class PaymentFilter:
    station_id: int | None = None
    method: PaymentMethod | None = None
    status: PaymentStatus | None = None
    date_from: date | None = None  # local dates of each payment's station, inclusive, by when it was created
    date_to: date | None = None


async def _scoped_stations(session: AsyncSession, principal: Principal, station_id: int | None) -> list[Station]:
    """The station-scoping choke point for payments: the stations whose payments the principal may read."""
    if station_id is not None:
        principal.authorize(Permission.payments_read, station_id)
        return list(await session.scalars(select(Station).where(Station.id == station_id)))
    readable = principal.stations_with(Permission.payments_read)
    if readable is not None and not readable:
        raise principal.deny(Permission.payments_read, None, "Your role does not allow reading payments.")
    stmt = select(Station) if readable is None else select(Station).where(Station.id.in_(sorted(readable)))
    return list(await session.scalars(stmt))


def _station_window(station: Station, filters: PaymentFilter):  # noqa: ANN202 - a SQL condition
    zone = ZoneInfo(station.timezone)
    conditions = [Payment.station_id == station.id]
    if filters.date_from:
        conditions.append(Payment.created_at >= datetime.combine(filters.date_from, time(), zone))
    if filters.date_to:
        conditions.append(Payment.created_at < datetime.combine(filters.date_to + timedelta(days=1), time(), zone))
    return and_(*conditions)


async def list_payments(session: AsyncSession, principal: Principal, filters: PaymentFilter, *,
                        cursor: str | None, limit: int) -> tuple[list[PaymentRead], str | None]:
    """Newest first, keyset-paginated; dates are local to each payment's station."""
    if filters.date_from and filters.date_to and filters.date_to < filters.date_from:
        raise ValidationFailed.on("query.to", "to must not be before from")
    stations = await _scoped_stations(session, principal, filters.station_id)
    stmt = select(Payment).where(or_(false(), *[_station_window(s, filters) for s in stations]))
    if filters.method:
        stmt = stmt.where(Payment.method == filters.method.value)
    if filters.status:
        stmt = stmt.where(Payment.status == filters.status.value)
    if cursor:
        before_created, before_id = decode_cursor(cursor)
        stmt = stmt.where(or_(Payment.created_at < before_created,
                              and_(Payment.created_at == before_created, Payment.id < before_id)))
    rows = list(await session.scalars(stmt.order_by(Payment.created_at.desc(), Payment.id.desc()).limit(limit + 1)))
    next_cursor = encode_cursor(rows[limit - 1].created_at, rows[limit - 1].id) if len(rows) > limit else None
    return await read_payments(session, rows[:limit]), next_cursor


async def read_payments(session: AsyncSession, payments: list[Payment]) -> list[PaymentRead]:
    references = dict((await session.execute(select(Booking.id, Booking.reference).where(
        Booking.id.in_({p.booking_id for p in payments})))).all())
    refunded = await refunded_by_payment(session, [p.id for p in payments])
    return [PaymentRead(
        id=p.id, booking_id=p.booking_id, booking_reference=references[p.booking_id], station_id=p.station_id,
        purpose=p.purpose, method=p.method, status=p.status, amount_cents=p.amount_cents,
        refunded_cents=refunded.get(p.id, 0), currency=p.currency, reference=p.reference,
        provider_intent_id=p.provider_intent_id, provider_charge_id=p.provider_charge_id,
        failure_message=p.failure_message, disputed_at=p.disputed_at, dispute_reason=p.dispute_reason,
        recorded_by_user_id=p.recorded_by_user_id, created_at=p.created_at, succeeded_at=p.succeeded_at)
        for p in payments]


async def payments_by_id(session: AsyncSession, principal: Principal, payment_ids: set[int]) -> dict[int, PaymentRead]:
    """The payments of `payment_ids` the reader may read (others are simply absent), by id: to name them."""
    stmt = scope_to_stations(select(Payment).where(Payment.id.in_(payment_ids)), principal, Permission.payments_read,
                             Payment.station_id)
    return {read.id: read for read in await read_payments(session, list(await session.scalars(stmt)))}


async def find_readable_payment(session: AsyncSession, principal: Principal, payment_id: int,
                                permission: Permission = Permission.payments_read) -> Payment:
    payment = await session.get(Payment, payment_id)
    if payment is None:
        raise NotFound("No such payment.")
    principal.authorize(permission, payment.station_id, missing="No such payment.")  # as if absent
    return payment


async def payment_detail(session: AsyncSession, principal: Principal, payment_id: int) -> PaymentDetail:
    payment = await find_readable_payment(session, principal, payment_id)
    (read,) = await read_payments(session, [payment])
    refunds = await session.scalars(select(Refund).where(Refund.payment_id == payment.id).order_by(Refund.id))
    events = [] if payment.provider_intent_id is None else await session.scalars(
        select(StripeEvent).where(StripeEvent.payment_intent_id == payment.provider_intent_id)
        .order_by(StripeEvent.received_at, StripeEvent.id))
    return PaymentDetail(**read.model_dump(), refunds=[RefundRead.model_validate(r) for r in refunds],
                         events=[PaymentEventRead(id=e.id, type=e.type, received_at=e.received_at,
                                                  handled_at=e.handled_at, outcome=e.outcome) for e in events])


async def payment_options(session: AsyncSession, settings: Settings, booking: Booking) -> PaymentOptions:
    """How the customer can pay now, how much and by when: the one answer rendered by the booking emails (through
    `bookings.paying`), the confirmation page, the manage page and the pay page. The card form only when Stripe
    keys are configured."""
    station = await get_station(session, booking.station_id)
    zone, now, currency = ZoneInfo(station.timezone), utcnow(), booking.quote["currency"]
    paid = (await booking_ledger(session, booking.id)).net_paid_cents
    deposit_due = max(0, booking.quote["deposit_cents"] - paid) \
        if booking.status == BookingStatus.pending_deposit.value else 0
    balance_due = balance_due_cents(booking, paid)
    due_now, due_now_cents, due_by = None, 0, None
    if booking.status == BookingStatus.pending_deposit.value and not booking.hold_lapsed(now) and deposit_due:
        due_now, due_now_cents, due_by = OnlinePurpose.deposit, deposit_due, booking.hold_expires_at
    elif booking.status == BookingStatus.confirmed.value and balance_due:
        due_now, due_now_cents = OnlinePurpose.balance, balance_due
    amount = format_money(due_now_cents, currency) if due_now_cents else None
    notices = await session.scalars(select(PaymentNotice).where(PaymentNotice.booking_id == booking.id)
                                    .order_by(PaymentNotice.created_at.desc(), PaymentNotice.id.desc()))
    return PaymentOptions(
        reference=booking.reference, currency=currency, timezone=station.timezone,
        card_enabled=settings.card_payments_enabled, publishable_key=settings.stripe_publishable_key
        if settings.card_payments_enabled else None,
        manual=[ManualPaymentOption(method=way.method, label=way.label, handle=way.handle,
                                    instructions=way.sentence(amount, booking.reference))
                for way in manual_ways(settings)],
        deposit_due_cents=deposit_due, balance_due_cents=balance_due, due_now=due_now, due_now_cents=due_now_cents,
        due_by=due_by.astimezone(zone) if due_by else None,
        due_by_text=local_time_text(due_by, station) if due_by else None,
        can_report_sent=payment_sent_refusal(settings, booking, now, deposit_due) is None,
        sent=[notice_read(notice, zone) for notice in notices])


def notice_read(notice: PaymentNotice, zone: ZoneInfo) -> NoticeRead:
    return NoticeRead(id=notice.id, method=NoticeMethod(notice.method), reference=notice.reference,
                      amount_cents=notice.amount_cents, currency=notice.currency,
                      created_at=notice.created_at.astimezone(zone))


async def booking_notices(session: AsyncSession, principal: Principal, booking_id: int,
                          station_id: int) -> list[NoticeRead] | None:
    """What the customer said they sent, newest first, for staff who may read the station's payments (else None)."""
    if not principal.can(Permission.payments_read, station_id):
        return None
    zone = ZoneInfo((await get_station(session, station_id)).timezone)
    notices = await session.scalars(select(PaymentNotice).where(PaymentNotice.booking_id == booking_id)
                                    .order_by(PaymentNotice.created_at.desc(), PaymentNotice.id.desc()))
    return [notice_read(notice, zone) for notice in notices]


async def booking_payments(session: AsyncSession, principal: Principal, booking_id: int,
                           station_id: int) -> list[PaymentDetail] | None:
    """A booking's payments with their refunds, oldest first; None for a reader who may not see payments there (a
    chef: need to know)."""
    if not principal.can(Permission.payments_read, station_id):
        return None
    ids = await session.scalars(select(Payment.id).where(Payment.booking_id == booking_id).order_by(Payment.id))
    return [await payment_detail(session, principal, payment_id) for payment_id in ids]


def may_read_payments(principal: Principal, station_id: int) -> bool:
    """Whether the reader sees the station's money (totals, balances, payments)."""
    return principal.can(Permission.payments_read, station_id)


def may_refund(principal: Principal, station_id: int) -> bool:
    """Whether the reader may refund the station's payments (the refund links are theirs to see)."""
    return principal.can(Permission.payments_refund, station_id)


async def refundable_payment(session: AsyncSession, principal: Principal, payment_id: int) -> PaymentDetail:
    """A payment, for one who may refund it (403; another station's: 404)."""
    await find_readable_payment(session, principal, payment_id, Permission.payments_refund)
    return await payment_detail(session, principal, payment_id)


async def refundable_payments(session: AsyncSession, principal: Principal, booking_id: int,
                              station_id: int) -> list[PaymentDetail]:
    """A booking's received payments with something left to refund, for one who may refund there (else 403)."""
    principal.authorize(Permission.payments_refund, station_id, missing="No such booking.")
    payments = await booking_payments(session, principal, booking_id, station_id) or []
    return [p for p in payments if p.status is PaymentStatus.succeeded and p.amount_cents > p.refunded_cents]


provide_payment_instructions(payment_options)
