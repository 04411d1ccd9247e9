"""Writing the consent ledger: a grant (with the double opt-in email), its confirmation through the signed link, a
withdrawal through the unsubscribe link, an imported list, and any recorded event. Rows are only ever added; the IP
is the request's. Also what a subscriber chose on the preference page (opt-outs) and the suppression of an address
(bounced, complained, or by staff), which no consent overrides."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from myhibachi.audit.commands import record_audit
from myhibachi.consent.models import (
    ConsentAction,
    ConsentChannel,
    ConsentEvent,
    ConsentPurpose,
    ConsentSource,
    OptOut,
    Suppression,
    SuppressionReason,
    Topic,
)
from myhibachi.consent.queries import SUPPRESSION_AUDIT, latest_consent, suppression_audit_target
from myhibachi.consent.tokens import read_contact, sign_contact
from myhibachi.contacts.commands import Identity, find_or_create_contact
from myhibachi.contacts.models import Contact
from myhibachi.core.context import current_request_meta
from myhibachi.core.db import utcnow
from myhibachi.core.email import queue_email
from myhibachi.core.errors import DomainError, ValidationFailed
from myhibachi.core.templating import render
from myhibachi.core.text import normalize_email
from myhibachi.settings import Settings

CONFIRM_LINK = "confirm"  # what a confirmation link's signature is for (an unsubscribe link is another)
CONFIRM_LINK_VALID_FOR = timedelta(days=7)
UNSUBSCRIBE_LINK = "unsubscribe"  # also opens the preference page
UNSUBSCRIBE_LINK_VALID_FOR = timedelta(days=366)  # a year's old newsletter still unsubscribes


def unsubscribe_url(settings: Settings, contact_id: int, recipient_id: int | None = None) -> str:
    """The contact's one-click unsubscribe link: no email address in it, signed, good for a year. `recipient_id`:
    the campaign recipient row it came with (`?r=`), so the campaign's stats count it; it only counts if that row
    is the signed contact's."""
    link = f"{settings.base_url.rstrip('/')}/unsubscribe/" + sign_contact(
        settings.secret_key, UNSUBSCRIBE_LINK, contact_id, utcnow())
    return f"{link}?r={recipient_id}" if recipient_id is not None else link


def preferences_url(settings: Settings, contact_id: int) -> str:
    """The contact's preference page (stations and topics), signed like the unsubscribe link."""
    return f"{settings.base_url.rstrip('/')}/preferences/" + sign_contact(
        settings.secret_key, UNSUBSCRIBE_LINK, contact_id, utcnow())


def marketing_headers(settings: Settings, contact_id: int, recipient_id: int | None = None) -> dict[str, str]:
    """The headers every marketing email carries (RFC 8058): mail clients show an "Unsubscribe" button that
    POSTs to the link, which withdraws at once."""
    return one_click_headers(unsubscribe_url(settings, contact_id, recipient_id))


