"""The periodic task that runs the automations: every active station gets its sequences (made on first need),
whoever a trigger picks is enrolled, and each due step is sent (or deferred, or stopped) in its own transaction,
so several processes may run this at once and each step still goes out once."""

from __future__ import annotations

import structlog
from sqlalchemy import select

from myhibachi.automations import commands
from myhibachi.core.db import utcnow
from myhibachi.core.jobs import JobQueue, periodic_task
from myhibachi.stations.models import Station

BATCH = 200
log = structlog.get_logger(__name__)


@periodic_task("automations.run")
async def run_automations(jobs: JobQueue) -> int:
    """Enroll, then send what is due; the number of emails queued."""
    now = utcnow()
    async with jobs.db.transaction(write=False) as session:
        stations = list(await session.scalars(select(Station.id).where(Station.is_active).order_by(Station.id)))
    for station_id in stations:
        async with jobs.unit_of_work() as session:
            for automation in await commands.ensure_automations(session, station_id):
                await commands.enroll(session, automation, now)
    async with jobs.db.transaction(write=False) as session:
        due = await commands.due_enrollment_ids(session, now, BATCH)
    sent = 0
    for enrollment_id in due:
        try:
            async with jobs.unit_of_work() as session:
                sent += await commands.send_next_step(session, jobs.settings, enrollment_id, now)
        except Exception as exc:  # one bad enrollment must not hold up the rest; it is tried again next run
            log.warning("automation_step_failed", enrollment_id=enrollment_id, error=str(exc))
    return sent
