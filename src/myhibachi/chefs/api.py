"""Chef roster routes (staff): the roster, who is on duty on a date, and time-off requests and decisions."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, status

from myhibachi.auth.dependencies import CurrentPrincipal, require
from myhibachi.auth.permissions import Permission
from myhibachi.auth.principal import Principal
from myhibachi.chefs import commands, queries
from myhibachi.chefs.models import TimeOffStatus
from myhibachi.chefs.schemas import ChefCreate, ChefOnDuty, ChefRead, ChefUpdate, TimeOffCreate, TimeOffRead
from myhibachi.core.dates import EARLIEST_DAY, LATEST_DAY
from myhibachi.core.errors import problem_responses
from myhibachi.core.web import DbSession, PathId

staff = APIRouter(prefix="/stations/{station_id}", tags=["chefs"])
ManageChefs = Annotated[Principal, require(Permission.chefs_manage)]
LocalDate = Annotated[date, Query(alias="date", ge=EARLIEST_DAY, le=LATEST_DAY,
                                  description="A station-local date, YYYY-MM-DD (2000-01-01 to 2999-12-31).",
                                  examples=["2026-12-24"])]


@staff.get("/chefs", summary="A station's chef roster", response_model=list[ChefRead],
           responses=problem_responses(401, 403, 404, 422))
async def list_chefs(station_id: PathId, principal: ManageChefs, session: DbSession) -> list[ChefRead]:
    """Every chef of the station, active or not, by name. Needs `chefs.manage` at the station."""
    return [ChefRead.model_validate(c) for c in await queries.list_station_chefs(session, principal, station_id)]


@staff.post("/chefs", summary="Add a chef to the roster", status_code=status.HTTP_201_CREATED,
            response_model=ChefRead, responses=problem_responses(401, 403, 404, 409, 422))
async def create_chef(station_id: PathId, body: ChefCreate, principal: ManageChefs, session: DbSession) -> ChefRead:
    """Working weekdays default to every day and the daily limit to the station's `chef_max_events_per_day`.
    `user_id` links the staff user who is this chef (they must hold the chef role here; 409 when already
    linked to another chef of the station). Audited."""
    return ChefRead.model_validate(await commands.create_chef(session, principal, station_id, body))


@staff.get("/chefs/on-duty", summary="Chefs on duty on a date", response_model=list[ChefOnDuty],
           responses=problem_responses(401, 403, 404, 422))
async def chefs_on_duty(station_id: PathId, on: LocalDate, principal: ManageChefs,
                        session: DbSession) -> list[ChefOnDuty]:
    """Active chefs who work that weekday and have no approved time-off covering the date, each with the number
    of events they may do that day. Requested (undecided) time-off does not take a chef off duty."""
    return await queries.on_duty_roster(session, principal, station_id, on)


@staff.patch("/chefs/{chef_id}", summary="Edit a chef", response_model=ChefRead,
             responses=problem_responses(401, 403, 404, 409, 422))
async def update_chef(station_id: PathId, chef_id: PathId, body: ChefUpdate, principal: ManageChefs,
                      session: DbSession) -> ChefRead:
    """Only the fields sent change; null clears `user_id` or `max_events_per_day`. Deactivate with
    `is_active: false`. Audited with before/after."""
    return ChefRead.model_validate(await commands.update_chef(session, principal, station_id, chef_id, body))


@staff.get("/chefs/{chef_id}/time-off", summary="A chef's time-off", response_model=list[TimeOffRead],
           responses=problem_responses(401, 403, 404, 422))
async def list_chef_time_off(station_id: PathId, chef_id: PathId, principal: CurrentPrincipal,
                             session: DbSession) -> list[TimeOffRead]:
    """Newest first. Roster managers (`chefs.manage`) see any chef's; a chef (`chefs.own_time_off`) sees their
    own — the chef record linked to their user."""
    time_off = await queries.list_chef_time_off(session, principal, station_id, chef_id)
    return [TimeOffRead.model_validate(t) for t in time_off]


@staff.post("/chefs/{chef_id}/time-off", summary="Enter or request time-off", status_code=status.HTTP_201_CREATED,
            response_model=TimeOffRead, responses=problem_responses(401, 403, 404, 422))
async def request_time_off(station_id: PathId, chef_id: PathId, body: TimeOffCreate, principal: CurrentPrincipal,
                           session: DbSession) -> TimeOffRead:
    """Days are station-local and inclusive. Entered by a roster manager it is `approved` at once; asked for by
    the chef themselves it is `requested` until a manager approves or rejects it. Audited."""
    return TimeOffRead.model_validate(
        await commands.request_time_off(session, principal, station_id, chef_id, body))


@staff.get("/time-off", summary="A station's time-off", response_model=list[TimeOffRead],
           responses=problem_responses(401, 403, 404, 422))
async def list_station_time_off(station_id: PathId, principal: ManageChefs, session: DbSession,
                                status_: Annotated[TimeOffStatus | None, Query(alias="status")] = None,
                                ) -> list[TimeOffRead]:
    """Every chef's time-off by first day; `status=requested` lists what awaits a decision."""
    time_off = await queries.list_station_time_off(session, principal, station_id, status=status_)
    return [TimeOffRead.model_validate(t) for t in time_off]


@staff.post("/time-off/{time_off_id}/approve", summary="Approve a time-off request", response_model=TimeOffRead,
            responses=problem_responses(401, 403, 404, 409, 422))
async def approve_time_off(station_id: PathId, time_off_id: PathId, principal: ManageChefs,
                           session: DbSession) -> TimeOffRead:
    """The chef is off duty on those days from now on. 409 `illegal_transition` unless it is `requested`."""
    return TimeOffRead.model_validate(
        await commands.decide_time_off(session, principal, station_id, time_off_id, approve=True))


@staff.post("/time-off/{time_off_id}/reject", summary="Reject a time-off request", response_model=TimeOffRead,
            responses=problem_responses(401, 403, 404, 409, 422))
async def reject_time_off(station_id: PathId, time_off_id: PathId, principal: ManageChefs,
                          session: DbSession) -> TimeOffRead:
    """The chef stays on duty. 409 `illegal_transition` unless it is `requested`."""
    return TimeOffRead.model_validate(
        await commands.decide_time_off(session, principal, station_id, time_off_id, approve=False))
