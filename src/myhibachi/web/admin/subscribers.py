"""Admin pages of subscribers (issue 18, /admin/subscribers): search with each person's email-marketing state and
suppression, the suppression list (add, lift), the CSV import (consent source required) and the CSV export —
through newsletters.subscribers, which decides who sees and may change what."""

from __future__ import annotations

import csv
import io
from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import UploadFile

from myhibachi.auth.permissions import Permission
from myhibachi.consent.commands import ImportOutcome
from myhibachi.core.errors import ValidationFailed
from myhibachi.newsletters import subscribers
from myhibachi.web.admin.leads import local_time
from myhibachi.web.admin.pages import AdminVisit, Trouble, Visit, form_state, submit
from myhibachi.web.admin.payments import safe_cell
from myhibachi.web.fields import record_id

router = APIRouter(include_in_schema=False)
P = Permission
DONE = {"suppressed": "Suppressed: no marketing goes to this address from any station.",
        "already": "This address was suppressed already; nothing changed.",
        "lifted": "Lifted: marketing may reach this address again, if its consent allows."}
OUTCOME_WORDS = {
    ImportOutcome.confirmed: "recorded as confirmed",
    ImportOutcome.asked: "asked to confirm (the double opt-in email is on its way)",
    ImportOutcome.already_confirmed: "already confirmed: nothing new",
    ImportOutcome.withdrawn: "unsubscribed earlier: left unsubscribed",
}


async def _when(visit: Visit) -> Any:
    shown = await visit.chosen()
    zone = shown.timezone if shown else "UTC"
    return lambda moment: local_time(moment, zone)


@router.get("/admin/subscribers", response_class=HTMLResponse)
async def subscriber_list(visit: AdminVisit) -> Response:
    text = visit.request.query_params.get("q", "")[:100]
    rows, more = await subscribers.search_subscribers(visit.session, visit.principal, text,
                                                      before=record_id(visit.request.query_params.get("before", "")))
    return await visit.page("subscribers/list.html", title="Subscribers", rows=rows, q=text, more=more,
                            when=await _when(visit), may_send=visit.principal.has_anywhere(P.newsletters_send))


async def _suppressions_page(visit: Visit, form: dict[str, str] | None = None,
                             trouble: Trouble | None = None) -> Response:
    text = visit.request.query_params.get("q", "")[:100]
    rows = await subscribers.suppression_list(visit.session, visit.principal, text)
    form = form or {}
    return await visit.page("subscribers/suppressions.html", title="Suppressed addresses", rows=rows, q=text,
                            when=await _when(visit), may_send=visit.principal.has_anywhere(P.newsletters_send),
                            values={name: form.get(name, "")[:500] for name in ("email", "detail", "reason")},
                            lifting=form.get("go") == "lift", done=visit.notice(DONE), **form_state(trouble))


@router.get("/admin/subscribers/suppressions", response_class=HTMLResponse)
async def suppressions(visit: AdminVisit) -> Response:
    return await _suppressions_page(visit)


@router.post("/admin/subscribers/suppressions", response_class=HTMLResponse)
async def change_suppression(visit: AdminVisit) -> Response:
    """`go=add` a manual suppression of `email` (with an optional `detail`), `go=lift` the suppression of `email`
    (a `reason` is required)."""
    async def act(form: dict[str, str]) -> str:
        if form.get("go") == "lift":
            await subscribers.lift_by_hand(visit.session, visit.principal, form.get("email", ""),
                                           form.get("reason", ""))
            return "/admin/subscribers/suppressions?done=lifted"
        added = await subscribers.suppress_by_hand(visit.session, visit.principal, form.get("email", ""),
                                                   form.get("detail", ""))
        return f"/admin/subscribers/suppressions?done={'suppressed' if added else 'already'}"

    return await submit(visit, act=act, show=lambda form, trouble: _suppressions_page(visit, form, trouble),
                        names={"body.reason": "reason", "": "email"})


async def _import_page(visit: Visit, form: dict[str, str] | None = None, trouble: Trouble | None = None,
                       report: subscribers.ImportReport | None = None) -> Response:
    station = await visit.station()
    visit.principal.authorize(P.newsletters_send, station.id)
    form = form or {}
    return await visit.page("subscribers/import.html", title="Import subscribers", station=station,
                            values={"origin": form.get("origin", "")[:300], "confirmed": form.get("confirmed", "")},
                            report=report, outcome_words=OUTCOME_WORDS, max_mb=subscribers.MAX_IMPORT_BYTES // 2**20,
                            **form_state(trouble))


@router.get("/admin/subscribers/import", response_class=HTMLResponse)
async def import_form(visit: AdminVisit) -> Response:
    return await _import_page(visit)


@router.post("/admin/subscribers/import", response_class=HTMLResponse)
async def import_file(visit: AdminVisit) -> Response:
    """The uploaded CSV into the switcher's station: the page again with what was imported and each refused line."""
    async def act(form: dict[str, str]) -> Response:
        station = await visit.station()
        upload = (await visit.request.form()).get("file")
        if not isinstance(upload, UploadFile):
            raise ValidationFailed.on("file", "Choose the CSV file to import.")
        data = await upload.read(subscribers.MAX_IMPORT_BYTES + 1)
        report = await subscribers.import_subscribers(
            visit.session, visit.runtime.settings, visit.principal, station.id, data,
            origin=form.get("origin", ""), confirmed=form.get("confirmed") == "yes")
        return await _import_page(visit, report=report)

    return await submit(visit, act=act, show=lambda form, trouble: _import_page(visit, form, trouble))


@router.get("/admin/subscribers.csv")
async def export_csv(visit: AdminVisit) -> Response:
    """Every subscriber of the stations where the staff member may send newsletters (a super admin: all)."""
    rows = await subscribers.export_subscribers(visit.session, visit.principal)
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([safe_cell(cell) for cell in row] for row in rows)
    return visit.send(Response(out.getvalue(), media_type="text/csv; charset=utf-8",
                               headers={"Content-Disposition": 'attachment; filename="subscribers.csv"'}))
