"""Station routes: public listing, super-admin management, and station memberships."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from myhibachi.auth import commands as auth_commands
from myhibachi.auth.dependencies import require
from myhibachi.auth.permissions import Permission
from myhibachi.auth.principal import Principal
from myhibachi.auth.schemas import MembershipSet, Reason
from myhibachi.core.errors import problem_responses
from myhibachi.core.web import DbSession, PathId, RuntimeDep, reading
from myhibachi.stations import commands, queries
from myhibachi.stations.schemas import (
    MembershipResult,
    StationCreate,
    StationPublic,
    StationRead,
    StationUpdate,
)

public = APIRouter(prefix="/stations", tags=["stations"])
staff = APIRouter(prefix="/stations", tags=["stations"])


@public.get("", summary="List stations", response_model=list[StationPublic])
async def list_stations(runtime: RuntimeDep) -> list[StationPublic]:
    """Active stations a customer can book, by name."""
    async with reading(runtime) as session:
        return await queries.list_public_stations(session)


@staff.post("", summary="Create a station", status_code=status.HTTP_201_CREATED, response_model=StationRead,
            responses=problem_responses(401, 403, 409, 422))
async def create_station(body: StationCreate, principal: Annotated[Principal, require(Permission.stations_manage)],
                         session: DbSession) -> StationRead:
    """Super admin only. The time zone must be an IANA name; the code is unique."""
    return queries.read_station(await commands.create_station(session, principal, body))


@staff.get("/{station_id}", summary="A station", response_model=StationRead,
           responses=problem_responses(401, 403, 404, 422))
async def get_station(station_id: PathId, _: Annotated[Principal, require(Permission.stations_read)],
                      session: DbSession) -> StationRead:
    """Any role at the station may read it; other stations are 404."""
    return queries.read_station(await queries.get_station(session, station_id))


@staff.patch("/{station_id}", summary="Edit a station", response_model=StationRead,
             responses=problem_responses(401, 403, 404, 422))
async def update_station(station_id: PathId, body: StationUpdate,
                         principal: Annotated[Principal, require(Permission.stations_manage)],
                         session: DbSession) -> StationRead:
    """Super admin only; only the fields sent change. Audited with before/after."""
    return queries.read_station(await commands.update_station(session, principal, station_id, body))


@staff.post("/{station_id}/members", summary="Grant or change a station role", response_model=MembershipResult,
            status_code=status.HTTP_201_CREATED, responses={
                200: {"model": MembershipResult, "description": "The user's role at this station changed."},
                **problem_responses(401, 403, 404, 422)})
async def set_member(station_id: PathId, body: MembershipSet, response: Response,
                     principal: Annotated[Principal, require(Permission.users_manage)],
                     session: DbSession) -> MembershipResult:
    """201 when the user gets a role at this station, 200 when their role changes. Admins grant manager,
    support and chef; managers grant chef. The change applies on the user's next request."""
    membership, created = await auth_commands.set_station_role(
        session, principal, station_id=station_id, user_id=body.user_id, role=body.role)
    if not created:
        response.status_code = status.HTTP_200_OK
    return MembershipResult(station_id=station_id, user_id=body.user_id, role=membership.role)


@staff.delete("/{station_id}/members/{user_id}", summary="Take a station role away",
              status_code=status.HTTP_204_NO_CONTENT, responses=problem_responses(401, 403, 404, 422))
async def revoke_member(station_id: PathId, user_id: PathId, reason: Annotated[Reason, Query()],
                        principal: Annotated[Principal, require(Permission.users_manage)],
                        session: DbSession) -> Response:
    """The user loses every permission at this station on their next request. A reason is required."""
    await auth_commands.revoke_station_role(session, principal, station_id=station_id, user_id=user_id,
                                            reason=reason)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
