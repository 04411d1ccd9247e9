"""Lead work done by jobs: a lead is won when its contact's booking has its deposit (the bookings domain's outbox
message), and staff are reminded once when a lead's follow-up falls due."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from myhibachi.bookings.commands import BOOKING_CONFIRMED
from myhibachi.core.db import utcnow
from myhibachi.core.jobs import JobQueue, periodic_task
from myhibachi.core.outbox import OutboxContext, outbox_handler
from myhibachi.leads import commands, notifications
from myhibachi.leads.models import OPEN_LEAD_STATUSES, Lead, LeadStatus
from myhibachi.settings import Settings

BATCH = 200


@outbox_handler(BOOKING_CONFIRMED)
async def win_the_lead(session: AsyncSession, payload: dict[str, Any], _: OutboxContext) -> None:
    await commands.win_by_booking(session, int(payload["booking_id"]))


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
