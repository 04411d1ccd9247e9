"""The staff bookings list and detail: filters, cursor pagination and station scoping (chefs see their own)."""

from __future__ import annotations

import pytest

from myhibachi.auth.permissions import Role
from myhibachi.chefs.models import Chef
from tests.bookings.conftest import API


@pytest.fixture
async def admin(station, make_user, login):
    await make_user("admin@example.com", Role.admin, station)
    return await login("admin@example.com")


async def test_list_filters_by_status_and_local_dates_and_pages_by_cursor(client, station, book, admin):
    ids = [(await book(station.id, f"2026-12-{day}", "18:00", email=f"g{day}@example.com"))["id"]
           for day in (10, 11, 12, 13, 14)]
    await client.post(f"{API}/bookings/{ids[1]}/confirm", headers=admin)

    pages, cursor = [], None
    while True:
        params = {"station_id": station.id, "limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await client.get(f"{API}/bookings", params=params, headers=admin)).json()
        pages.append([item["id"] for item in page["items"]])
        if not (cursor := page["next_cursor"]):
            break
    confirmed = (await client.get(f"{API}/bookings", params={"status": "confirmed"}, headers=admin)).json()
    window = (await client.get(f"{API}/bookings", params={"from": "2026-12-11", "to": "2026-12-12"},
                               headers=admin)).json()

    assert pages == [ids[:2], ids[2:4], ids[4:]]
    assert [item["id"] for item in confirmed["items"]] == [ids[1]]
    assert [item["event_date"] for item in window["items"]] == ["2026-12-11", "2026-12-12"]
    assert window["items"][0]["customer"]["email"] == "g11@example.com"


async def test_a_bad_cursor_is_a_validation_error(client, station, admin):
    response = await client.get(f"{API}/bookings", params={"cursor": "not-a-cursor"}, headers=admin)
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "query.cursor"


async def test_other_stations_bookings_do_not_exist_for_you(client, station, book, make_station, make_user, login):
    ours = await book(station.id)
    other = await make_station("SAC")
    await make_user("other-admin@example.com", Role.admin, other)
    headers = await login("other-admin@example.com")

    listed = (await client.get(f"{API}/bookings", headers=headers)).json()
    detail = await client.get(f"{API}/bookings/{ours['id']}", headers=headers)
    act = await client.post(f"{API}/bookings/{ours['id']}/cancel", json={"reason": "x"}, headers=headers)
    filtered = await client.get(f"{API}/bookings", params={"station_id": station.id}, headers=headers)

    assert listed["items"] == []
    assert detail.status_code == 404 and act.status_code == 404 and filtered.status_code == 404


async def test_a_chef_sees_only_the_events_they_cook(client, db, station, book, admin, make_user, login):
    chef_user = await make_user("chef@example.com", Role.chef, station)
    async with db.transaction() as session:
        chef = Chef(station_id=station.id, name="Kenji", user_id=chef_user, working_weekdays=[1, 2, 3, 4, 5, 6, 7])
        session.add(chef)
        await session.flush()
        chef_id = chef.id
    mine, theirs = await book(station.id, email="a@example.com"), await book(station.id, slot="12:00")
    assigned = await client.post(f"{API}/bookings/{mine['id']}/assign-chef", json={"chef_id": chef_id},
                                 headers=admin)
    assert assigned.status_code == 200, assigned.text
    headers = await login("chef@example.com")

    listed = (await client.get(f"{API}/bookings", params={"station_id": station.id}, headers=headers)).json()
    own = await client.get(f"{API}/bookings/{mine['id']}", headers=headers)
    other = await client.get(f"{API}/bookings/{theirs['id']}", headers=headers)
    confirm = await client.post(f"{API}/bookings/{mine['id']}/confirm", headers=headers)

    assert [item["id"] for item in listed["items"]] == [mine["id"]]
    assert own.status_code == 200 and own.json()["chef_id"] == chef_id
    assert other.status_code == 404
    assert confirm.status_code == 403
