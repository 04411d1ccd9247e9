"""Reading the roster: a station's chefs, who is on duty on a local date, and time-off requests."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, timedelta
from typing import Any, TypeVar

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import contains_eager

from myhibachi.auth.permissions import Permission
from myhibachi.auth.principal import Principal, scope_to_stations
from myhibachi.chefs.models import CHEFS_TAG, Chef, ChefTimeOff, TimeOffStatus, chefs_tag
from myhibachi.chefs.schemas import ChefOnDuty, DutyChef, StationRoster
from myhibachi.core.cache import cached_reference
from myhibachi.core.errors import NotFound
from myhibachi.pricing.queries import get_rules

OnDuty = TypeVar("OnDuty", Chef, DutyChef)
Shaped = TypeVar("Shaped")


def _station_chefs(principal: Principal, station_id: int) -> Select[tuple[Chef]]:
    stmt = scope_to_stations(select(Chef), principal, Permission.chefs_manage, Chef.station_id)
    return stmt.where(Chef.station_id == station_id)


async def list_station_chefs(session: AsyncSession, principal: Principal, station_id: int) -> list[Chef]:
    principal.authorize(Permission.chefs_manage, station_id)
    return list(await session.scalars(_station_chefs(principal, station_id).order_by(Chef.name, Chef.id)))


async def find_station_chef(session: AsyncSession, station_id: int, chef_id: int) -> Chef:
    """The chef of this station (callers have authorized the station); another station's chef is 404."""
    chef = await session.scalar(select(Chef).where(Chef.id == chef_id, Chef.station_id == station_id))
    if chef is None:
        raise NotFound("No such chef at this station.")
    return chef


async def find_own_chef(session: AsyncSession, principal: Principal, station_id: int) -> Chef | None:
    """The chef record of this station linked to the principal's own user ("my time-off"); None when unlinked."""
    authorize_station_member(principal, station_id)
    if principal.user_id is None:
        return None
    return await session.scalar(select(Chef).where(Chef.station_id == station_id,
                                                   Chef.user_id == principal.user_id))


async def find_station_time_off(session: AsyncSession, station_id: int, time_off_id: int) -> ChefTimeOff:
    """With its chef: a change to it then drops only that station's roster."""
    time_off = await session.scalar(select(ChefTimeOff).join(ChefTimeOff.chef).options(contains_eager(
        ChefTimeOff.chef)).where(ChefTimeOff.id == time_off_id, Chef.station_id == station_id))
    if time_off is None:
        raise NotFound("No such time-off at this station.")
    return time_off


async def chefs_on_duty(session: AsyncSession, station_id: int, local_date: date) -> list[Chef]:
    """Chefs who can cook at the station on `local_date` (a station-local date): active, working that weekday
    and without approved time-off covering it. Each one's daily limit is `chef.daily_limit(...)` of the station's
    `chef_max_events_per_day` (see `on_duty_roster`). No authorization: bookings call it for capacity."""
    return (await chefs_on_duty_between(session, station_id, local_date, local_date))[local_date]


async def chefs_on_duty_between(session: AsyncSession, station_id: int, first_day: date,
                                last_day: date) -> dict[date, list[Chef]]:
    """`chefs_on_duty` for every date of a range, in two queries whatever its length."""
    chefs = list(await session.scalars(select(Chef).where(
        Chef.station_id == station_id, Chef.is_active.is_(True)).order_by(Chef.name, Chef.id)))
    time_off = (await session.execute(select(ChefTimeOff.chef_id, ChefTimeOff.first_day, ChefTimeOff.last_day).where(
        ChefTimeOff.chef_id.in_([chef.id for chef in chefs]), ChefTimeOff.status == TimeOffStatus.approved.value,
        ChefTimeOff.first_day <= last_day, ChefTimeOff.last_day >= first_day))).all()
    return _on_duty(chefs, time_off, first_day, last_day)


async def duty_between(session: AsyncSession, station_id: int, first_day: date, last_day: date,
                       shape: Callable[[DutyChef], Shaped]) -> dict[date, list[Shaped]]:
    """Who is on duty on each date of a range, as capacity needs it, each chef as `shape(chef)` (worked out once per
    chef): from the station's roster, cached (every availability and booking asks; any change to a chef or a time-off
    refreshes it at once)."""

    async def load() -> StationRoster:
        chefs = (await session.execute(select(Chef.id, Chef.working_weekdays, Chef.max_events_per_day).where(
            Chef.station_id == station_id, Chef.is_active.is_(True)))).all()
        time_off = (await session.execute(select(ChefTimeOff.chef_id, ChefTimeOff.first_day, ChefTimeOff.last_day)
                                          .join(Chef, Chef.id == ChefTimeOff.chef_id).where(
            Chef.station_id == station_id, Chef.is_active.is_(True),
            ChefTimeOff.status == TimeOffStatus.approved.value))).all()
        return StationRoster(chefs=[DutyChef(id=id_, working_weekdays=weekdays, max_events_per_day=limit)
                                    for id_, weekdays, limit in chefs], time_off=[tuple(row) for row in time_off])

    roster = await cached_reference(session, "chefs.roster", args={"station_id": station_id},
                                    tags=[chefs_tag(station_id), CHEFS_TAG],
                                    result_type=StationRoster, compute=load)
    return _on_duty(roster.chefs, roster.time_off, first_day, last_day, shape)


