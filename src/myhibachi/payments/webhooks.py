"""Stripe's webhook events: stored once by id when they arrive, applied later by a job.

Events come at least once and in any order, so each handler sets facts rather than applying deltas: a payment
that succeeded stays succeeded whatever arrives after; refunds are keyed by Stripe's refund id; times come from
the event, not the clock. Delivered three times in any order, the ledger ends as if delivered once in order.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from myhibachi.bookings.commands import SYSTEM_ACTOR, confirm_booking
from myhibachi.bookings.ledger import booking_ledger
from myhibachi.bookings.models import Booking, BookingStatus
from myhibachi.core.errors import Conflict, IllegalTransition
from myhibachi.core.outbox import OutboxContext, add_outbox_message, outbox_handler
from myhibachi.payments import notifications
from myhibachi.payments.commands import lock_payment, refund_in_full, refund_status
from myhibachi.payments.gateway import card_gateway
from myhibachi.payments.models import Payment, PaymentPurpose, PaymentStatus, Refund, RefundStatus, StripeEvent
from myhibachi.settings import Settings

log = structlog.get_logger(__name__)
APPLY_STRIPE_EVENT = "payments.stripe_event"
CONFIRMED = "booking confirmed"


def _intent_id(event: dict[str, Any]) -> str | None:
    obj = event.get("data", {}).get("object", {})
    if not isinstance(obj, dict):
        return None
    found = obj.get("id") if obj.get("object") == "payment_intent" else obj.get("payment_intent")
    return found if isinstance(found, str) else None


async def receive_stripe_event(session: AsyncSession, event: dict[str, Any]) -> bool:
    """Store a verified event once (a race-safe insert on both databases) and queue it; False for a repeat."""
    insert = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
    stored = await session.scalar(
        insert(StripeEvent).values(id=event["id"], type=event["type"], payment_intent_id=_intent_id(event),
                                   payload=event, received_at=datetime.now(UTC))
        .on_conflict_do_nothing(index_elements=["id"]).returning(StripeEvent.id))
    if stored is None:
        return False
    await add_outbox_message(session, APPLY_STRIPE_EVENT, {"event_id": event["id"]})
    return True


EventHandler = Callable[[AsyncSession, Settings, dict[str, Any], datetime], Awaitable[str]]
_HANDLERS: dict[str, EventHandler] = {}


def _handles(event_type: str) -> Callable[[EventHandler], EventHandler]:
    def register(handler: EventHandler) -> EventHandler:
        _HANDLERS[event_type] = handler
        return handler

    return register


@outbox_handler(APPLY_STRIPE_EVENT)
async def apply_stripe_event(session: AsyncSession, payload: dict[str, Any], context: OutboxContext) -> None:
    stmt = select(StripeEvent).where(StripeEvent.id == payload["event_id"])
    if session.bind.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    event = await session.scalar(stmt)
    if event is None or event.handled_at is not None:
        return
    handler = _HANDLERS.get(event.type)
    occurred = datetime.fromtimestamp(int(event.payload.get("created") or 0), UTC)
    obj = event.payload.get("data", {}).get("object", {})
    event.outcome = await handler(session, context.settings, obj, occurred) if handler else "ignored: not handled"
    event.handled_at = datetime.now(UTC)
    log.info("stripe_event_applied", event_id=event.id, type=event.type, outcome=event.outcome)


async def _payment_of(session: AsyncSession, intent_id: Any) -> Payment | None:
    if not isinstance(intent_id, str):
        return None
    return await lock_payment(session, Payment.provider_intent_id == intent_id)


@_handles("payment_intent.succeeded")
async def _intent_succeeded(session: AsyncSession, settings: Settings, intent: dict[str, Any],
                            occurred: datetime) -> str:
    payment = await _payment_of(session, intent.get("id"))
    if payment is None:
        return "ignored: unknown payment intent"
    if payment.status == PaymentStatus.succeeded.value:
        return "already succeeded"
    charge = intent.get("latest_charge")
    payment.status, payment.succeeded_at = PaymentStatus.succeeded.value, occurred
    payment.provider_charge_id = charge.get("id") if isinstance(charge, dict) else charge
    payment.failure_message = None
    await session.flush()
    booking = await session.get_one(Booking, payment.booking_id)
    outcome = await _settle_deposit(session, settings, booking, payment)
    if outcome != CONFIRMED:  # the confirmation is the receipt then
        await notifications.payment_receipt(session, settings, booking, payment)
    return outcome


async def _settle_deposit(session: AsyncSession, settings: Settings, booking: Booking, payment: Payment) -> str:
    """A deposit confirms its booking, even late while a chef is still free; a deposit that can no longer hold
    the date (taken meanwhile, or the booking was cancelled) goes back to the card and everyone is told."""
    gross_paid = (await booking_ledger(session, booking.id)).paid_cents  # gross: a refund seen first changes nothing
    if payment.purpose != PaymentPurpose.deposit.value:
        return "payment recorded"
    if booking.status == BookingStatus.confirmed.value or gross_paid < booking.quote["deposit_cents"]:
        return "payment recorded"
    if booking.awaits_deposit:
        try:
            async with session.begin_nested():
                await confirm_booking(session, settings, SYSTEM_ACTOR, booking.id,
                                      receipt=notifications.receipt_line(payment))
            return CONFIRMED
        except (Conflict, IllegalTransition) as refused:  # the date was taken meanwhile (SlotUnavailable)
            why = refused.detail
    else:
        why = f"The booking is {booking.status.replace('_', ' ')}."
    await refund_in_full(session, settings, card_gateway(settings), payment, key=f"unplaceable:{payment.id}",
                         reason=f"Deposit could not confirm the booking: {why}")
    await notifications.deposit_returned(session, settings, booking, payment, why)
    return "deposit refunded: " + why


@_handles("payment_intent.payment_failed")
async def _intent_failed(session: AsyncSession, settings: Settings, intent: dict[str, Any], occurred: datetime) -> str:
    payment = await _payment_of(session, intent.get("id"))
    if payment is None:
        return "ignored: unknown payment intent"
    if payment.status != PaymentStatus.pending.value:
        return f"ignored: payment is {payment.status}"
    error = intent.get("last_payment_error") or {}
    payment.status = PaymentStatus.failed.value
    payment.failure_message = (error.get("message") if isinstance(error, dict) else None) or "The card was declined."
    return "payment failed"


@_handles("charge.refunded")
async def _charge_refunded(session: AsyncSession, settings: Settings, charge: dict[str, Any],
                           occurred: datetime) -> str:
    payment = await _payment_of(session, charge.get("payment_intent"))
    if payment is None:
        return "ignored: unknown payment intent"
    refunds = (charge.get("refunds") or {}).get("data") or []
    added = 0
    for item in refunds:
        status = item.get("status")
        known = await session.scalar(select(Refund).where(Refund.provider_refund_id == item["id"]))
        if known is not None:
            if known.status != RefundStatus.succeeded.value:  # a refund that succeeded stays so
                known.status = refund_status(status)
            continue
        session.add(Refund(payment_id=payment.id, station_id=payment.station_id, amount_cents=int(item["amount"]),
                           method="card",
                           status=refund_status(status), reason="Refunded at Stripe", provider_refund_id=item["id"],
                           created_at=occurred))
        added += 1
    await session.flush()
    return f"{len(refunds)} refunds seen, {added} new"


@_handles("charge.dispute.created")
async def _dispute_created(session: AsyncSession, settings: Settings, dispute: dict[str, Any],
                           occurred: datetime) -> str:
    payment = await _payment_of(session, dispute.get("payment_intent"))
    if payment is None:
        return "ignored: unknown payment intent"
    if payment.disputed_at is not None:
        return "dispute already recorded"
    payment.disputed_at, payment.dispute_reason = occurred, str(dispute.get("reason") or "unknown")[:100]
    booking = await session.get_one(Booking, payment.booking_id)
    await notifications.dispute_opened(session, settings, booking, payment, int(dispute.get("amount") or 0))
    return "dispute recorded"
