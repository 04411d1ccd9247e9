"""Another station's record answers exactly what a missing record answers: same status, code, title and detail, so
an id tells nobody whether it exists elsewhere (SPEC §3: "a record of another station answers 404, not 403")."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from myhibachi.auth.models import User
from myhibachi.auth.permissions import Role
from myhibachi.chefs.models import Chef
from tests.bookings.conftest import API, add_chefs, book, clock, station  # noqa: F401 - shared fixtures

MISSING = 987654321


@pytest.fixture
async def fre(client, db, station, book, make_user, login) -> dict[str, int]:  # noqa: F811
    """A booking of FRE with a recorded payment, FRE's admin and one of its chefs."""
    admin_id = await make_user("fre-admin@example.com", Role.admin, station)
    booking = await book(station.id)
    paid = await client.post(f"{API}/bookings/{booking['id']}/payments", headers=await login("fre-admin@example.com"),
                             json={"method": "zelle", "amount_cents": 10000, "reference": "ZL-1"})
    assert paid.status_code == 201, paid.text
    async with db.transaction(write=False) as session:
        chef_id = await session.scalar(select(Chef.id).where(Chef.station_id == station.id).limit(1))
    return {"booking": booking["id"], "payment": paid.json()["id"], "user": admin_id, "chef": chef_id,
            "station": station.id}


@pytest.fixture
async def sac_admin(make_station, make_user, login, add_chefs) -> tuple[dict[str, str], int]:  # noqa: F811
    sac = await make_station("SAC")
    await add_chefs(sac, 1)
    await make_user("sac-admin@example.com", Role.admin, sac)
    return await login("sac-admin@example.com"), sac.id


def _requests(b: int, p: int, u: int, c: int, sac_id: int) -> list[tuple[str, str, dict | None]]:
    """Requests about booking `b`, payment `p`, user `u` and chef `c` (asked under the asker's own station)."""
    return [
        ("GET", f"/bookings/{b}", None),
        ("POST", f"/bookings/{b}/cancel", {"reason": "Asked by phone"}),
        ("POST", f"/bookings/{b}/reschedule", {"event_date": "2026-12-20", "slot_time": "12:00"}),
        ("POST", f"/bookings/{b}/payments", {"method": "cash", "amount_cents": 1000, "reference": "R-1"}),
        ("POST", f"/bookings/{b}/confirm", None),
        ("GET", f"/payments/{p}", None),
        ("POST", f"/payments/{p}/refunds", {"amount_cents": 1000, "reason": "Goodwill"}),
        ("GET", f"/users/{u}", None),
        ("POST", f"/users/{u}/deactivate", {"reason": "Left the company"}),
        ("PATCH", f"/stations/{sac_id}/chefs/{c}", {"name": "Renamed"}),
        ("GET", f"/stations/{sac_id}/chefs/{c}/time-off", None),
    ]


async def test_another_stations_record_answers_what_a_missing_one_answers(client, db, fre, sac_admin):
    headers, sac_id = sac_admin
    real = _requests(fre["booking"], fre["payment"], fre["user"], fre["chef"], sac_id)
    missing = _requests(MISSING, MISSING, MISSING, MISSING, sac_id)
    for (method, path, body), (_, missing_path, _) in zip(real, missing, strict=True):
        theirs = await client.request(method, API + path, json=body, headers=headers)
        absent = await client.request(method, API + missing_path, json=body, headers=headers)

        assert absent.status_code == 404, (missing_path, absent.text)
        assert theirs.status_code == 404, (path, theirs.text)
        assert theirs.headers["content-type"] == absent.headers["content-type"] == "application/problem+json"
        assert theirs.json() == absent.json(), path
    async with db.transaction(write=False) as session:  # and nothing was changed by the attempts
        assert (await session.get_one(User, fre["user"])).is_active
