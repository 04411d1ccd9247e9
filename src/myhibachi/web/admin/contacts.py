"""Admin pages: a contact (its handles, and its leads and bookings at the staff member's stations) and merging a
duplicate into it, found by email or phone, previewed, then confirmed — through the leads domain's people module."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from myhibachi.core.errors import ValidationFailed
from myhibachi.core.web import PathId
from myhibachi.leads import people
from myhibachi.leads.people_schemas import ContactDetail
from myhibachi.reviews.queries import contact_tasks
from myhibachi.web.admin.pages import AdminVisit, Trouble, Visit, form_state, submit
from myhibachi.web.admin.render import staff_stations
from myhibachi.web.admin.tasks import task_clock
from myhibachi.web.fields import record_id

router = APIRouter(include_in_schema=False)
DONE = {"merged": "Merged: the duplicate's bookings, leads and addresses are this contact's now."}


async def _contact_page(visit: Visit, contact_id: int, form: dict[str, str] | None = None,
                        trouble: Trouble | None = None, duplicate: ContactDetail | None = None) -> Response:
    contact = await people.contact_detail(visit.session, visit.principal, contact_id)
    stations = await staff_stations(visit.session, visit.principal)
    names = {s.id: s.name for s in stations}
    tasks = await contact_tasks(visit.session, visit.principal, contact_id)
    return await visit.page("contacts/detail.html", title=contact.name, contact=contact, station_names=names,
                            tasks=tasks, task_when=task_clock(stations),
                            values={"other": (form or {}).get("other", "")[:254]}, duplicate=duplicate,
                            done=visit.notice(DONE), **form_state(trouble))


@router.get("/admin/contacts/{contact_id}", response_class=HTMLResponse)
async def contact_page(contact_id: PathId, visit: AdminVisit) -> Response:
    return await _contact_page(visit, contact_id)


@router.post("/admin/contacts/{contact_id}/merge", response_class=HTMLResponse)
async def merge_contact(contact_id: PathId, visit: AdminVisit) -> Response:
    """`go=preview` finds the duplicate by the typed email or phone and shows it; `go=confirm` merges `other_id`
    into this contact (a merge cannot be undone, so it is always shown first)."""
    async def act(form: dict[str, str]) -> str | Response:
        if form.get("go") == "confirm":
            other_id = record_id(form.get("other_id", ""))
            if other_id is None:
                raise ValidationFailed.on("other", "Find the duplicate first.")
            await people.merge_contacts(visit.session, visit.principal, contact_id, other_id)
            return f"/admin/contacts/{contact_id}?done=merged"
        duplicate = await people.find_duplicate(visit.session, visit.principal, contact_id, form.get("other", ""))
        return await _contact_page(visit, contact_id, form, duplicate=duplicate)

    return await submit(visit, act=act, show=lambda form, trouble: _contact_page(visit, contact_id, form, trouble),
                        names={"other_id": "other", "": "other"})
