"""Admin: the switcher's station's four automated sequences with their figures (`engagement` reads them), and the
editor of one (`newsletters.send` changes it): on or off, and its steps — the wait before each, its subject and its
markdown body, added, removed and moved without script (each button posts the form), previewed as the email
renders in the station's brand."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from myhibachi.auth.permissions import Permission
from myhibachi.automations.commands import compose, ensure_automations, update_automation
from myhibachi.automations.models import Automation, AutomationKind
from myhibachi.automations.queries import (
    automation_steps,
    automation_view,
    find_automation,
    station_overview,
)
from myhibachi.automations.schemas import MAX_STEPS, AutomationUpdate
from myhibachi.core.errors import FieldError, ValidationFailed
from myhibachi.core.web import PathId
from myhibachi.pricing.queries import get_rules
from myhibachi.stations.models import Station
from myhibachi.web.admin.pages import AdminVisit, Trouble, Visit, form_state, submit
from myhibachi.web.admin.session import checked_form
from myhibachi.web.fields import whole_number
from myhibachi.web.forms import FormRejected

router = APIRouter(include_in_schema=False)
DONE = {"saved": "Saved. The next steps go out as edited; what was sent stays as it was."}
UNITS = {"hours": 60, "days": 24 * 60}
# The preview is the email as a mail client gets it (inline styles, no script), framed by the editor only.
PREVIEW_HEADERS = {"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data: "
                                              "https:; frame-ancestors 'self'; sandbox",
                   "X-Frame-Options": "SAMEORIGIN"}
SAMPLE = {"name": "Dana Lee", "occasion": "birthday"}  # who the preview is addressed to


def _delay_parts(minutes: int) -> tuple[int, str]:
    return (minutes // UNITS["days"], "days") if minutes % UNITS["days"] == 0 else (minutes // 60, "hours")


def _saved_values(automation: Automation, steps: list[Any]) -> dict[str, Any]:
    values: dict[str, Any] = {"enabled": automation.enabled, "count": len(steps)}
    for n, step in enumerate(steps, start=1):
        amount, unit = _delay_parts(step.delay_minutes)
        values |= {f"delay_{n}": str(amount), f"unit_{n}": unit, f"subject_{n}": step.subject,
                   f"body_{n}": step.body_markdown}
    return values


def _typed_steps(form: dict[str, str]) -> list[dict[str, str]]:
    count = min(whole_number(form.get("count")) or 0, MAX_STEPS + 1)
    return [{part: form.get(f"{part}_{n}", "") for part in ("delay", "unit", "subject", "body")}
            for n in range(1, count + 1)]


def _as_values(enabled: bool, steps: list[dict[str, str]]) -> dict[str, Any]:
    values: dict[str, Any] = {"enabled": enabled, "count": len(steps)}
    for n, step in enumerate(steps, start=1):
        values |= {f"{part}_{n}": value for part, value in step.items()}
    return values


def _rearranged(form: dict[str, str]) -> list[dict[str, str]] | None:
    """The typed steps after an add / remove / move button (None for Save)."""
    steps = _typed_steps(form)
    action, _, which = form.get("go", "save").partition(":")
    index = (whole_number(which) or 0) - 1
    if action == "add" and len(steps) < MAX_STEPS:
        return [*steps, {"delay": "1", "unit": "days", "subject": "", "body": ""}]
    if action == "remove" and 0 <= index < len(steps) and len(steps) > 1:
        return steps[:index] + steps[index + 1:]
    if action in ("up", "down") and 0 <= index < len(steps):
        other = index - 1 if action == "up" else index + 1
        if 0 <= other < len(steps):
            steps[index], steps[other] = steps[other], steps[index]
        return steps
    return None if action == "save" else steps


def _update(form: dict[str, str]) -> AutomationUpdate:
    """The form as the command's input; a delay that is no whole number is refused beside it."""
    steps, errors = [], []
    for n, step in enumerate(_typed_steps(form), start=1):
        amount = whole_number(step["delay"])
        if amount is None or step["unit"] not in UNITS:
            errors.append(FieldError(field=f"body.steps.{n - 1}.delay_minutes", type="value_error",
                                     message="Enter a whole number of hours or days, like 24 hours or 3 days."))
        steps.append({"delay_minutes": (amount or 0) * UNITS.get(step["unit"], 60), "subject": step["subject"],
                      "body_markdown": step["body"]})
    if errors:
        raise ValidationFailed("Please check the highlighted fields; nothing was saved.", errors=errors)
    try:
        return AutomationUpdate.model_validate({"enabled": form.get("enabled") == "on", "steps": steps})
    except ValidationError as exc:
        raise ValidationFailed("Please check the highlighted fields; nothing was saved.", errors=[
            FieldError(field="body." + ".".join(str(p) for p in e["loc"]), message=e["msg"], type=e["type"])
            for e in exc.errors()]) from None


