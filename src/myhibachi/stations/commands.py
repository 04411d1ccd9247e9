"""Write use-cases of stations (super admin), each audited with before/after."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from myhibachi.audit.commands import record_audit
from myhibachi.auth.permissions import Permission
from myhibachi.auth.principal import Principal
from myhibachi.core.errors import Conflict
from myhibachi.stations.models import Station
from myhibachi.stations.queries import get_station
from myhibachi.stations.schemas import StationCreate, StationUpdate


def _snapshot(station: Station) -> dict[str, Any]:
    return {
        "code": station.code, "name": station.name, "timezone": station.timezone,
        "address_line1": station.address_line1, "city": station.city, "state": station.state,
        "zip_code": station.zip_code, "latitude": station.latitude, "longitude": station.longitude,
        "is_active": station.is_active, "chefs_collect_balance": station.chefs_collect_balance,
    }


async def create_station(session: AsyncSession, principal: Principal, data: StationCreate) -> Station:
    principal.authorize(Permission.stations_manage)
    if await session.scalar(select(Station.id).where(Station.code == data.code)) is not None:
        raise Conflict(f"A station with code {data.code} already exists.")
    return await _insert_station(session, data, actor_user_id=principal.user_id)


async def _insert_station(session: AsyncSession, data: StationCreate, *, actor_user_id: int | None) -> Station:
    station = Station(code=data.code, name=data.name, timezone=data.timezone, address_line1=data.address.line1,
                      city=data.address.city, state=data.address.state, zip_code=data.address.zip_code,
                      latitude=data.latitude, longitude=data.longitude)
    session.add(station)
    await session.flush()
    await record_audit(session, actor_user_id=actor_user_id, action="stations.create", target_type="station",
                       target_id=station.id, station_id=station.id, after=_snapshot(station))
    return station


async def update_station(session: AsyncSession, principal: Principal, station_id: int,
                         data: StationUpdate) -> Station:
    principal.authorize(Permission.stations_manage, station_id)
    station = await get_station(session, station_id)
    before = _snapshot(station)
    changes = data.model_dump(exclude_unset=True, exclude_none=True)
    if address := changes.pop("address", None):
        changes |= {"address_line1": address["line1"], "city": address["city"], "state": address["state"],
                    "zip_code": address["zip_code"]}
    for field, value in changes.items():
        setattr(station, field, value)
    await session.flush()
    after = _snapshot(station)
    if after != before:
        await record_audit(session, actor_user_id=principal.user_id, action="stations.update",
                           target_type="station", target_id=station.id, station_id=station.id,
                           before={k: v for k, v in before.items() if after[k] != v},
                           after={k: v for k, v in after.items() if before[k] != v})
    return station


async def ensure_station(session: AsyncSession, data: StationCreate) -> tuple[Station, bool]:
    """Create the station unless its code exists (used by the idempotent demo seed)."""
    existing = await session.scalar(select(Station).where(Station.code == data.code))
    if existing is not None:
        return existing, False
    return await _insert_station(session, data, actor_user_id=None), True
