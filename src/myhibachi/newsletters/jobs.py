"""Campaign work the periodic task finds in the database: scheduled campaigns whose time has come start sending,
and a `sending` campaign without a live sender (its worker was killed mid-batch, its queued job was lost with it, or
its retries fell due) is kicked again. This is what recovers a campaign after a worker died: the Redis queue loses
the job its worker was running, the database does not lose the recipients' rows."""

from __future__ import annotations

from sqlalchemy import select

from myhibachi.core.db import utcnow
from myhibachi.core.jobs import JobQueue, periodic_task
from myhibachi.newsletters import sending
from myhibachi.newsletters.models import Campaign, CampaignStatus

BATCH = 100


@periodic_task("newsletters.send_campaigns")
async def send_campaigns(jobs: JobQueue) -> int:
    """The number of campaigns started or resumed; each in its own transaction, re-checked under its lock, so
    several processes may run this at once."""
    async with jobs.db.transaction(write=False) as session:
        due = list(await session.scalars(select(Campaign.id).where(
            Campaign.status == CampaignStatus.scheduled.value, Campaign.send_at <= utcnow())
            .order_by(Campaign.send_at).limit(BATCH)))
        idle = list(await session.scalars(select(Campaign.id).where(sending.without_sender(jobs.settings))
                                          .order_by(Campaign.id).limit(BATCH)))
    kicked = 0
    for campaign_id in due:
        async with jobs.unit_of_work() as session:
            kicked += await sending.start_if_due(session, campaign_id)
    for campaign_id in idle:
        async with jobs.unit_of_work() as session:
            kicked += await sending.resume_if_idle(session, jobs.settings, campaign_id)
    return kicked
