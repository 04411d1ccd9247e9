"""People across the doors (SPEC §7 "People"): a contact as staff see it (handles, leads, bookings), and merging two
contacts into one. It lives in leads, not contacts: it reads and moves bookings and leads, which sit above contacts.

Who may: `engagement` ("leads, inbox, chat") at the contact's stations (where it has a booking or a lead). A contact
is seen with `engagement` at one of them; merging needs it at every station of both contacts, so a merge never
moves another station's records unseen. Elsewhere the contact does not exist (404), like any station's record."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic_core import to_jsonable_python
from sqlalchemy import select, union, update
from sqlalchemy.ext.asyncio import AsyncSession

from myhibachi.audit.commands import record_audit
from myhibachi.auth.permissions import Permission
from myhibachi.auth.principal import Principal, scope_to_stations
from myhibachi.bookings.models import Booking
from myhibachi.consent.models import ConsentEvent, OptOut
from myhibachi.contacts.commands import (
    Identity,
    add_contact_tag,
    contact_tags,
    find_contact,
    remove_contact_tag,
    run_merge_steps,
)
from myhibachi.contacts.models import Contact, ContactHandle, ContactTag
from myhibachi.contacts.schemas import e164_phone
from myhibachi.core.db import utcnow
from myhibachi.core.errors import NotFound, ValidationFailed
from myhibachi.leads import scoring
from myhibachi.leads.models import OPEN_LEAD_STATUSES, ActivityKind, FlowVisit, Lead, LeadActivity, LeadStatus
from myhibachi.leads.people_schemas import ContactBooking, ContactDetail, HandleRead
from myhibachi.leads.queries import lead_read

MISSING = "No such contact."
# A fold keeps the kept lead's own values and fills its blanks from the merged one.
FILLED_FIELDS = ("email", "phone", "event_date", "guests", "zip_code", "message", "assignee_id")


async def contact_stations(session: AsyncSession, contact_id: int) -> list[int]:
    """The stations where the contact has a booking or a lead, or subscribed (a consent event there): whose staff
    may see it (the people of a station, as newsletters.segments.station_people counts them)."""
    rows = await session.scalars(union(
        select(Booking.station_id).where(Booking.customer_id == contact_id),
        select(Lead.station_id).where(Lead.contact_id == contact_id),
        select(ConsentEvent.station_id).where(ConsentEvent.contact_id == contact_id,
                                              ConsentEvent.station_id.is_not(None))))
    return sorted(set(rows))


def authorize_seeing(principal: Principal, stations: list[int]) -> None:
    """`engagement` at one of the contact's stations; a contact of no station yet (no booking, no lead) is seen by
    whoever works leads somewhere. Refused: 403 where the principal works without the permission, else 404."""
    if not stations:
        principal.authorize(Permission.engagement, None)
        return
    if any(principal.can(Permission.engagement, s) for s in stations):
        return
    if worked := [s for s in stations if principal.role_at(s) is not None]:
        principal.authorize(Permission.engagement, worked[0])
    raise principal.hide(Permission.engagement, stations[0], MISSING)


async def find_contact_for(session: AsyncSession, principal: Principal, contact_id: int, *,
                           for_update: bool = False) -> tuple[Contact, list[int]]:
    """The contact and its stations, if the principal may see it; else 404 (or 403) as if absent."""
    stmt = select(Contact).where(Contact.id == contact_id).execution_options(populate_existing=True)
    contact = await session.scalar(stmt.with_for_update() if for_update else stmt)
    if contact is None:
        raise NotFound(MISSING)
    stations = await contact_stations(session, contact.id)
    authorize_seeing(principal, stations)
    return contact, stations


async def contact_detail(session: AsyncSession, principal: Principal, contact_id: int) -> ContactDetail:
    contact, _ = await find_contact_for(session, principal, contact_id)
    handles = await session.scalars(select(ContactHandle).where(ContactHandle.contact_id == contact.id)
                                    .order_by(ContactHandle.kind, ContactHandle.value))
    leads = await session.scalars(scope_to_stations(
        select(Lead).where(Lead.contact_id == contact.id), principal, Permission.engagement, Lead.station_id)
        .order_by(Lead.created_at.desc(), Lead.id.desc()))
    bookings = await session.scalars(scope_to_stations(
        select(Booking).where(Booking.customer_id == contact.id), principal, Permission.engagement,
        Booking.station_id).order_by(Booking.event_start.desc(), Booking.id.desc()))
    now = utcnow()
    return ContactDetail(
        id=contact.id, name=contact.name, email=contact.email, phone=contact.phone, created_at=contact.created_at,
        handles=[HandleRead.model_validate(h) for h in handles], leads=[lead_read(lead, now) for lead in leads],
        bookings=[ContactBooking(id=b.id, reference=b.reference, station_id=b.station_id, status=b.status,
                                 event_date=b.event_date, slot_time=b.slot_time,
                                 guests=b.adults + b.children + b.toddlers, contact_name=b.contact_name,
                                 contact_email=b.contact_email, created_at=b.created_at) for b in bookings],
        tags=await contact_tags(session, contact.id))


async def tag_contact(session: AsyncSession, principal: Principal, contact_id: int, text: str, *,
                      remove: bool = False) -> None:
    """Adds (or with `remove`, takes off) a tag, for segments: whoever may see the contact may (`engagement`);
    audited at each of the contact's stations where they work leads."""
    contact, stations = await find_contact_for(session, principal, contact_id, for_update=True)
    audited = [s for s in stations if principal.can(Permission.engagement, s)] or [None]
    change = remove_contact_tag if remove else add_contact_tag
    await change(session, contact.id, text, actor_user_id=principal.user_id, station_ids=audited)


