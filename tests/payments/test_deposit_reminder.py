"""The reminder before an unpaid hold lapses: sent once, `deposit_reminder_hours_before` (a station rule, 6 by
default) before the hold's end, with how to pay (the same instructions as the holding email and the pages) and the
manage link; never for a booking that no longer awaits its deposit, nor twice however many processes run the task."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from myhibachi.auth.permissions import Role
from myhibachi.core.runtime import Runtime
from myhibachi.payments.jobs import send_deposit_reminders
from myhibachi.payments.models import DepositReminder
from myhibachi.pricing.rules import DEFAULT_RULES
from myhibachi.settings import Settings
from tests.conftest import mail_text, read_mails
from tests.payments.conftest import API

pytestmark = pytest.mark.no_stripe
HOLD_ENDS = datetime(2026, 12, 2, 16, 0, tzinfo=UTC)  # 24 h after the booking fixtures' frozen "now"
REMINDER_AT = HOLD_ENDS - timedelta(hours=6)
SUBJECT = "Reminder: pay the deposit to keep your date"


def reminders(settings: Settings) -> list:
    return [m for m in read_mails(settings) if m["Subject"].startswith(SUBJECT)]


async def test_the_reminder_goes_out_once_six_hours_before_the_hold_lapses(client, db, runtime, station, book,
                                                                            clock, settings):
    booking = await book(station.id)

    clock.move_to(REMINDER_AT - timedelta(seconds=1))
    assert await send_deposit_reminders(runtime.jobs) == 0
    clock.move_to(REMINDER_AT)
    assert await send_deposit_reminders(runtime.jobs) == 1
    assert await send_deposit_reminders(runtime.jobs) == 0  # run again: nothing more
    clock.move_to(HOLD_ENDS - timedelta(minutes=1))
    assert (await runtime.jobs.run_periodic_tasks())["payments.remind_deposits"] == 0

    [mail] = reminders(settings)
    assert mail["Subject"] == f"{SUBJECT} — {booking['reference']}" and mail["To"] == "dana@example.com"
    text, link = mail_text(mail), f"http://testserver/manage/{booking['manage_token']}"
    assert "until Wednesday, December 2, 2026 at 8:00 AM PST" in text
    assert "Amount due now: $100.00" in text and "Pay by: Wednesday, December 2, 2026 at 8:00 AM PST" in text
    assert f"Send $100.00 by Zelle to {settings.zelle_handle} and write {booking['reference']} in the memo." in text
    assert f"Sent it? Tell us, so we look out for it: {link}" in text
    assert f"See or change your booking: {link}" in text
    assert "by card" not in text  # no card keys here
    async with db.transaction(write=False) as session:
        [row] = list(await session.scalars(select(DepositReminder)))
    assert (row.booking_id, row.hold_expires_at, row.sent_at) == (booking["id"], HOLD_ENDS, REMINDER_AT)


async def test_two_processes_running_it_at_once_send_it_once(runtime, station, book, clock, settings):
    await book(station.id)
    clock.move_to(REMINDER_AT + timedelta(minutes=5))
    other = Runtime(settings)  # another process: its own database pool and job queue, the same database
    try:
        sent = await asyncio.gather(send_deposit_reminders(runtime.jobs), send_deposit_reminders(other.jobs))
    finally:
        await other.db.dispose()

    assert sorted(sent) == [0, 1]
    assert len(reminders(settings)) == 1


async def test_no_reminder_for_a_booking_that_no_longer_awaits_its_deposit(client, runtime, station, book, clock,
                                                                           settings, make_user, login):
    await make_user("admin@example.com", Role.admin, station)
    paid, cancelled = await book(station.id), await book(station.id, slot="12:00", email="sam@example.com")
    recorded = await client.post(f"{API}/bookings/{paid['id']}/payments", headers=await login("admin@example.com"),
                                 json={"method": "zelle", "amount_cents": 10000, "reference": "ZL-1"})
    assert recorded.status_code == 201, recorded.text
    assert (await client.post(f"{API}/manage/{cancelled['manage_token']}/cancel", json={})).status_code == 200

    clock.move_to(REMINDER_AT + timedelta(minutes=1))
    assert await send_deposit_reminders(runtime.jobs) == 0
    assert reminders(settings) == []


async def test_the_station_rule_sets_when_and_zero_turns_it_off(client, runtime, station, book, clock, settings,
                                                                make_user, login):
    await make_user("root@example.com", Role.super_admin)

    async def rules(hours: int) -> None:
        body = {**DEFAULT_RULES.model_dump(mode="json"), "deposit_reminder_hours_before": hours}
        saved = await client.put(f"{API}/stations/{station.id}/rules", headers=await login("root@example.com"),
                                 json=body)  # a fresh token: the clock moves by hours
        assert saved.status_code == 200, saved.text

    await rules(12)
    first = await book(station.id)
    clock.move_to(HOLD_ENDS - timedelta(hours=12))
    assert await send_deposit_reminders(runtime.jobs) == 1
    assert [m["Subject"] for m in reminders(settings)] == [f"{SUBJECT} — {first['reference']}"]

    await rules(0)
    await book(station.id, slot="12:00", email="sam@example.com")  # holds until 2026-12-03 04:00 UTC
    clock.move_to(datetime(2026, 12, 3, 3, 59, tzinfo=UTC))
    assert await send_deposit_reminders(runtime.jobs) == 0


async def test_a_hold_shorter_than_the_window_gets_no_reminder(client, runtime, station, book, clock, settings,
                                                               make_user, login):
    """Its "we're holding your date" email, just sent, already says all of it."""
    await make_user("root@example.com", Role.super_admin)
    body = {**DEFAULT_RULES.model_dump(mode="json"), "hold_hours": 4}
    saved = await client.put(f"{API}/stations/{station.id}/rules", headers=await login("root@example.com"), json=body)
    assert saved.status_code == 200, saved.text
    await book(station.id)

    clock.move_to(datetime(2026, 12, 1, 17, 0, tzinfo=UTC))
    assert await send_deposit_reminders(runtime.jobs) == 0
    assert reminders(settings) == []
