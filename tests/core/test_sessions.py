"""Every request gives back the connection it took, whichever way its session ended: read through `reading` (a
cache miss uses the session, a hit never does), refused with a 422, or a write through the unit of work."""

from __future__ import annotations

from myhibachi.auth.permissions import Role
from myhibachi.core.runtime import Runtime
from myhibachi.stations.models import STATIONS_TAG

QUOTE = {"zip_code": "94536", "adults": 12}


def connections_in_use(runtime: Runtime) -> int:
    return runtime.db.engine.pool.checkedout()  # type: ignore[attr-defined]  # a queue pool on both databases


async def test_requests_served_with_or_without_the_database_give_back_their_connections(client, runtime: Runtime,
                                                                                        make_station):
    station = await make_station("FRE")
    await runtime.cache.invalidate({STATIONS_TAG})
    answers = [
        (await client.get("/api/v1/stations")).status_code,  # a miss: read from the database
        (await client.get("/api/v1/stations")).status_code,  # a hit: the session is never used
        (await client.post("/api/v1/quotes", json={"station_id": station.id, **QUOTE})).status_code,
        (await client.post("/api/v1/quotes", json={"station_id": station.id, **QUOTE, "adults": 0})).status_code,
        (await client.post("/api/v1/quotes", json={"station_id": station.id + 1, **QUOTE})).status_code,
    ]
    assert answers == [200, 200, 200, 422, 422]
    assert connections_in_use(runtime) == 0


async def test_the_unit_of_work_gives_back_its_connection_after_a_read_a_write_and_a_refusal(client, runtime: Runtime,
                                                                                           make_station, make_user,
                                                                                           login):
    station = await make_station("FRE")
    await make_user("admin@example.com", Role.admin, station)
    admin = await login("admin@example.com")
    url = f"/api/v1/stations/{station.id}/rules"
    rules = (await client.get(url, headers=admin)).json()
    answers = [(await client.put(url, headers=admin, json={**rules, "deposit_cents": 15000})).status_code,
               (await client.put(url, headers=admin, json={**rules, "deposit_cents": -1})).status_code,
               (await client.get(f"/api/v1/stations/{station.id + 1}/rules", headers=admin)).status_code]
    assert answers == [200, 422, 404]
    assert connections_in_use(runtime) == 0
