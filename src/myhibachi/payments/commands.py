"""Payment use-cases: card intents, manual payments, refunds, and the cancellation refund the policy owes.

Money moves only under the booking's lock (`bookings.locks.lock_booking`: its station days, then its row), and a
payment changes only under its own row lock taken after that one, so two requests at once cannot both pass the
"no more than owed / paid" checks, and no two writers wait on each other. Stripe writes carry idempotency keys
derived from our ids, and our own `(scope, key)` columns are unique, so a retry never charges or refunds twice.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from myhibachi.audit.commands import record_audit
from myhibachi.auth.permissions import Permission
from myhibachi.auth.principal import Principal
from myhibachi.bookings.commands import Actor, IdempotencyKeyReused, confirm_booking, request_hash
from myhibachi.bookings.ledger import booking_ledger
from myhibachi.bookings.locks import lock_booking
from myhibachi.bookings.models import Booking, BookingStatus
from myhibachi.bookings.policy import takes_payments_terms, total_due_cents
from myhibachi.core.cache import touch_tags
from myhibachi.core.db import utcnow
from myhibachi.core.errors import Conflict, DomainError, IllegalTransition, NotFound, RateLimited, ValidationFailed
from myhibachi.payments import notifications
from myhibachi.payments.day_totals import rebuild_day_totals
from myhibachi.payments.gateway import CardGateway, CardIntent
from myhibachi.payments.instructions import manual_ways
from myhibachi.payments.ledger import refunded_by_payment
from myhibachi.payments.models import (
    Payment,
    PaymentMethod,
    PaymentNotice,
    PaymentPurpose,
    PaymentStatus,
    Refund,
    RefundStatus,
    payments_tag,
)
from myhibachi.payments.schemas import ManualPaymentCreate, PaymentSent, RefundCreate
from myhibachi.settings import Settings
from myhibachi.stations.models import Station

log = structlog.get_logger(__name__)
PAYABLE_INTENT_STATES = {"requires_payment_method", "requires_confirmation", "requires_action"}


class CardPaymentsDisabled(Conflict):
    code = "card_payments_disabled"


class NothingDue(Conflict):
    code = "nothing_due"


class Overpayment(ValidationFailed):
    code = "overpayment"


class RefundExceedsPaid(ValidationFailed):
    code = "refund_exceeds_paid"


async def lock_payment(session: AsyncSession, *criteria: ColumnElement[bool]) -> Payment | None:
    """The payment matching `criteria`, locked after its booking (the one lock order); None if there is none."""
    booking_id = await session.scalar(select(Payment.booking_id).where(*criteria))
    if booking_id is None:
        return None
    await lock_booking(session, booking_id)
    stmt = select(Payment).where(*criteria).with_for_update().execution_options(populate_existing=True)
    return await session.scalar(stmt)


async def _locked_payment(session: AsyncSession, payment_id: int) -> Payment:
    payment = await lock_payment(session, Payment.id == payment_id)
    if payment is None:
        raise NotFound("No such payment.")
    return payment


async def _audit_payment(session: AsyncSession, user_id: int | None, action: str, payment: Payment,
                         after: dict[str, Any], reason: str | None = None) -> None:
    await record_audit(session, actor_user_id=user_id, action=action, target_type="payment", target_id=payment.id,
                       station_id=payment.station_id, before=None,
                       after={"booking_id": payment.booking_id, **after}, reason=reason)


def staff_payment_scope(principal: Principal, payment: Payment, permission: Permission) -> None:
    principal.authorize(permission, payment.station_id, missing="No such payment.")


# --- card payments ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CardPaymentStarted:
    payment: Payment
    intent: CardIntent


def _amount_due(booking: Booking, purpose: PaymentPurpose, net_paid: int) -> int:
    if purpose is PaymentPurpose.deposit:
        if booking.status != BookingStatus.pending_deposit.value:
            raise IllegalTransition("The deposit is only paid while the booking awaits it; this booking is "
                                    f"{booking.status.replace('_', ' ')}.")
        if booking.hold_lapsed(utcnow()):
            raise IllegalTransition("The hold on this date has lapsed without a deposit; please book again.")
        return max(0, booking.quote["deposit_cents"] - net_paid)
    if booking.status != BookingStatus.confirmed.value:
        raise IllegalTransition("The balance is paid online once the booking is confirmed.")
    return max(0, total_due_cents(booking) - net_paid)


async def start_card_payment(session: AsyncSession, settings: Settings, cards: CardGateway | None, booking_id: int,
                             purpose: PaymentPurpose) -> CardPaymentStarted:
    """A PaymentIntent for the amount due now; asking again for the same purpose and amount gives the same one."""
    if cards is None:
        raise CardPaymentsDisabled("Card payments are not available. " + " ".join(manual_instructions(settings)))
    booking = await lock_booking(session, booking_id)  # one intent per booking at a time
    net_paid = (await booking_ledger(session, booking.id)).net_paid_cents
    amount = _amount_due(booking, purpose, net_paid)
    if amount <= 0:
        raise NothingDue(f"Nothing is due for the {purpose.value} of this booking.")
    open_payments = list(await session.scalars(select(Payment).where(
        Payment.booking_id == booking.id, Payment.purpose == purpose.value, Payment.method == PaymentMethod.card.value,
        Payment.status.in_([PaymentStatus.pending.value, PaymentStatus.failed.value])).order_by(Payment.id)))
    for payment in open_payments:
        if payment.amount_cents == amount and payment.provider_intent_id:
            intent = await cards.retrieve_intent(payment.provider_intent_id)
            if intent.status in PAYABLE_INTENT_STATES:
                return CardPaymentStarted(payment, intent)
        await _withdraw(cards, payment)  # the amount due changed: nobody should pay the old one
    attempt = 1 + (await session.scalar(select(func.count()).select_from(Payment).where(
        Payment.booking_id == booking.id, Payment.purpose == purpose.value,
        Payment.method == PaymentMethod.card.value)) or 0)
    key = f"{purpose.value}:{booking.id}:{attempt}"
    payment = Payment(booking_id=booking.id, station_id=booking.station_id, purpose=purpose.value,
                      method=PaymentMethod.card.value, status=PaymentStatus.pending.value, amount_cents=amount,
                      currency=booking.quote["currency"], idempotency_key=key)
    session.add(payment)
    await session.flush()
    intent = await cards.create_intent(amount_cents=amount, currency=payment.currency, idempotency_key=key, metadata={
        "booking_id": str(booking.id), "booking_reference": booking.reference, "payment_id": str(payment.id),
        "purpose": purpose.value, "station_id": str(booking.station_id)})
    payment.provider_intent_id = intent.id
    await session.flush()
    return CardPaymentStarted(payment, intent)


async def _withdraw(cards: CardGateway | None, payment: Payment) -> None:
    if cards is not None and payment.provider_intent_id:
        await cards.cancel_intent(payment.provider_intent_id)
    payment.status = PaymentStatus.canceled.value


def manual_instructions(settings: Settings) -> list[str]:
    return [way.sentence() for way in manual_ways(settings)]


# --- manual payments ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Recorded:
    payment: Payment
    created: bool  # False: an idempotent replay


async def record_manual_payment(session: AsyncSession, settings: Settings, principal: Principal, booking_id: int,
                                data: ManualPaymentCreate, *, idempotency_key: str | None = None) -> Recorded:
    """Cash, Zelle, Venmo or check received by staff; confirms the booking once the deposit is covered."""
    booking = await lock_booking(session, booking_id)
    principal.authorize(Permission.payments_record, booking.station_id, missing="No such booking.")
    scoped_key = f"manual:{booking.id}:{idempotency_key}" if idempotency_key else None
    body_hash = request_hash(data)
    if scoped_key and (replay := await session.scalar(select(Payment).where(Payment.idempotency_key == scoped_key))):
        if replay.request_hash != body_hash:
            raise IdempotencyKeyReused.on("header.Idempotency-Key",
                                          "This Idempotency-Key was used for a different payment.")
        return Recorded(replay, created=False)
    if not (terms := takes_payments_terms(booking)).allowed:
        raise IllegalTransition(terms.message)
    ledger = await booking_ledger(session, booking.id)
    due = total_due_cents(booking) - ledger.net_paid_cents
    if data.amount_cents > due:
        raise Overpayment.on("body.amount_cents", f"At most {due} cents is due on this booking.")
    deposit_covered = ledger.paid_cents >= booking.quote["deposit_cents"]
    now = utcnow()
    short = booking.quote["deposit_cents"] - ledger.paid_cents - data.amount_cents
    if booking.hold_lapsed(now) and short > 0:  # money for a released date only counts if it re-confirms it
        raise IllegalTransition(f"The hold has lapsed: record at least the rest of the deposit "
                                f"({booking.quote['deposit_cents'] - ledger.paid_cents} cents) to confirm it, "
                                "or rebook.")
    purpose = data.purpose or (PaymentPurpose.balance if deposit_covered else PaymentPurpose.deposit)
    payment = Payment(booking_id=booking.id, station_id=booking.station_id, purpose=purpose.value,
                      method=data.method.value, status=PaymentStatus.succeeded.value, amount_cents=data.amount_cents,
                      currency=booking.quote["currency"], reference=data.reference, idempotency_key=scoped_key,
                      request_hash=body_hash, recorded_by_user_id=principal.user_id, succeeded_at=now)
    session.add(payment)
    await session.flush()
    await _audit_payment(session, principal.user_id, "payments.record", payment, {
        "method": payment.method, "amount_cents": payment.amount_cents, "purpose": payment.purpose,
        "reference": payment.reference})
    if booking.awaits_deposit and ledger.paid_cents + payment.amount_cents >= booking.quote["deposit_cents"]:
        await confirm_booking(session, settings, Actor.staff(principal), booking.id,
                              receipt=notifications.receipt_line(payment))
    else:
        await notifications.payment_receipt(session, settings, booking, payment)
    return Recorded(payment, created=True)


# --- "I've sent it" ---------------------------------------------------------------------------------------------------

NOTICES_PER_BOOKING_PER_DAY = 5  # each one emails the station's staff


def payment_sent_refusal(settings: Settings, booking: Booking, now: datetime, deposit_due_cents: int) -> str | None:
    """Why the customer cannot tell us a payment is on its way now (None: they can). Only a deposit awaited under a
    live hold is: afterwards staff are no longer looking out for one, and the balance is paid at the event."""
    if booking.status == BookingStatus.pending_deposit.value:
        if booking.hold_lapsed(now):
            return ("The hold on this date has lapsed, so we are no longer expecting the deposit. If you have sent "
                    f"it, please call us at {settings.brand_phone} with your reference, {booking.reference}.")
        if deposit_due_cents <= 0:
            return "Your deposit has been received; nothing is due now."
        return None
    if booking.status == BookingStatus.confirmed.value:
        return "Your deposit has arrived and your booking is confirmed; there is nothing to tell us."
    return f"This booking is {booking.status.replace('_', ' ')}; no payment is expected."


async def report_payment_sent(session: AsyncSession, settings: Settings, booking_id: int,
                              data: PaymentSent) -> PaymentNotice:
    """The customer (holding the manage link) says a manual payment is on its way: stored, audited, and emailed to
    the station's staff who record payments. Nothing is marked paid: staff record the payment when it arrives. 409
    `nothing_due` when the booking no longer awaits its deposit; 429 beyond a few notices a day per booking."""
    booking = await lock_booking(session, booking_id)  # under the lock every status change takes
    now = utcnow()
    ledger = await booking_ledger(session, booking.id)
    deposit_due = max(0, booking.quote["deposit_cents"] - ledger.net_paid_cents)
    if (refusal := payment_sent_refusal(settings, booking, now, deposit_due)) is not None:
        raise NothingDue(refusal)
    since = now - timedelta(days=1)
    recent = list(await session.scalars(select(PaymentNotice.created_at).where(
        PaymentNotice.booking_id == booking.id, PaymentNotice.created_at > since).order_by(PaymentNotice.created_at)))
    if len(recent) >= NOTICES_PER_BOOKING_PER_DAY:
        wait = recent[-NOTICES_PER_BOOKING_PER_DAY] + timedelta(days=1) - now
        raise RateLimited(retry_after=math.ceil(wait.total_seconds()),
                          detail="You have told us several times today; we have your messages and will confirm "
                                 "by email once the payment arrives.")
    notice = PaymentNotice(booking_id=booking.id, station_id=booking.station_id, method=data.method.value,
                           reference=data.reference or None, amount_cents=deposit_due,
                           currency=booking.quote["currency"], created_at=now)
    session.add(notice)
    await session.flush()
    await record_audit(session, actor_user_id=None, action="payments.payment_sent", target_type="booking",
                       target_id=booking.id, station_id=booking.station_id, before=None,
                       after={"by": "customer", "notice_id": notice.id, "method": notice.method,
                              "reference": notice.reference, "amount_cents": notice.amount_cents})
    await notifications.payment_sent(session, settings, booking, notice)
    return notice


# --- refunds ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Refunded:
    refund: Refund
    created: bool


async def refund_payment(session: AsyncSession, settings: Settings, cards: CardGateway | None, principal: Principal,
                         payment_id: int, data: RefundCreate, *, idempotency_key: str | None = None) -> Refunded:
    """Give back all or part of a payment, never more than is left of it: card payments through Stripe, others
    recorded with the method used to pay back."""
    payment = await _locked_payment(session, payment_id)
    principal.authorize(Permission.payments_refund, payment.station_id, missing="No such payment.")
    body_hash = request_hash(data)
    scoped_key = f"staff:{payment.id}:{idempotency_key}" if idempotency_key else None
    if scoped_key and (replay := await session.scalar(select(Refund).where(Refund.idempotency_key == scoped_key))):
        if replay.request_hash != body_hash:
            raise IdempotencyKeyReused.on("header.Idempotency-Key",
                                          "This Idempotency-Key was used for a different refund.")
        return Refunded(replay, created=False)
    if payment.method == PaymentMethod.card.value and data.method not in (None, PaymentMethod.card):
        raise ValidationFailed.on("body.method", "A card payment is refunded to the card.")
    if payment.method != PaymentMethod.card.value and data.method is PaymentMethod.card:
        raise ValidationFailed.on("body.method", "Only a card payment can be refunded to a card.")
    method = PaymentMethod.card if payment.method == PaymentMethod.card.value else (data.method or
                                                                                   PaymentMethod(payment.method))
    if method is PaymentMethod.card and cards is None:
        raise CardPaymentsDisabled("Card payments are not configured here, so a card refund cannot be sent.")
    refund = await _refund(session, settings, cards, payment, data.amount_cents, method=method, reason=data.reason,
                           user_id=principal.user_id, key=scoped_key, request_hash=body_hash)
    return Refunded(refund, created=True)


def refund_problem(status: str, amount_cents: int, refunded_cents: int, asked_cents: int) -> DomainError | None:
    """Why `asked_cents` cannot be refunded from a payment of `amount_cents` of which `refunded_cents` went back
    already (None: it can). The refund's own check, which a page's preview of the refund asks too."""
    if status != PaymentStatus.succeeded.value:
        return IllegalTransition(f"Only a received payment can be refunded; this one is {status}.")
    left = amount_cents - refunded_cents
    if asked_cents > left:
        return RefundExceedsPaid.on("body.amount_cents", f"At most {left} cents of this payment can be refunded.")
    return None


async def _refund(session: AsyncSession, settings: Settings, cards: CardGateway | None, payment: Payment,
                  amount_cents: int, *,
                  method: PaymentMethod, reason: str, user_id: int | None, key: str | None,
                  request_hash: str | None = None) -> Refund:
    """The one way money goes back: checks what is left of the payment (under its row lock), then refunds."""
    refunded = (await refunded_by_payment(session, [payment.id])).get(payment.id, 0)
    if problem := refund_problem(payment.status, payment.amount_cents, refunded, amount_cents):
        raise problem
    card = method is PaymentMethod.card
    refund = Refund(payment_id=payment.id, station_id=payment.station_id, amount_cents=amount_cents,
                    method=method.value, reason=reason,
                    status=RefundStatus.pending.value if card else RefundStatus.succeeded.value,
                    idempotency_key=key, request_hash=request_hash, requested_by_user_id=user_id)
    session.add(refund)
    await session.flush()
    if card:
        assert cards is not None and payment.provider_intent_id is not None
        count = await session.scalar(select(func.count()).select_from(Refund).where(Refund.payment_id == payment.id))
        done = await cards.refund(payment_intent_id=payment.provider_intent_id, amount_cents=amount_cents,
                                  idempotency_key=f"refund:{key or f'{payment.id}:{count}'}",
                                  metadata={"payment_id": str(payment.id), "refund_id": str(refund.id),
                                            "booking_id": str(payment.booking_id)})
        refund = await _adopt_provider_refund(session, refund, done.id)
        refund.status = refund_status(done.status)
        await session.flush()
    await _audit_payment(session, user_id, "payments.refund", payment, {
        "refund_id": refund.id, "amount_cents": amount_cents, "method": method.value, "status": refund.status},
        reason=reason)
    booking = await session.get_one(Booking, payment.booking_id)
    await notifications.refund_notice(session, settings, booking, payment, refund)
    return refund


async def _adopt_provider_refund(session: AsyncSession, refund: Refund, provider_id: str) -> Refund:
    """Stripe answers a repeated key with the refund it already made: if a webhook recorded it first, keep that
    row (with our key) rather than counting the money twice."""
    existing = await session.scalar(select(Refund).where(Refund.provider_refund_id == provider_id))
    if existing is None:
        refund.provider_refund_id = provider_id
        return refund
    existing.idempotency_key, existing.request_hash = refund.idempotency_key, refund.request_hash
    existing.requested_by_user_id, existing.reason = refund.requested_by_user_id, refund.reason
    await session.delete(refund)
    await session.flush()
    return existing


def refund_status(provider_status: str | None) -> str:
    if provider_status in ("failed", "canceled"):
        return RefundStatus.failed.value
    return RefundStatus.succeeded.value if provider_status == "succeeded" else RefundStatus.pending.value


async def refund_in_full(session: AsyncSession, settings: Settings, cards: CardGateway | None, payment: Payment, *,
                         reason: str, key: str) -> Refund | None:
    """What is left of a card payment, back to the card (once per `key`); None when nothing is left."""
    if await session.scalar(select(Refund.id).where(Refund.idempotency_key == key)) is not None:
        return None
    left = payment.amount_cents - (await refunded_by_payment(session, [payment.id])).get(payment.id, 0)
    if left <= 0:
        return None
    return await _refund(session, settings, cards, payment, left, method=PaymentMethod.card, reason=reason,
                         user_id=None, key=key)


# --- the cancellation refund ----------------------------------------------------------------------------------------


async def settle_cancellation(session: AsyncSession, settings: Settings, cards: CardGateway | None, booking_id: int,
                              refund_cents: int) -> None:
    """After a cancellation: withdraw open card intents, refund what the policy owes to the cards it came from
    (newest payment first), and tell staff about any part paid by hand that they must give back themselves."""
    booking = await lock_booking(session, booking_id)
    payments = list(await session.scalars(select(Payment).where(Payment.booking_id == booking.id)
                                          .order_by(Payment.id.desc()).with_for_update()))
    for payment in payments:
        if payment.method == PaymentMethod.card.value and payment.status in (PaymentStatus.pending.value,
                                                                            PaymentStatus.failed.value):
            await _withdraw(cards, payment)
    owed = refund_cents
    refunded = await refunded_by_payment(session, [p.id for p in payments])
    by_hand: list[tuple[Payment, int]] = []
    for payment in (p for p in payments if p.status == PaymentStatus.succeeded.value):
        if owed <= 0:
            break
        amount = min(owed, payment.amount_cents - refunded.get(payment.id, 0))
        if amount <= 0:
            continue
        owed -= amount
        key = f"cancel:{booking.id}:{payment.id}"
        if await session.scalar(select(Refund.id).where(Refund.idempotency_key == key)) is not None:
            continue
        if payment.method == PaymentMethod.card.value and cards is not None:
            await _refund(session, settings, cards, payment, amount, method=PaymentMethod.card,
                          reason="Cancellation refund under the booking policy", user_id=None, key=key)
        else:
            by_hand.append((payment, amount))
    if by_hand:
        await notifications.refund_by_hand(session, settings, booking, by_hand)


async def rebuild_payment_day_totals(session: AsyncSession, station_codes: Sequence[str] = ()) -> list[str]:
    """Recompute analytics' per-day totals of these stations (by code; none: every station) from the ledger, for
    payments or refunds written around the app (a hand-made SQL fix), which no flush counted. The cached reports
    are dropped at commit. Returns the codes rebuilt; an unknown code is a 404 and changes nothing."""
    codes = sorted({code.upper() for code in station_codes})
    stations = select(Station.id, Station.code)
    if codes:
        stations = stations.where(Station.code.in_(codes))
    found: dict[int, str] = dict((await session.execute(stations)).all())
    if unknown := set(codes) - set(found.values()):
        raise NotFound(f"No station with code {', '.join(sorted(unknown))}.")
    ids = sorted(found) if codes else None
    await session.run_sync(lambda sync: rebuild_day_totals(sync.connection(), ids))
    touch_tags(session, payments_tag(None), *(payments_tag(station_id) for station_id in found))
    return sorted(found.values())