def _on_duty(chefs: list[OnDuty], time_off: Sequence[tuple[int, date, date]], first_day: date, last_day: date,
             shape: Callable[[OnDuty], Any] = lambda chef: chef) -> dict[date, list[Any]]:
    """Per date of the range, the chefs (active ones, as `shape` gives each) working that weekday without approved
    time-off covering it. Dates with nobody away share their weekday's list: not for changing."""
    shaped = [(chef.id, shape(chef)) for chef in chefs]
    roster: dict[date, list[Any]] = {}
    working: dict[int, list[tuple[int, Any]]] = {}  # per ISO weekday: a range repeats its seven weekdays
    everyone: dict[int, list[Any]] = {}
    for offset in range((last_day - first_day).days + 1):
        day = first_day + timedelta(days=offset)
        if (weekday := day.isoweekday()) not in working:
            working[weekday] = [pair for pair, chef in zip(shaped, chefs, strict=True) if chef.works_on(day)]
            everyone[weekday] = [duty for _, duty in working[weekday]]
        away = {chef_id for chef_id, first, last in time_off if first <= day <= last}
        roster[day] = [duty for chef_id, duty in working[weekday] if chef_id not in away] if away \
            else everyone[weekday]
    return roster


async def on_duty_roster(session: AsyncSession, principal: Principal, station_id: int,
                         local_date: date) -> list[ChefOnDuty]:
    principal.authorize(Permission.chefs_manage, station_id)
    station_limit = (await get_rules(session, station_id)).chef_max_events_per_day
    return [ChefOnDuty(id=chef.id, name=chef.name, user_id=chef.user_id,
                       max_events_per_day=chef.daily_limit(station_limit))
            for chef in await chefs_on_duty(session, station_id, local_date)]


def authorize_time_off_of(principal: Principal, chef: Chef) -> bool:
    """Whether the principal manages this chef's time-off (True) or it is their own (False); else refused.

    `chefs.manage` covers every chef of the station; `chefs.own_time_off` only the chef record linked to the
    principal's own user. Everyone else is refused as lacking `chefs.manage`."""
    if principal.can(Permission.chefs_manage, chef.station_id):
        return True
    own = chef.user_id is not None and chef.user_id == principal.user_id
    if own and principal.can(Permission.chefs_own_time_off, chef.station_id):
        return False
    raise principal.deny(Permission.chefs_manage, chef.station_id,
                         "Only the chef themselves or a roster manager may see or ask for this time-off.")


async def list_chef_time_off(session: AsyncSession, principal: Principal, station_id: int,
                             chef_id: int) -> list[ChefTimeOff]:
    """One chef's time-off, newest first: for a roster manager, or for the chef themselves ("my time-off")."""
    authorize_station_member(principal, station_id)
    chef = await find_station_chef(session, station_id, chef_id)
    authorize_time_off_of(principal, chef)
    return list(await session.scalars(select(ChefTimeOff).where(ChefTimeOff.chef_id == chef.id).order_by(
        ChefTimeOff.first_day.desc(), ChefTimeOff.id.desc())))


async def list_station_time_off(session: AsyncSession, principal: Principal, station_id: int, *,
                                status: TimeOffStatus | None = None) -> list[ChefTimeOff]:
    """Every chef's time-off at the station, optionally of one status (e.g. the requests awaiting a decision)."""
    principal.authorize(Permission.chefs_manage, station_id)
    chefs = _station_chefs(principal, station_id).with_only_columns(Chef.id)
    stmt = select(ChefTimeOff).where(ChefTimeOff.chef_id.in_(chefs))
    if status is not None:
        stmt = stmt.where(ChefTimeOff.status == status.value)
    return list(await session.scalars(stmt.order_by(ChefTimeOff.first_day, ChefTimeOff.id)))


def authorize_station_member(principal: Principal, station_id: int) -> None:
    """Another station's chefs do not exist for you (404) before anything else is looked at."""
    if principal.role_at(station_id) is None:
        principal.authorize(Permission.chefs_manage, station_id)  # logs the denial and answers 404
