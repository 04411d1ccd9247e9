"""Lead changes: every door's inquiry (one open lead per station and contact), staff entry, the pipeline's moves,
assignment, follow-ups and the timeline, and `won` when the contact's booking has its deposit. All audited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from myhibachi.audit.commands import record_audit
from myhibachi.auth.principal import Principal
from myhibachi.bookings.models import Booking
from myhibachi.contacts.commands import Identity, find_contact, find_or_create_contact
from myhibachi.contacts.models import HandleKind
from myhibachi.core.db import utcnow
from myhibachi.core.errors import IllegalTransition, ValidationFailed
from myhibachi.core.text import normalize_email
from myhibachi.leads import scoring
from myhibachi.leads.models import (
    NEXT_STATUS,
    OPEN_LEAD_SQL,
    OPEN_LEAD_STATUSES,
    ActivityKind,
    FlowVisit,
    Lead,
    LeadActivity,
    LeadSource,
    LeadStatus,
)
from myhibachi.leads.queries import assignable_staff, authorize_leads, find_lead
from myhibachi.leads.schemas import ActivityCreate, FlowDetails, LeadCreate, LeadUpdate
from myhibachi.pricing.queries import get_rules
from myhibachi.stations.queries import get_station

SOURCE_WORDS = {LeadSource.contact_form: "Contact form", LeadSource.abandoned_booking: "Booking flow left",
                LeadSource.slot_unavailable: "Wanted a time no chef had free",
                LeadSource.outside_service_area: "Outside the service area", LeadSource.chat: "Website chat",
                LeadSource.inbox: "Message", LeadSource.staff: "Entered by staff"}


@dataclass(frozen=True)
class Inquiry:
    """What a door knows: who (any of email, phone, a channel handle), where they asked, and what they want."""

    station_id: int
    source: LeadSource
    name: str
    email: str | None = None
    phone: str | None = None
    handle: tuple[HandleKind, str] | None = None
    event_date: date | None = None
    guests: int | None = None
    zip_code: str | None = None
    message: str | None = None

    @classmethod
    def of(cls, data: LeadCreate, source: LeadSource) -> Inquiry:
        return cls(station_id=data.station_id, source=source, name=data.name,
                   email=str(data.email) if data.email else None, phone=data.phone, event_date=data.event_date,
                   guests=data.guests, zip_code=data.zip_code, message=data.message)


def _snapshot(lead: Lead) -> dict[str, Any]:
    return {"status": lead.status, "assignee_id": lead.assignee_id, "lost_reason": lead.lost_reason,
            "next_follow_up_at": lead.next_follow_up_at.isoformat() if lead.next_follow_up_at else None,
            "booking_id": lead.booking_id}


async def _note(session: AsyncSession, lead: Lead, kind: ActivityKind, body: str, actor_user_id: int | None) -> None:
    session.add(LeadActivity(lead_id=lead.id, kind=kind.value, body=body, actor_user_id=actor_user_id,
                             at=utcnow()))


async def capture_lead(session: AsyncSession, inquiry: Inquiry, *, actor_user_id: int | None = None) -> Lead:
    """The door's lead: the station's open lead of this contact with a new activity, or a new lead. What the person
    typed is kept on the lead (the wanted date, party and place: the latest said); the contact is never changed.

    `INSERT … ON CONFLICT DO NOTHING` against the one-open-lead-per-contact index: two doors at once for one person
    make one lead."""
    station = await get_station(session, inquiry.station_id)
    contact = await find_or_create_contact(
        session, Identity(email=inquiry.email, phone=inquiry.phone, handle=inquiry.handle), name=inquiry.name)
    insert = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
    now = utcnow()
    values = {"station_id": station.id, "contact_id": contact.id, "source": inquiry.source.value,
              "status": LeadStatus.new.value, "name": inquiry.name,
              "email": normalize_email(inquiry.email) if inquiry.email else None, "phone": inquiry.phone,
              "event_date": inquiry.event_date, "guests": inquiry.guests, "zip_code": inquiry.zip_code,
              "message": inquiry.message, "created_at": now, "updated_at": now}
    created = (await session.execute(
        insert(Lead).values(**values).on_conflict_do_nothing(
            index_elements=["station_id", "contact_id"], index_where=text(OPEN_LEAD_SQL)).returning(Lead.id)
    )).scalar_one_or_none()
    lead = await session.scalar(select(Lead).where(
        Lead.station_id == station.id, Lead.contact_id == contact.id,
        Lead.status.in_([s.value for s in OPEN_LEAD_STATUSES])).with_for_update()
        .execution_options(populate_existing=True))
    assert lead is not None
    if created is None:
        for name in ("event_date", "guests", "zip_code"):
            if (value := getattr(inquiry, name)) is not None:
                setattr(lead, name, value)
        lead.updated_at = now
    said = f": {inquiry.message}" if inquiry.message else ""
    await _note(session, lead, ActivityKind.inquiry, f"{SOURCE_WORDS[inquiry.source]}{said}", actor_user_id)
    await record_audit(session, actor_user_id=actor_user_id, action="leads.create" if created else "leads.inquiry",
                       target_type="lead", target_id=lead.id, station_id=station.id,
                       after={"source": inquiry.source.value, **_snapshot(lead)})
    await scoring.rescore(session, lead)
    return lead


async def create_staff_lead(session: AsyncSession, principal: Principal, data: LeadCreate) -> Lead:
    authorize_leads(principal, data.station_id)
    return await capture_lead(session, Inquiry.of(data, LeadSource.staff), actor_user_id=principal.user_id)


def transition_problem(current: LeadStatus, wanted: LeadStatus) -> str | None:
    """Why the pipeline refuses this move (SPEC §7), or None."""
    if wanted == current:
        return None
    if not current.is_open:
        return f"This lead is {current.value}: it is closed."
    if wanted == LeadStatus.won:
        return "A lead is won when its contact's booking at this station has its deposit paid."
    if wanted == LeadStatus.lost or NEXT_STATUS.get(current) == wanted:
        return None
    if (following := NEXT_STATUS.get(current)) is None:  # quoted: the deposit wins it
        return f"A {current.value} lead moves only to lost, not to {wanted.value}."
    return f"A {current.value} lead moves to {following.value} or lost, not to {wanted.value}."


async def update_lead(session: AsyncSession, principal: Principal, lead_id: int, data: LeadUpdate) -> Lead:
    lead = await find_lead(session, principal, lead_id, for_update=True)
    sent = data.model_dump(exclude_unset=True)
    before = _snapshot(lead)
    rules = await get_rules(session, lead.station_id)
    if (wanted := data.status) is not None and wanted != lead.status:
        if problem := transition_problem(LeadStatus(lead.status), wanted):
            raise IllegalTransition(problem)
        if wanted == LeadStatus.lost:
            if data.lost_reason not in rules.lead_lost_reasons:
                raise ValidationFailed.on("body.lost_reason", "Say why it was lost: one of "
                                          + ", ".join(rules.lead_lost_reasons) + ".")
            lead.lost_reason, lead.closed_at = data.lost_reason, utcnow()
        await _note(session, lead, ActivityKind.status, _status_words(lead.status, wanted, lead.lost_reason),
                    principal.user_id)
        lead.status = wanted.value
    elif data.lost_reason is not None and wanted != LeadStatus.lost:
        raise ValidationFailed.on("body.lost_reason", "A reason goes with moving the lead to lost.")
    if "assignee_id" in sent and data.assignee_id != lead.assignee_id:
        staff = dict(await assignable_staff(session, lead.station_id))
        if data.assignee_id is not None and data.assignee_id not in staff:
            raise ValidationFailed.on("body.assignee_id", "Assign the lead to staff of its station who work leads.")
        lead.assignee_id = data.assignee_id
        await _note(session, lead, ActivityKind.assigned,
                    f"Assigned to {staff[data.assignee_id]}" if data.assignee_id else "Unassigned", principal.user_id)
    if "next_follow_up_at" in sent and data.next_follow_up_at != lead.next_follow_up_at:
        lead.next_follow_up_at, lead.follow_up_reminded_at = data.next_follow_up_at, None
        await _note(session, lead, ActivityKind.follow_up,
                    f"Follow up by {data.next_follow_up_at:%Y-%m-%d %H:%M} UTC" if data.next_follow_up_at
                    else "Follow-up cleared", principal.user_id)
    if (after := _snapshot(lead)) != before:
        lead.updated_at = utcnow()
        await record_audit(session, actor_user_id=principal.user_id, action="leads.update", target_type="lead",
                           target_id=lead.id, station_id=lead.station_id, before=before, after=after)
        await scoring.rescore(session, lead)
    return lead


def _status_words(current: str, wanted: LeadStatus, lost_reason: str | None) -> str:
    reason = f" ({lost_reason.replace('_', ' ')})" if wanted == LeadStatus.lost and lost_reason else ""
    return f"Moved from {current} to {wanted.value}{reason}"


async def add_activity(session: AsyncSession, principal: Principal, lead_id: int, data: ActivityCreate) -> Lead:
    lead = await find_lead(session, principal, lead_id, for_update=True)
    await _note(session, lead, ActivityKind(data.kind), data.body, principal.user_id)
    lead.updated_at = utcnow()
    await record_audit(session, actor_user_id=principal.user_id, action=f"leads.{data.kind}", target_type="lead",
                       target_id=lead.id, station_id=lead.station_id, after={"kind": data.kind})
    await scoring.rescore(session, lead)
    return lead


async def win_by_booking(session: AsyncSession, booking_id: int) -> Lead | None:
    """The booking's deposit is paid: its contact's open lead at that station is won, linked to the booking."""
    booking = await session.get_one(Booking, booking_id)
    lead = await session.scalar(select(Lead).where(
        Lead.station_id == booking.station_id, Lead.contact_id == booking.customer_id,
        Lead.status.in_([s.value for s in OPEN_LEAD_STATUSES])).with_for_update())
    if lead is None:
        return None
    before = _snapshot(lead)
    await _note(session, lead, ActivityKind.status,
                f"Won: booking {booking.reference} has its deposit", None)
    lead.status, lead.booking_id, lead.closed_at = LeadStatus.won.value, booking.id, utcnow()
    await record_audit(session, actor_user_id=None, action="leads.won", target_type="lead", target_id=lead.id,
                       station_id=lead.station_id, before=before, after=_snapshot(lead))
    await scoring.rescore(session, lead)
    return lead


ENGAGEMENT_KINDS = (ActivityKind.reply, ActivityKind.quote_viewed)


async def record_engagement(session: AsyncSession, station_id: int, contact_id: int, kind: ActivityKind,
                            body: str) -> Lead | None:
    """The person engaged (wrote back, opened a quote): on the timeline of their open lead at the station, which
    is rescored. None when they have no open lead there (engagement alone makes no lead)."""
    if kind not in ENGAGEMENT_KINDS:
        raise ValueError(f"not an engagement: {kind}")
    lead = await session.scalar(select(Lead).where(
        Lead.station_id == station_id, Lead.contact_id == contact_id,
        Lead.status.in_([s.value for s in OPEN_LEAD_STATUSES])).with_for_update()
        .execution_options(populate_existing=True))
    if lead is None:
        return None
    await _note(session, lead, kind, body, None)
    lead.updated_at = utcnow()
    await scoring.rescore(session, lead)
    return lead


# --- the site's flow visits: the funnel's quotes, and the booking flow left without a booking -------------------


def _insert(session: AsyncSession) -> Any:
    return pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert


async def record_quote(session: AsyncSession, visitor_key: str, station_id: int) -> None:
    """The site priced a party for this visitor session: one quote per session, however often they re-price."""
    await session.execute(_insert(session)(FlowVisit).values(
        visitor_key=visitor_key, station_id=station_id, quoted_at=utcnow()).on_conflict_do_nothing())


async def record_flow_details(session: AsyncSession, visitor_key: str, station_id: int,
                              details: FlowDetails) -> None:
    """The booking flow's details step was left with an email: kept, so that a visit with no booking becomes a
    lead after `LEAD_ABANDON_MINUTES`. The latest typed wins; a visit already turned into a lead stays as it was."""
    now = utcnow()
    typed = {"station_id": station_id, "name": details.name or None, "email": details.email,
             "phone": details.phone, "event_date": details.event_date, "guests": details.guests,
             "zip_code": details.zip_code, "details_at": now}
    insert = _insert(session)(FlowVisit).values(visitor_key=visitor_key, quoted_at=now, **typed)
    await session.execute(insert.on_conflict_do_update(
        index_elements=[FlowVisit.visitor_key], set_=typed, where=FlowVisit.lead_id.is_(None)))


async def mark_flow_booked(session: AsyncSession, visitor_key: str) -> None:
    """The visit became a booking: it never becomes an abandoned-flow lead."""
    await session.execute(update(FlowVisit).where(FlowVisit.visitor_key == visitor_key,
                                                  FlowVisit.booked_at.is_(None)).values(booked_at=utcnow()))


def abandoned_condition(cutoff: datetime) -> Any:
    """Visits whose details step was left before `cutoff` and that became neither a booking nor a lead."""
    return (FlowVisit.details_at <= cutoff) & FlowVisit.booked_at.is_(None) & FlowVisit.lead_id.is_(None) \
        & FlowVisit.email.is_not(None)


async def catch_abandoned_flow(session: AsyncSession, visitor_key: str, cutoff: datetime) -> Lead | None:
    """One abandoned visit becomes a lead (source `abandoned_booking`), unless its person has booked at that
    station since the visit began. Re-checked under the visit's row lock (SQLite: the write lock), so several
    processes at once make one lead per visit."""
    visit = await session.scalar(select(FlowVisit).where(FlowVisit.visitor_key == visitor_key,
                                                         abandoned_condition(cutoff))
                                 .with_for_update().execution_options(populate_existing=True))
    if visit is None:
        return None
    assert visit.email is not None and visit.details_at is not None
    if (booked := await _booked_since(session, visit)) is not None:
        visit.booked_at = booked
        return None
    lead = await capture_lead(session, Inquiry(
        station_id=visit.station_id, source=LeadSource.abandoned_booking, name=visit.name or visit.email,
        email=visit.email, phone=visit.phone, event_date=visit.event_date, guests=visit.guests,
        zip_code=visit.zip_code,
        message=f"Left the booking flow at the venue and contact step ({visit.details_at:%Y-%m-%d %H:%M} UTC) "
                "without booking."))
    visit.lead_id = lead.id
    await session.flush()
    return lead


async def _booked_since(session: AsyncSession, visit: FlowVisit) -> datetime | None:
    """When the visit's person (by email or phone) booked at its station since the visit began, if they did: in
    another tab, on the phone with staff, through the API."""
    contact = await find_contact(session, Identity(email=visit.email, phone=visit.phone))
    if contact is None:
        return None
    return await session.scalar(select(Booking.created_at).where(
        Booking.station_id == visit.station_id, Booking.customer_id == contact.id,
        Booking.created_at >= visit.quoted_at).order_by(Booking.created_at).limit(1))
