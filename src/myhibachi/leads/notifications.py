"""Lead emails through the outbox: the staff's reminder that a follow-up is due."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from myhibachi.auth.models import User
from myhibachi.auth.permissions import Permission
from myhibachi.auth.queries import staff_emails_with
from myhibachi.core.email import queue_email
from myhibachi.core.templating import render
from myhibachi.leads.models import Lead
from myhibachi.settings import Settings
from myhibachi.stations.queries import get_station


async def follow_up_recipients(session: AsyncSession, lead: Lead) -> list[str]:
    """The assignee; unassigned (or the assignee's account closed), the station's staff who work leads."""
    if lead.assignee_id is not None:
        user = await session.get(User, lead.assignee_id)
        if user is not None and user.is_active:
            return [user.email]
    return await staff_emails_with(session, lead.station_id, Permission.engagement)


async def follow_up_due(session: AsyncSession, settings: Settings, lead: Lead) -> list[str]:
    """Queues the reminder to each recipient; answers who they are."""
    station = await get_station(session, lead.station_id)
    subject = f"Follow up with {lead.name} — lead #{lead.id}"
    wanted = ", ".join(part for part in (
        lead.event_date.strftime("%a %b %-d, %Y") if lead.event_date else "",
        f"{lead.guests} guests" if lead.guests else "") if part)
    lines = [f"A follow-up with {lead.name} ({lead.status} lead at {station.name}) was due "
             f"{lead.next_follow_up_at:%Y-%m-%d %H:%M} UTC.",
             *([f"They want: {wanted}."] if wanted else []),
             f"Reach them at {' or '.join(c for c in (lead.phone, lead.email) if c) or 'the contact on the lead'}.",
             f"Open the lead: {settings.base_url.rstrip('/')}/admin/leads/{lead.id}"]
    recipients = await follow_up_recipients(session, lead)
    for to in recipients:
        await queue_email(session, to=to, subject=subject, about=f"lead:{lead.id}",
                          text=render("email/staff_notice.txt", brand=settings.brand_name, subject=subject,
                                      lines=lines))
    return recipients
