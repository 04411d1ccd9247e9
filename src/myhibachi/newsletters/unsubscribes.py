"""An unsubscribe link that came with a campaign (`?r=` the recipient row) counts in that campaign's stats. Called
by the unsubscribe page: consent, below newsletters, cannot know campaigns."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from myhibachi.core.db import MAX_ID, utcnow
from myhibachi.newsletters.models import CampaignRecipient


def recipient_id_of(value: str | None) -> int | None:
    """The `?r=` of a link, if it is a record id at all."""
    return int(value) if value and value.isdigit() and 0 < int(value) <= MAX_ID else None


async def count_unsubscribe(session: AsyncSession, recipient_id: int | None, contact_id: int) -> bool:
    """Marks the recipient row unsubscribed (the first time only), when it is the signed contact's own: a changed
    `?r=` cannot mark somebody else's. True when it was marked now."""
    if recipient_id is None:
        return False
    result = await session.execute(
        update(CampaignRecipient)
        .where(CampaignRecipient.id == recipient_id, CampaignRecipient.contact_id == contact_id,
               CampaignRecipient.unsubscribed_at.is_(None))
        .values(unsubscribed_at=utcnow()))
    return bool(result.rowcount)
