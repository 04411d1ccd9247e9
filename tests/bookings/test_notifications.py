"""Booking emails and periodic booking work: the confirmation over real SMTP with its .ics invite, the reschedule
and cancellation emails, reminders (once, in the window, again after a move, none for closed bookings, none lost
or repeated across a restart), hold expiry, and the manage link's calendar file."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import pytest
from sqlalchemy import select

from myhibachi.audit.models import AuditEntry
from myhibachi.bookings.jobs import expire_lapsed_holds, send_due_reminders
from myhibachi.bookings.models import Booking
from myhibachi.core.runtime import Runtime
from myhibachi.settings import Settings
from tests.bookings.conftest import API, EVENT_DAY, booking_body
from tests.conftest import mail_text, read_mails
from tests.smtp import SmtpServer

LA = ZoneInfo("America/Los_Angeles")
# EVENT_DAY at 18:00 in Fremont is 02:00 UTC the next day; its 48 h reminder window opens two days earlier.
EVENT_START = datetime(2026, 12, 10, 18, 0, tzinfo=LA)
REMINDER_OPENS = EVENT_START.astimezone(UTC) - timedelta(hours=48)  # 2026-12-09T02:00Z
HOLD_ENDS = datetime(2026, 12, 2, 16, 0, tzinfo=UTC)  # 24 h after the frozen "now" of the booking fixtures


# --- helpers ------------------------------------------------------------------------------------------------------


@pytest.fixture
async def admin(make_user, login, station) -> dict[str, str]:
    """An admin of the station, signed in (admins hold payments.record)."""
    await make_user("admin@example.com", "admin", station)
    return await login("admin@example.com")


@pytest.fixture
def confirm(client, admin) -> Callable[[int], Awaitable[dict[str, Any]]]:
    """The deposit arrives by Zelle and the admin records it, which confirms the booking."""

    async def run(booking_id: int) -> dict[str, Any]:
        paid = await client.post(f"{API}/bookings/{booking_id}/payments", headers=admin,
                                 json={"method": "zelle", "amount_cents": 10000, "reference": "Z-1"})
        assert paid.status_code == 201, paid.text
        booking = (await client.get(f"{API}/bookings/{booking_id}", headers=admin)).json()
        assert booking["status"] == "confirmed"
        return booking

    return run


def mails_with(settings: Settings, subject: str) -> list[EmailMessage]:
    return [mail for mail in read_mails(settings) if mail["Subject"].startswith(subject)]


def invite_of(message: EmailMessage) -> icalendar.Calendar:
    [part] = [p for p in message.iter_attachments() if p.get_content_type() == "text/calendar"]
    return icalendar.Calendar.from_ical(part.get_content())


def only_event(calendar: icalendar.Calendar) -> icalendar.Event:
    [event] = calendar.walk("VEVENT")
    return event


def assert_local_start(event: icalendar.Event, expected: datetime) -> None:
    dtstart = event["DTSTART"]
    assert dtstart.params["TZID"] == "America/Los_Angeles"
    assert dtstart.dt == expected
    assert dtstart.dt.replace(tzinfo=None) == expected.replace(tzinfo=None)  # the wall time, not just the instant
    assert dtstart.dt.utcoffset() == expected.utcoffset()


def assert_has_timezone(calendar: icalendar.Calendar, tzid: str = "America/Los_Angeles") -> None:
    assert [str(tz["TZID"]) for tz in calendar.walk("VTIMEZONE")] == [tzid]


async def booking_row(db, booking_id: int) -> Booking:  # noqa: ANN001
    async with db.transaction(write=False) as session:
        return await session.get_one(Booking, booking_id)


# --- the confirmation over a real SMTP server -------------------------------------------------------------------


class TestConfirmationOverSmtp:
    @pytest.fixture
    def settings(self, settings: Settings, smtp_server: SmtpServer) -> Settings:
        """This class's app sends through the loopback SMTP server instead of writing .eml files."""
        return settings.model_copy(update={"smtp_url": smtp_server.url})

    async def test_confirmation_email_has_text_html_and_a_local_time_invite(
            self, client, station, book, confirm, settings, smtp_server):
        created = await book(station.id)

        await confirm(created["id"])

        assert await asyncio.to_thread(smtp_server.wait_for_messages, 2), "the confirmation did not arrive"
        subjects = [m["Subject"] for m in smtp_server.messages]
        assert subjects == [f"We're holding your date — {created['reference']}",
                            f"Deposit received — you are confirmed — {created['reference']}"]
        mail = smtp_server.messages[1]
        assert smtp_server.envelopes[1].rcpt_tos == ["dana@example.com"]
        text = mail.get_body(("plain",)).get_content()
        html = mail.get_body(("html",)).get_content()
        assert "Thursday, December 10, 2026 at 6:00 PM PST" in text
        assert f"http://testserver/manage/{created['manage_token']}" in text
        assert "We received $100.00 by Zelle for your deposit. Reference: Z-1." in text
        assert "<html" in html and "Deposit received — you are confirmed" in html
        assert f'href="http://testserver/manage/{created["manage_token"]}"' in html

        [part] = [p for p in mail.iter_attachments() if p.get_content_type() == "text/calendar"]
        assert part.get_filename() == f"{created['reference']}.ics"
        calendar = icalendar.Calendar.from_ical(part.get_content())
        event = only_event(calendar)
        assert_local_start(event, EVENT_START)
        assert event["DTEND"].params["TZID"] == "America/Los_Angeles"
        assert event.decoded("DTEND") == EVENT_START + timedelta(minutes=90)
        assert_has_timezone(calendar)
        assert str(event["STATUS"]) == "CONFIRMED"
        assert str(calendar["METHOD"]) == "PUBLISH"
        assert created["reference"] in str(event["UID"])
        assert settings.mail_dir.exists() is False  # SMTP configured: no .eml fallback


