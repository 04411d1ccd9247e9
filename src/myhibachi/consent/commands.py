"""Writing the consent ledger: a grant (with the double opt-in email), its confirmation through the signed link,
and any recorded event. Rows are only ever added; the IP is the request's."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from myhibachi.consent.models import ConsentAction, ConsentChannel, ConsentEvent, ConsentPurpose, ConsentSource
from myhibachi.consent.queries import latest_consent
from myhibachi.consent.tokens import read_contact, sign_contact
from myhibachi.contacts.commands import Identity, find_or_create_contact
from myhibachi.contacts.models import Contact
from myhibachi.core.context import current_request_meta
from myhibachi.core.db import utcnow
from myhibachi.core.email import queue_email
from myhibachi.core.errors import DomainError
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
    return {"List-Unsubscribe": f"<{unsubscribe_url(settings, contact_id, recipient_id)}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}


class ConsentLinkInvalid(DomainError):
    status, code = 404, "invalid_link"

    def __init__(self) -> None:
        super().__init__("This confirmation link is not valid any more (it is older than 7 days, or was changed). "
                         "Subscribe again to get a new one.")


async def record_consent(session: AsyncSession, contact_id: int, action: ConsentAction, source: ConsentSource, *,
                         channel: ConsentChannel = ConsentChannel.email,
                         purpose: ConsentPurpose = ConsentPurpose.marketing,
                         station_id: int | None = None) -> ConsentEvent:
    event = ConsentEvent(contact_id=contact_id, channel=channel.value, purpose=purpose.value, action=action.value,
                         source=source.value, station_id=station_id, ip=current_request_meta().ip, at=utcnow())
    session.add(event)
    await session.flush()
    return event


async def _lock_contact(session: AsyncSession, contact_id: int) -> Contact | None:
    """One writer of a contact's ledger at a time on PostgreSQL (SQLite's write transaction already is one), so two
    clicks of one link record one confirmation."""
    return await session.scalar(select(Contact).where(Contact.id == contact_id).with_for_update()
                                .execution_options(populate_existing=True))


async def ask_marketing_consent(session: AsyncSession, settings: Settings, email: str, *, source: ConsentSource,
                                station_id: int | None = None, name: str = "") -> None:
    """A grant of email marketing and the double opt-in email with its signed link; nothing for an address that
    has already confirmed (no second email). The caller answers the same whatever happened here: whether an
    address is known is nobody's business."""
    address = normalize_email(email)
    contact = await find_or_create_contact(session, Identity(email=address), name=name)
    await _lock_contact(session, contact.id)
    latest = await latest_consent(session, contact.id)
    if latest is not None and latest.action == ConsentAction.confirmed:
        return
    await record_consent(session, contact.id, ConsentAction.granted, source, station_id=station_id)
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
