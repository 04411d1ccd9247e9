"""Lead work done by jobs: a lead is won when its contact's booking has its deposit (the bookings domain's outbox
message), and the learned win probability is retrained from the closed leads."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from myhibachi.bookings.commands import BOOKING_CONFIRMED
from myhibachi.core.jobs import JobQueue, periodic_task
from myhibachi.core.outbox import OutboxContext, outbox_handler
from myhibachi.leads import commands, scoring

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
