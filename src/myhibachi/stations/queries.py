"""Read use-cases of stations."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from myhibachi.core.cache import cached_reference
from myhibachi.core.errors import NotFound
from myhibachi.stations.models import STATIONS_TAG, Station
from myhibachi.stations.schemas import Address, StationPublic, StationRead


async def list_public_stations(session: AsyncSession) -> list[StationPublic]:
    """Cached; a change to any station refreshes it at once."""

    async def load() -> list[StationPublic]:
        stations = await session.scalars(select(Station).where(Station.is_active.is_(True)).order_by(Station.name))
        return [StationPublic.model_validate(s) for s in stations]

    return await cached_reference(session, "stations.public", args={}, tags=[STATIONS_TAG],
                                  result_type=list[StationPublic], compute=load)


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
