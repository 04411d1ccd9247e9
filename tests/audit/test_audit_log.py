"""The audit log: written with every privileged change, readable with filters, never editable."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from myhibachi.auth.permissions import Role


@pytest.fixture
async def root(make_user, login):
    await make_user("root@example.com", Role.super_admin)
    return await login("root@example.com")


STATION = {"code": "sjc", "name": "San Jose", "timezone": "America/Los_Angeles",
           "address": {"line1": "1 Market St", "city": "San Jose", "state": "ca", "zip_code": "95113"},
           "latitude": 37.33, "longitude": -121.88}


async def test_station_create_and_edit_are_audited_with_before_after(client, root):
    created = await client.post("/api/v1/stations", headers=root, json=STATION)
    assert created.status_code == 201
    station = created.json()
    assert (station["code"], station["address"]["state"]) == ("SJC", "CA")
    patched = await client.patch(f"/api/v1/stations/{station['id']}", headers=root,
                                 json={"name": "San Jose & South Bay", "timezone": "America/Denver"})
    assert patched.status_code == 200

    log = (await client.get("/api/v1/audit-log", headers=root,
                            params={"target_type": "station", "target_id": str(station["id"])})).json()
    update, create = log["items"]
    assert create["action"] == "stations.create"
    assert create["after"]["code"] == "SJC"
    assert update["action"] == "stations.update"
    assert update["before"] == {"name": "San Jose", "timezone": "America/Los_Angeles"}
    assert update["after"] == {"name": "San Jose & South Bay", "timezone": "America/Denver"}
    assert update["station_id"] == station["id"]


async def test_a_patch_that_changes_nothing_writes_no_audit_row(client, root):
    created = await client.post("/api/v1/stations", headers=root, json=STATION)
    assert created.status_code == 201, created.text
    station = created.json()
    patched = await client.patch(f"/api/v1/stations/{station['id']}", headers=root, json={"name": "San Jose"})
    assert patched.status_code == 200, patched.text  # accepted: it changed nothing, it was not refused
    assert patched.json() == station

    log = await client.get("/api/v1/audit-log", headers=root,
                           params={"target_type": "station", "target_id": str(station["id"])})
    assert log.status_code == 200, log.text
    assert [entry["action"] for entry in log.json()["items"]] == ["stations.create"]  # no stations.update


async def test_invalid_time_zone_is_refused(client, root):
    response = await client.post("/api/v1/stations", headers=root, json={**STATION, "timezone": "Mars/Olympus"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body.timezone"


async def test_filters_by_time_and_pages_newest_first(client, root):
    for code in ("AAA", "BBB", "CCC"):
        await client.post("/api/v1/stations", headers=root, json={**STATION, "code": code})
    created = {"action": "stations.create"}
    page = (await client.get("/api/v1/audit-log", headers=root, params={**created, "limit": 2})).json()
    assert [e["after"]["code"] for e in page["items"]] == ["CCC", "BBB"]
    rest = (await client.get("/api/v1/audit-log", headers=root,
                             params={**created, "limit": 2, "cursor": page["next_cursor"]})).json()
    assert [e["after"]["code"] for e in rest["items"]] == ["AAA"]
    assert rest["next_cursor"] is None

    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    in_future = (await client.get("/api/v1/audit-log", headers=root, params={**created, "from": future})).json()
    assert in_future["items"] == []
    until_future = (await client.get("/api/v1/audit-log", headers=root, params={**created, "to": future})).json()
    assert len(until_future["items"]) == 3
    naive = await client.get("/api/v1/audit-log", headers=root, params={"from": "2026-01-01T00:00:00"})
    assert naive.status_code == 422


async def test_the_api_offers_no_way_to_edit_or_delete_entries(client, root):
    await client.post("/api/v1/stations", headers=root, json=STATION)
    entry = (await client.get("/api/v1/audit-log", headers=root)).json()["items"][0]
    for method in ("PUT", "PATCH", "DELETE"):
        assert (await client.request(method, "/api/v1/audit-log", headers=root)).status_code == 405
        assert (await client.request(method, f"/api/v1/audit-log/{entry['id']}", headers=root)).status_code == 404
