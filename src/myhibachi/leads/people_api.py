"""Contact routes (SPEC §7 "People"): a contact with its handles, leads and bookings, and merging a duplicate."""

from __future__ import annotations

from fastapi import APIRouter

from myhibachi.auth.dependencies import CurrentPrincipal
from myhibachi.consent.queries import consent_history, consent_state
from myhibachi.consent.schemas import ConsentEventRead, ConsentLedger
from myhibachi.core.errors import problem_responses
from myhibachi.core.web import DbSession, PathId
from myhibachi.leads import people
from myhibachi.leads.people_schemas import ContactDetail, ContactMerge

staff = APIRouter(prefix="/contacts", tags=["contacts"])


@staff.get("/{contact_id}", summary="A contact", response_model=ContactDetail,
           responses=problem_responses(401, 403, 404, 422))
async def get_contact(contact_id: PathId, principal: CurrentPrincipal, session: DbSession) -> ContactDetail:
    """Seen with `engagement` at a station where the contact has a booking or a lead; its leads and bookings are
    those of the stations where you work leads."""
    return await people.contact_detail(session, principal, contact_id)


@staff.get("/{contact_id}/consents", summary="A contact's consent ledger", response_model=ConsentLedger,
           responses=problem_responses(401, 403, 404, 422))
async def get_contact_consents(contact_id: PathId, principal: CurrentPrincipal, session: DbSession) -> ConsentLedger:
    """Every grant, confirmation and withdrawal of the contact, per channel and purpose, with its source, station,
    IP and time, oldest first; `email_marketing` is the state that decides whether marketing email may go (only
    `confirmed`). Seen by whoever may see the contact (`GET /contacts/{id}`)."""
    contact, _ = await people.find_contact_for(session, principal, contact_id)
    return ConsentLedger(contact_id=contact.id, email_marketing=await consent_state(session, contact.id),
                         items=[ConsentEventRead.model_validate(e) for e in await consent_history(session, contact.id)])


@staff.post("/{contact_id}/merge", summary="Merge a duplicate into this contact", response_model=ContactDetail,
            responses=problem_responses(401, 403, 404, 422))
async def merge_contact(contact_id: PathId, body: ContactMerge, principal: CurrentPrincipal,
                        session: DbSession) -> ContactDetail:
    """`other_id`'s bookings, leads and handles become this contact's and `other_id` is deleted (audited, nothing
    lost). Two open leads at one station become one: the duplicate's timeline moves onto this contact's lead. Needs
    `engagement` at every station where either contact has a booking or a lead."""
    kept = await people.merge_contacts(session, principal, contact_id, body.other_id)
    return await people.contact_detail(session, principal, kept.id)