# --- reschedule and cancellation through the manage link ----------------------------------------------------------


async def test_reschedule_email_has_the_new_time_and_an_updated_invite(client, station, book, confirm, settings):
    created = await book(station.id)
    await confirm(created["id"])
    [confirmation] = mails_with(settings, "Deposit received — you are confirmed")
    first_invite = only_event(invite_of(confirmation))

    response = await client.post(f"{API}/manage/{created['manage_token']}/reschedule",
                                 json={"event_date": "2026-12-12", "slot_time": "15:00"})

    assert response.status_code == 200, response.text
    assert response.json()["event_start"] == "2026-12-12T15:00:00-08:00"
    [moved] = mails_with(settings, "Your booking has moved")
    assert moved["Subject"] == f"Your booking has moved — {created['reference']}"
    text = mail_text(moved)
    assert ("Your party has moved from Thursday, December 10, 2026 at 6:00 PM PST to "
            "Saturday, December 12, 2026 at 3:00 PM PST.") in text
    assert "reschedule fee" not in text  # the first move, more than 24 h ahead, is free
    assert "Saturday, December 12, 2026 at 3:00 PM PST" in moved.get_body(("html",)).get_content()
    calendar = invite_of(moved)
    event = only_event(calendar)
    assert_local_start(event, datetime(2026, 12, 12, 15, 0, tzinfo=LA))
    assert_has_timezone(calendar)
    assert str(event["UID"]) == str(first_invite["UID"])  # the same event, replaced ...
    assert event["SEQUENCE"] > first_invite["SEQUENCE"]  # ... because its sequence went up
    assert (first_invite["SEQUENCE"], event["SEQUENCE"]) == (0, 1)


async def test_second_reschedule_email_names_the_fee(client, station, book, confirm, settings):
    created = await book(station.id)
    await confirm(created["id"])
    manage = f"{API}/manage/{created['manage_token']}"
    assert (await client.post(f"{manage}/reschedule", json={"event_date": "2026-12-12", "slot_time": "15:00"})
            ).status_code == 200

    again = await client.post(f"{manage}/reschedule", json={"event_date": "2026-12-13", "slot_time": "12:00"})

    assert again.status_code == 200, again.text
    moved = mails_with(settings, "Your booking has moved")
    assert len(moved) == 2
    text = mail_text(moved[1])
    assert "from Saturday, December 12, 2026 at 3:00 PM PST to Sunday, December 13, 2026 at 12:00 PM PST" in text
    assert "A reschedule fee of $200.00 was added to the balance." in text
    assert only_event(invite_of(moved[1]))["SEQUENCE"] == 2


