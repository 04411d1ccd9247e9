"""A role change applies on the very next request (same access token), and every denied attempt is logged."""

from __future__ import annotations

import itertools

import pytest

from myhibachi.auth.permissions import ROLE_PERMISSIONS, STATION_ROLES, Permission, Role
from tests.test_permission_matrix import denial_events

API = "/api/v1"
P = Permission

# Reads whose answer depends only on the caller's permission at the station they name.
PROBES = [
    ("GET /stations/{id}", P.stations_read, lambda sid: (f"{API}/stations/{sid}", None)),
    ("GET /users?station_id", P.users_manage, lambda sid: (f"{API}/users", {"station_id": sid})),
    ("GET /audit-log?station_id", P.audit_read, lambda sid: (f"{API}/audit-log", {"station_id": sid})),
]


async def probe(client, headers: dict[str, str], station_id: int) -> dict[str, int]:  # noqa: ANN001
    answers = {}
    for name, _, target in PROBES:
        path, params = target(station_id)
        answers[name] = (await client.get(path, params=params, headers=headers)).status_code
    return answers


def expected_probe(role: Role | None) -> dict[str, int]:
    if role is None:
        return {name: 404 for name, _, _ in PROBES}
    return {name: 200 if permission in ROLE_PERMISSIONS[role] else 403 for name, permission, _ in PROBES}


async def me_roles(client, headers: dict[str, str]) -> list[tuple[int, str, list[str]]]:  # noqa: ANN001
    response = await client.get(f"{API}/auth/me", headers=headers)
    assert response.status_code == 200, response.text
    return [(s["station_id"], s["role"], s["permissions"]) for s in response.json()["stations"]]


def permission_names(role: Role) -> list[str]:
    return sorted(p.value for p in ROLE_PERMISSIONS[role])


@pytest.mark.parametrize(("old", "new"), [pytest.param(old, new, id=f"{old.value}_to_{new.value}")
                                          for old, new in itertools.permutations(STATION_ROLES, 2)])
async def test_role_change_applies_on_the_next_request(old: Role, new: Role, client, make_station, make_user,
                                                       login) -> None:
    station = await make_station("HOME")
    await make_user("root@example.com", Role.super_admin)
    member_id = await make_user("member@example.com", old, station)
    root, member = await login("root@example.com"), await login("member@example.com")

    assert await probe(client, member, station.id) == expected_probe(old)
    assert await me_roles(client, member) == [(station.id, old.value, permission_names(old))]

    response = await client.post(f"{API}/stations/{station.id}/members", headers=root,
                                 json={"user_id": member_id, "role": new.value})
    assert response.status_code == 200, response.text
    assert response.json() == {"station_id": station.id, "user_id": member_id, "role": new.value}

    # The same access token, no new sign-in: the new role answers at once.
    assert await probe(client, member, station.id) == expected_probe(new)
    assert await me_roles(client, member) == [(station.id, new.value, permission_names(new))]


async def test_admin_demotes_support_to_chef_and_the_next_call_is_judged_as_chef(client, make_station, make_user,
                                                                                  login, caplog) -> None:
    station = await make_station("HOME")
    await make_user("admin@example.com", Role.admin, station)
    support_id = await make_user("support@example.com", Role.support, station)
    admin, support = await login("admin@example.com"), await login("support@example.com")
    assert "bookings.read" in (await me_roles(client, support))[0][2]

    response = await client.post(f"{API}/stations/{station.id}/members", headers=admin,
                                 json={"user_id": support_id, "role": "chef"})
    assert response.status_code == 200, response.text

    assert await me_roles(client, support) == [(station.id, "chef", permission_names(Role.chef))]
    # A chef may not even name another chef's role change: users.manage is not in the chef's permissions.
    caplog.clear()
    response = await client.post(f"{API}/stations/{station.id}/members", headers=support,
                                 json={"user_id": support_id, "role": "support"})
    assert response.status_code == 403, response.text
    assert [(e["user_id"], e["permission"], e["station_id"], e["reason"]) for e in denial_events(caplog)] == [
        (support_id, "users.manage", station.id, "missing_permission")]


async def test_manager_demoted_to_chef_loses_the_staff_list_on_the_next_call(client, make_station, make_user,
                                                                             login, caplog) -> None:
    station = await make_station("HOME")
    await make_user("admin@example.com", Role.admin, station)
    manager_id = await make_user("manager@example.com", Role.manager, station)
    admin, manager = await login("admin@example.com"), await login("manager@example.com")
    users = (f"{API}/users", {"station_id": station.id})
    assert (await client.get(users[0], params=users[1], headers=manager)).status_code == 200

    response = await client.post(f"{API}/stations/{station.id}/members", headers=admin,
                                 json={"user_id": manager_id, "role": "chef"})
    assert response.status_code == 200, response.text

    caplog.clear()
    assert (await client.get(users[0], params=users[1], headers=manager)).status_code == 403
    assert [(e["user_id"], e["permission"], e["reason"]) for e in denial_events(caplog)] == [
        (manager_id, "users.manage", "missing_permission")]


@pytest.mark.parametrize("role", STATION_ROLES, ids=lambda r: r.value)
async def test_revoked_membership_answers_404_on_the_next_request(role: Role, client, make_station, make_user,
                                                                  login, caplog) -> None:
    station = await make_station("HOME")
    await make_user("root@example.com", Role.super_admin)
    member_id = await make_user("member@example.com", role, station)
    root, member = await login("root@example.com"), await login("member@example.com")
    assert (await client.get(f"{API}/stations/{station.id}", headers=member)).status_code == 200

    response = await client.delete(f"{API}/stations/{station.id}/members/{member_id}", headers=root,
                                   params={"reason": "Moved to another city"})
    assert response.status_code == 204, response.text

    caplog.clear()
    assert await probe(client, member, station.id) == expected_probe(None)
    assert await me_roles(client, member) == []  # still signed in, with no station left
    events = denial_events(caplog)
    assert {(e["user_id"], e["station_id"], e["reason"]) for e in events} == {(member_id, station.id, "not_member")}
    assert sorted(e["permission"] for e in events) == sorted(p.value for _, p, _ in PROBES)


