"""Periodic booking work: release lapsed holds, send due reminders and ask for missing protein choices, each found
by querying the database."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import String, cast, select

from myhibachi.bookings import commands, notifications
from myhibachi.bookings.locks import lock_booking
from myhibachi.bookings.models import Booking, BookingStatus
from myhibachi.bookings.policy import menu_change_terms
from myhibachi.bookings.queries import holds_a_chef
from myhibachi.core.db import utcnow
from myhibachi.core.jobs import JobQueue, periodic_task
from myhibachi.pricing.queries import get_rules
from myhibachi.stations.models import Station
from myhibachi.stations.queries import get_station

BATCH = 200


@periodic_task("bookings.expire_holds")
async def expire_lapsed_holds(jobs: JobQueue) -> int:
    """Each lapsed hold expires in its own transaction, taking the usual locks, so it never blocks bookings."""
    async with jobs.db.transaction(write=False) as session:
        lapsed = list(await session.scalars(select(Booking.id).where(
            Booking.status == BookingStatus.pending_deposit.value, Booking.hold_expires_at <= utcnow(),
        ).order_by(Booking.hold_expires_at).limit(BATCH)))
    expired = 0
    for booking_id in lapsed:
        async with jobs.unit_of_work() as session:
            expired += await commands.release_lapsed_holds_around(session, jobs.settings, booking_id)
    return expired


@periodic_task("bookings.send_reminders")
async def send_due_reminders(jobs: JobQueue) -> int:
    """Confirmed events starting within the station's reminder window get one reminder: `reminder_sent_at` is set
    in the transaction that queues the email, under the booking's row lock."""
    now = utcnow()
    async with jobs.db.transaction(write=False) as session:
        due: list[int] = []
        window: dict[int, timedelta] = {}  # station id -> its reminder window
        for station in await session.scalars(select(Station)):
            rules = await get_rules(session, station.id)
            window[station.id] = timedelta(hours=rules.reminder_hours_before)
            due += await session.scalars(select(Booking.id).where(
                Booking.station_id == station.id, Booking.status == BookingStatus.confirmed.value,
                Booking.reminder_sent_at.is_(None), Booking.event_start > now,
                Booking.event_start <= now + window[station.id]).limit(BATCH))
    sent = 0
    for booking_id in due:
        async with jobs.unit_of_work() as session:
            booking = await lock_booking(session, booking_id)
            # Re-checked under the lock: a reschedule since the query may have moved the event out of the window.
            if (booking.status != BookingStatus.confirmed.value or booking.reminder_sent_at is not None
                    or not now < booking.event_start <= now + window[booking.station_id]):
                continue
            booking.reminder_sent_at = utcnow()
            station = await get_station(session, booking.station_id)
            await notifications.event_reminder(session, jobs.settings, station, booking,
                                               commands.manage_token(jobs.settings, booking))
            sent += 1
    return sent


@periodic_task("bookings.ask_for_proteins")
async def ask_for_proteins(jobs: JobQueue) -> int:
    """An open booking whose base proteins are not chosen gets one email asking for them once its menu window
    closes within the station's reminder window (`reminder_hours_before`), while it is still open:
    `proteins_reminder_sent_at` is set in the transaction that queues the email, under the booking's row lock."""
    now = utcnow()
    async with jobs.db.transaction(write=False) as session:
        due: list[int] = []
        for station in await session.scalars(select(Station)):
            rules = await get_rules(session, station.id)
            menu_closes = timedelta(hours=rules.menu_change_min_hours)
            due += await session.scalars(select(Booking.id).where(
                Booking.station_id == station.id, holds_a_chef(now), Booking.proteins_reminder_sent_at.is_(None),
                cast(Booking.proteins, String) == "{}",  # stored without zero counts: {} is "none chosen"
                Booking.event_start > now + menu_closes,
                Booking.event_start <= now + menu_closes + timedelta(hours=rules.reminder_hours_before),
            ).order_by(Booking.event_start).limit(BATCH))
    sent = 0
    for booking_id in due:
        async with jobs.unit_of_work() as session:
            booking = await lock_booking(session, booking_id)
            rules = await get_rules(session, booking.station_id)
            terms = menu_change_terms(rules, booking, utcnow())
            asks_from = booking.event_start - timedelta(hours=rules.menu_change_min_hours + rules.reminder_hours_before)
            # Re-checked under the lock: chosen, cancelled or moved (later, or past the menu window) since the query.
            if booking.proteins or booking.proteins_reminder_sent_at is not None or not terms.allowed \
                    or now < asks_from:
                continue
            assert terms.until is not None  # an open menu window has its end
            booking.proteins_reminder_sent_at = utcnow()
            station = await get_station(session, booking.station_id)
            await notifications.proteins_requested(session, jobs.settings, station, booking,
                                                   commands.manage_token(jobs.settings, booking), until=terms.until)
            sent += 1
    return sent