def one_click_headers(unsubscribe: str) -> dict[str, str]:
    """`marketing_headers` for an unsubscribe link made already."""
    return {"List-Unsubscribe": f"<{unsubscribe}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}


class ConsentLinkInvalid(DomainError):
    status, code = 404, "invalid_link"

    def __init__(self) -> None:
        super().__init__("This confirmation link is not valid any more (it is older than 7 days, or was changed). "
                         "Subscribe again to get a new one.")


async def record_consent(session: AsyncSession, contact_id: int, action: ConsentAction, source: ConsentSource, *,
                         channel: ConsentChannel = ConsentChannel.email,
                         purpose: ConsentPurpose = ConsentPurpose.marketing,
                         station_id: int | None = None, detail: str | None = None) -> ConsentEvent:
    event = ConsentEvent(contact_id=contact_id, channel=channel.value, purpose=purpose.value, action=action.value,
                         source=source.value, station_id=station_id, ip=current_request_meta().ip, at=utcnow(),
                         detail=detail)
    session.add(event)
    await session.flush()
    return event


async def _lock_contact(session: AsyncSession, contact_id: int) -> Contact | None:
    """One writer of a contact's ledger at a time on PostgreSQL (SQLite's write transaction already is one), so two
    clicks of one link record one confirmation."""
    return await session.scalar(select(Contact).where(Contact.id == contact_id).with_for_update()
                                .execution_options(populate_existing=True))


async def ask_marketing_consent(session: AsyncSession, settings: Settings, email: str, *, source: ConsentSource,
                                station_id: int | None = None, name: str = "", detail: str | None = None) -> None:
    """A grant of email marketing and the double opt-in email with its signed link; nothing for an address that
    has already confirmed (no second email). The caller answers the same whatever happened here: whether an
    address is known is nobody's business."""
    address = normalize_email(email)
    contact = await find_or_create_contact(session, Identity(email=address), name=name)
    await _lock_contact(session, contact.id)
    latest = await latest_consent(session, contact.id)
    if latest is not None and latest.action == ConsentAction.confirmed:
        return
    await record_consent(session, contact.id, ConsentAction.granted, source, station_id=station_id, detail=detail)
    link = f"{settings.base_url.rstrip('/')}/subscribe/confirm/" + sign_contact(
        settings.secret_key, CONFIRM_LINK, contact.id, utcnow())
    subject = f"Please confirm: news and offers from {settings.brand_name}"
    await queue_email(session, to=address, subject=subject, about=f"consent:{contact.id}",
                      text=render("email/consent_confirm.txt", brand=settings.brand_name, link=link,
                                  days=CONFIRM_LINK_VALID_FOR.days))


async def confirm_marketing_consent(session: AsyncSession, settings: Settings, token: str) -> ConsentEvent:
    """The double opt-in link followed: one `confirmed` event (a second click answers the first). A forged or
    expired link, or one whose grant was withdrawn since, changes nothing (404 `invalid_link`)."""
    contact_id = read_contact(settings.secret_key, CONFIRM_LINK, token, max_age=CONFIRM_LINK_VALID_FOR,
                              now=utcnow())
    if contact_id is None or await _lock_contact(session, contact_id) is None:
        raise ConsentLinkInvalid()
    latest = await latest_consent(session, contact_id)
    if latest is None or latest.action == ConsentAction.withdrawn:
        raise ConsentLinkInvalid()
    if latest.action == ConsentAction.confirmed:
        return latest
    return await record_consent(session, contact_id, ConsentAction.confirmed, ConsentSource.confirmation_link,
                                station_id=latest.station_id)


# --- unsubscribing and the preference page ------------------------------------------------------------------------


class UnsubscribeLinkInvalid(DomainError):
    status, code = 404, "invalid_link"

    def __init__(self) -> None:
        super().__init__("This link is not valid: it was changed, or it is more than a year old. The newest email "
                         "from us has a link that works.")


async def unsubscribe_link_contact(session: AsyncSession, settings: Settings, token: str, *,
                                   lock: bool = True) -> Contact:
    """The contact an unsubscribe (or preference) link names, locked for writing its ledger (`lock`); a forged,
    changed or year-old link, or one of a contact that is gone, is 404 `invalid_link`."""
    contact_id = read_contact(settings.secret_key, UNSUBSCRIBE_LINK, token, max_age=UNSUBSCRIBE_LINK_VALID_FOR,
                              now=utcnow())
    if contact_id is None:
        raise UnsubscribeLinkInvalid()
    contact = await (_lock_contact(session, contact_id) if lock else session.get(Contact, contact_id))
    if contact is None:
        raise UnsubscribeLinkInvalid()
    return contact


async def withdraw_marketing_consent(session: AsyncSession, contact_id: int, *,
                                     source: ConsentSource = ConsentSource.unsubscribe) -> ConsentEvent | None:
    """Email marketing withdrawn at once: one `withdrawn` event, also for someone never asked (their wish is kept,
    so a later import cannot subscribe them). None when the latest event already is a withdrawal (a second click,
    a mail client's retry): nothing more is written. The caller holds the contact's lock."""
    latest = await latest_consent(session, contact_id)
    if latest is not None and latest.action == ConsentAction.withdrawn:
        return None
    return await record_consent(session, contact_id, ConsentAction.withdrawn, source,
                                station_id=latest.station_id if latest else None)


async def set_preferences(session: AsyncSession, contact_id: int, *, offered_stations: set[int],
                          wanted_stations: set[int], wanted_topics: set[Topic]) -> None:
    """What the preference page saves: an opt-out row for each offered station and each topic not wanted, none for
    those wanted. Stations not offered (closed since) keep whatever was chosen for them."""
    wanted = {("station", str(s)) for s in wanted_stations & offered_stations} | {
        ("topic", t.value) for t in wanted_topics}
    offered = {("station", str(s)) for s in offered_stations} | {("topic", t.value) for t in Topic}
    existing = {(o.scope, o.value): o for o in await session.scalars(
        select(OptOut).where(OptOut.contact_id == contact_id))}
    for key in offered - wanted - set(existing):
        session.add(OptOut(contact_id=contact_id, scope=key[0], value=key[1], at=utcnow()))
    for key in (offered & wanted) & set(existing):
        await session.delete(existing[key])
    await session.flush()


# --- suppression ----------------------------------------------------------------------------------------------------

# A suppression is only ever replaced by a graver one: a complaint is never turned back into a soft bounce, and
# staff's own decision is not replaced by a count of soft bounces.
SUPPRESSION_RANK = {SuppressionReason.soft_bounces: 1, SuppressionReason.manual: 2, SuppressionReason.hard_bounce: 3,
                    SuppressionReason.complaint: 4}

async def suppress(session: AsyncSession, email: str, reason: SuppressionReason, source: str,
                   detail: str | None = None, *, actor_user_id: int | None = None,
                   station_ids: Sequence[int | None] = (None,)) -> bool:
    """No marketing to this address any more, from any station, whatever its consent says. Idempotent: True when
    the address was not suppressed, or only for a lesser reason (then the graver one replaces it), else nothing
    changes. Audited (`suppression.add`), once per station in `station_ids` (None: the business's, e.g. a
    provider's report)."""
    address = normalize_email(email)
    now = utcnow()
    insert = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
    values = {"email": address, "reason": reason.value, "source": source[:30], "detail": detail, "at": now}
    added = await session.scalar(insert(Suppression).values(**values).on_conflict_do_nothing()
                                 .returning(Suppression.email))
    before = None
    if added is None:
        existing = await session.scalar(select(Suppression).where(Suppression.email == address).with_for_update()
                                        .execution_options(populate_existing=True))
        if existing is None or SUPPRESSION_RANK[SuppressionReason(existing.reason)] >= SUPPRESSION_RANK[reason]:
            return False
        before = {"email": address, "reason": existing.reason, "source": existing.source}
        existing.reason, existing.source, existing.detail, existing.at = reason.value, source[:30], detail, now
        await session.flush()
    for station_id in station_ids:
        await record_audit(session, actor_user_id=actor_user_id, action="suppression.add",
                           target_type=SUPPRESSION_AUDIT, target_id=suppression_audit_target(address),
                           station_id=station_id, before=before,
                           after={"email": address, "reason": reason.value, "source": source, "detail": detail})
    return True


class NotSuppressed(DomainError):
    status, code = 409, "not_suppressed"

    def __init__(self) -> None:
        super().__init__("This address is not suppressed (any more).")


async def lift_suppression(session: AsyncSession, email: str, *, reason: str, actor_user_id: int | None,
                           station_ids: Sequence[int | None] = (None,)) -> Suppression:
    """Marketing may reach the address again (if its consent allows). Staff must say why; audited
    (`suppression.lift`). Its soft bounces are counted afresh from now (see newsletters.bounces)."""
    if not reason.strip():
        raise ValidationFailed.on("body.reason", "Say why the address may get marketing again.", "missing")
    address = normalize_email(email)
    row = await session.scalar(select(Suppression).where(Suppression.email == address).with_for_update())
    if row is None:
        raise NotSuppressed()
    before = {"email": address, "reason": row.reason, "source": row.source, "detail": row.detail,
              "at": row.at.isoformat()}
    await session.delete(row)
    await session.flush()
    for station_id in station_ids:
        await record_audit(session, actor_user_id=actor_user_id, action="suppression.lift",
                           target_type=SUPPRESSION_AUDIT, target_id=suppression_audit_target(address),
                           station_id=station_id, before=before, after=None, reason=reason)
    return row


# --- a list imported by staff ---------------------------------------------------------------------------------------


class ImportOutcome(StrEnum):
    confirmed = "confirmed"  # they confirmed elsewhere: recorded as confirmed
    asked = "asked"  # granted, and the double opt-in email sent
    already_confirmed = "already_confirmed"  # nothing new
    withdrawn = "withdrawn"  # they unsubscribed earlier: an import never subscribes them again


async def import_marketing_consent(session: AsyncSession, settings: Settings, email: str, *, name: str,
                                   station_id: int | None, origin: str, confirmed: bool) -> ImportOutcome:
    """One person of an imported list. `origin`: where they gave their consent (kept in the event's `detail`);
    `confirmed`: they already confirmed by a double opt-in elsewhere. A withdrawal is theirs alone to undo."""
    contact = await find_or_create_contact(session, Identity(email=normalize_email(email)), name=name)
    await _lock_contact(session, contact.id)
    latest = await latest_consent(session, contact.id)
    if latest is not None and latest.action == ConsentAction.withdrawn:
        return ImportOutcome.withdrawn
    if latest is not None and latest.action == ConsentAction.confirmed:
        return ImportOutcome.already_confirmed
    if confirmed:
        await record_consent(session, contact.id, ConsentAction.confirmed, ConsentSource.csv_import,
                             station_id=station_id, detail=origin)
        return ImportOutcome.confirmed
    await ask_marketing_consent(session, settings, contact.email or email, source=ConsentSource.csv_import,
                                station_id=station_id, detail=origin)
    return ImportOutcome.asked