async def test_cancellation_email_promises_the_refund_when_early_enough(client, station, book, admin, settings):
    created = await book(station.id)
    paid = await client.post(f"{API}/bookings/{created['id']}/payments", headers=admin,
                             json={"method": "venmo", "amount_cents": 10000, "reference": "V-1"})
    assert paid.status_code == 201, paid.text  # deposit in; the event is 9 days away (refund window: 96 h)

    response = await client.post(f"{API}/manage/{created['manage_token']}/cancel", json={"reason": "Plans changed"})

    assert response.status_code == 200, response.text
    assert response.json()["status"] == "cancelled"
    assert response.json()["refund_owed_cents"] == 10000
    [cancelled] = mails_with(settings, "Your booking is cancelled")
    assert cancelled["Subject"] == f"Your booking is cancelled — {created['reference']}"
    text = mail_text(cancelled)
    assert "Your hibachi party has been cancelled." in text
    assert "$100.00 will be refunded to you; we'll email you when it is on its way." in text
    assert "$100.00 will be refunded" in cancelled.get_body(("html",)).get_content()
    calendar = invite_of(cancelled)
    event = only_event(calendar)
    assert str(calendar["METHOD"]) == "CANCEL" and str(event["STATUS"]) == "CANCELLED"
    assert event["SEQUENCE"] == 1  # supersedes the confirmation's invite (sequence 0)


async def test_cancellation_email_says_no_refund_inside_the_window(client, station, book, confirm, settings, clock):
    created = await book(station.id)
    await confirm(created["id"])
    clock.move_to(EVENT_START - timedelta(hours=95))  # under 96 h before: the deposit is forfeited

    response = await client.post(f"{API}/manage/{created['manage_token']}/cancel", json={})

    assert response.status_code == 200, response.text
    assert response.json()["refund_owed_cents"] == 0
    [cancelled] = mails_with(settings, "Your booking is cancelled")
    text = mail_text(cancelled)
    assert "No refund is due under our cancellation policy." in text
    assert "will be refunded" not in text


async def test_cancelling_an_unpaid_hold_says_nothing_is_owed(client, station, book, settings):
    created = await book(station.id)

    response = await client.post(f"{API}/manage/{created['manage_token']}/cancel", json={})

    assert response.status_code == 200, response.text
    [cancelled] = mails_with(settings, "Your booking is cancelled")
    assert "Nothing was paid, so nothing is owed." in mail_text(cancelled)


# --- reminders ------------------------------------------------------------------------------------------------------


def reminders(settings: Settings) -> list[EmailMessage]:
    return mails_with(settings, "See you soon")


async def test_a_confirmed_booking_gets_one_reminder_once_inside_the_window(
        runtime, station, book, confirm, settings, clock, db):
    created = await book(station.id)
    await confirm(created["id"])

    assert await send_due_reminders(runtime.jobs) == 0  # nine days ahead
    clock.move_to(REMINDER_OPENS - timedelta(seconds=1))
    assert await send_due_reminders(runtime.jobs) == 0  # one second before the 48 h window
    assert reminders(settings) == []

    clock.move_to(REMINDER_OPENS)
    assert await send_due_reminders(runtime.jobs) == 1
    assert await send_due_reminders(runtime.jobs) == 0  # running again sends nothing more
    clock.move_to(REMINDER_OPENS + timedelta(hours=6))
    assert await send_due_reminders(runtime.jobs) == 0

    [reminder] = reminders(settings)
    assert reminder["Subject"] == f"See you soon — {created['reference']}"
    assert reminder["To"] == "dana@example.com"
    text = mail_text(reminder)
    assert "Your hibachi party is on Thursday, December 10, 2026 at 6:00 PM PST." in text
    assert f"http://testserver/manage/{created['manage_token']}" in text
    assert_local_start(only_event(invite_of(reminder)), EVENT_START)
    assert (await booking_row(db, created["id"])).reminder_sent_at == REMINDER_OPENS


