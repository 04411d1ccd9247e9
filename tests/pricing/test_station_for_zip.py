"""Which station cooks at a venue (`pricing.queries.station_for_zip`): the nearest open station whose own maximum
service distance covers the venue's ZIP code; none covering is "outside the service area", naming the nearest."""

from __future__ import annotations

from decimal import Decimal

import pytest

from myhibachi.auth.principal import SYSTEM
from myhibachi.core.db import Database
from myhibachi.demo import DEMO_STATIONS
from myhibachi.pricing.commands import update_rules
from myhibachi.pricing.queries import OutsideServiceArea, UnknownZipCode, get_rules, station_for_zip
from myhibachi.stations.commands import ensure_station
from myhibachi.stations.models import Station

# Driving miles (great circle × 1.2) from the demo stations, Fremont CA (FRE) and Sacramento CA (SAC):
# 94538 Fremont 1.8 / 92.5 · 95814 Sacramento 91.5 / 0.2 · 95376 Tracy 39.6 / 70.0 · 93720 Fresno 157.6 / 182.4


@pytest.fixture
async def stations(db: Database) -> dict[str, Station]:
    async with db.transaction() as session:
        made = [(await ensure_station(session, data))[0] for data in DEMO_STATIONS if data.code in ("FRE", "SAC")]
    return {station.code: station for station in made}


async def serving(db: Database, zip_code: str) -> tuple[str, Decimal]:
    async with db.transaction(write=False) as session:
        chosen = await station_for_zip(session, zip_code)
        return (await session.get(Station, chosen.station_id)).code, chosen.miles


async def change_rules(db: Database, station: Station, **changes: object) -> None:
    async with db.transaction() as session:
        rules = await get_rules(session, station.id)
        await update_rules(session, SYSTEM, station.id, rules.model_copy(update=changes))


async def refusal(db: Database, zip_code: str, error: type[Exception]) -> str:
    async with db.transaction(write=False) as session:
        with pytest.raises(error) as refused:
            await station_for_zip(session, zip_code)
    [problem] = refused.value.errors
    assert problem.field == "body.zip_code"
    return problem.message


async def test_the_nearest_station_cooks_where_two_reach(db, stations):
    assert await serving(db, "94538") == ("FRE", Decimal("1.8"))  # Sacramento reaches it too, from 92.5 miles
    assert await serving(db, "95814") == ("SAC", Decimal("0.2"))
    assert await serving(db, "95376") == ("FRE", Decimal("39.6"))


async def test_a_station_serves_only_as_far_as_its_own_rule_says(db, stations):
    await change_rules(db, stations["FRE"], max_service_miles=30)

    assert await serving(db, "95376") == ("SAC", Decimal("70.0"))  # nearer to Fremont, but beyond its reach
    assert await serving(db, "94538") == ("FRE", Decimal("1.8"))


async def test_the_road_factor_is_each_stations_own(db, stations):
    await change_rules(db, stations["FRE"], road_factor=Decimal("2.0"))  # about 39.6 / 1.2 × 2.0 = 66 < 70.0

    assert await serving(db, "95376") == ("FRE", Decimal("66.1"))
    await change_rules(db, stations["FRE"], road_factor=Decimal("2.5"))  # about 82.6: Sacramento is nearer now
    assert await serving(db, "95376") == ("SAC", Decimal("70.0"))


async def test_none_covering_is_outside_the_area_and_names_the_nearest_station(db, stations):
    message = await refusal(db, "93720", OutsideServiceArea)

    assert message.startswith("93720 is outside our service area")
    assert "Fremont, CA, travels up to 150 miles and 93720 is 157.6 miles away" in message
    await change_rules(db, stations["FRE"], max_service_miles=160)
    assert await serving(db, "93720") == ("FRE", Decimal("157.6"))


async def test_a_closed_station_serves_nobody(db, stations):
    async with db.transaction() as session:
        (await session.get(Station, stations["FRE"].id)).is_active = False

    assert await serving(db, "94538") == ("SAC", Decimal("92.5"))


async def test_an_unknown_zip_code_is_said_so(db, stations):
    assert await refusal(db, "00000", UnknownZipCode) == "We do not know the ZIP code 00000."


async def test_without_an_open_station_every_zip_code_is_outside(db):
    assert "no open location" in await refusal(db, "94538", OutsideServiceArea)
