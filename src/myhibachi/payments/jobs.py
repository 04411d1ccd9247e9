"""Background work of the payments domain: what it does when a lower domain records an event, and the reminder
that an unpaid hold is about to lapse."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from myhibachi.bookings.commands import BOOKING_CANCELLED
from myhibachi.bookings.locks import lock_booking
from myhibachi.bookings.models import Booking, BookingStatus
from myhibachi.core.db import utcnow
from myhibachi.core.jobs import JobQueue, periodic_task
from myhibachi.core.outbox import OutboxContext, outbox_handler
from myhibachi.payments import notifications
from myhibachi.payments.commands import settle_cancellation
from myhibachi.payments.gateway import card_gateway
from myhibachi.payments.models import DepositReminder
from myhibachi.payments.queries import payment_options
from myhibachi.pricing.queries import get_rules
from myhibachi.settings import Settings
from myhibachi.stations.models import Station

BATCH = 200


@outbox_handler(BOOKING_CANCELLED)
async def settle_cancelled_booking(session: AsyncSession, payload: dict[str, Any], context: OutboxContext) -> None:
    """Withdraw the cancelled booking's open card intents and pay back what its cancellation policy owes."""
    await settle_cancellation(session, context.settings, card_gateway(context.settings), payload["booking_id"],
                              payload["refund_cents"])


def _reminder_due(booking: Booking, now: datetime, window: timedelta) -> bool:
    """Inside the last `window` of a live hold, and the hold began before that window opened (a hold shorter than
    the window was just told all this by the "we're holding your date" email)."""
    expires = booking.hold_expires_at
    return (booking.status == BookingStatus.pending_deposit.value and expires is not None and window > timedelta(0)
            and expires - window <= now < expires and booking.created_at < expires - window)


@periodic_task("payments.remind_deposits")
async def send_deposit_reminders(jobs: JobQueue) -> int:
    """Holds lapsing within their station's `deposit_reminder_hours_before` get one reminder with how to pay. Each
    booking in its own transaction under its lock; the reminder's row (keyed by the booking) is written with the
    email, so two processes running this at once send it once."""
    now = utcnow()
    async with jobs.db.transaction(write=False) as session:
        due: list[int] = []
        window: dict[int, timedelta] = {}  # station id -> its reminder window
        for station in await session.scalars(select(Station)):
            window[station.id] = timedelta(hours=(await get_rules(session, station.id)).deposit_reminder_hours_before)
            if not window[station.id]:
                continue
            holds = await session.scalars(select(Booking).where(
                Booking.station_id == station.id, Booking.status == BookingStatus.pending_deposit.value,
                Booking.hold_expires_at > now, Booking.hold_expires_at <= now + window[station.id],
                ~select(DepositReminder.booking_id).where(DepositReminder.booking_id == Booking.id).exists(),
            ).order_by(Booking.hold_expires_at).limit(BATCH))
            due += [hold.id for hold in holds if _reminder_due(hold, now, window[station.id])]
    sent = 0
    for booking_id in due:
        async with jobs.unit_of_work() as session:
            sent += await remind_deposit(session, jobs.settings, booking_id)
    return sent


async def remind_deposit(session: AsyncSession, settings: Settings, booking_id: int) -> bool:
    """One hold's reminder, in the caller's transaction (the task's, or the demo history's at its moment): under the
    booking's lock, unless it was paid, cancelled or reminded meanwhile, or is not due. Whether it went out."""
    now = utcnow()
    booking = await lock_booking(session, booking_id)
    window = timedelta(hours=(await get_rules(session, booking.station_id)).deposit_reminder_hours_before)
    if not _reminder_due(booking, now, window) or await session.get(DepositReminder, booking.id) is not None:
        return False
    how_to_pay = await payment_options(session, settings, booking)
    if not how_to_pay.due_now_cents:  # e.g. a card payment landed but has not confirmed it yet
        return False
    session.add(DepositReminder(booking_id=booking.id, hold_expires_at=booking.hold_expires_at, sent_at=now))
    await notifications.deposit_reminder(session, settings, booking, how_to_pay)
    return True
