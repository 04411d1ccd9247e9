"""Roster changes: chefs created and edited by roster managers, time-off asked for and decided; all audited."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from myhibachi.audit.commands import record_audit
from myhibachi.auth.permissions import Permission, Role
from myhibachi.auth.principal import Principal
from myhibachi.auth.queries import roles_of
from myhibachi.chefs.models import Chef, ChefTimeOff, TimeOffStatus
from myhibachi.chefs.queries import (
    authorize_station_member,
    authorize_time_off_of,
    find_station_chef,
    find_station_time_off,
)
from myhibachi.chefs.schemas import ChefCreate, ChefUpdate, TimeOffCreate
from myhibachi.core.db import utcnow
from myhibachi.core.errors import Conflict, IllegalTransition, ValidationFailed
from myhibachi.stations.queries import get_station

# Fields a PATCH may clear with null; the others keep their value when null is sent.
CLEARABLE = frozenset({"user_id", "max_events_per_day"})


def _snapshot(chef: Chef) -> dict[str, Any]:
    return {"name": chef.name, "user_id": chef.user_id, "is_active": chef.is_active,
            "max_events_per_day": chef.max_events_per_day, "working_weekdays": list(chef.working_weekdays)}


def _time_off_snapshot(time_off: ChefTimeOff) -> dict[str, Any]:
    return {"chef_id": time_off.chef_id, "first_day": time_off.first_day.isoformat(),
            "last_day": time_off.last_day.isoformat(), "reason": time_off.reason, "status": time_off.status}


async def _check_chef_user(session: AsyncSession, station_id: int, user_id: int, chef_id: int | None) -> None:
    """A linked user must hold the chef role at the station and be linked to no other chef record there."""
    if (await roles_of(session, user_id)).get(station_id) != Role.chef:
        raise ValidationFailed.on("body.user_id", "This user does not hold the chef role at this station.")
    other = await session.scalar(select(Chef.id).where(Chef.station_id == station_id, Chef.user_id == user_id))
    if other is not None and other != chef_id:
        raise Conflict("This user is already linked to another chef of this station.")


async def create_chef(session: AsyncSession, principal: Principal, station_id: int, data: ChefCreate) -> Chef:
    principal.authorize(Permission.chefs_manage, station_id)
    await get_station(session, station_id)
    if data.user_id is not None:
        await _check_chef_user(session, station_id, data.user_id, None)
    chef = Chef(station_id=station_id, name=data.name, user_id=data.user_id, is_active=data.is_active,
                max_events_per_day=data.max_events_per_day, working_weekdays=data.working_weekdays)
    session.add(chef)
    await session.flush()
    await record_audit(session, actor_user_id=principal.user_id, action="chefs.create", target_type="chef",
                       target_id=chef.id, station_id=station_id, after=_snapshot(chef))
    return chef


async def update_chef(session: AsyncSession, principal: Principal, station_id: int, chef_id: int,
                      data: ChefUpdate) -> Chef:
    principal.authorize(Permission.chefs_manage, station_id)
    chef = await find_station_chef(session, station_id, chef_id)
    changes = {k: v for k, v in data.model_dump(exclude_unset=True).items() if v is not None or k in CLEARABLE}
    if changes.get("user_id") is not None and changes["user_id"] != chef.user_id:
        await _check_chef_user(session, station_id, changes["user_id"], chef.id)
    before = _snapshot(chef)
    for field, value in changes.items():
        setattr(chef, field, value)
    await session.flush()
    after = _snapshot(chef)
    if after != before:
        await record_audit(session, actor_user_id=principal.user_id, action="chefs.update", target_type="chef",
                           target_id=chef.id, station_id=station_id,
                           before={k: v for k, v in before.items() if after[k] != v},
                           after={k: v for k, v in after.items() if before[k] != v})
    return chef


async def request_time_off(session: AsyncSession, principal: Principal, station_id: int, chef_id: int,
                           data: TimeOffCreate) -> ChefTimeOff:
    """A roster manager's entry is approved at once; a chef asking for their own days off awaits a decision."""
    authorize_station_member(principal, station_id)
    chef = await find_station_chef(session, station_id, chef_id)
    manages = authorize_time_off_of(principal, chef)
    now = utcnow()
    time_off = ChefTimeOff(
        chef=chef, first_day=data.first_day, last_day=data.last_day, reason=data.reason or None,
        status=(TimeOffStatus.approved if manages else TimeOffStatus.requested).value,
        requested_by_user_id=principal.user_id, created_at=now,
        decided_by_user_id=principal.user_id if manages else None, decided_at=now if manages else None)
    session.add(time_off)
    await session.flush()
    await record_audit(session, actor_user_id=principal.user_id, action="chefs.time_off_request",
                       target_type="chef_time_off", target_id=time_off.id, station_id=station_id,
                       after=_time_off_snapshot(time_off))
    return time_off


async def decide_time_off(session: AsyncSession, principal: Principal, station_id: int, time_off_id: int, *,
                          approve: bool) -> ChefTimeOff:
    principal.authorize(Permission.chefs_manage, station_id)
    time_off = await find_station_time_off(session, station_id, time_off_id)
    if time_off.status != TimeOffStatus.requested.value:
        raise IllegalTransition(f"This time-off is already {time_off.status}; only a request can be decided.")
    before = _time_off_snapshot(time_off)
    time_off.status = (TimeOffStatus.approved if approve else TimeOffStatus.rejected).value
    time_off.decided_by_user_id, time_off.decided_at = principal.user_id, utcnow()
    await session.flush()
    await record_audit(session, actor_user_id=principal.user_id,
                       action="chefs.time_off_approve" if approve else "chefs.time_off_reject",
                       target_type="chef_time_off", target_id=time_off.id, station_id=station_id,
                       before={"status": before["status"]}, after={"status": time_off.status})
    return time_off
