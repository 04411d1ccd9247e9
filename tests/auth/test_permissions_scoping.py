"""Lists are station-scoped: an admin never sees another station's users or audit entries; a super admin sees all."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from myhibachi.audit.models import AuditEntry
from myhibachi.auth.models import StationMembership, User
from myhibachi.auth.permissions import Role

API = "/api/v1"


@dataclass
class Org:
    stations: dict[str, int]
    headers: dict[str, dict[str, str]]  # persona -> Authorization header


async def build_org(client, db, make_station, make_user, login) -> Org:  # noqa: ANN001
    """Three stations with an admin and staff each, a two-station admin, a super admin, and audited changes."""
    stations = {code: await make_station(code) for code in ("HOME", "OTHER", "THIRD")}
    await make_user("root@example.com", Role.super_admin)
    for code, station in stations.items():
        await make_user(f"admin.{code.lower()}@example.com", Role.admin, station)
        for role in (Role.manager, Role.support, Role.chef):
            await make_user(f"{role.value}.{code.lower()}@example.com", role, station, password=None)
    two = await make_user("admin.two@example.com", Role.admin, stations["HOME"])
    async with db.transaction() as session:
        session.add(StationMembership(user_id=two, station_id=stations["OTHER"].id, role=Role.admin.value))
    headers = {name: await login(f"{name}@example.com")
               for name in ("root", "admin.home", "admin.other", "admin.two")}
    ids = {code: s.id for code, s in stations.items()}
    # API-made audit entries at every station (and actors from each station).
    for code, sid in ids.items():
        new = await client.post(f"{API}/users", headers=headers[f"admin.{code.lower()}"] if code != "THIRD"
                                else headers["root"],
                                json={"email": f"new.{code.lower()}@example.com", "name": "New", "role": "chef",
                                      "station_id": sid})
        assert new.status_code == 201, new.text
        changed = await client.post(f"{API}/stations/{sid}/members", headers=headers["root"],
                                    json={"user_id": new.json()["id"], "role": "support"})
        assert changed.status_code == 200, changed.text
    return Org(stations=ids, headers=headers)


async def all_pages(client, path: str, headers: dict[str, str], **params) -> list[dict]:  # noqa: ANN001, ANN003
    """Walk every page with a small page size, so scoping is checked across cursors too."""
    items, cursor = [], None
    while True:
        query = {"limit": 2, **params, **({"cursor": cursor} if cursor else {})}
        response = await client.get(f"{API}{path}", params=query, headers=headers)
        assert response.status_code == 200, response.text
        page = response.json()
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items


async def member_ids(db, *station_ids: int) -> set[int]:  # noqa: ANN001
    async with db.transaction(write=False) as session:
        return set(await session.scalars(select(StationMembership.user_id)
                                         .where(StationMembership.station_id.in_(station_ids))))


async def audit_ids(db, *station_ids: int | None) -> set[int]:  # noqa: ANN001
    async with db.transaction(write=False) as session:
        stmt = select(AuditEntry.id)
        if station_ids:
            stmt = stmt.where(AuditEntry.station_id.in_(station_ids))
        return set(await session.scalars(stmt))


# --- users ----------------------------------------------------------------------------------------------------

async def test_admin_lists_only_users_of_its_own_station(client, db, make_station, make_user, login) -> None:
    org = await build_org(client, db, make_station, make_user, login)
    home, other = org.stations["HOME"], org.stations["OTHER"]

    items = await all_pages(client, "/users", org.headers["admin.home"])

    assert {u["id"] for u in items} == await member_ids(db, home)
    assert all(any(m["station_id"] == home for m in u["memberships"]) for u in items)
    outsiders = await member_ids(db, other) - await member_ids(db, home)
    assert outsiders and not outsiders & {u["id"] for u in items}
    assert not any(u["is_super_admin"] for u in items)


async def test_admin_cannot_filter_or_search_its_way_into_another_station(client, db, make_station, make_user,
                                                                          login) -> None:
    org = await build_org(client, db, make_station, make_user, login)
    admin = org.headers["admin.home"]

    response = await client.get(f"{API}/users", params={"station_id": org.stations["OTHER"]}, headers=admin)
    assert response.status_code == 404, response.text
    for q in ("other", "third", "root"):
        found = await all_pages(client, "/users", admin, q=q)
        assert found == [], q
    assert len(await all_pages(client, "/users", admin, q="home")) == 5  # the search itself works


async def test_two_station_admin_sees_both_stations_and_nothing_else(client, db, make_station, make_user,
                                                                     login) -> None:
    org = await build_org(client, db, make_station, make_user, login)
    home, other, third = (org.stations[c] for c in ("HOME", "OTHER", "THIRD"))

    items = await all_pages(client, "/users", org.headers["admin.two"])

    assert {u["id"] for u in items} == await member_ids(db, home, other)
    assert not (await member_ids(db, third) - await member_ids(db, home, other)) & {u["id"] for u in items}
    other_only = await all_pages(client, "/users", org.headers["admin.two"], station_id=other)
    assert {u["id"] for u in other_only} == await member_ids(db, other)
    response = await client.get(f"{API}/users", params={"station_id": third}, headers=org.headers["admin.two"])
    assert response.status_code == 404


async def test_manager_lists_users_but_a_chef_elsewhere_cannot(client, db, make_station, make_user,
                                                               login) -> None:
    """A role without users.manage at a station gives 403 there, not a quietly empty list."""
    home, other = await make_station("HOME"), await make_station("OTHER")
    manager = await make_user("manager@example.com", Role.manager, home)
    async with db.transaction() as session:
        session.add(StationMembership(user_id=manager, station_id=other.id, role=Role.chef.value))
    await make_user("chef.other@example.com", Role.chef, other, password=None)
    headers = await login("manager@example.com")

    items = await all_pages(client, "/users", headers)
    assert {u["id"] for u in items} == await member_ids(db, home.id)
    response = await client.get(f"{API}/users", params={"station_id": other.id}, headers=headers)
    assert response.status_code == 403, response.text


async def test_super_admin_lists_every_user(client, db, make_station, make_user, login) -> None:
    org = await build_org(client, db, make_station, make_user, login)
    async with db.transaction(write=False) as session:
        everyone = set(await session.scalars(select(User.id)))

    items = await all_pages(client, "/users", org.headers["root"])

    assert {u["id"] for u in items} == everyone
    assert any(u["is_super_admin"] for u in items)
    by_station = await all_pages(client, "/users", org.headers["root"], station_id=org.stations["OTHER"])
    assert {u["id"] for u in by_station} == await member_ids(db, org.stations["OTHER"])


# --- audit log ------------------------------------------------------------------------------------------------

async def test_admin_reads_only_its_own_stations_audit_entries(client, db, make_station, make_user, login) -> None:
    org = await build_org(client, db, make_station, make_user, login)
    home = org.stations["HOME"]

    items = await all_pages(client, "/audit-log", org.headers["admin.home"])

    assert {e["id"] for e in items} == await audit_ids(db, home)
    assert {e["station_id"] for e in items} == {home}
    assert {"users.create", "users.role_change", "stations.create"} <= {e["action"] for e in items}
    assert await audit_ids(db) - await audit_ids(db, home)  # there was something else to leak


async def test_admin_audit_filters_never_widen_the_scope(client, db, make_station, make_user, login) -> None:
    org = await build_org(client, db, make_station, make_user, login)
    admin, home, other = org.headers["admin.home"], org.stations["HOME"], org.stations["OTHER"]
    async with db.transaction(write=False) as session:
        root_id = await session.scalar(select(User.id).where(User.email == "root@example.com"))

    response = await client.get(f"{API}/audit-log", params={"station_id": other}, headers=admin)
    assert response.status_code == 404, response.text
    by_root = await all_pages(client, "/audit-log", admin, actor_user_id=root_id)
    assert by_root and {e["station_id"] for e in by_root} == {home}
    creations = await all_pages(client, "/audit-log", admin, action="stations.create")
    assert [e["station_id"] for e in creations] == [home]


async def test_two_station_admin_reads_both_audit_logs_only(client, db, make_station, make_user, login) -> None:
    org = await build_org(client, db, make_station, make_user, login)
    home, other, third = (org.stations[c] for c in ("HOME", "OTHER", "THIRD"))

    items = await all_pages(client, "/audit-log", org.headers["admin.two"])

    assert {e["id"] for e in items} == await audit_ids(db, home, other)
    response = await client.get(f"{API}/audit-log", params={"station_id": third}, headers=org.headers["admin.two"])
    assert response.status_code == 404


async def test_super_admin_reads_the_whole_audit_log(client, db, make_station, make_user, login) -> None:
    org = await build_org(client, db, make_station, make_user, login)

    items = await all_pages(client, "/audit-log", org.headers["root"])

    assert {e["id"] for e in items} == await audit_ids(db)
    assert None in {e["station_id"] for e in items}  # entries of no station (the super admin's own creation)
    assert set(org.stations.values()) <= {e["station_id"] for e in items}
    assert [e["id"] for e in items] == sorted((e["id"] for e in items), reverse=True)  # newest first
    other = await all_pages(client, "/audit-log", org.headers["root"], station_id=org.stations["OTHER"])
    assert {e["id"] for e in other} == await audit_ids(db, org.stations["OTHER"])
