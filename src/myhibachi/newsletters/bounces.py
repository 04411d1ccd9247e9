"""Bounces and complaints, whoever reported them (SendGrid's signed webhook, a DSN or ARF report mailed back): each
stored once per provider event, linked to the campaign recipient whose message bounced, and suppressing the
address when it must (SPEC §7: "a hard bounce or complaint suppresses the address for every later campaign").

The rule: a hard bounce or a complaint suppresses the address at once (every station, every later campaign and
automation). Soft bounces suppress once `SOFT_BOUNCE_LIMIT` of them, reported at times after the address's
suppression was last lifted by staff (or ever, if it never was), have been stored: the one that reaches the limit
suppresses (reason `soft_bounces`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from myhibachi.consent.commands import suppress
from myhibachi.consent.models import SuppressionReason
from myhibachi.consent.queries import last_suppression_lift
from myhibachi.core.text import normalize_email
from myhibachi.newsletters.models import BounceEvent, BounceKind, CampaignRecipient
from myhibachi.settings import Settings

MAX_ADDRESS = 254
MAX_EVENT_ID = 200


@dataclass(frozen=True)
class BounceReport:
    """One bounce or complaint as a provider reported it."""

    email: str
    kind: BounceKind
    provider: str  # "sendgrid" | "dsn"
    provider_event_id: str  # what makes a redelivery recognisable
    at: datetime  # when the provider says it happened
    message_id: str | None = None  # the Message-ID of our message that bounced, if the report names it
    detail: str | None = None  # the provider's words (status, diagnostic)


def reported_address(value: object) -> str | None:
    """A provider's recipient address, normalized; None for something that cannot be one."""
    if not isinstance(value, str):
        return None
    address = normalize_email(value.strip().strip("<>"))
    local, at, domain = address.rpartition("@")
    if not (at and local and "." in domain) or len(address) > MAX_ADDRESS or not address.isprintable() \
            or any(char.isspace() for char in address):
        return None
    return address


async def record_bounce(session: AsyncSession, settings: Settings, report: BounceReport) -> bool:
    """Store the report once (a race-safe insert on both databases: a redelivery stores nothing and changes
    nothing), mark the campaign recipient it is about, and suppress the address by the rule above. False for a
    redelivery."""
    address = normalize_email(report.email)
    recipient = await _recipient_of(session, report.message_id)
    insert = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
    stored = await session.scalar(
        insert(BounceEvent).values(email=address, kind=report.kind.value, provider=report.provider,
                                   provider_event_id=report.provider_event_id[:MAX_EVENT_ID],
                                   recipient_id=recipient.id if recipient else None, detail=report.detail,
                                   at=report.at)
        .on_conflict_do_nothing(index_elements=["provider", "provider_event_id"]).returning(BounceEvent.id))
    if stored is None:
        return False
    if recipient is not None:
        if report.kind == BounceKind.complaint:
            recipient.complained_at = recipient.complained_at or report.at
        else:
            recipient.bounced_at = recipient.bounced_at or report.at
        await session.flush()
    await _suppress_if_due(session, settings, address, report)
    return True


async def _recipient_of(session: AsyncSession, message_id: str | None) -> CampaignRecipient | None:
    """The campaign recipient our message went to, by its Message-ID (with or without its angle brackets)."""
    if not message_id or not message_id.strip("<> "):
        return None
    bare = message_id.strip().strip("<>")
    return await session.scalar(select(CampaignRecipient).where(
        CampaignRecipient.message_id.in_([bare, f"<{bare}>"])).order_by(CampaignRecipient.id).limit(1))


async def _suppress_if_due(session: AsyncSession, settings: Settings, address: str, report: BounceReport) -> None:
    detail = f"{report.provider} {report.kind.value} bounce" if report.kind != BounceKind.complaint else \
        f"{report.provider} complaint"
    detail += f": {report.detail}" if report.detail else ""
    if report.kind == BounceKind.hard:
        await suppress(session, address, SuppressionReason.hard_bounce, report.provider, detail)
    elif report.kind == BounceKind.complaint:
        await suppress(session, address, SuppressionReason.complaint, report.provider, detail)
    elif (count := await soft_bounces_counted(session, address)) >= settings.soft_bounce_limit:
        await suppress(session, address, SuppressionReason.soft_bounces, report.provider,
                       f"{count} soft bounces; the last — {detail}")


async def soft_bounces_counted(session: AsyncSession, address: str) -> int:
    """The address's soft bounces that count towards the limit: those reported after its last lift."""
    lifted = await last_suppression_lift(session, address)
    stmt = select(func.count()).select_from(BounceEvent).where(
        BounceEvent.email == address, BounceEvent.kind == BounceKind.soft.value)
    if lifted is not None:
        stmt = stmt.where(BounceEvent.at > lifted)
    return await session.scalar(stmt) or 0