async def find_duplicate(session: AsyncSession, principal: Principal, keep_id: int, text: str) -> ContactDetail:
    """The contact that an email or a phone number finds, to merge into `keep_id`: among those the principal sees
    (a search answers "none" for another station's person, as for no one)."""
    await find_contact_for(session, principal, keep_id)
    typed = " ".join(text.split())
    if "@" in typed:
        identity = Identity(email=typed)
    else:
        try:
            identity = Identity(phone=e164_phone(typed))
        except ValueError:
            raise ValidationFailed.on("other", "Type the other contact's email address or phone number.") from None
    contact = await find_contact(session, identity)
    stations = [] if contact is None else await contact_stations(session, contact.id)
    if contact is None or (stations and not any(principal.can(Permission.engagement, s) for s in stations)):
        raise ValidationFailed.on("other", "No contact you work with has this email or phone.")
    if contact.id == keep_id:
        raise ValidationFailed.on("other", "That is this contact: choose the duplicate.")
    return await contact_detail(session, principal, contact.id)


# --- merging ---------------------------------------------------------------------------------------------------


def _record(row: Any) -> dict[str, Any]:
    """Every column of a row, as JSON: what the audit keeps of what a merge removes."""
    return to_jsonable_python({c.key: getattr(row, c.key) for c in row.__table__.columns})


async def merge_contacts(session: AsyncSession, principal: Principal, keep_id: int, merge_id: int) -> Contact:
    """Merge contact `merge_id` into `keep_id`: its bookings, leads and handles become the kept contact's (both
    addresses then find it), the kept contact's missing email or phone come from it, and it is deleted.

    Two open leads at one station (one open lead per station and contact): the merged one is folded into the kept
    one — its timeline moves over (with a `merged` activity), the kept lead's blanks are filled from it, it takes
    the further pipeline status, the older lead's source and creation time, and the earlier follow-up — and its
    row is deleted; its every column is in the audit entry (`contacts.merge`, one per station touched)."""
    if keep_id == merge_id:
        raise ValidationFailed.on("body.other_id", "Choose another contact: a contact cannot be merged into itself.")
    # Both rows locked in id order: two merges of one pair, or a door finding the merged contact, wait.
    await session.execute(select(Contact.id).where(Contact.id.in_([keep_id, merge_id]))
                          .order_by(Contact.id).with_for_update())
    kept, kept_stations = await find_contact_for(session, principal, keep_id)
    gone, gone_stations = await find_contact_for(session, principal, merge_id)
    stations = sorted(set(kept_stations) | set(gone_stations))
    for station_id in stations:
        principal.authorize(Permission.engagement, station_id, missing=MISSING)
    before = {"kept": _record(kept), "merged": {**_record(gone), "handles": await _handles(session, gone.id)}}
    folded = await _move_leads(session, principal, kept.id, gone.id)
    for booking in await session.scalars(select(Booking).where(Booking.customer_id == gone.id).with_for_update()):
        booking.customer_id = kept.id  # through the ORM: the bookings' cache tags go stale
    await session.flush()  # before the merged row's delete: a flush orders no two tables unrelated in the ORM
    await session.execute(update(ContactHandle).where(ContactHandle.contact_id == gone.id)
                          .values(contact_id=kept.id))
    # The consent ledger moves whole: a merge must not lose a grant, a confirmation or a withdrawal.
    await session.execute(update(ConsentEvent).where(ConsentEvent.contact_id == gone.id)
                          .values(contact_id=kept.id))
    await _move_labels(session, kept.id, gone.id)
    await run_merge_steps(session, kept.id, gone.id)  # later domains' rows (the inbox's threads)
    kept.email, kept.phone = kept.email or gone.email, kept.phone or gone.phone
    kept.updated_at = utcnow()
    await session.delete(gone)
    await session.flush()
    after = {"kept": {**_record(kept), "handles": await _handles(session, kept.id)}, "folded_leads": folded}
    for station_id in stations or [None]:
        await record_audit(session, actor_user_id=principal.user_id, action="contacts.merge", target_type="contact",
                           target_id=kept.id, station_id=station_id, before=before, after=after)
    return kept


