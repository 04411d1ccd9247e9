"""Admin pages: the chosen station's chef roster (add and edit chefs, working weekdays, daily limits), its time-off
with the requests to approve or reject, and, for a chef, "My time off" — all through the chefs domain."""

from __future__ import annotations

import calendar
from datetime import date
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from myhibachi.auth.permissions import Permission, Role
from myhibachi.auth.principal import Principal
from myhibachi.auth.queries import list_users
from myhibachi.chefs import commands, queries
from myhibachi.chefs.models import EVERY_WEEKDAY, Chef, ChefTimeOff, TimeOffStatus
from myhibachi.chefs.schemas import ChefCreate, ChefUpdate, TimeOffCreate
from myhibachi.core.errors import DomainError, FieldError, NotFound, PermissionDenied, ValidationFailed
from myhibachi.core.web import DbSession, PathId, RuntimeDep, discard_changes
from myhibachi.pricing.queries import get_rules
from myhibachi.stations.models import Station
from myhibachi.web.admin.render import admin_page, refusal_page, staff_stations
from myhibachi.web.admin.session import Staff, checked_form, chosen_station
from myhibachi.web.forms import FormRejected, field_errors

router = APIRouter(include_in_schema=False)
Decision = Literal["approve", "reject"]
WEEKDAYS = [(day, calendar.day_name[day - 1], calendar.day_abbr[day - 1]) for day in EVERY_WEEKDAY]
DONE = {"added": "The chef is on the roster.", "saved": "Chef details saved.",
        "approved": "Time-off approved: the chef is off duty on those days.",
        "rejected": "Time-off rejected: the chef stays on duty.",
        "entered": "Time-off entered: the chef is off duty on those days.",
        "requested": "Your time-off request is sent; a manager will approve or reject it."}
NO_STATION = NotFound("You are not assigned to a station yet. Ask an admin to add you to one.")


def _day(value: date) -> str:
    return value.strftime("%a %b %-d, %Y")


def _weekdays(days: list[int]) -> str:
    if sorted(days) == EVERY_WEEKDAY:
        return "Every day"
    return ", ".join(abbr for day, _, abbr in WEEKDAYS if day in days) or "No day"


async def _station(request: Request, session: Any, principal: Principal) -> Station | None:
    return chosen_station(request, principal, await staff_stations(session, principal))


async def _page(request: Request, runtime: Any, session: Any, principal: Principal, template: str, *, title: str,
                **context: Any) -> HTMLResponse:
    return await admin_page(request, runtime, session, principal, f"chefs/{template}", title=title, day=_day,
                            weekdays=_weekdays, weekday_choices=WEEKDAYS,
                            done=DONE.get(request.query_params.get("done", "")), **context)


async def chef_accounts(session: Any, principal: Principal, station_id: int) -> dict[int, str]:
    """Staff holding the chef role at the station, {user id: "name (email)"}, for linking a chef record; empty for
    a role that may not see the station's users."""
    if not principal.can(Permission.users_manage, station_id):
        return {}
    users, _ = await list_users(session, principal, station_id=station_id, query=None, after_id=None, limit=200)
    return {u.id: f"{u.name} ({u.email})" for u in users
            if any(m.station_id == station_id and m.role == Role.chef for m in u.memberships)}


# --- the roster, or "my time off" --------------------------------------------------------------------------------


@router.get("/admin/chefs", response_class=HTMLResponse)
async def chefs_home(request: Request, principal: Staff, session: DbSession, runtime: RuntimeDep) -> Response:
    station = await _station(request, session, principal)
    if station is None:
        return await refusal_page(request, runtime, session, principal, NO_STATION)
    if not principal.can(Permission.chefs_manage, station.id) and \
            principal.can(Permission.chefs_own_time_off, station.id):
        return await _my_time_off(request, runtime, session, principal, station)
    try:
        chefs = await queries.list_station_chefs(session, principal, station.id)
        time_off = await queries.list_station_time_off(session, principal, station.id)
    except (PermissionDenied, NotFound) as exc:
        return await refusal_page(request, runtime, session, principal, exc)
    rules = await get_rules(session, station.id)
    return await _page(request, runtime, session, principal, "roster.html", title="Chefs", station=station,
                       chefs=chefs, names={c.id: c.name for c in chefs}, station_limit=rules.chef_max_events_per_day,
                       pending=[t for t in time_off if t.status == TimeOffStatus.requested.value],
                       decided=[t for t in time_off if t.status != TimeOffStatus.requested.value],
                       accounts=await chef_accounts(session, principal, station.id))


