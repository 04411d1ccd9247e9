"""Sending a campaign: (to be written by the delivery slice) fixing its recipients when it starts, then batches in
the job queue over pooled SMTP, one row per recipient, exactly once even if a worker dies mid-send.

The contract the authoring side (commands) relies on: `kick_campaign` after a campaign becomes `sending` (sent
now, or resumed); scheduled campaigns are started by a periodic task when their `send_at` comes."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from myhibachi.core.outbox import OutboxContext, add_outbox_message, outbox_handler

CAMPAIGN_DUE_TOPIC = "newsletters.campaign_due"


async def kick_campaign(session: AsyncSession, campaign_id: int) -> None:
    """Once this unit of work commits, a job starts (or resumes) sending the campaign."""
    await add_outbox_message(session, CAMPAIGN_DUE_TOPIC, {"campaign_id": campaign_id})


@outbox_handler(CAMPAIGN_DUE_TOPIC)
async def _campaign_due(session: AsyncSession, payload: dict[str, Any], context: OutboxContext) -> None:
    raise NotImplementedError("the delivery slice writes this")
