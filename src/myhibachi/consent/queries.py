"""Reading the consent ledger: a contact's history, and the state that decides whether a message may be sent (the
latest event per contact, channel and purpose: only `confirmed` allows marketing)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from myhibachi.audit.models import AuditEntry
from myhibachi.consent.models import (
    ConsentAction,
    ConsentChannel,
    ConsentEvent,
    ConsentPurpose,
    OptOut,
    Suppression,
    Topic,
)
from myhibachi.contacts.models import Contact


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
                           purpose: ConsentPurpose = ConsentPurpose.marketing,
                           among: Sequence[int] | None = None) -> Select[tuple[int]]:
    """The contacts whose latest event for (channel, purpose) is `confirmed`, as a statement to filter a
    segment's recipients by (one query however many contacts). `among`: only these contacts (their latest events
    found through the ledger's index, instead of every contact's)."""
    latest = (select(func.max(ConsentEvent.id))
              .where(ConsentEvent.channel == channel.value, ConsentEvent.purpose == purpose.value)
              .group_by(ConsentEvent.contact_id))
    if among is not None:
        latest = latest.where(ConsentEvent.contact_id.in_(among))
    return select(ConsentEvent.contact_id).where(ConsentEvent.id.in_(latest),
                                                 ConsentEvent.action == ConsentAction.confirmed.value)


def marketing_audience(topic: Topic, station_id: int, among: Sequence[int] | None = None) -> Select[tuple[int]]:
    """The contacts marketing of `topic` from the station may go to: confirmed email consent, an address not
    suppressed (bounced, complained), and neither the station nor the topic opted out of on the preference page.
    Every marketing sender (campaigns, automations) filters by this, as one statement. `among`: only these."""
    opted_out = select(OptOut.contact_id).where(
        ((OptOut.scope == "station") & (OptOut.value == str(station_id)))
        | ((OptOut.scope == "topic") & (OptOut.value == topic.value)))
    audience = (select(Contact.id)
                .where(Contact.id.in_(consenting_contact_ids(among=among)), Contact.email.is_not(None),
                       Contact.email.not_in(select(Suppression.email)), Contact.id.not_in(opted_out)))
    return audience if among is None else audience.where(Contact.id.in_(among))


async def may_send_marketing_to(session: AsyncSession, contact_id: int, topic: Topic, station_id: int) -> bool:
    """One contact through `marketing_audience` (checked again right before each send: a few index lookups, however
    large the ledger)."""
    return await session.scalar(marketing_audience(topic, station_id, among=[contact_id])) is not None


async def is_suppressed(session: AsyncSession, email: str) -> bool:
    return await session.get(Suppression, email) is not None


@dataclass(frozen=True)
class Preferences:
    """What a subscriber chose not to get (no row: everything)."""

    stations_off: frozenset[int]
    topics_off: frozenset[Topic]


async def preferences_of(session: AsyncSession, contact_id: int) -> Preferences:
    rows = list(await session.scalars(select(OptOut).where(OptOut.contact_id == contact_id)))
    return Preferences(frozenset(int(o.value) for o in rows if o.scope == "station" and o.value.isdigit()),
                       frozenset(Topic(o.value) for o in rows if o.scope == "topic" and o.value in set(Topic)))


SUPPRESSION_AUDIT = "suppression"  # the audit entries' target type


def suppression_audit_target(email: str) -> str:
    """The audit entry's target id of an address (the column holds 64 characters; the whole address is in the
    entry's before/after)."""
    return email[:64]


async def suppression_of(session: AsyncSession, email: str | None) -> Suppression | None:
    return await session.get(Suppression, email) if email else None


async def last_suppression_lift(session: AsyncSession, email: str) -> datetime | None:
    """When staff last lifted the address's suppression (its audit entry is the record of it), if ever."""
    return await session.scalar(select(func.max(AuditEntry.occurred_at)).where(
        AuditEntry.target_type == SUPPRESSION_AUDIT, AuditEntry.target_id == suppression_audit_target(email),
        AuditEntry.action == "suppression.lift"))