async def _my_time_off(request: Request, runtime: Any, session: Any, principal: Principal,
                       station: Station) -> Response:
    chef = await queries.find_own_chef(session, principal, station.id)
    time_off = [] if chef is None else await queries.list_chef_time_off(session, principal, station.id, chef.id)
    return await _page(request, runtime, session, principal, "time_off.html", title="My time off", station=station,
                       chef=chef, own=True, time_off=time_off, values={}, errors={}, alert=None)


# --- adding and editing a chef -------------------------------------------------------------------------------------


def _chef_values(chef: Chef | None) -> dict[str, Any]:
    if chef is None:
        return {"name": "", "max_events_per_day": "", "is_active": True, "weekdays": list(EVERY_WEEKDAY),
                "user_id": ""}
    return {"name": chef.name, "max_events_per_day": chef.max_events_per_day or "", "is_active": chef.is_active,
            "weekdays": list(chef.working_weekdays), "user_id": chef.user_id or ""}


def _posted_values(form: dict[str, str], weekdays: list[str]) -> dict[str, Any]:
    """What was sent, to show the form again as it was filled in."""
    days = [int(day) for day in weekdays if day.isdigit()]
    return {"name": form.get("name", ""), "max_events_per_day": form.get("max_events_per_day", ""),
            "is_active": bool(form.get("is_active")), "weekdays": days, "user_id": form.get("user_id", "")}


def _whole_number(form: dict[str, str], name: str) -> int | None:
    raw = form.get(name, "")
    if not raw:
        return None
    if not raw.isdigit() or len(raw) > 9:
        raise ValidationFailed.on(name, "Please enter a whole number.")
    return int(raw)


def chef_fields(form: dict[str, str], weekdays: list[str]) -> dict[str, Any]:
    """The form as the chef commands' input (the model validates it); an unknown weekday is refused here."""
    unknown = [day for day in weekdays if day not in {str(d) for d in EVERY_WEEKDAY}]
    if unknown:
        raise ValidationFailed.on("weekdays", f"“{unknown[0][:20]}” is not a day of the week.")
    fields: dict[str, Any] = {"name": form.get("name", ""), "is_active": bool(form.get("is_active")),
                              "working_weekdays": sorted({int(day) for day in weekdays}),
                              "max_events_per_day": _whole_number(form, "max_events_per_day")}
    if "user_id" in form:  # only where the form offered it: an absent field must not unlink the account
        fields["user_id"] = _whole_number(form, "user_id")
    return fields


def invalid(exc: ValidationError) -> ValidationFailed:
    """Pydantic's complaints about the form, as a domain validation error naming the form's fields."""
    errors = field_errors(exc)
    named = {("weekdays" if key.startswith("working_weekdays") else key): message for key, message in errors.items()}
    return ValidationFailed("Please check the highlighted fields.", errors=[
        FieldError(field=name, message=message, type="value_error") for name, message in named.items()])


async def _chef_form(request: Request, runtime: Any, session: Any, principal: Principal, station: Station,
                     chef: Chef | None, *, values: dict[str, Any] | None = None,
                     errors: dict[str, str] | None = None, alert: str | None = None,
                     status: int = 200) -> Response:
    try:
        principal.authorize(Permission.chefs_manage, station.id)
    except (PermissionDenied, NotFound) as exc:
        return await refusal_page(request, runtime, session, principal, exc)
    accounts = await chef_accounts(session, principal, station.id)
    if chef is not None and chef.user_id and chef.user_id not in accounts:
        accounts[chef.user_id] = f"Staff account {chef.user_id}"  # keep the link shown, so saving keeps it
    rules = await get_rules(session, station.id)
    return await _page(request, runtime, session, principal, "chef_form.html",
                       title=f"Edit {chef.name}" if chef else "Add a chef", station=station, chef=chef,
                       values=values or _chef_values(chef), errors=errors or {}, alert=alert, status=status,
                       accounts=accounts, station_limit=rules.chef_max_events_per_day)


async def _posted_chef(request: Request) -> tuple[dict[str, str], list[str]]:
    form = await checked_form(request)
    return form, [day.strip() for day in (await request.form()).getlist("weekday") if isinstance(day, str)]


async def _on_failure(request: Request, runtime: Any, session: Any, principal: Principal, exc: DomainError,
                      station: Station | None) -> tuple[Response | None, dict[str, str]]:
    """Undo what the command wrote; a refusal is answered as a page, anything else goes back to the form."""
    await discard_changes(session)
    if isinstance(exc, PermissionDenied | NotFound):
        return await refusal_page(request, runtime, session, principal, exc), {}
    if station is not None:
        await session.refresh(station)  # the rollback expired it; the form shows it again
    return None, field_errors(exc) if exc.errors else {}


