"""Staff user management: create/invite, change role, revoke, deactivate — per SPEC §3, audited."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from myhibachi.audit.models import AuditEntry
from myhibachi.auth.models import StationMembership, User
from myhibachi.auth.permissions import Role


@pytest.fixture
async def fremont(make_station, make_user):
    station = await make_station("FRE")
    await make_user("admin@example.com", Role.admin, station)
    await make_user("manager@example.com", Role.manager, station)
    return station


async def audit_rows(db, action):
    """Rows written by people (the fixtures' own setup is recorded as the system, actor None)."""
    async with db.transaction(write=False) as session:
        return list(await session.scalars(select(AuditEntry).where(
            AuditEntry.action == action, AuditEntry.actor_user_id.is_not(None))))


async def test_admin_creates_a_user_with_a_password_and_it_is_audited(client, fremont, login, db):
    admin = await login("admin@example.com")
    response = await client.post("/api/v1/users", headers={**admin, "X-Request-ID": "req-create-1",
                                                           "User-Agent": "pytest-agent"},
                                 json={"email": "Sue@Example.com", "name": "Sue", "role": "support",
                                       "station_id": fremont.id, "password": "long-enough-pass"})
    assert response.status_code == 201
    body = response.json()
    assert body["email"] == "sue@example.com"
    assert body["memberships"] == [{"station_id": fremont.id, "role": "support"}]
    assert body["invite_pending"] is False

    [row] = await audit_rows(db, "users.create")
    me = (await client.get("/api/v1/auth/me", headers=admin)).json()
    assert row.actor_user_id == me["id"]
    assert (row.target_type, row.target_id, row.station_id) == ("user", str(body["id"]), fremont.id)
    assert row.after == {"email": "sue@example.com", "name": "Sue", "role": "support", "invited": False}
    assert (row.ip, row.user_agent, row.request_id) == ("203.0.113.7", "pytest-agent", "req-create-1")


async def test_duplicate_email_is_a_conflict_and_writes_nothing(client, fremont, login, db):
    admin = await login("admin@example.com")
    payload = {"email": "manager@example.com", "name": "Again", "role": "chef", "station_id": fremont.id}
    response = await client.post("/api/v1/users", headers=admin, json=payload)
    assert response.status_code == 409
    async with db.transaction(write=False) as session:
        assert await session.scalar(select(func.count()).select_from(User)) == 2
    assert await audit_rows(db, "users.create") == []


async def test_manager_may_create_chefs_only(client, fremont, login):
    manager = await login("manager@example.com")
    chef = {"email": "chef@example.com", "name": "Chef", "role": "chef", "station_id": fremont.id}
    assert (await client.post("/api/v1/users", headers=manager, json=chef)).status_code == 201
    support = {**chef, "email": "s@example.com", "role": "support"}
    denied = await client.post("/api/v1/users", headers=manager, json=support)
    assert denied.status_code == 403
    assert denied.json()["code"] == "permission_denied"


async def test_role_needs_a_station_except_super_admin(client, fremont, login, make_user):
    admin = await login("admin@example.com")
    missing = await client.post("/api/v1/users", headers=admin,
                                json={"email": "x@example.com", "name": "X", "role": "chef"})
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["field"] == "body.station_id"
    assert (await client.post("/api/v1/users", headers=admin, json={
        "email": "x@example.com", "name": "X", "role": "super_admin"})).status_code == 403

    await make_user("root@example.com", Role.super_admin)
    root = await login("root@example.com")
    created = await client.post("/api/v1/users", headers=root,
                                json={"email": "x@example.com", "name": "X", "role": "super_admin"})
    assert created.status_code == 201
    assert created.json()["is_super_admin"] is True


async def test_role_change_is_audited_with_before_and_after(client, fremont, login, make_user, db):
    sue = await make_user("sue@example.com", Role.support, fremont)
    admin = await login("admin@example.com")
    changed = await client.post(f"/api/v1/stations/{fremont.id}/members", headers=admin,
                                json={"user_id": sue, "role": "chef"})
    assert changed.status_code == 200
    assert changed.json() == {"station_id": fremont.id, "user_id": sue, "role": "chef"}
    [row] = await audit_rows(db, "users.role_change")
    assert (row.before, row.after, row.target_id) == ({"role": "support"}, {"role": "chef"}, str(sue))


async def test_admin_cannot_touch_another_admin(client, fremont, login, make_user):
    other_admin = await make_user("admin2@example.com", Role.admin, fremont)
    admin = await login("admin@example.com")
    demote = await client.post(f"/api/v1/stations/{fremont.id}/members", headers=admin,
                               json={"user_id": other_admin, "role": "chef"})
    assert demote.status_code == 403
    deactivate = await client.post(f"/api/v1/users/{other_admin}/deactivate", headers=admin,
                                   json={"reason": "no reason at all"})
    assert deactivate.status_code == 403


async def test_super_admin_is_not_a_station_role(client, fremont, login, make_user):
    await make_user("root@example.com", Role.super_admin)
    sue = await make_user("sue@example.com", Role.support, fremont)
    root = await login("root@example.com")
    response = await client.post(f"/api/v1/stations/{fremont.id}/members", headers=root,
                                 json={"user_id": sue, "role": "super_admin"})
    assert response.status_code == 422


async def test_revoking_a_role_needs_a_reason_and_is_audited(client, fremont, login, make_user, db):
    sue = await make_user("sue@example.com", Role.support, fremont)
    admin = await login("admin@example.com")
    url = f"/api/v1/stations/{fremont.id}/members/{sue}"
    assert (await client.delete(url, headers=admin)).status_code == 422
    assert (await client.delete(url, headers=admin, params={"reason": "Moved to Austin"})).status_code == 204
    assert (await client.delete(url, headers=admin, params={"reason": "Moved to Austin"})).status_code == 404
    [row] = await audit_rows(db, "users.role_revoke")
    assert (row.reason, row.before) == ("Moved to Austin", {"role": "support"})
    async with db.transaction(write=False) as session:
        assert await session.scalar(select(func.count()).select_from(StationMembership)
                                    .where(StationMembership.user_id == sue)) == 0


async def test_deactivation_needs_a_reason_and_cannot_target_yourself(client, fremont, login, make_user, db):
    sue = await make_user("sue@example.com", Role.support, fremont)
    admin = await login("admin@example.com")
    assert (await client.post(f"/api/v1/users/{sue}/deactivate", headers=admin, json={})).status_code == 422
    assert (await client.post(f"/api/v1/users/{sue}/deactivate", headers=admin,
                              json={"reason": "  "})).status_code == 422
    me = (await client.get("/api/v1/auth/me", headers=admin)).json()
    self_deactivate = await client.post(f"/api/v1/users/{me['id']}/deactivate", headers=admin,
                                        json={"reason": "oops, me"})
    assert self_deactivate.status_code == 409

    assert (await client.post(f"/api/v1/users/{sue}/deactivate", headers=admin,
                              json={"reason": "Seasonal staff"})).status_code == 200
    [row] = await audit_rows(db, "users.deactivate")
    assert (row.reason, row.before, row.after) == ("Seasonal staff", {"is_active": True}, {"is_active": False})
    await client.post(f"/api/v1/users/{sue}/reactivate", headers=admin)
    assert len(await audit_rows(db, "users.reactivate")) == 1


async def test_user_list_filters_and_pages(client, fremont, login, make_user):
    for n in range(3):
        await make_user(f"chef{n}@example.com", Role.chef, fremont, name=f"Chef {n}")
    admin = await login("admin@example.com")
    emails, params = [], {"limit": 2}
    while True:
        page = (await client.get("/api/v1/users", headers=admin, params=params)).json()
        assert len(page["items"]) <= 2
        emails += [u["email"] for u in page["items"]]
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    assert len(emails) == len(set(emails)) == 5  # admin, manager and three chefs
    found = (await client.get("/api/v1/users", headers=admin, params={"q": "CHEF1"})).json()
    assert [u["email"] for u in found["items"]] == ["chef1@example.com"]
