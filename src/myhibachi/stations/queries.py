"""Read use-cases of stations."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from myhibachi.auth.permissions import Permission
from myhibachi.auth.principal import Principal
from myhibachi.core.cache import cached_reference
from myhibachi.core.errors import NotFound
from myhibachi.stations.models import STATIONS_TAG, Station
from myhibachi.stations.schemas import Address, StationPlace, StationRead


async def list_public_stations(session: AsyncSession) -> list[StationPlace]:
    """The open stations by name. Cached (every quote reads them); a change to any station refreshes it at once."""

    async def load() -> list[StationPlace]:
        stations = await session.scalars(
            select(Station).where(Station.is_active.is_(True)).order_by(Station.name, Station.id))
        return [StationPlace.model_validate(s) for s in stations]

    return await cached_reference(session, "stations.open", args={}, tags=[STATIONS_TAG],
                                  result_type=list[StationPlace], compute=load)


async def open_station(session: AsyncSession, station_id: int) -> StationPlace | None:
    """An open station, from the cached list; None for a closed or unknown one."""
    return next((s for s in await list_public_stations(session) if s.id == station_id), None)


async def find_public_station(session: AsyncSession, station_id: int) -> StationPlace:
    """An active station, from the cached list (no query once cached: availability asks on every visit); 404."""
    station = await open_station(session, station_id)
    if station is None:
        raise NotFound("No such station.")
    return station


def read_station(station: Station) -> StationRead:
    return StationRead(
        id=station.id, code=station.code, name=station.name, timezone=station.timezone,
        address=Address(line1=station.address_line1, city=station.city, state=station.state,
                        zip_code=station.zip_code),
        latitude=station.latitude, longitude=station.longitude, is_active=station.is_active,
        chefs_collect_balance=station.chefs_collect_balance,
    )


async def get_station(session: AsyncSession, station_id: int) -> Station:
    """Callers have already authorized the station (the `require` dependency)."""
    station = await session.get(Station, station_id)
    if station is None:
        raise NotFound("No such station.")
    return station


async def find_active_station(session: AsyncSession, code: str) -> Station:
    """A station open to customers, by its code (case-insensitive)."""
    station = await session.scalar(select(Station).where(Station.code == code.upper(), Station.is_active.is_(True)))
    if station is None:
        raise NotFound("No such station.")
    return station


@dataclass(frozen=True)
class ManagedStation:
    """A station as its managers see it: what they may change there."""

    station: Station
    may_edit: bool  # its name, address, time zone, opening
    may_edit_rules: bool  # its business rules


@dataclass(frozen=True)
class StationsToManage:
    stations: list[ManagedStation]
    may_create: bool


async def stations_to_manage(session: AsyncSession, principal: Principal) -> StationsToManage:
    """The stations of the principal (every one for a super admin), by name, each with what they may change there;
    403 for a role that manages neither stations nor rules."""
    if not (principal.has_anywhere(Permission.stations_manage) or principal.has_anywhere(Permission.rules_manage)):
        raise principal.deny(Permission.rules_manage, None, "Your role does not manage stations or their rules.")
    stmt = select(Station).order_by(Station.name)
    if not principal.is_super_admin:
        stmt = stmt.where(Station.id.in_(list(principal.roles)))
    return StationsToManage(
        [ManagedStation(station, principal.can(Permission.stations_manage, station.id),
                        principal.can(Permission.rules_manage, station.id)) for station in await session.scalars(stmt)],
        may_create=principal.has_anywhere(Permission.stations_manage))
