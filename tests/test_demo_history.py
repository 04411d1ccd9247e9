"""The demo's invented history: every booking state at every demo station, money in and out over the last 90 days,
all written by the real commands as of when it happened, the same on each run, and harmless to the live app (no
email sent later, dates left free for new customers)."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import func, select

from myhibachi.audit.models import AuditEntry
from myhibachi.bookings.models import Booking, BookingStatus
from myhibachi.chefs.models import Chef
from myhibachi.consent.models import ConsentEvent, Suppression
from myhibachi.contacts.models import Contact
from myhibachi.core.db import Database, as_of, utcnow
from myhibachi.core.outbox import OutboxMessage
from myhibachi.demo import (
    DEMO_PASSWORD,
    DEMO_STATIONS,
    DEMO_VENUES,
    HISTORY_SEED,
    HistoryPlanner,
    seed_demo,
)
from myhibachi.inbox.models import Channel, Conversation, Message
from myhibachi.leads.models import OPEN_LEAD_STATUSES, Lead, LeadActivity, LeadStatus
from myhibachi.newsletters.models import Campaign, CampaignRecipient, TrackingEvent
from myhibachi.payments.models import Payment, Refund
from myhibachi.pricing.queries import get_rules
from myhibachi.settings import Settings
from myhibachi.stations.models import Station
from tests.conftest import DemoTemplate, mail_files

API = "/api/v1"
EVERY_STATE = {BookingStatus.pending_deposit, BookingStatus.confirmed, BookingStatus.completed,
               BookingStatus.cancelled, BookingStatus.no_show, BookingStatus.expired}


async def station_named(db: Database, code: str) -> Station:
    async with db.transaction(write=False) as session:
        station = await session.scalar(select(Station).where(Station.code == code))
        assert station is not None
        return station


async def table_counts(db: Database) -> dict[str, int]:
    async with db.transaction(write=False) as session:
        return {model.__tablename__: await session.scalar(select(func.count()).select_from(model)) or 0
                for model in (Booking, Payment, Refund, AuditEntry, OutboxMessage)}


@pytest.fixture
def database_url(demo_database_url: str) -> str:
    """Every test here starts from a copy of the demo as `seed-demo` leaves it (seeded once per test process)."""
    return demo_database_url


@pytest.fixture
def clock(demo_template: DemoTemplate) -> Iterator[None]:
    """The clock at the instant the seed was written as of, as when `seed-demo` has just run: the template may be
    minutes old, and a hold or a reminder falling due meanwhile would be the clock's doing, not the seed's."""
    with time_machine.travel(demo_template.seeded_as_of, tick=False):
        yield


@pytest.fixture
async def fremont(db: Database, clock: None) -> Station:
    return await station_named(db, "FRE")


async def test_every_demo_station_gets_a_live_history_once(db: Database, settings: Settings, clock: None,
                                                           demo_template: DemoTemplate):
    reported = demo_template.reports
    assert [(station.code, station.made) for station in reported] == [(s.code, True) for s in DEMO_STATIONS]
    async with db.transaction(write=False) as session:
        for data in DEMO_STATIONS:
            station = await session.scalar(select(Station).where(Station.code == data.code))
            bookings = list(await session.scalars(select(Booking).where(Booking.station_id == station.id)))
            statuses = Counter(BookingStatus(b.status) for b in bookings)
            assert set(statuses) == EVERY_STATE, (data.code, statuses)
            assert 45 <= len(bookings) <= 90, (data.code, len(bookings))
            now = utcnow()
            upcoming = [b for b in bookings if b.status == BookingStatus.confirmed and b.event_start > now]
            assert any(b.chef_id is None for b in upcoming) and any(b.chef_id for b in upcoming), data.code
            assert all(b.chef_id for b in bookings if b.status in (BookingStatus.completed, BookingStatus.no_show))
            assert all(6 <= b.guests <= 40 for b in bookings)
            assert {b.venue_zip for b in bookings} <= {venue[3] for venue in DEMO_VENUES[data.code]}
            assert all(timedelta(days=2) <= b.event_start - b.created_at <= timedelta(days=40)
                       for b in bookings if b.reschedule_count == 0)
            assert max(Counter(b.event_date for b in bookings).values()) == 1  # chefs stay free for customers

            paid_days = await session.scalar(select(func.count(func.distinct(func.date(Payment.succeeded_at))))
                                             .where(Payment.station_id == station.id,
                                                    Payment.succeeded_at >= now - timedelta(days=90)))
            assert paid_days >= 30, (data.code, paid_days)
            methods = set(await session.scalars(select(Payment.method).where(Payment.station_id == station.id)))
            assert methods == {"cash", "zelle", "venmo", "check"}
            refunds = list(await session.scalars(select(Refund).where(Refund.station_id == station.id)))
            by_policy = [r for r in refunds if r.reason == "Cancellation refund under the booking policy"]
            assert by_policy and len(by_policy) < len(refunds), data.code  # and a partial one after a party
    fre = reported[0]
    assert fre.summary().startswith(f"FRE: {sum(fre.by_status.values())} bookings (")
    assert f"{fre.payments} payments, {fre.refunds} refunds" in fre.summary()

    before = await table_counts(db)
    again = []
    await seed_demo(db, settings, progress=again.append)
    assert await table_counts(db) == before
    assert [station.made for station in again] == [False] * len(DEMO_STATIONS)
    assert "history left as it is" in again[0].summary()


async def test_the_history_was_written_by_the_commands_as_of_its_moments(db: Database, fremont: Station):
    async with db.transaction(write=False) as session:
        def audited(action: str):  # noqa: ANN202 - a select
            return select(AuditEntry).where(AuditEntry.station_id == fremont.id, AuditEntry.action == action)

        bookings = {b.id: b for b in await session.scalars(select(Booking).where(Booking.station_id == fremont.id))}
        created = {int(entry.target_id): entry for entry in await session.scalars(audited("bookings.create"))}
        assert created.keys() == bookings.keys()
        assert all(created[i].occurred_at == bookings[i].created_at for i in bookings)  # the clock of its moment
        assert all(entry.after["by"] == "customer" for entry in created.values())
        payments = list(await session.scalars(select(Payment).where(Payment.station_id == fremont.id)))
        recorded = list(await session.scalars(audited("payments.record")))
        assert len(recorded) == len(payments)
        assert {entry.occurred_at for entry in recorded} == {payment.succeeded_at for payment in payments}
        assert all(p.recorded_by_user_id is not None for p in payments)  # the station's admin, not anonymous
        refunds = await session.scalar(select(func.count()).select_from(Refund).where(Refund.station_id == fremont.id))
        assert len(list(await session.scalars(audited("payments.refund")))) == refunds
        for action in ("bookings.confirm", "bookings.assign_chef", "bookings.complete", "bookings.no_show",
                       "bookings.cancel", "bookings.expire"):
            assert await session.scalar(audited(action).limit(1)) is not None, action
        oldest = await session.scalar(select(func.min(Payment.succeeded_at)).where(Payment.station_id == fremont.id))
        assert oldest < utcnow() - timedelta(days=85)


async def test_no_email_of_the_history_is_sent_later(db: Database, fremont: Station, runtime, settings: Settings):
    async with db.transaction(write=False) as session:
        pending = await session.scalar(select(func.count()).select_from(OutboxMessage)
                                       .where(OutboxMessage.processed_at.is_(None)))
        written = await session.scalar(select(func.count()).select_from(OutboxMessage))
    assert (pending, written > 100) == (0, True)

    assert await runtime.jobs.run_periodic_tasks() == {"assistant.unanswered": 0, "automations.run": 0,
                                                       "bookings.expire_holds": 0,
                                                       "bookings.send_reminders": 0,
                                                       "bookings.ask_for_proteins": 0, "payments.remind_deposits": 0,
                                                       "leads.catch_abandoned_flows": 0,
                                                       "leads.remind_follow_ups": 0,
                                                       "leads.retrain_scores": 0,
                                                       "newsletters.send_campaigns": 0}
    assert await runtime.jobs.sweep_once(older_than_seconds=0) == 0
    assert mail_files(settings) == []


async def test_the_dashboard_figures_have_a_business_to_show(client, login, fremont: Station):
    headers = await login("admin@example.com", DEMO_PASSWORD)
    today = utcnow().astimezone(ZoneInfo(fremont.timezone)).date()
    window = {"station_id": fremont.id, "start": str(today - timedelta(days=89)), "end": str(today)}

    report = (await client.get(f"{API}/analytics/payments", headers=headers,
                               params={**window, "granularity": "week"})).json()
    assert report["totals"]["gross_cents"] > 0 and report["totals"]["refunds_cents"] > 0
    assert sum(1 for bucket in report["buckets"] if bucket["count"]) >= 10
    assert {row["method"] for row in report["by_method"]} == {"cash", "zelle", "venmo", "check"}

    kpis = (await client.get(f"{API}/analytics/kpis", headers=headers, params=window)).json()
    assert kpis["bookings_by_status"]["completed"] > 20 and kpis["bookings_by_status"]["no_show"] > 0
    assert kpis["revenue_cents"] > 0 and kpis["deposits_collected_cents"] > 0 and kpis["guests_served"] > 0
    assert kpis["upcoming_events"] > 0 and kpis["cancellation_rate"] > 0


async def test_customers_still_find_free_dates(client, fremont: Station):
    today = utcnow().astimezone(ZoneInfo(fremont.timezone)).date()
    first, last = today + timedelta(days=3), today + timedelta(days=30)  # beyond the 48 hours' notice
    response = await client.get(f"{API}/stations/{fremont.id}/availability",
                                params={"start": str(first), "end": str(last), "guests": 12})
    assert response.status_code == 200, response.text
    days = response.json()["days"]
    assert all(any(slot["available"] for slot in day["slots"]) for day in days)
    slots = [slot for day in days for slot in day["slots"]]
    assert sum(slot["available"] for slot in slots) >= 0.9 * len(slots)


async def test_the_history_is_the_one_its_seeded_plan_makes_on_every_run(db: Database, fremont: Station,
                                                                          demo_template: DemoTemplate):
    """The plan comes from a seeded RNG (the same days, parties and stories relative to today), and the database
    holds exactly the bookings it planned."""
    async with db.transaction(write=False) as session:
        rules = await get_rules(session, fremont.id)
        chef_ids = list(await session.scalars(select(Chef.id).where(Chef.station_id == fremont.id)))
    now = demo_template.seeded_as_of

    def planned() -> list[tuple]:
        planner = HistoryPlanner(random.Random(f"{HISTORY_SEED}:FRE"), fremont, rules, chef_ids, now)
        plans = {id(step.plan): step.plan for step in planner.steps()}.values()
        return sorted((*(plan.moved_to or (plan.request.event_date, plan.request.slot_time)), plan.request.adults,
                       plan.request.children, plan.request.venue.zip_code, plan.request.customer.email)
                      for plan in plans)

    async with db.transaction(write=False) as session:
        written = sorted((b.event_date, b.slot_time, b.adults, b.children, b.venue_zip, email)
                         for b, email in (await session.execute(
                             select(Booking, Contact.email).join(Contact, Contact.id == Booking.customer_id)
                             .where(Booking.station_id == fremont.id))).all())
    assert planned() == planned() == written


async def test_as_of_moves_the_clock_of_this_task_only():
    moment = datetime(2026, 3, 1, 18, 30, tzinfo=UTC)
    seen_elsewhere: list[datetime] = []
    release = asyncio.Event()

    async def other_task() -> None:
        await release.wait()
        seen_elsewhere.append(utcnow())

    other = asyncio.create_task(other_task())  # its context is copied now, before the override
    with as_of(moment.astimezone(ZoneInfo("America/Chicago"))):
        assert utcnow() == moment and utcnow().tzinfo == UTC
        release.set()
        await other
    assert abs(seen_elsewhere[0] - datetime.now(UTC)) < timedelta(minutes=1)
    assert abs(utcnow() - datetime.now(UTC)) < timedelta(minutes=1)
    with pytest.raises(ValueError, match="naive"), as_of(datetime(2026, 3, 1)):  # noqa: DTZ001 - the refused input
        pass



async def test_every_demo_station_has_a_lead_pipeline_and_won_leads_linked_to_its_bookings(db: Database,
                                                                                          clock: None):
    async with db.transaction(write=False) as session:
        for data in DEMO_STATIONS:
            station = await station_named(db, data.code)
            leads = list(await session.scalars(select(Lead).where(Lead.station_id == station.id)))
            statuses = Counter(LeadStatus(lead.status) for lead in leads)
            assert set(OPEN_LEAD_STATUSES) <= set(statuses), (data.code, statuses)
            now = utcnow()
            open_leads = [lead for lead in leads if LeadStatus(lead.status).is_open]
            assert any(lead.next_follow_up_at and lead.next_follow_up_at < now for lead in open_leads), data.code
            assert any(lead.next_follow_up_at and lead.next_follow_up_at > now for lead in open_leads), data.code
            lost = [lead for lead in leads if lead.status == LeadStatus.lost]
            rules = await get_rules(session, station.id)
            assert len(lost) >= 20 and all(lead.lost_reason in rules.lead_lost_reasons for lead in lost)
            assert min(lead.created_at for lead in lost) < now - timedelta(days=150)  # months of history
            won = [lead for lead in leads if lead.status == LeadStatus.won]
            assert len(won) >= 10, data.code
            bookings = {b.id: b for b in await session.scalars(select(Booking).where(
                Booking.id.in_([lead.booking_id for lead in won])))}
            for lead in won:
                booking = bookings[lead.booking_id]
                assert (booking.station_id, booking.customer_id) == (station.id, lead.contact_id)
                assert lead.closed_at == booking.confirmed_at and lead.created_at < booking.created_at
            timeline = await session.scalar(select(func.count()).select_from(LeadActivity).where(
                LeadActivity.lead_id.in_([lead.id for lead in leads])))
            assert timeline > 3 * len(leads)


async def test_every_demo_station_has_subscribers_segments_and_a_campaign_with_results(db: Database, clock: None):
    async with db.transaction(write=False) as session:
        for data in DEMO_STATIONS:
            station = await station_named(db, data.code)
            actions = Counter(await session.scalars(select(ConsentEvent.action).where(
                ConsentEvent.station_id == station.id)))
            assert actions["confirmed"] >= 10 and actions["granted"] > actions["confirmed"], (data.code, actions)
            campaigns = {c.status: c for c in await session.scalars(select(Campaign).where(
                Campaign.station_id == station.id))}
            assert set(campaigns) == {"sent", "draft", "scheduled"}, data.code
            assert campaigns["scheduled"].send_at > utcnow()
            sent = campaigns["sent"]
            rows = list(await session.scalars(select(CampaignRecipient).where(
                CampaignRecipient.campaign_id == sent.id)))
            assert len(rows) >= 5 and all(r.state == "sent" and r.sent_at >= sent.started_at for r in rows)
            assert any(r.opened_at for r in rows) and sum(1 for r in rows if r.bounced_at) == 1
            [bounced] = [r.email for r in rows if r.bounced_at]
            assert await session.get(Suppression, bounced) is not None  # and so out of every later audience
            events = list(await session.scalars(select(TrackingEvent).where(TrackingEvent.campaign_id == sent.id)))
            assert {e.kind for e in events} == {"open", "click"}
            assert all(e.at > sent.started_at for e in events)


async def test_every_demo_station_has_conversations_on_every_channel(db: Database, clock: None):
    async with db.transaction(write=False) as session:
        for data in DEMO_STATIONS:
            station = await station_named(db, data.code)
            threads = list(await session.scalars(select(Conversation).where(Conversation.station_id == station.id)))
            assert {t.channel for t in threads} == {c.value for c in Channel}, data.code
            assert any(t.booking_id for t in threads) and any(t.lead_id for t in threads), data.code
            assert any(t.unread and t.status == "open" for t in threads), data.code
            messages = list(await session.scalars(select(Message).where(
                Message.conversation_id.in_([t.id for t in threads]))))
            assert {m.sender for m in messages} == {"contact", "staff"} and any(m.private for m in messages)
            assert all(m.delivery == "delivered" for m in messages if m.direction == "out" and not m.private)