@router.get("/admin/chefs/new", response_class=HTMLResponse)
async def new_chef_form(request: Request, principal: Staff, session: DbSession, runtime: RuntimeDep) -> Response:
    station = await _station(request, session, principal)
    if station is None:
        return await refusal_page(request, runtime, session, principal, NO_STATION)
    return await _chef_form(request, runtime, session, principal, station, None)


@router.post("/admin/chefs/new", response_class=HTMLResponse)
async def add_chef(request: Request, principal: Staff, session: DbSession, runtime: RuntimeDep) -> Response:
    station = await _station(request, session, principal)
    if station is None:
        return await refusal_page(request, runtime, session, principal, NO_STATION)
    try:
        form, weekdays = await _posted_chef(request)
    except FormRejected as rejected:
        return await _chef_form(request, runtime, session, principal, station, None, alert=rejected.message,
                                values=_posted_values(rejected.form, []), status=rejected.status)
    try:
        try:
            data = ChefCreate.model_validate(chef_fields(form, weekdays))
        except ValidationError as exc:
            raise invalid(exc) from None
        await commands.create_chef(session, principal, station.id, data)
    except DomainError as exc:
        refusal, errors = await _on_failure(request, runtime, session, principal, exc, station)
        return refusal or await _chef_form(request, runtime, session, principal, station, None, errors=errors,
                                           alert=exc.detail, values=_posted_values(form, weekdays),
                                           status=exc.status)
    return RedirectResponse(f"/admin/chefs?station={station.id}&done=added", status_code=303)


async def _station_chef(request: Request, runtime: Any, session: Any, principal: Principal,
                        chef_id: int) -> tuple[Station, Chef] | Response:
    """The switcher's station and its chef, or the refusal page (another station's chef does not exist)."""
    station = await _station(request, session, principal)
    try:
        if station is None:
            raise NO_STATION
        queries.authorize_station_member(principal, station.id)
        return station, await queries.find_station_chef(session, station.id, chef_id)
    except (PermissionDenied, NotFound) as exc:
        return await refusal_page(request, runtime, session, principal, exc)


@router.get("/admin/chefs/{chef_id}", response_class=HTMLResponse)
async def edit_chef_form(chef_id: PathId, request: Request, principal: Staff, session: DbSession,
                         runtime: RuntimeDep) -> Response:
    found = await _station_chef(request, runtime, session, principal, chef_id)
    if isinstance(found, Response):
        return found
    station, chef = found
    return await _chef_form(request, runtime, session, principal, station, chef)


@router.post("/admin/chefs/{chef_id}", response_class=HTMLResponse)
async def edit_chef(chef_id: PathId, request: Request, principal: Staff, session: DbSession,
                    runtime: RuntimeDep) -> Response:
    found = await _station_chef(request, runtime, session, principal, chef_id)
    if isinstance(found, Response):
        return found
    station, chef = found
    try:
        form, weekdays = await _posted_chef(request)
    except FormRejected as rejected:
        return await _chef_form(request, runtime, session, principal, station, chef, alert=rejected.message,
                                status=rejected.status)
    try:
        try:
            data = ChefUpdate.model_validate(chef_fields(form, weekdays))
        except ValidationError as exc:
            raise invalid(exc) from None
        await commands.update_chef(session, principal, station.id, chef.id, data)
    except DomainError as exc:
        refusal, errors = await _on_failure(request, runtime, session, principal, exc, station)
        if refusal:
            return refusal
        chef = await queries.find_station_chef(session, station.id, chef_id)  # as it is, after the rollback
        return await _chef_form(request, runtime, session, principal, station, chef, errors=errors,
                                alert=exc.detail, values=_posted_values(form, weekdays), status=exc.status)
    return RedirectResponse(f"/admin/chefs?station={station.id}&done=saved", status_code=303)


# --- time-off: entered by a manager, asked for by the chef --------------------------------------------------------


async def _time_off_page(request: Request, runtime: Any, session: Any, principal: Principal, station: Station,
                         chef_id: int, *, values: dict[str, str] | None = None,
                         errors: dict[str, str] | None = None, alert: str | None = None,
                         status: int = 200) -> Response:
    try:
        time_off = await queries.list_chef_time_off(session, principal, station.id, chef_id)  # own, or managed
    except (PermissionDenied, NotFound) as exc:
        return await refusal_page(request, runtime, session, principal, exc)
    chef = await queries.find_station_chef(session, station.id, chef_id)
    own = not principal.can(Permission.chefs_manage, station.id)
    return await _page(request, runtime, session, principal, "time_off.html",
                       title="My time off" if own else f"Time off — {chef.name}", station=station, chef=chef,
                       own=own, time_off=time_off, values=values or {}, errors=errors or {}, alert=alert,
                       status=status)


