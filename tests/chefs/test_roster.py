"""The chef roster through the API: managers keep it, chefs ask for their own time-off, and `on-duty` answers
who can cook at a station on a local date."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from myhibachi.audit.models import AuditEntry
from myhibachi.auth.permissions import Role
from myhibachi.chefs.queries import chefs_on_duty

API = "/api/v1"
MONDAY, TUESDAY = "2026-12-07", "2026-12-08"


@pytest.fixture
async def home(make_station):
    return await make_station("FRE")


@pytest.fixture
async def manager(home, make_user, login):
    await make_user("manager@example.com", Role.manager, home)
    return await login("manager@example.com")


@pytest.fixture
async def chef_user(home, make_user):
    return await make_user("chef@example.com", Role.chef, home)


async def add_chef(client, headers, station_id: int, **fields) -> dict:
    response = await client.post(f"{API}/stations/{station_id}/chefs", json={"name": "Kenji Sato", **fields},
                                 headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


async def audit_actions(db, target_type: str) -> list[tuple[str, str | None]]:
    async with db.transaction(write=False) as session:
        rows = await session.execute(select(AuditEntry.action, AuditEntry.target_id).where(
            AuditEntry.target_type == target_type).order_by(AuditEntry.id))
        return [tuple(row) for row in rows]


async def on_duty(client, headers, station_id: int, day: str) -> dict[str, int]:
    response = await client.get(f"{API}/stations/{station_id}/chefs/on-duty", params={"date": day}, headers=headers)
    assert response.status_code == 200, response.text
    return {chef["name"]: chef["max_events_per_day"] for chef in response.json()}


async def test_manager_creates_lists_and_edits_chefs_with_audit(client, db, home, manager):
    created = await add_chef(client, manager, home.id)
    assert created["working_weekdays"] == [1, 2, 3, 4, 5, 6, 7]
    assert (created["is_active"], created["max_events_per_day"], created["user_id"]) == (True, None, None)
    await add_chef(client, manager, home.id, name="Aiko Tanaka", working_weekdays=[5, 1, 5])

    listed = await client.get(f"{API}/stations/{home.id}/chefs", headers=manager)
    assert [(c["name"], c["working_weekdays"]) for c in listed.json()] == [
        ("Aiko Tanaka", [1, 5]), ("Kenji Sato", [1, 2, 3, 4, 5, 6, 7])]

    patched = await client.patch(f"{API}/stations/{home.id}/chefs/{created['id']}", headers=manager,
                                 json={"max_events_per_day": 2, "working_weekdays": [2], "name": None})
    assert patched.status_code == 200, patched.text
    assert (patched.json()["name"], patched.json()["max_events_per_day"]) == ("Kenji Sato", 2)
    cleared = await client.patch(f"{API}/stations/{home.id}/chefs/{created['id']}", headers=manager,
                                 json={"max_events_per_day": None})
    assert cleared.json()["max_events_per_day"] is None

    actions = await audit_actions(db, "chef")
    assert actions[0][0] == actions[1][0] == "chefs.create"
    assert actions[2:] == [("chefs.update", str(created["id"]))] * 2
    async with db.transaction(write=False) as session:
        update = await session.scalar(select(AuditEntry).where(AuditEntry.action == "chefs.update")
                                      .order_by(AuditEntry.id))
    assert update.before == {"max_events_per_day": None, "working_weekdays": [1, 2, 3, 4, 5, 6, 7]}
    assert update.after == {"max_events_per_day": 2, "working_weekdays": [2]}


@pytest.mark.parametrize("body", [
    {"name": ""}, {"name": "A", "working_weekdays": [0]}, {"name": "A", "working_weekdays": [8]},
    {"name": "A", "working_weekdays": ["1"]}, {"name": "A", "max_events_per_day": 0},
    {"name": "A", "max_events_per_day": 11}, {"name": "A", "is_active": "yes"}, {"name": "A", "user_id": 0},
])
async def test_bad_chef_input_is_422_and_writes_nothing(client, db, home, manager, body):
    response = await client.post(f"{API}/stations/{home.id}/chefs", json=body, headers=manager)
    assert response.status_code == 422, response.text
    assert (await client.get(f"{API}/stations/{home.id}/chefs", headers=manager)).json() == []
    assert await audit_actions(db, "chef") == []


async def test_linked_user_must_be_a_chef_here_and_linked_once(client, home, manager, chef_user, make_user):
    support = await make_user("support@example.com", Role.support, home)
    refused = await client.post(f"{API}/stations/{home.id}/chefs", json={"name": "S", "user_id": support},
                                headers=manager)
    assert (refused.status_code, refused.json()["errors"][0]["field"]) == (422, "body.user_id")
    first = await add_chef(client, manager, home.id, user_id=chef_user)
    assert first["user_id"] == chef_user
    again = await client.post(f"{API}/stations/{home.id}/chefs", json={"name": "Twin", "user_id": chef_user},
                              headers=manager)
    assert again.status_code == 409
    other = await add_chef(client, manager, home.id, name="Other")
    moved = await client.patch(f"{API}/stations/{home.id}/chefs/{other['id']}", json={"user_id": chef_user},
                               headers=manager)
    assert moved.status_code == 409


async def test_on_duty_follows_weekdays_activity_time_off_and_limits(client, db, home, manager):
    await add_chef(client, manager, home.id, name="Every Day")
    await add_chef(client, manager, home.id, name="Tuesdays", working_weekdays=[2], max_events_per_day=1)
    inactive = await add_chef(client, manager, home.id, name="Inactive")
    await client.patch(f"{API}/stations/{home.id}/chefs/{inactive['id']}", json={"is_active": False},
                       headers=manager)
    away = await add_chef(client, manager, home.id, name="Away")
    entered = await client.post(f"{API}/stations/{home.id}/chefs/{away['id']}/time-off", headers=manager,
                                json={"first_day": MONDAY, "last_day": MONDAY})
    assert entered.json()["status"] == "approved"  # a manager's entry needs no decision

    assert await on_duty(client, manager, home.id, MONDAY) == {"Every Day": 3}
    assert await on_duty(client, manager, home.id, TUESDAY) == {"Away": 3, "Every Day": 3, "Tuesdays": 1}
    async with db.transaction(write=False) as session:  # the query bookings will use
        chefs = await chefs_on_duty(session, home.id, date.fromisoformat(TUESDAY))
    assert [(chef.name, chef.daily_limit(3)) for chef in chefs] == [("Away", 3), ("Every Day", 3), ("Tuesdays", 1)]


async def test_the_station_rule_is_the_default_daily_limit(client, home, manager, make_user, login):
    await make_user("admin@example.com", Role.admin, home)
    admin = await login("admin@example.com")
    await add_chef(client, manager, home.id, name="Default")
    rules = (await client.get(f"{API}/stations/{home.id}/rules", headers=admin)).json()
    saved = await client.put(f"{API}/stations/{home.id}/rules", json={**rules, "chef_max_events_per_day": 5},
                             headers=admin)
    assert saved.status_code == 200, saved.text
    assert await on_duty(client, manager, home.id, MONDAY) == {"Default": 5}


async def test_chef_asks_for_own_time_off_and_a_manager_decides(client, db, home, manager, chef_user, login):
    mine = await add_chef(client, manager, home.id, name="Chen Chef", user_id=chef_user)
    theirs = await add_chef(client, manager, home.id, name="Kenji Sato")
    chef = await login("chef@example.com")

    asked = await client.post(f"{API}/stations/{home.id}/chefs/{mine['id']}/time-off", headers=chef,
                              json={"first_day": MONDAY, "last_day": TUESDAY, "reason": "  Wedding  "})
    assert asked.status_code == 201, asked.text
    request = asked.json()
    assert (request["status"], request["reason"], request["requested_by_user_id"]) == ("requested", "Wedding",
                                                                                      chef_user)
    assert request["decided_by_user_id"] is None
    # Requested but not approved: still on duty.
    assert "Chen Chef" in await on_duty(client, manager, home.id, MONDAY)

    for_other = await client.post(f"{API}/stations/{home.id}/chefs/{theirs['id']}/time-off", headers=chef,
                                  json={"first_day": MONDAY, "last_day": MONDAY})
    assert (for_other.status_code, for_other.json()["code"]) == (403, "permission_denied")
    assert (await client.get(f"{API}/stations/{home.id}/chefs/{theirs['id']}/time-off",
                             headers=chef)).status_code == 403
    own_list = await client.get(f"{API}/stations/{home.id}/chefs/{mine['id']}/time-off", headers=chef)
    assert [t["id"] for t in own_list.json()] == [request["id"]]
    assert (await client.post(f"{API}/stations/{home.id}/time-off/{request['id']}/approve",
                              headers=chef)).status_code == 403

    pending = await client.get(f"{API}/stations/{home.id}/time-off", params={"status": "requested"},
                               headers=manager)
    assert [t["id"] for t in pending.json()] == [request["id"]]
    approved = await client.post(f"{API}/stations/{home.id}/time-off/{request['id']}/approve", headers=manager)
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved" and approved.json()["decided_at"] is not None
    assert "Chen Chef" not in await on_duty(client, manager, home.id, MONDAY)
    assert "Chen Chef" not in await on_duty(client, manager, home.id, TUESDAY)

    for verb in ("approve", "reject"):
        again = await client.post(f"{API}/stations/{home.id}/time-off/{request['id']}/{verb}", headers=manager)
        assert (again.status_code, again.json()["code"]) == (409, "illegal_transition")
    assert (await client.get(f"{API}/stations/{home.id}/time-off", params={"status": "requested"},
                             headers=manager)).json() == []

    second = await client.post(f"{API}/stations/{home.id}/chefs/{mine['id']}/time-off", headers=chef,
                               json={"first_day": "2026-12-14", "last_day": "2026-12-14"})
    rejected = await client.post(f"{API}/stations/{home.id}/time-off/{second.json()['id']}/reject",
                                 headers=manager)
    assert rejected.json()["status"] == "rejected"
    assert "Chen Chef" in await on_duty(client, manager, home.id, "2026-12-14")

    assert [a for a, _ in await audit_actions(db, "chef_time_off")] == [
        "chefs.time_off_request", "chefs.time_off_approve", "chefs.time_off_request", "chefs.time_off_reject"]


@pytest.mark.parametrize("body", [
    {"first_day": TUESDAY, "last_day": MONDAY}, {"first_day": "2026-02-30", "last_day": "2026-03-01"},
    {"first_day": MONDAY}, {"first_day": MONDAY, "last_day": MONDAY, "reason": "x" * 501},
])
async def test_bad_time_off_is_422(client, db, home, manager, body):
    chef = await add_chef(client, manager, home.id)
    response = await client.post(f"{API}/stations/{home.id}/chefs/{chef['id']}/time-off", json=body,
                                 headers=manager)
    assert response.status_code == 422, response.text
    assert await audit_actions(db, "chef_time_off") == []


async def test_another_stations_chefs_and_time_off_are_not_found(client, home, manager, make_station, make_user,
                                                                 login):
    other = await make_station("SAC")
    await make_user("admin-sac@example.com", Role.admin, other)
    other_admin = await login("admin-sac@example.com")
    chef = await add_chef(client, other_admin, other.id)
    time_off = (await client.post(f"{API}/stations/{other.id}/chefs/{chef['id']}/time-off", headers=other_admin,
                                  json={"first_day": MONDAY, "last_day": MONDAY})).json()
    await add_chef(client, manager, home.id, name="Home chef")

    # Through the manager's own station: the other station's records do not exist there.
    assert (await client.patch(f"{API}/stations/{home.id}/chefs/{chef['id']}", json={"name": "X"},
                               headers=manager)).status_code == 404
    assert (await client.get(f"{API}/stations/{home.id}/chefs/{chef['id']}/time-off",
                             headers=manager)).status_code == 404
    assert (await client.post(f"{API}/stations/{home.id}/time-off/{time_off['id']}/approve",
                              headers=manager)).status_code == 404
    # Through the other station's path: the manager has no role there.
    for method, path in [("GET", "chefs"), ("GET", "chefs/on-duty?date=" + MONDAY), ("GET", "time-off"),
                         ("PATCH", f"chefs/{chef['id']}"), ("GET", f"chefs/{chef['id']}/time-off")]:
        response = await client.request(method, f"{API}/stations/{other.id}/{path}", headers=manager,
                                        json={"name": "X"} if method == "PATCH" else None)
        assert response.status_code == 404, (method, path)
    listed = await client.get(f"{API}/stations/{other.id}/chefs", headers=other_admin)
    assert [c["name"] for c in listed.json()] == ["Kenji Sato"]
    assert await on_duty(client, other_admin, other.id, MONDAY) == {}


@pytest.mark.parametrize("day", ["2026-13-01", "tomorrow", "1999-12-31"])
async def test_on_duty_needs_a_valid_date(client, home, manager, day):
    response = await client.get(f"{API}/stations/{home.id}/chefs/on-duty", params={"date": day}, headers=manager)
    assert response.status_code == 422
