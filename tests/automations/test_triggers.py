"""Each automation's trigger enrolls the right people and nobody else, and each sequence stops at its goal
(issue 18 item 6): a quote follow-up stops once a booking is made, a thank-you once feedback is given, the
reactivation and occasion notes go to subscribers only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from myhibachi.automations.models import Automation, AutomationStep, EnrollmentStatus
from myhibachi.bookings.models import BookingStatus
from myhibachi.reviews.models import Feedback
from tests.automations.conftest import API, enrollments, mails_to, messages, past_event, run, subscribed
from tests.bookings.conftest import NOW, booking_body
from tests.conftest import mail_text

MORNING = NOW + timedelta(hours=2)  # 10:00 in Fremont: outside the quiet hours


async def ask(client, station, email: str | None, **fields):  # noqa: ANN001, ANN201
    body = {"station_id": station.id, "name": "Dana Lee", **({"email": email} if email else {}), **fields}
    response = await client.post(f"{API}/leads", json=body)
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def test_a_quote_follow_up_stops_when_a_booking_is_made(client, db, settings, runtime, live, clock):
    clock.move_to(MORNING)
    await ask(client, live, "dana@example.com")
    await ask(client, live, None, phone="+1 510 555 0199")  # no email: nothing to send it to

    assert await run(runtime) == 0  # the first step waits a day
    [enrollment] = await enrollments(db, "abandoned_quote")
    assert enrollment.email == "dana@example.com" and enrollment.next_due_at == MORNING + timedelta(days=1)

    assert await run(runtime, MORNING + timedelta(days=1), clock) == 1
    [first] = mails_to(settings, "dana@example.com")
    assert first["Subject"] == "Still planning your hibachi party?"
    assert "Hi Dana," in mail_text(first) and f"/book?station={live.code}" in mail_text(first)

    clock.move_to(MORNING + timedelta(days=2))
    response = await client.post(f"{API}/bookings", json=booking_body(live.id, "2026-12-20", email="dana@example.com"))
    assert response.status_code == 201, response.text

    assert await run(runtime, MORNING + timedelta(days=4, hours=1), clock) == 0
    assert len(mails_to(settings, "dana@example.com")) == 2  # the first step, and the booking's own email
    [enrollment] = await enrollments(db, "abandoned_quote")
    assert (enrollment.status, enrollment.stop_reason) == (EnrollmentStatus.goal_met, "They booked.")
    assert [m.position for m in await messages(db)] == [1]


async def test_every_step_of_a_follow_up_goes_when_nobody_books(client, db, settings, runtime, live, clock):
    clock.move_to(MORNING)
    await ask(client, live, "dana@example.com")
    assert await run(runtime, MORNING + timedelta(days=1), clock) == 1
    assert await run(runtime, MORNING + timedelta(days=3), clock) == 0  # the second waits 3 days after the first
    assert await run(runtime, MORNING + timedelta(days=4), clock) == 1
    assert await run(runtime, MORNING + timedelta(days=9), clock) == 0
    subjects = [m["Subject"] for m in mails_to(settings, "dana@example.com")]
    assert subjects == ["Still planning your hibachi party?", "Your date may still be free"]
    [enrollment] = await enrollments(db)
    assert enrollment.status == EnrollmentStatus.completed


async def test_a_lead_from_before_the_automation_existed_is_not_followed_up(client, db, runtime, station, clock):
    await ask(client, station, "early@example.com")
    clock.move_to(NOW + timedelta(minutes=5))
    await run(runtime)  # the automations are made now: the earlier lead is the past
    assert await enrollments(db) == []


async def test_a_thank_you_goes_a_day_after_the_event_and_asks_everyone_the_same(db, settings, runtime, live,
                                                                                 clock):
    ended = NOW + timedelta(hours=1)
    done = await past_event(db, live, ended, email="dana@example.com")
    await past_event(db, live, ended, email="cancelled@example.com", status=BookingStatus.cancelled)
    await past_event(db, live, ended, email="noshow@example.com", status=BookingStatus.no_show)

    assert await run(runtime, ended + timedelta(hours=23), clock) == 0
    [enrollment] = await enrollments(db, "thank_you")
    assert (enrollment.booking_id, enrollment.next_due_at) == (done, ended + timedelta(hours=24))
    assert await run(runtime, ended + timedelta(hours=24), clock) == 1
    [mail] = mails_to(settings, "dana@example.com")
    assert "http://testserver/feedback/" in mail_text(mail)
    assert mails_to(settings, "cancelled@example.com") == mails_to(settings, "noshow@example.com") == []


async def test_a_thank_you_is_not_sent_once_feedback_was_given(db, settings, runtime, live, clock):
    ended = NOW + timedelta(hours=1)
    booking_id = await past_event(db, live, ended, email="dana@example.com")
    await run(runtime, ended + timedelta(hours=2), clock)
    async with db.transaction() as session:
        contact_id = (await enrollments(db))[0].contact_id
        session.add(Feedback(booking_id=booking_id, station_id=live.id, contact_id=contact_id, rating=5))
    assert await run(runtime, ended + timedelta(hours=25), clock) == 0
    [enrollment] = await enrollments(db)
    assert enrollment.status == EnrollmentStatus.goal_met and mails_to(settings, "dana@example.com") == []


async def test_reactivation_reaches_past_subscribers_eleven_months_on_without_a_later_booking(db, settings, runtime,
                                                                                              live, clock):
    ended = NOW - timedelta(days=335) + timedelta(hours=3)  # 11 months ago tomorrow… today at 11:00
    for email in ("fan@example.com", "rebooked@example.com"):
        await subscribed(db, email)
        await past_event(db, live, ended, email=email)
    await past_event(db, live, ended, email="unsubscribed@example.com")  # never confirmed: not marketing's
    await past_event(db, live, NOW + timedelta(days=30), email="rebooked@example.com",
                     status=BookingStatus.confirmed)

    assert await run(runtime, ended + timedelta(days=335), clock) == 1
    [enrollment] = await enrollments(db, "reactivation")
    assert enrollment.email == "fan@example.com"
    [mail] = mails_to(settings, "fan@example.com")
    assert mail["Subject"] == "Time for another hibachi night?"
    assert mails_to(settings, "unsubscribed@example.com") == mails_to(settings, "rebooked@example.com") == []


async def test_a_birthday_is_remembered_three_weeks_before_it_comes_round(db, settings, runtime, live, clock):
    # The party was on 2025-12-25; the note goes on 2026-12-04 at 10:00 in Fremont (18:00 UTC).
    party_end = datetime(2025, 12, 26, 3, 30, tzinfo=UTC)  # 19:30 on the 25th in Fremont
    for email, occasion in (("bday@example.com", "birthday"), ("plain@example.com", None)):
        await subscribed(db, email)
        await past_event(db, live, party_end, email=email, occasion=occasion)
    await past_event(db, live, party_end, email="stranger@example.com", occasion="anniversary")

    assert await run(runtime, datetime(2026, 12, 4, 17, 59, tzinfo=UTC), clock) == 0
    assert await run(runtime, datetime(2026, 12, 4, 18, 0, tzinfo=UTC), clock) == 1
    [mail] = mails_to(settings, "bday@example.com")
    assert mail["Subject"] == "Your birthday is coming up"
    assert [e.email for e in await enrollments(db, "occasion")] == ["bday@example.com"]
    assert mails_to(settings, "plain@example.com") == mails_to(settings, "stranger@example.com") == []


async def test_occasion_and_reactivation_stop_when_they_book_again(db, settings, runtime, live, clock):
    ended = NOW - timedelta(days=335) + timedelta(hours=3)
    await subscribed(db, "fan@example.com")
    await past_event(db, live, ended, email="fan@example.com")
    async with db.transaction() as session:
        reactivation = await session.scalar(select(Automation).where(Automation.kind == "reactivation"))
        session.add(AutomationStep(automation_id=reactivation.id, position=2, delay_minutes=7 * 24 * 60,
                                   subject="Still there?", body_markdown="Hi {first_name}"))
    assert await run(runtime, ended + timedelta(days=335), clock) == 1
    clock.move_to(ended + timedelta(days=336))
    await past_event(db, live, NOW + timedelta(days=60), email="fan@example.com", status=BookingStatus.pending_deposit)
    assert await run(runtime, ended + timedelta(days=345), clock) == 0
    [enrollment] = await enrollments(db, "reactivation")
    assert enrollment.status == EnrollmentStatus.goal_met
