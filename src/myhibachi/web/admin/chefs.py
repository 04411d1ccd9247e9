"""Admin pages: the chosen station's chef roster (add and edit chefs, working weekdays, daily limits), its time-off
with the requests to approve or reject, and, for a chef, "My time off" — all through the chefs domain."""

from __future__ import annotations

import calendar
from datetime import date
from typing import Any, Literal, TypeVar

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ValidationError

from myhibachi.auth.permissions import Permission, Role
from myhibachi.auth.principal import Principal
from myhibachi.auth.queries import list_users
from myhibachi.chefs import commands, queries
from myhibachi.chefs.models import EVERY_WEEKDAY, Chef, ChefTimeOff, TimeOffStatus
from myhibachi.chefs.schemas import ChefCreate, ChefUpdate, TimeOffCreate
from myhibachi.core.errors import FieldError, ValidationFailed
from myhibachi.core.web import PathId
from myhibachi.pricing.queries import get_rules
from myhibachi.reviews.queries import chef_ratings
from myhibachi.stations.models import Station
from myhibachi.web.admin.charts import bar_chart
from myhibachi.web.admin.pages import AdminVisit, Trouble, Visit, submit
from myhibachi.web.fields import whole_number
from myhibachi.web.forms import field_errors

router = APIRouter(include_in_schema=False)
Decision = Literal["approve", "reject"]
WEEKDAYS = [(day, calendar.day_name[day - 1], calendar.day_abbr[day - 1]) for day in EVERY_WEEKDAY]
DONE = {"added": "The chef is on the roster.", "saved": "Chef details saved.",
        "approved": "Time-off approved: the chef is off duty on those days.",
        "rejected": "Time-off rejected: the chef stays on duty.",
        "entered": "Time-off entered: the chef is off duty on those days.",
        "requested": "Your time-off request is sent; a manager will approve or reject it."}
Input = TypeVar("Input", bound=BaseModel)


def _day(value: date) -> str:
    return value.strftime("%a %b %-d, %Y")


def _weekdays(days: list[int]) -> str:
    if sorted(days) == EVERY_WEEKDAY:
        return "Every day"
    return ", ".join(abbr for day, _, abbr in WEEKDAYS if day in days) or "No day"


async def _page(visit: Visit, template: str, *, title: str, **context: Any) -> HTMLResponse:
    return await visit.page(f"chefs/{template}", title=title, day=_day, weekdays=_weekdays,
                            weekday_choices=WEEKDAYS, done=visit.notice(DONE), **context)


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
async def chefs_home(visit: AdminVisit) -> Response:
    station, principal, session = await visit.station(), visit.principal, visit.session
    if not principal.can(Permission.chefs_manage, station.id) and \
            principal.can(Permission.chefs_own_time_off, station.id):
        return await _my_time_off(visit, station)
    chefs = await queries.list_station_chefs(session, principal, station.id)
    time_off = await queries.list_station_time_off(session, principal, station.id)
    rules = await get_rules(session, station.id)
    return await _page(visit, "roster.html", title="Chefs", station=station,
                       chefs=chefs, names={c.id: c.name for c in chefs}, station_limit=rules.chef_max_events_per_day,
                       pending=[t for t in time_off if t.status == TimeOffStatus.requested.value],
                       decided=[t for t in time_off if t.status != TimeOffStatus.requested.value],
                       accounts=await chef_accounts(session, principal, station.id))