async def test_revoked_member_regains_access_when_granted_again(client, make_station, make_user, login) -> None:
    station = await make_station("HOME")
    await make_user("admin@example.com", Role.admin, station)
    chef_id = await make_user("chef@example.com", Role.chef, station)
    admin, chef = await login("admin@example.com"), await login("chef@example.com")

    gone = await client.delete(f"{API}/stations/{station.id}/members/{chef_id}", headers=admin,
                               params={"reason": "Seasonal break"})
    assert gone.status_code == 204, gone.text
    assert (await client.get(f"{API}/stations/{station.id}", headers=chef)).status_code == 404

    back = await client.post(f"{API}/stations/{station.id}/members", headers=admin,
                             json={"user_id": chef_id, "role": "chef"})
    assert back.status_code == 201, back.text  # a new membership, not a change
    assert (await client.get(f"{API}/stations/{station.id}", headers=chef)).status_code == 200


# --- every denied attempt is logged ----------------------------------------------------------------------------

DENIALS = {
    # persona's role at HOME, method, path ({HOME}/{OTHER}: station ids; {someone_else}: a chef of OTHER), body
    # → status, logged permission, logged station, logged reason
    "chef lists users": (Role.chef, "GET", "/users", None, 403, "users.manage", None, "missing_permission"),
    "chef reads another station": (Role.chef, "GET", "/stations/{OTHER}", None, 404, "stations.read", "OTHER",
                                   "not_member"),
    "support reads the audit log": (Role.support, "GET", "/audit-log", {"station_id": "{HOME}"}, 403, "audit.read",
                                    "HOME", "missing_permission"),
    "admin edits its station": (Role.admin, "PATCH", "/stations/{HOME}", {"name": "Mine now"}, 403,
                                "stations.manage", "HOME", "missing_permission"),
    "admin creates a station": (Role.admin, "POST", "/stations", {"code": "NEW"}, 403, "stations.manage", None,
                                "missing_permission"),
    "manager grants a manager": (Role.manager, "POST", "/stations/{HOME}/members", {"role": "manager"}, 403,
                                 "users.manage", "HOME", "Your role may not grant or change the role `manager` here."),
    "admin creates an admin": (Role.admin, "POST", "/users", {"role": "admin"}, 403, "users.manage", "HOME",
                               "Your role may not grant or change the role `admin` here."),
    "admin reads another station's user": (Role.admin, "GET", "/users/{someone_else}", None, 404, "users.manage",
                                           None, "not_visible"),
    "admin creates a super admin": (Role.admin, "POST", "/users", {"role": "super_admin"}, 403, "users.manage", None,
                                    "Only a super admin can create a super admin."),
}


@pytest.mark.parametrize("name", DENIALS)
async def test_denied_attempt_is_logged(name: str, client, make_station, make_user, login, caplog) -> None:
    role, method, path, body, status, permission, station, reason = DENIALS[name]
    home = await make_station("HOME")
    ids = {"HOME": home.id, "OTHER": (await make_station("OTHER")).id}
    user_id = await make_user("persona@example.com", role, home)
    target_id = await make_user("someone@example.com", Role.chef, home, password=None)
    stranger_id = await make_user("stranger@example.com", Role.chef, await make_station("OTHER"), password=None)
    headers = await login("persona@example.com")
    url = API + path.format(**ids, someone_else=stranger_id)
    if body is not None and method == "GET":
        kwargs = {"params": {k: int(v.format(**ids)) for k, v in body.items()}}
    elif method == "POST" and path == "/users":
        kwargs = {"json": {"email": "new@example.com", "name": "New", "station_id": ids["HOME"], **body}}
    elif method == "POST" and path.endswith("/members"):
        kwargs = {"json": {"user_id": target_id, **body}}
    elif method == "POST" and path == "/stations":
        kwargs = {"json": {"code": "NEW", "name": "New", "timezone": "America/Chicago", "latitude": 41.9,
                           "longitude": -87.6, "address": {"line1": "1 State St", "city": "Chicago",
                                                           "state": "IL", "zip_code": "60601"}}}
    else:
        kwargs = {"json": body} if body is not None else {}

    caplog.clear()
    response = await client.request(method, url, headers=headers, **kwargs)

    assert response.status_code == status, response.text
    events = denial_events(caplog)
    assert len(events) == 1, events
    event = events[0]
    assert (event["user_id"], event["permission"], event["station_id"], event["reason"]) == (
        user_id, permission, ids.get(station), reason)
    assert [r.levelname for r in caplog.records if r.msg is event] == ["WARNING"]
    assert event.get("request_id") == response.headers["x-request-id"]  # ties the denial to the request


async def test_allowed_calls_log_no_denial(client, make_station, make_user, login, caplog) -> None:
    station = await make_station("HOME")
    await make_user("admin@example.com", Role.admin, station)
    headers = await login("admin@example.com")
    caplog.clear()
    for path, params in ((f"/stations/{station.id}", None), ("/users", {"station_id": station.id}),
                         ("/audit-log", {"station_id": station.id})):
        assert (await client.get(API + path, params=params, headers=headers)).status_code == 200
    assert denial_events(caplog) == []
