"""Reading the consent ledger: a contact's history, and the state that decides whether a message may be sent (the
latest event per contact, channel and purpose: only `confirmed` allows marketing)."""

from __future__ import annotations

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from myhibachi.consent.models import ConsentAction, ConsentChannel, ConsentEvent, ConsentPurpose


async def consent_history(session: AsyncSession, contact_id: int) -> list[ConsentEvent]:
    """Every event of the contact, oldest first."""
    return list(await session.scalars(select(ConsentEvent).where(ConsentEvent.contact_id == contact_id)
                                      .order_by(ConsentEvent.id)))


async def latest_consent(session: AsyncSession, contact_id: int, channel: ConsentChannel = ConsentChannel.email,
                         purpose: ConsentPurpose = ConsentPurpose.marketing) -> ConsentEvent | None:
    return await session.scalar(select(ConsentEvent).where(
        ConsentEvent.contact_id == contact_id, ConsentEvent.channel == channel.value,
        ConsentEvent.purpose == purpose.value).order_by(ConsentEvent.id.desc()).limit(1))


async def consent_state(session: AsyncSession, contact_id: int, channel: ConsentChannel = ConsentChannel.email,
                        purpose: ConsentPurpose = ConsentPurpose.marketing) -> ConsentAction | None:
    """The latest action (None: never asked)."""
    latest = await latest_consent(session, contact_id, channel, purpose)
    return ConsentAction(latest.action) if latest else None


async def may_send_marketing(session: AsyncSession, contact_id: int,
                             channel: ConsentChannel = ConsentChannel.email) -> bool:
    """Only a confirmed grant allows marketing: granted but unconfirmed, withdrawn or never asked do not.
    Transactional messages (a booking's emails) never ask this."""
    return await consent_state(session, contact_id, channel, ConsentPurpose.marketing) == ConsentAction.confirmed


def consenting_contact_ids(channel: ConsentChannel = ConsentChannel.email,
                           purpose: ConsentPurpose = ConsentPurpose.marketing) -> Select[tuple[int]]:
    """The contacts whose latest event for (channel, purpose) is `confirmed`, as a statement to filter a
    segment's recipients by (one query however many contacts)."""
    latest = (select(func.max(ConsentEvent.id))
              .where(ConsentEvent.channel == channel.value, ConsentEvent.purpose == purpose.value)
              .group_by(ConsentEvent.contact_id))
    return select(ConsentEvent.contact_id).where(ConsentEvent.id.in_(latest),
                                                 ConsentEvent.action == ConsentAction.confirmed.value)
