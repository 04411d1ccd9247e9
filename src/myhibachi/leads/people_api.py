"""Contact routes (SPEC §7 "People"): a contact with its handles, leads and bookings, and merging a duplicate."""

from __future__ import annotations

from fastapi import APIRouter

from myhibachi.auth.dependencies import CurrentPrincipal
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


@staff.post("/{contact_id}/merge", summary="Merge a duplicate into this contact", response_model=ContactDetail,
            responses=problem_responses(401, 403, 404, 422))
async def merge_contact(contact_id: PathId, body: ContactMerge, principal: CurrentPrincipal,
                        session: DbSession) -> ContactDetail:
    """`other_id`'s bookings, leads and handles become this contact's and `other_id` is deleted (audited, nothing
    lost). Two open leads at one station become one: the duplicate's timeline moves onto this contact's lead. Needs
    `engagement` at every station where either contact has a booking or a lead."""
    kept = await people.merge_contacts(session, principal, contact_id, body.other_id)
    return await people.contact_detail(session, principal, kept.id)