async def test_after_a_move_to_a_later_date_the_reminder_is_due_again(
        client, runtime, station, book, confirm, settings, clock):
    created = await book(station.id)
    await confirm(created["id"])
    clock.move_to(REMINDER_OPENS + timedelta(hours=1))
    assert await send_due_reminders(runtime.jobs) == 1

    moved = await client.post(f"{API}/manage/{created['manage_token']}/reschedule",
                              json={"event_date": "2026-12-20", "slot_time": "18:00"})
    assert moved.status_code == 200, moved.text
    assert await send_due_reminders(runtime.jobs) == 0  # the new date is 11 days away

    new_window = datetime(2026, 12, 20, 18, 0, tzinfo=LA) - timedelta(hours=48)
    clock.move_to(new_window - timedelta(minutes=1))
    assert await send_due_reminders(runtime.jobs) == 0
    clock.move_to(new_window + timedelta(minutes=1))
    assert await send_due_reminders(runtime.jobs) == 1
    assert await send_due_reminders(runtime.jobs) == 0

    first, second = reminders(settings)
    assert "Thursday, December 10, 2026 at 6:00 PM PST" in mail_text(first)
    assert "Your hibachi party is on Sunday, December 20, 2026 at 6:00 PM PST." in mail_text(second)
    assert_local_start(only_event(invite_of(second)), datetime(2026, 12, 20, 18, 0, tzinfo=LA))


async def test_a_move_out_of_the_window_while_the_job_runs_sends_no_early_reminder(
        client, runtime, station, book, confirm, settings, clock, monkeypatch):
    """The job picks the due bookings, then takes each one's row lock: a reschedule committed in between (here,
    just before the job's unit of work) is seen under the lock, and the reminder waits for the new date."""
    created = await book(station.id)
    await confirm(created["id"])
    clock.move_to(REMINDER_OPENS + timedelta(hours=1))
    original = runtime.jobs.unit_of_work

    @asynccontextmanager
    async def customer_moves_first() -> AsyncIterator[Any]:
        moved = await client.post(f"{API}/manage/{created['manage_token']}/reschedule",
                                  json={"event_date": "2026-12-20", "slot_time": "18:00"})
        assert moved.status_code == 200, moved.text
        async with original() as session:
            yield session

    monkeypatch.setattr(runtime.jobs, "unit_of_work", customer_moves_first)
    assert await send_due_reminders(runtime.jobs) == 0
    monkeypatch.setattr(runtime.jobs, "unit_of_work", original)
    assert reminders(settings) == []

    clock.move_to(datetime(2026, 12, 20, 18, 0, tzinfo=LA) - timedelta(hours=47))
    assert await send_due_reminders(runtime.jobs) == 1
    [reminder] = reminders(settings)
    assert "Sunday, December 20, 2026 at 6:00 PM PST" in mail_text(reminder)


async def test_pending_and_cancelled_bookings_get_no_reminder(client, runtime, station, book, confirm, settings, clock):
    await book(station.id, email="pending@example.com")  # never confirmed
    cancelled = await book(station.id, email="cancelled@example.com")
    await confirm(cancelled["id"])
    response = await client.post(f"{API}/manage/{cancelled['manage_token']}/cancel", json={})
    assert response.status_code == 200, response.text

    clock.move_to(REMINDER_OPENS + timedelta(hours=12))
    assert await send_due_reminders(runtime.jobs) == 0
    assert reminders(settings) == []


async def test_a_restart_loses_no_reminder_and_repeats_none(runtime, station, book, confirm, settings, clock):
    """The job finds its work in the database: a fresh process sends what is due and not what was sent."""
    sent_before = await book(station.id, email="early@example.com")  # 2026-12-10
    due_later = await book(station.id, day="2026-12-11", email="later@example.com")
    await confirm(sent_before["id"])
    await confirm(due_later["id"])
    clock.move_to(REMINDER_OPENS + timedelta(hours=1))
    assert await send_due_reminders(runtime.jobs) == 1  # only the 10th is inside its window

    # The process "dies"; by the time a new one runs, the 11th's reminder is due as well.
    clock.move_to(REMINDER_OPENS + timedelta(days=1, hours=1))
    restarted = Runtime(settings)
    await restarted.start()
    try:
        assert await send_due_reminders(restarted.jobs) == 1
        assert await send_due_reminders(restarted.jobs) == 0
    finally:
        await restarted.stop()

    assert [mail["To"] for mail in reminders(settings)] == ["early@example.com", "later@example.com"]


# --- hold expiry -----------------------------------------------------------------------------------------------------


async def availability_of(client, station_id: int, slot: str = "18:00") -> int:  # noqa: ANN001
    response = await client.get(f"{API}/stations/{station_id}/availability",
                                params={"start": str(EVENT_DAY), "end": str(EVENT_DAY)})
    assert response.status_code == 200, response.text
    [day] = response.json()["days"]
    [found] = [s for s in day["slots"] if s["time"] == slot]
    return found["remaining"]