async def _my_time_off(visit: Visit, station: Station) -> Response:
    chef = await queries.find_own_chef(visit.session, visit.principal, station.id)
    time_off = [] if chef is None else await queries.list_chef_time_off(visit.session, visit.principal, station.id,
                                                                        chef.id)
    return await _page(visit, "time_off.html", title="My time off", station=station,
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
    number = whole_number(raw)
    if number is None:
        raise ValidationFailed.on(name, "Please enter a whole number.")
    return number


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


def _validated(model: type[Input], fields: dict[str, Any]) -> Input:
    try:
        return model.model_validate(fields)
    except ValidationError as exc:
        raise invalid(exc) from None


def invalid(exc: ValidationError) -> ValidationFailed:
    """Pydantic's complaints about the form, as a domain validation error naming the form's fields."""
    errors = field_errors(exc)
    named = {("weekdays" if key.startswith("working_weekdays") else key): message for key, message in errors.items()}
    return ValidationFailed("Please check the highlighted fields.", errors=[
        FieldError(field=name, message=message, type="value_error") for name, message in named.items()])


async def _chef_form(visit: Visit, chef_id: int | None, form: dict[str, str] | None = None,
                     trouble: Trouble | None = None) -> Response:
    """The chef's form (a new one for no `chef_id`), as saved or as posted with what was wrong."""
    station, principal = await visit.station(), visit.principal
    principal.authorize(Permission.chefs_manage, station.id)
    chef = None if chef_id is None else await queries.find_station_chef(visit.session, station.id, chef_id)
    accounts = await chef_accounts(visit.session, principal, station.id)
    if chef is not None and chef.user_id and chef.user_id not in accounts:
        accounts[chef.user_id] = f"Staff account {chef.user_id}"  # keep the link shown, so saving keeps it
    rules = await get_rules(visit.session, station.id)
    weekdays = [] if form is None else await _posted_weekdays(visit.request)
    ratings = await chef_ratings(visit.session, chef.id) if chef is not None else None
    return await _page(visit, "chef_form.html", title=f"Edit {chef.name}" if chef else "Add a chef",
                       station=station, chef=chef,
                       values=_chef_values(chef) if form is None else _posted_values(form, weekdays),
                       errors=trouble.errors if trouble else {}, alert=trouble.message if trouble else None,
                       status=trouble.status if trouble else 200, accounts=accounts,
                       station_limit=rules.chef_max_events_per_day, ratings=ratings,
                       ratings_chart=bar_chart([(f"{n}★", ratings.spread[n]) for n in range(1, 6)])
                       if ratings else None)


async def _posted_weekdays(request: Request) -> list[str]:
    return [day.strip() for day in (await request.form()).getlist("weekday") if isinstance(day, str)]


@router.get("/admin/chefs/new", response_class=HTMLResponse)
async def new_chef_form(visit: AdminVisit) -> Response:
    return await _chef_form(visit, None)


@router.post("/admin/chefs/new", response_class=HTMLResponse)
async def add_chef(visit: AdminVisit) -> Response:
    async def act(form: dict[str, str]) -> str:
        station = await visit.station()
        data = _validated(ChefCreate, chef_fields(form, await _posted_weekdays(visit.request)))
        await commands.create_chef(visit.session, visit.principal, station.id, data)
        return f"/admin/chefs?station={station.id}&done=added"

    return await submit(visit, act=act, show=lambda form, trouble: _chef_form(visit, None, form, trouble))


@router.get("/admin/chefs/{chef_id}", response_class=HTMLResponse)
async def edit_chef_form(chef_id: PathId, visit: AdminVisit) -> Response:
    await _station_chef(visit, chef_id)
    return await _chef_form(visit, chef_id)


@router.post("/admin/chefs/{chef_id}", response_class=HTMLResponse)
async def edit_chef(chef_id: PathId, visit: AdminVisit) -> Response:
    station, chef = await _station_chef(visit, chef_id)

    async def act(form: dict[str, str]) -> str:
        data = _validated(ChefUpdate, chef_fields(form, await _posted_weekdays(visit.request)))
        await commands.update_chef(visit.session, visit.principal, station.id, chef.id, data)
        return f"/admin/chefs?station={station.id}&done=saved"

    return await submit(visit, act=act, show=lambda form, trouble: _chef_form(visit, chef_id, form, trouble))


async def _station_chef(visit: Visit, chef_id: int) -> tuple[Station, Chef]:
    """The switcher's station and its chef (another station's chef does not exist)."""
    station = await visit.station()
    queries.authorize_station_member(visit.principal, station.id)
    return station, await queries.find_station_chef(visit.session, station.id, chef_id)


# --- time-off: entered by a manager, asked for by the chef --------------------------------------------------------


async def _time_off_page(visit: Visit, chef_id: int, form: dict[str, str] | None = None,
                         trouble: Trouble | None = None) -> Response:
    station, principal = await visit.station(), visit.principal
    time_off = await queries.list_chef_time_off(visit.session, principal, station.id, chef_id)  # own, or managed
    chef = await queries.find_station_chef(visit.session, station.id, chef_id)
    own = not principal.can(Permission.chefs_manage, station.id)
    return await _page(visit, "time_off.html", title="My time off" if own else f"Time off — {chef.name}",
                       station=station, chef=chef, own=own, time_off=time_off, values=form or {},
                       errors=trouble.errors if trouble else {}, alert=trouble.message if trouble else None,
                       status=trouble.status if trouble else 200)


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
async def time_off_form(chef_id: PathId, visit: AdminVisit) -> Response:
    return await _time_off_page(visit, chef_id)


@router.post("/admin/chefs/{chef_id}/time-off", response_class=HTMLResponse)
async def enter_time_off(chef_id: PathId, visit: AdminVisit) -> Response:
    async def act(form: dict[str, str]) -> str:
        station = await visit.station()
        created = await commands.request_time_off(visit.session, visit.principal, station.id, chef_id,
                                                  time_off_request(form))
        if created.status == TimeOffStatus.requested.value:
            return f"/admin/chefs?station={station.id}&done=requested"
        return f"/admin/chefs/{chef_id}/time-off?station={station.id}&done=entered"

    return await submit(visit, act=act, show=lambda form, trouble: _time_off_page(visit, chef_id, form, trouble))


# --- deciding a request --------------------------------------------------------------------------------------------


async def _decision_page(visit: Visit, time_off_id: int, decision: Decision,
                         trouble: Trouble | None = None) -> Response:
    station = await visit.station()
    visit.principal.authorize(Permission.chefs_manage, station.id)
    time_off: ChefTimeOff = await queries.find_station_time_off(visit.session, station.id, time_off_id)
    chef = await queries.find_station_chef(visit.session, station.id, time_off.chef_id)
    verb = "Approve" if decision == "approve" else "Reject"
    return await _page(visit, "decide.html", title=f"{verb} time-off", station=station, time_off=time_off,
                       chef=chef, decision=decision, verb=verb, alert=trouble.message if trouble else None,
                       status=trouble.status if trouble else 200,
                       open=time_off.status == TimeOffStatus.requested.value)


@router.get("/admin/chefs/time-off/{time_off_id}/{decision}", response_class=HTMLResponse)
async def decision_form(time_off_id: PathId, decision: Decision, visit: AdminVisit) -> Response:
    return await _decision_page(visit, time_off_id, decision)


@router.post("/admin/chefs/time-off/{time_off_id}/{decision}", response_class=HTMLResponse)
async def decide(time_off_id: PathId, decision: Decision, visit: AdminVisit) -> Response:
    async def act(form: dict[str, str]) -> str | Response:
        if form.get("go") != "confirm":
            return await _decision_page(visit, time_off_id, decision)
        station = await visit.station()
        await commands.decide_time_off(visit.session, visit.principal, station.id, time_off_id,
                                       approve=decision == "approve")
        return f"/admin/chefs?station={station.id}&done={'approved' if decision == 'approve' else 'rejected'}"

    return await submit(visit, act=act, show=lambda form, trouble: _decision_page(visit, time_off_id, decision,
                                                                                   trouble))
