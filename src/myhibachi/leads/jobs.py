"""Lead work done by jobs: a lead is won when its contact's booking has its deposit, a refused booking becomes a
lead (the bookings domain's outbox messages), the booking flow left without a booking becomes one too, staff are
reminded once when a lead's follow-up falls due, and the learned win probability is retrained from the closed
leads."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from myhibachi.bookings.commands import BOOKING_CONFIRMED, BOOKING_REFUSED
from myhibachi.core.db import utcnow
from myhibachi.core.jobs import JobQueue, periodic_task
from myhibachi.core.outbox import OutboxContext, outbox_handler
from myhibachi.leads import commands, notifications, scoring
from myhibachi.leads.commands import Inquiry
from myhibachi.leads.models import OPEN_LEAD_STATUSES, FlowVisit, Lead, LeadSource, LeadStatus
from myhibachi.settings import Settings

BATCH = 200
log = structlog.get_logger(__name__)
# Days to the event and chefs free drift with time even when no lead closes: rescore open leads this often.
RETRAIN_EVERY = timedelta(hours=6)


@outbox_handler(BOOKING_CONFIRMED)
async def win_the_lead(session: AsyncSession, payload: dict[str, Any], _: OutboxContext) -> None:
    await commands.win_by_booking(session, int(payload["booking_id"]))


@periodic_task("leads.retrain_scores")
async def retrain_scores(jobs: JobQueue) -> int:
    """Retrain the win-probability models and rescore open leads when a lead closed since, or every
    RETRAIN_EVERY (the sweeper calls this every few seconds); the number of closed leads learned from."""
    async with jobs.db.transaction() as session:
        if not await scoring.retrain_due(session, RETRAIN_EVERY):
            return 0
        return (await scoring.retrain(session))[scoring.POOLED]


@outbox_handler(BOOKING_REFUSED)
async def lead_from_refused_booking(session: AsyncSession, payload: dict[str, Any], _: OutboxContext) -> None:
    """A booking refused `slot_unavailable` / `outside_service_area`: the person still wants a party. Run twice,
    it adds a second inquiry activity to the same lead, nothing worse."""
    await commands.capture_lead(session, Inquiry(
        station_id=int(payload["station_id"]), source=LeadSource(payload["code"]), name=payload["name"],
        email=payload.get("email"), phone=payload.get("phone"),
        event_date=date.fromisoformat(payload["event_date"]) if payload.get("event_date") else None,
        guests=payload.get("guests"), zip_code=payload.get("zip_code"), message=payload["message"]))


@periodic_task("leads.catch_abandoned_flows")
async def catch_abandoned_flows(jobs: JobQueue) -> int:
    """Visits whose details step was left `LEAD_ABANDON_MINUTES` ago with no booking: each becomes a lead in its
    own transaction, re-checked under its row lock there, so several processes may run this at once."""
    cutoff = utcnow() - timedelta(minutes=jobs.settings.lead_abandon_minutes)
    async with jobs.db.transaction(write=False) as session:
        due = list(await session.scalars(select(FlowVisit.visitor_key).where(commands.abandoned_condition(cutoff))
                                         .order_by(FlowVisit.details_at).limit(BATCH)))
    made = 0
    for visitor_key in due:
        try:
            async with jobs.unit_of_work() as session:
                made += await commands.catch_abandoned_flow(session, visitor_key, cutoff) is not None
        except Exception as exc:  # one bad visit must not hold up the rest; it is tried again next run
            log.warning("abandoned_flow_failed", visitor_key=visitor_key[:8], error=str(exc))
    return made


def _due(now: datetime):  # noqa: ANN202 - a SQL condition
    return (Lead.status.in_([s.value for s in OPEN_LEAD_STATUSES]), Lead.next_follow_up_at <= now,
            Lead.follow_up_reminded_at.is_(None))


@periodic_task("leads.remind_follow_ups")
async def remind_follow_ups(jobs: JobQueue) -> int:
    """An open lead whose follow-up is due gets one reminder to its assignee (unassigned: the station's staff who
    work leads): `follow_up_reminded_at` is set in the transaction that queues the email, under the lead's row
    lock; a new follow-up time clears it (leads.commands.update_lead), so that one is reminded too."""
    now = utcnow()
    async with jobs.db.transaction(write=False) as session:
        due = list(await session.scalars(select(Lead.id).where(*_due(now))
                                         .order_by(Lead.next_follow_up_at).limit(BATCH)))
    sent = 0
    for lead_id in due:
        async with jobs.unit_of_work() as session:
            sent += await remind_follow_up(session, jobs.settings, lead_id, now)
    return sent


async def remind_follow_up(session: AsyncSession, settings: Settings, lead_id: int, now: datetime) -> int:
    lead = await session.scalar(select(Lead).where(Lead.id == lead_id).with_for_update()
                                .execution_options(populate_existing=True))
    # Re-checked under the lock: closed, rescheduled or reminded by another worker since the query.
    if (lead is None or not LeadStatus(lead.status).is_open or lead.follow_up_reminded_at is not None
            or lead.next_follow_up_at is None or lead.next_follow_up_at > now):
        return 0
    lead.follow_up_reminded_at = utcnow()
    await notifications.follow_up_due(session, settings, lead)
    return 1