async def _move_labels(session: AsyncSession, keep_id: int, merge_id: int) -> None:
    """The merged contact's tags and opt-outs join the kept one's (an opt-out is kept: either of them said no);
    those the kept contact already has go with the merged row."""
    for model, key in ((ContactTag, (ContactTag.tag,)), (OptOut, (OptOut.scope, OptOut.value))):
        kept = set(await session.execute(select(*key).where(model.contact_id == keep_id)))
        for row in await session.scalars(select(model).where(model.contact_id == merge_id)):
            if tuple(getattr(row, column.key) for column in key) not in kept:
                session.add(model(**{**{c.key: getattr(row, c.key) for c in model.__table__.columns},
                                     "contact_id": keep_id}))
    await session.flush()


async def _handles(session: AsyncSession, contact_id: int) -> list[str]:
    rows = await session.execute(select(ContactHandle.kind, ContactHandle.value)
                                 .where(ContactHandle.contact_id == contact_id).order_by(ContactHandle.kind))
    return [f"{kind}:{value}" for kind, value in rows]


async def _move_leads(session: AsyncSession, principal: Principal, keep_id: int,
                      merge_id: int) -> list[dict[str, Any]]:
    """The merged contact's leads become the kept one's; an open lead where the kept contact has one is folded into
    it. Answers the folded leads' rows as they were."""
    leads = list(await session.scalars(select(Lead).where(Lead.contact_id.in_([keep_id, merge_id]))
                                       .order_by(Lead.id).with_for_update()))
    open_kept = {lead.station_id: lead for lead in leads
                 if lead.contact_id == keep_id and LeadStatus(lead.status).is_open}
    moved, folded = [], []
    for lead in (lead for lead in leads if lead.contact_id == merge_id):
        target = open_kept.get(lead.station_id) if LeadStatus(lead.status).is_open else None
        if target is None:
            moved.append(lead)
            continue
        folded.append(_record(lead))
        await _fold(session, principal, target, lead)
    await session.flush()  # the folded leads are gone before a moved open lead takes their place in the index
    for lead in moved:
        lead.contact_id = keep_id
    await session.flush()
    for lead in (*moved, *open_kept.values()):
        await scoring.rescore(session, lead)
    return folded


async def _fold(session: AsyncSession, principal: Principal, kept: Lead, gone: Lead) -> None:
    await session.execute(update(LeadActivity).where(LeadActivity.lead_id == gone.id).values(lead_id=kept.id))
    await session.execute(update(FlowVisit).where(FlowVisit.lead_id == gone.id).values(lead_id=kept.id))
    for name in FILLED_FIELDS:
        if getattr(kept, name) is None:
            setattr(kept, name, getattr(gone, name))
    kept.status = max(kept.status, gone.status, key=lambda s: OPEN_LEAD_STATUSES.index(LeadStatus(s)))
    if gone.created_at < kept.created_at:
        kept.source, kept.created_at = gone.source, gone.created_at
    if gone.next_follow_up_at is not None and _earlier(gone.next_follow_up_at, kept.next_follow_up_at):
        kept.next_follow_up_at, kept.follow_up_reminded_at = gone.next_follow_up_at, gone.follow_up_reminded_at
    kept.updated_at = utcnow()
    session.add(LeadActivity(lead_id=kept.id, kind=ActivityKind.merged.value, actor_user_id=principal.user_id,
                             at=utcnow(), body=f"Merged with lead #{gone.id} ({gone.source.replace('_', ' ')}, "
                                               f"{gone.status}) of a duplicate contact"))
    await session.delete(gone)


def _earlier(moment: datetime, than: datetime | None) -> bool:
    return than is None or moment < than
