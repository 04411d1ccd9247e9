"""Admin pages: a contact (its handles, its conversations, leads and bookings at the staff member's stations, its
tags, its consent history and whether its address is suppressed), tagging it, and merging a duplicate into it, found
by email or phone, previewed, then confirmed — through the leads domain's people module and the inbox and consent
queries."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from myhibachi.auth.permissions import P
from myhibachi.consent.queries import consent_history, consent_state, suppression_of
from myhibachi.core.errors import ValidationFailed
from myhibachi.core.web import PathId
from myhibachi.inbox import queries as inbox_queries
from myhibachi.leads import people
from myhibachi.leads.people_schemas import ContactDetail
from myhibachi.reviews.queries import contact_tasks
from myhibachi.web.admin.inbox import CHANNEL_WORDS, STATUS_WORDS
from myhibachi.web.admin.leads import local_time
from myhibachi.web.admin.pages import AdminVisit, Trouble, Visit, form_state, submit
from myhibachi.web.admin.render import staff_stations
from myhibachi.web.admin.tasks import task_clock
from myhibachi.web.fields import record_id

router = APIRouter(include_in_schema=False)
DONE = {"merged": "Merged: the duplicate's bookings, leads and addresses are this contact's now.",
        "tagged": "Tag added.", "untagged": "Tag removed."}


async def _contact_page(visit: Visit, contact_id: int, form: dict[str, str] | None = None,
                        trouble: Trouble | None = None, duplicate: ContactDetail | None = None) -> Response:
    contact = await people.contact_detail(visit.session, visit.principal, contact_id)
    stations = await staff_stations(visit.session, visit.principal)
    names = {s.id: s.name for s in stations}
    zones = {s.id: s.timezone for s in stations}
    shown = await visit.chosen()
    default_zone = shown.timezone if shown else "UTC"
    form = form or {}
    threads, _ = await inbox_queries.list_conversations(
        visit.session, visit.principal, inbox_queries.ConversationFilters(contact_id=contact.id), limit=100) \
        if visit.principal.has_anywhere(P.engagement) else ([], None)
    return await visit.page("contacts/detail.html", title=contact.name, contact=contact, station_names=names,
                            values={"other": form.get("other", "")[:254], "tag": form.get("tag", "")[:60]},
                            duplicate=duplicate, done=visit.notice(DONE), **form_state(trouble),
                            conversations=threads, channel_words=CHANNEL_WORDS, status_words=STATUS_WORDS,
                            consents=await consent_history(visit.session, contact.id),
                            email_marketing=await consent_state(visit.session, contact.id),
                            suppression=await suppression_of(visit.session, contact.email),
                            tasks=await contact_tasks(visit.session, visit.principal, contact_id),
                            task_when=task_clock(stations),
                            when=lambda moment, station_id=None: local_time(moment, zones.get(station_id,
                                                                                              default_zone)))


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


@router.post("/admin/contacts/{contact_id}/tags", response_class=HTMLResponse)
async def tag_contact(contact_id: PathId, visit: AdminVisit) -> Response:
    """`go=add` the typed `tag` (lower-cased), `go=remove` the one named."""
    async def act(form: dict[str, str]) -> str:
        remove = form.get("go") == "remove"
        await people.tag_contact(visit.session, visit.principal, contact_id, form.get("tag", ""), remove=remove)
        return f"/admin/contacts/{contact_id}?done={'untagged' if remove else 'tagged'}#tags-title"

    return await submit(visit, act=act, show=lambda form, trouble: _contact_page(visit, contact_id, form, trouble))