def time_off_request(form: dict[str, str]) -> TimeOffCreate:
    try:
        return TimeOffCreate(first_day=form.get("first_day", ""), last_day=form.get("last_day", ""),
                             reason=form.get("reason") or None)
    except ValidationError as exc:
        errors = field_errors(exc)
        if "" in errors:  # the model's own check: the days are the wrong way round
            errors = {"last_day": "The last day must be on or after the first day.",
                      **{k: v for k, v in errors.items() if k}}
        raise ValidationFailed("Please check the highlighted fields.", errors=[
            FieldError(field=name, message=message, type="value_error") for name, message in errors.items()]
        ) from None


@router.get("/admin/chefs/{chef_id}/time-off", response_class=HTMLResponse)
async def time_off_form(chef_id: PathId, request: Request, principal: Staff, session: DbSession,
                        runtime: RuntimeDep) -> Response:
    station = await _station(request, session, principal)
    if station is None:
        return await refusal_page(request, runtime, session, principal, NO_STATION)
    return await _time_off_page(request, runtime, session, principal, station, chef_id)


@router.post("/admin/chefs/{chef_id}/time-off", response_class=HTMLResponse)
async def enter_time_off(chef_id: PathId, request: Request, principal: Staff, session: DbSession,
                         runtime: RuntimeDep) -> Response:
    station = await _station(request, session, principal)
    if station is None:
        return await refusal_page(request, runtime, session, principal, NO_STATION)
    try:
        form = await checked_form(request)
    except FormRejected as rejected:
        return await _time_off_page(request, runtime, session, principal, station, chef_id, values=rejected.form,
                                    alert=rejected.message, status=rejected.status)
    try:
        created = await commands.request_time_off(session, principal, station.id, chef_id, time_off_request(form))
    except DomainError as exc:
        refusal, errors = await _on_failure(request, runtime, session, principal, exc, station)
        return refusal or await _time_off_page(request, runtime, session, principal, station, chef_id,
                                               values=form, errors=errors, alert=exc.detail, status=exc.status)
    if created.status == TimeOffStatus.requested.value:
        return RedirectResponse(f"/admin/chefs?station={station.id}&done=requested", status_code=303)
    return RedirectResponse(f"/admin/chefs/{chef_id}/time-off?station={station.id}&done=entered", status_code=303)


# --- deciding a request --------------------------------------------------------------------------------------------


async def _decision_page(request: Request, runtime: Any, session: Any, principal: Principal, time_off_id: int,
                         decision: Decision, *, alert: str | None = None, status: int = 200) -> Response:
    station = await _station(request, session, principal)
    try:
        if station is None:
            raise NO_STATION
        principal.authorize(Permission.chefs_manage, station.id)
        time_off: ChefTimeOff = await queries.find_station_time_off(session, station.id, time_off_id)
    except (PermissionDenied, NotFound) as exc:
        return await refusal_page(request, runtime, session, principal, exc)
    chef = await queries.find_station_chef(session, station.id, time_off.chef_id)
    verb = "Approve" if decision == "approve" else "Reject"
    return await _page(request, runtime, session, principal, "decide.html", title=f"{verb} time-off",
                       station=station, time_off=time_off, chef=chef, decision=decision, verb=verb, alert=alert,
                       status=status, open=time_off.status == TimeOffStatus.requested.value)


@router.get("/admin/chefs/time-off/{time_off_id}/{decision}", response_class=HTMLResponse)
async def decision_form(time_off_id: PathId, decision: Decision, request: Request, principal: Staff,
                        session: DbSession, runtime: RuntimeDep) -> Response:
    return await _decision_page(request, runtime, session, principal, time_off_id, decision)


@router.post("/admin/chefs/time-off/{time_off_id}/{decision}", response_class=HTMLResponse)
async def decide(time_off_id: PathId, decision: Decision, request: Request, principal: Staff, session: DbSession,
                 runtime: RuntimeDep) -> Response:
    try:
        form = await checked_form(request)
    except FormRejected as rejected:
        return await _decision_page(request, runtime, session, principal, time_off_id, decision,
                                    alert=rejected.message, status=rejected.status)
    if form.get("go") != "confirm":
        return await _decision_page(request, runtime, session, principal, time_off_id, decision)
    station = await _station(request, session, principal)
    try:
        if station is None:
            raise NO_STATION
        await commands.decide_time_off(session, principal, station.id, time_off_id, approve=decision == "approve")
    except DomainError as exc:
        refusal, _ = await _on_failure(request, runtime, session, principal, exc, station)
        return refusal or await _decision_page(request, runtime, session, principal, time_off_id, decision,
                                               alert=exc.detail, status=exc.status)
    done = "approved" if decision == "approve" else "rejected"
    return RedirectResponse(f"/admin/chefs?station={station.id}&done={done}", status_code=303)