def _field_names() -> dict[str, str]:
    names = {"steps": "count", "": "count"}
    for n in range(1, MAX_STEPS + 2):
        names |= {f"steps.{n - 1}.delay_minutes": f"delay_{n}", f"steps.{n - 1}.subject": f"subject_{n}",
                  f"steps.{n - 1}.body_markdown": f"body_{n}"}
    return names


@router.get("/admin/automations", response_class=HTMLResponse)
async def automations_home(visit: AdminVisit) -> Response:
    station = await visit.station()
    views = await station_overview(visit.session, visit.principal, station.id)
    if len(views) < len(AutomationKind):  # made the first time they are needed, in a write transaction of its own
        async with visit.runtime.db.transaction() as session:
            await ensure_automations(session, station.id)
            views = await station_overview(session, visit.principal, station.id)
    return await visit.page("automations/list.html", title="Automations", station=station, views=views,
                            may_change=visit.principal.can(Permission.newsletters_send, station.id))


async def _editor(visit: Visit, automation_id: int, form: dict[str, str] | None = None,
                  trouble: Trouble | None = None, typed: list[dict[str, str]] | None = None,
                  rearranged: bool = False) -> Response:
    automation = await find_automation(visit.session, visit.principal, automation_id, Permission.engagement)
    station = await visit.session.get_one(Station, automation.station_id)
    view = await automation_view(visit.session, automation)
    if typed is not None:
        values = _as_values((form or {}).get("enabled") == "on", typed)
    elif form is not None:
        values = _as_values(form.get("enabled") == "on", _typed_steps(form))
    else:
        values = _saved_values(automation, await automation_steps(visit.session, automation.id))
    return await visit.page("automations/edit.html", title=view.sequence.title, station=station, view=view,
                            values=values, units=UNITS, max_steps=MAX_STEPS, rearranged=rearranged,
                            may_change=visit.principal.can(Permission.newsletters_send, station.id),
                            done=visit.notice(DONE), **form_state(trouble))


@router.get("/admin/automations/{automation_id}", response_class=HTMLResponse)
async def automation_editor(automation_id: PathId, visit: AdminVisit) -> Response:
    return await _editor(visit, automation_id)


@router.post("/admin/automations/{automation_id}", response_class=HTMLResponse)
async def save_automation(automation_id: PathId, visit: AdminVisit) -> Response:
    """`go=save` saves (audited); `go=add`, `remove:N`, `up:N`, `down:N` show the form rearranged, unsaved."""
    await find_automation(visit.session, visit.principal, automation_id, Permission.newsletters_send)

    async def act(form: dict[str, str]) -> str | Response:
        if (steps := _rearranged(form)) is not None:
            return await _editor(visit, automation_id, form, typed=steps, rearranged=True)
        automation = await update_automation(visit.session, visit.principal, automation_id, _update(form))
        return f"/admin/automations/{automation.id}?station={automation.station_id}&done=saved"

    return await submit(visit, act=act, show=lambda form, trouble: _editor(visit, automation_id, form, trouble),
                        names=_field_names())


@router.post("/admin/automations/{automation_id}/preview", response_class=HTMLResponse)
async def preview_step(automation_id: PathId, visit: AdminVisit) -> Response:
    """Step `position` of the form as typed (saved or not), as its email renders, for the editor's frame."""
    automation = await find_automation(visit.session, visit.principal, automation_id, Permission.engagement)
    try:
        form = await checked_form(visit.request)
    except FormRejected as rejected:
        return visit.send(HTMLResponse(rejected.message, status_code=rejected.status))
    steps = _typed_steps(form)
    index = (whole_number(visit.request.query_params.get("position")) or 1) - 1
    step = steps[index] if 0 <= index < len(steps) else {"subject": "", "body": ""}
    station = await visit.session.get_one(Station, automation.station_id)
    email = compose(visit.runtime.settings, station, await get_rules(visit.session, station.id),
                    step["subject"] or "(no subject)", step["body"] or "(no text yet)", name=SAMPLE["name"],
                    contact_id=None, occasion=SAMPLE["occasion"])
    return visit.send(HTMLResponse(email.html, headers=PREVIEW_HEADERS))

