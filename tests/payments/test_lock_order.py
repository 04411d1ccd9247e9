"""One lock order for every writer of a booking: its station days, then its row, then its payments.

A staff payment, Stripe's webhook and a reschedule of the same booking, each in its own transaction at once: in
any other order two of them wait on each other (PostgreSQL aborts one with a deadlock); in this one they queue.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import select

from myhibachi.auth.principal import Principal
from myhibachi.bookings import commands as bookings
from myhibachi.bookings.ledger import booking_ledger
from myhibachi.bookings.models import Booking, BookingStatus
from myhibachi.bookings.policy import total_due_cents
from myhibachi.payments import commands as payments
from myhibachi.payments.models import Payment, PaymentStatus
from myhibachi.payments.schemas import ManualPaymentCreate
from myhibachi.payments.webhooks import apply_stripe_event, receive_stripe_event
from tests.bookings.conftest import EVENT_DAY
from tests.payments.conftest import API

ROUNDS = 12
DEPOSIT = 10000
STAFF = Principal(user_id=None, email="system@example.com", name="System", is_super_admin=True)


async def _deposit_paid_by_card(client, db, stripe_emulator, booking: dict, n: int) -> str:  # noqa: ANN001
    """The customer paid the deposit by card and Stripe's success event is stored, not yet applied."""
    started = await client.post(f"{API}/manage/{booking['manage_token']}/payment-intent", json={"purpose": "deposit"})
    assert started.status_code == 201, started.text
    intent_id = started.json()["payment_intent_id"]
    assert (await stripe_emulator.browser_pays(intent_id))["status"] == "succeeded"
    event_id = f"evt_lock_order_{n}"
    intent = {"id": intent_id, "object": "payment_intent", "status": "succeeded",
              "latest_charge": f"ch_lock_order_{n}"}
    async with db.transaction() as session:
        assert await receive_stripe_event(session, {"id": event_id, "object": "event", "created": 1_800_000_000,
                                                    "type": "payment_intent.succeeded", "data": {"object": intent}})
    return event_id


async def test_payment_webhook_and_reschedule_at_once_never_deadlock_and_keep_the_ledger(
        client, station, book, db, settings, runtime, stripe_emulator):
    context = runtime.jobs.context

    async def pay(booking_id: int, n: int) -> None:
        async with db.transaction() as session:
            await payments.record_manual_payment(session, settings, STAFF, booking_id, ManualPaymentCreate(
                method="cash", amount_cents=DEPOSIT, reference=f"round {n}"))

    async def webhook(event_id: str) -> None:
        async with db.transaction() as session:
            await apply_stripe_event(session, {"event_id": event_id}, context)

    async def reschedule(booking_id: int, day) -> None:  # noqa: ANN001
        async with db.transaction() as session:
            await bookings.reschedule_booking(session, settings, bookings.SYSTEM_ACTOR, booking_id,
                                              event_date=day, slot_time="12:00")

    for n in range(ROUNDS):
        day = EVENT_DAY + timedelta(days=2 * n)
        booking = await book(station.id, day, "18:00")
        event_id = await _deposit_paid_by_card(client, db, stripe_emulator, booking, n)

        outcomes = await asyncio.gather(pay(booking["id"], n), webhook(event_id),
                                        reschedule(booking["id"], day + timedelta(days=1)),
                                        return_exceptions=True)

        assert outcomes == [None, None, None], f"round {n}: {outcomes!r}"
        async with db.transaction(write=False) as session:
            moved = await session.get_one(Booking, booking["id"])
            rows = list(await session.scalars(select(Payment).where(Payment.booking_id == moved.id)))
            ledger = await booking_ledger(session, moved.id)
        assert (moved.status, moved.event_date, moved.slot_time) == (
            BookingStatus.confirmed.value, day + timedelta(days=1), "12:00")
        assert sorted((p.method, p.status, p.amount_cents) for p in rows) == [
            ("card", PaymentStatus.succeeded.value, DEPOSIT), ("cash", PaymentStatus.succeeded.value, DEPOSIT)]
        assert ledger.paid_cents == sum(p.amount_cents for p in rows) == 2 * DEPOSIT
        assert ledger.refunded_cents == 0
        assert total_due_cents(moved) - ledger.net_paid_cents == moved.quote["total_cents"] - 2 * DEPOSIT