async def test_a_lapsed_hold_expires_frees_its_chef_and_tells_the_customer(
        client, runtime, station, book, confirm, settings, clock, db):
    held = await book(station.id, email="held@example.com")
    paid = await book(station.id, email="paid@example.com")
    await confirm(paid["id"])
    assert await availability_of(client, station.id) == 0  # both chefs taken
    third = await client.post(f"{API}/bookings", json=booking_body(station.id, email="third@example.com"))
    assert third.status_code == 409

    clock.move_to(HOLD_ENDS - timedelta(seconds=1))
    assert await expire_lapsed_holds(runtime.jobs) == 0
    assert (await booking_row(db, held["id"])).status == "pending_deposit"
    assert await availability_of(client, station.id) == 0

    clock.move_to(HOLD_ENDS)  # exactly at hold_expires_at the hold has lapsed
    assert await expire_lapsed_holds(runtime.jobs) == 1
    assert await expire_lapsed_holds(runtime.jobs) == 0  # nothing left to do

    expired = await booking_row(db, held["id"])
    assert expired.status == "expired"
    assert expired.closed_at == HOLD_ENDS
    assert (await booking_row(db, paid["id"])).status == "confirmed"  # a confirmed booking is untouched
    async with db.transaction(write=False) as session:
        audit = list(await session.scalars(select(AuditEntry).where(
            AuditEntry.action == "bookings.expire")))
    assert [(a.target_type, a.target_id, a.actor_user_id) for a in audit] == [("booking", str(held["id"]), None)]
    assert audit[0].before["status"] == "pending_deposit" and audit[0].after["status"] == "expired"
    assert audit[0].after["by"] == "system"

    [lapsed] = mails_with(settings, "Your hold has lapsed")
    assert lapsed["Subject"] == f"Your hold has lapsed — {held['reference']}"
    assert lapsed["To"] == "held@example.com"
    assert "We did not receive the deposit in time, so the date has been released." in mail_text(lapsed)
    assert mails_with(settings, "Your hold has lapsed")[0].get_body(("html",)) is not None

    assert await availability_of(client, station.id) == 1
    taken = await client.post(f"{API}/bookings", json=booking_body(station.id, email="third@example.com"))
    assert taken.status_code == 201, taken.text
    assert await availability_of(client, station.id) == 0
    manage = await client.get(f"{API}/manage/{held['manage_token']}")
    assert manage.json()["status"] == "expired"


async def test_hold_expiry_after_the_instant_expires_every_lapsed_hold(runtime, station, book, settings, clock, db):
    first = await book(station.id, email="a@example.com")
    clock.move_to(datetime(2026, 12, 1, 20, 0, tzinfo=UTC))
    second = await book(station.id, slot="12:00", email="b@example.com")  # its hold ends 4 h later

    clock.move_to(HOLD_ENDS + timedelta(hours=1))
    assert await expire_lapsed_holds(runtime.jobs) == 1  # only the first has lapsed
    assert (await booking_row(db, first["id"])).status == "expired"
    assert (await booking_row(db, second["id"])).status == "pending_deposit"

    clock.move_to(HOLD_ENDS + timedelta(hours=4))
    assert await expire_lapsed_holds(runtime.jobs) == 1
    assert (await booking_row(db, second["id"])).status == "expired"
    assert len(mails_with(settings, "Your hold has lapsed")) == 2


# --- the manage link's calendar file ---------------------------------------------------------------------------------


async def test_manage_calendar_file_has_the_local_start_and_its_time_zone(client, station, book):
    created = await book(station.id)

    response = await client.get(f"{API}/manage/{created['manage_token']}/calendar.ics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/calendar")
    assert response.headers["content-disposition"] == f'attachment; filename="{created["reference"]}.ics"'
    calendar = icalendar.Calendar.from_ical(response.content)
    event = only_event(calendar)
    assert_local_start(event, EVENT_START)
    assert_has_timezone(calendar)
    assert str(event["STATUS"]) == "TENTATIVE"  # still awaiting the deposit
    assert f"http://testserver/manage/{created['manage_token']}" in str(event["DESCRIPTION"])


async def test_manage_calendar_file_of_an_unknown_token_is_404(client, station):
    response = await client.get(f"{API}/manage/{'x' * 43}/calendar.ics")

    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["status"] == 404
