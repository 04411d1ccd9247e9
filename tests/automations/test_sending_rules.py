"""Who gets an automated email and when (issue 18 item 6): in the recipient's waking hours across a DST change,
never more than one marketing email a day, never to a suppressed, withdrawn or opted-out address, always with the
one-click unsubscribe headers and footer links, and each step exactly once when two processes run at once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from myhibachi.automations.jobs import run_automations
from myhibachi.automations.models import AutomationMessage, EnrollmentStatus
from myhibachi.consent.commands import record_consent
from myhibachi.consent.models import ConsentAction, ConsentSource, OptOut, Suppression
from myhibachi.contacts.commands import Identity, find_or_create_contact
from myhibachi.newsletters.models import Campaign, CampaignRecipient
from tests.automations.conftest import enrollments, mails_to, messages, past_event, run
from tests.bookings.conftest import NOW
from tests.conftest import mail_text, read_mails

ENDED = NOW + timedelta(hours=2)  # 10:00 in Fremont; the thank-you is due 24 hours later, at 10:00
DUE = ENDED + timedelta(hours=24)


@pytest.mark.parametrize(("due", "quiet_until"), [
    # 07:30 in New York on the morning clocks fell back (EST, UTC-5): waits until 09:00 EST, 14:00 UTC.
    (datetime(2026, 11, 1, 12, 30, tzinfo=UTC), datetime(2026, 11, 1, 14, 0, tzinfo=UTC)),
    # 07:30 in New York on the morning clocks sprang forward (EDT, UTC-4): waits until 09:00 EDT, 13:00 UTC.
    (datetime(2027, 3, 14, 11, 30, tzinfo=UTC), datetime(2027, 3, 14, 13, 0, tzinfo=UTC)),
], ids=["fall_back", "spring_forward"])
async def test_a_step_due_in_quiet_hours_waits_until_they_end_on_the_recipients_clock(
        db, settings, runtime, station, clock, due, quiet_until):
    clock.move_to(due - timedelta(days=7))
    await run(runtime)  # the automations are made a week before
    # The station is in Fremont; the customer's party was in New York (its venue ZIP sets their clock).
    await past_event(db, station, due - timedelta(hours=24), email="nyc@example.com", venue_zip="10001")

    assert await run(runtime, due, clock) == 0
    [enrollment] = await enrollments(db, "thank_you")
    assert enrollment.next_due_at == quiet_until
    assert await run(runtime, quiet_until - timedelta(minutes=1), clock) == 0
    assert await run(runtime, quiet_until, clock) == 1
    assert len(mails_to(settings, "nyc@example.com")) == 1


async def test_without_a_known_zip_the_stations_clock_sets_the_quiet_hours(db, runtime, live, clock):
    ended = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)  # 07:00 in Fremont: the thank-you is due at 07:00 next day
    await past_event(db, live, ended, email="x@example.com", venue_zip="00000")
    assert await run(runtime, ended + timedelta(hours=24), clock) == 0
    [enrollment] = await enrollments(db)
    assert enrollment.next_due_at == datetime(2026, 12, 3, 17, 0, tzinfo=UTC)  # 09:00 PST


async def test_one_marketing_email_a_day_a_campaign_email_counts_too(db, settings, runtime, live, clock):
    for _ in range(2):  # two parties of one customer: two thank-yous due at once
        await past_event(db, live, ENDED, email="twice@example.com")
    await past_event(db, live, ENDED, email="newsreader@example.com")
    async with db.transaction() as session:
        reader = await find_or_create_contact(session, Identity(email="newsreader@example.com"), name="Reader")
        campaign = Campaign(station_id=live.id, name="Winter", subject="Winter menu", body_markdown="Hi",
                            status="sent")
        session.add(campaign)
        await session.flush()
        session.add(CampaignRecipient(campaign_id=campaign.id, contact_id=reader.id, email=reader.email,
                                      state="sent", sent_at=DUE - timedelta(hours=20)))

    assert await run(runtime, DUE, clock) == 1
    assert len(mails_to(settings, "twice@example.com")) == 1 and mails_to(settings, "newsreader@example.com") == []
    waiting = {e.email: e.next_due_at for e in await enrollments(db) if e.status == EnrollmentStatus.active}
    assert waiting == {"twice@example.com": DUE + timedelta(hours=24),
                       "newsreader@example.com": DUE + timedelta(hours=4)}

    assert await run(runtime, DUE + timedelta(hours=4), clock) == 1
    assert await run(runtime, DUE + timedelta(hours=24), clock) == 1
    assert len(mails_to(settings, "twice@example.com")) == 2 and len(mails_to(settings, "newsreader@example.com")) == 1


async def test_the_email_carries_the_one_click_unsubscribe_headers_and_footer_links(db, settings, runtime, live,
                                                                                     clock):
    await past_event(db, live, ENDED, email="dana@example.com")
    await run(runtime, DUE, clock)
    [mail] = mails_to(settings, "dana@example.com")
    assert mail["List-Unsubscribe"].startswith("<http://testserver/unsubscribe/")
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text = mail_text(mail)
    assert "Unsubscribe: http://testserver/unsubscribe/" in text and "http://testserver/preferences/" in text
    assert mail.get_body(preferencelist=("html",)) is not None


async def _withdrawn(session, contact_id: int, station_id: int) -> None:  # noqa: ANN001
    await record_consent(session, contact_id, ConsentAction.withdrawn, ConsentSource.unsubscribe)


async def _suppressed(session, contact_id: int, station_id: int) -> None:  # noqa: ANN001
    session.add(Suppression(email="dana@example.com", reason="hard_bounce", source="dsn"))


def _opted_out(scope: str, value: str | None = None):  # noqa: ANN202
    async def opt_out(session, contact_id: int, station_id: int) -> None:  # noqa: ANN001
        session.add(OptOut(contact_id=contact_id, scope=scope, value=value or str(station_id)))

    return opt_out


@pytest.mark.parametrize(("block", "reason"), [
    (_withdrawn, "They unsubscribed."),
    (_suppressed, "The address is suppressed (bounced or complained)."),
    (_opted_out("station"), "They opted out of these emails."),
    (_opted_out("topic", "follow_ups"), "They opted out of these emails."),
], ids=["withdrawn", "suppressed", "station_opt_out", "follow_ups_opt_out"])
async def test_nobody_who_said_no_or_bounced_gets_one(db, settings, runtime, live, clock, block, reason):
    await past_event(db, live, ENDED, email="dana@example.com")
    await run(runtime, ENDED + timedelta(hours=1), clock)
    [enrollment] = await enrollments(db)
    async with db.transaction() as session:
        await block(session, enrollment.contact_id, live.id)

    assert await run(runtime, DUE, clock) == 0
    [enrollment] = await enrollments(db)
    assert (enrollment.status, enrollment.stop_reason) == (EnrollmentStatus.stopped, reason)
    assert mails_to(settings, "dana@example.com") == []


async def test_opting_out_of_the_news_only_keeps_the_follow_ups(db, settings, runtime, live, clock):
    await past_event(db, live, ENDED, email="dana@example.com")
    await run(runtime, ENDED + timedelta(hours=1), clock)
    async with db.transaction() as session:
        await _opted_out("topic", "news")(session, (await enrollments(db))[0].contact_id, live.id)
    assert await run(runtime, DUE, clock) == 1


async def test_two_runs_at_once_send_each_step_once(db, settings, runtime, live, clock):
    people = [f"guest{n}@example.com" for n in range(4)]
    for email in people:
        await past_event(db, live, ENDED, email=email)
    clock.move_to(DUE)

    sent = await asyncio.gather(run_automations(runtime.jobs), run_automations(runtime.jobs))

    assert sum(sent) == len(people)
    assert sorted(m["To"] for m in mails_to_all(settings)) == people
    assert len(await messages(db)) == len(people) and len(await enrollments(db)) == len(people)
    async with db.transaction(write=False) as session:
        assert len(list(await session.scalars(select(AutomationMessage.id)))) == len(people)


def mails_to_all(settings):  # noqa: ANN001, ANN201
    return read_mails(settings)
