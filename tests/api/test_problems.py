"""Every error is RFC 9457 problem+json with a stable `code` (SPEC §4), and an error changes nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from http import HTTPStatus
from typing import Any

import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient, Response
from sqlalchemy import func, select, text

from myhibachi.app import create_app
from myhibachi.audit.models import AuditEntry
from myhibachi.auth.models import User
from myhibachi.auth.permissions import Role
from myhibachi.core.db import MAX_ID
from myhibachi.core.web import DbSession, RuntimeDep
from myhibachi.settings import Settings
from myhibachi.stations.models import Station
from tests.conftest import PASSWORD, mail_files, station_data

STATION = {"code": "SJC", "name": "San Jose CA", "timezone": "America/Los_Angeles",
           "address": {"line1": "1 Market St", "city": "San Jose", "state": "CA", "zip_code": "95113"},
           "latitude": 37.3382, "longitude": -121.8863}


def assert_problem(response: Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status
    assert body["code"] == code
    assert body["title"] == HTTPStatus(status).phrase
    assert body["type"].startswith("https://") and body["type"].endswith("/" + code)
    assert isinstance(body["detail"], str) and body["detail"].strip()
    assert set(body) <= {"type", "title", "status", "detail", "code", "errors"}
    return body


def assert_field_errors(body: dict[str, Any]) -> dict[str, str]:
    """The `errors` of a 422, as {field: type}."""
    assert body["errors"], body
    for error in body["errors"]:
        assert set(error) == {"field", "message", "type"}
        assert all(isinstance(value, str) and value for value in error.values()), error
    return {error["field"]: error["type"] for error in body["errors"]}


@pytest.fixture
async def root(make_user, login) -> dict[str, str]:
    await make_user("root@example.com", Role.super_admin)
    return await login("root@example.com")


async def count(db, model) -> int:  # noqa: ANN001
    async with db.session(write=False) as session:
        return await session.scalar(select(func.count()).select_from(model))


# --- routing --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/api/v1/no-such-thing", "/api/v1/stations/1/nothing-here", "/nope"])
async def test_unknown_route_is_404_problem(client, path):
    assert_problem(await client.get(path), 404, "not_found")


@pytest.mark.parametrize(("method", "path", "allowed"), [
    ("PUT", "/api/v1/auth/login", "POST"), ("DELETE", "/api/v1/auth/me", "GET"), ("POST", "/health", "GET")])
async def test_wrong_method_is_405_problem_with_allow(client, method, path, allowed):
    response = await client.request(method, path)
    assert_problem(response, 405, "method_not_allowed")
    assert allowed in {m.strip() for m in response.headers["allow"].split(",")}


# --- validation -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("body", [
    b'{"email": "a@example.com", "password": ', b"not json at all",
    b"\x19\xc3\xb5\xff",  # not UTF-8: FastAPI's own answer was an undocumented 400
    b"[" * 100_000,  # nested too deep for the parser: also a 400 before
])
async def test_malformed_json_body_is_422(client, body):
    response = await client.post("/api/v1/auth/login", content=body, headers={"Content-Type": "application/json"})
    fields = assert_field_errors(assert_problem(response, 422, "validation_error"))
    assert all(field.startswith("body") for field in fields)
    assert set(fields.values()) == {"json_invalid"}


async def test_missing_fields_are_422_per_field(client):
    response = await client.post("/api/v1/auth/login", json={})
    fields = assert_field_errors(assert_problem(response, 422, "validation_error"))
    assert fields == {"body.email": "missing", "body.password": "missing"}


async def test_wrong_types_are_422_per_field(client):
    response = await client.post("/api/v1/auth/login", json={"email": 5, "password": ["x"]})
    fields = assert_field_errors(assert_problem(response, 422, "validation_error"))
    assert fields == {"body.email": "string_type", "body.password": "string_type"}


async def test_wrong_query_and_path_types_are_422(client, root):
    response = await client.get("/api/v1/audit-log", params={"limit": "lots", "from": "yesterday"}, headers=root)
    fields = assert_field_errors(assert_problem(response, 422, "validation_error"))
    assert {"query.limit", "query.from"} <= set(fields)
    response = await client.get("/api/v1/stations/abc", headers=root)
    assert set(assert_field_errors(assert_problem(response, 422, "validation_error"))) == {"path.station_id"}


@pytest.mark.parametrize(("method", "path", "body", "field"), [
    ("GET", f"/api/v1/stations/{MAX_ID + 1}", None, "path.station_id"),
    ("GET", f"/api/v1/users/{10**30}", None, "path.user_id"),
    ("GET", f"/api/v1/audit-log?actor_user_id={MAX_ID + 1}", None, "query.actor_user_id"),
    ("GET", f"/api/v1/users?station_id={MAX_ID + 1}", None, "query.station_id"),
    ("POST", "/api/v1/stations/1/members", {"user_id": MAX_ID + 1, "role": "chef"}, "body.user_id"),
    ("POST", "/api/v1/users", {"email": "x@example.com", "name": "X", "role": "chef", "station_id": 2**64},
     "body.station_id"),
])
async def test_ids_beyond_64_bits_are_422_not_500(client, root, make_station, method, path, body, field):
    """Found by fuzzing: such numbers overflowed the database driver (500 on SQLite and PostgreSQL)."""
    await make_station("FRE")
    response = await client.request(method, path, json=body, headers=root)
    assert field in assert_field_errors(assert_problem(response, 422, "validation_error"))


async def test_largest_id_is_a_plain_404(client, root):
    assert_problem(await client.get(f"/api/v1/stations/{MAX_ID}", headers=root), 404, "not_found")


# --- conflicts, throttling, crashes ---------------------------------------------------------------------------

async def test_duplicate_station_code_is_409(client, root, db):
    assert (await client.post("/api/v1/stations", json=STATION, headers=root)).status_code == 201
    audit_rows = await count(db, AuditEntry)
    response = await client.post("/api/v1/stations", json={**STATION, "name": "Another"}, headers=root)
    assert "SJC" in assert_problem(response, 409, "conflict")["detail"]
    assert await count(db, Station) == 1
    assert await count(db, AuditEntry) == audit_rows


@asynccontextmanager
async def serve(settings: Settings) -> AsyncIterator[FastAPI]:
    """An app of its own, for settings or routes the shared `app` fixture does not have."""
    app = create_app(settings)
    async with LifespanManager(app):
        yield app


def client_of(app: FastAPI, ip: str) -> AsyncClient:
    # raise_app_exceptions=False: see the 500 response the client gets, not the re-raised exception.
    transport = ASGITransport(app=app, client=(ip, 50000), raise_app_exceptions=False)
    return AsyncClient(transport=transport, base_url="http://testserver")


async def test_repeated_failures_on_one_account_are_429(app, make_user, settings):
    await make_user("victim@example.com", Role.super_admin)
    async with client_of(app, "198.51.100.19") as here, client_of(app, "198.51.100.20") as elsewhere:
        for _ in range(settings.login_failures_per_account):
            response = await here.post("/api/v1/auth/login", json={"email": "victim@example.com", "password": "nope"})
            assert_problem(response, 401, "invalid_credentials")
        # Now even the right password is refused, from any address, until the window has passed.
        for http in (here, elsewhere):
            response = await http.post("/api/v1/auth/login",
                                       json={"email": "VICTIM@example.com", "password": PASSWORD})
            assert_problem(response, 429, "rate_limited")
            # The failures just happened: the wait is (nearly) the whole window, not a token second.
            window = settings.login_failure_window_seconds
            assert window - 60 <= int(response.headers["retry-after"]) <= window


async def test_repeated_failures_from_one_ip_are_429(make_user, settings):
    await make_user("ada@example.com", Role.super_admin)
    throttled = settings.model_copy(update={"login_failures_per_ip": 3})
    async with serve(throttled) as app, client_of(app, "198.51.100.7") as attacker, \
            client_of(app, "198.51.100.8") as other:
        for n in range(throttled.login_failures_per_ip):  # a different account each time
            response = await attacker.post("/api/v1/auth/login", json={"email": f"u{n}@example.com", "password": "x"})
            assert_problem(response, 401, "invalid_credentials")
        good = {"email": "ada@example.com", "password": PASSWORD}
        response = await attacker.post("/api/v1/auth/login", json=good)
        assert_problem(response, 429, "rate_limited")
        assert int(response.headers["retry-after"]) >= 1
        assert (await other.post("/api/v1/auth/login", json=good)).status_code == 200


async def test_unexpected_error_is_500_problem_without_internals(settings):
    async with serve(settings) as app, client_of(app, "198.51.100.9") as http:
        async def crash() -> None:
            raise RuntimeError("kaboom: password=hunter2 at /srv/app/secret.py")

        async def bad_sql(runtime: RuntimeDep) -> None:
            async with runtime.db.session() as session:
                await session.execute(text("SELECT secret_column FROM no_such_table"))

        app.add_api_route("/api/v1/test-crash", crash)
        app.add_api_route("/api/v1/test-bad-sql", bad_sql)
        for path in ("/api/v1/test-crash", "/api/v1/test-bad-sql"):
            response = await http.get(path)
            body = assert_problem(response, 500, "internal_error")
            assert "errors" not in body
            for leak in ("Traceback", "RuntimeError", "kaboom", "hunter2", "secret", ".py", "SELECT",
                         "no_such_table", "sqlalchemy", "sqlite", "asyncpg"):
                assert leak.lower() not in response.text.lower(), leak
            assert response.headers.get("x-request-id")


# --- bad input changes nothing --------------------------------------------------------------------------------

@pytest.mark.parametrize("bad", [
    {**STATION, "timezone": "Mars/Olympus_Mons"},
    {**STATION, "latitude": 123.0},
    {**STATION, "latitude": "37.3"},
    {k: v for k, v in STATION.items() if k != "address"},
    {**STATION, "code": "not a code!"},
])
async def test_rejected_station_writes_nothing(client, root, db, bad):
    audit_rows = await count(db, AuditEntry)
    response = await client.post("/api/v1/stations", json=bad, headers=root)
    assert_field_errors(assert_problem(response, 422, "validation_error"))
    assert await count(db, Station) == 0
    assert await count(db, AuditEntry) == audit_rows


async def test_rejected_user_writes_nothing(client, root, db, settings):
    users, audit_rows = await count(db, User), await count(db, AuditEntry)
    response = await client.post("/api/v1/users", json={"email": "chef@example.com", "name": "Chef", "role": "chef"},
                                 headers=root)  # a chef needs a station
    assert assert_field_errors(assert_problem(response, 422, "validation_error")) == {"body.station_id": "missing"}
    assert (await count(db, User), await count(db, AuditEntry)) == (users, audit_rows)
    assert not mail_files(settings)


async def test_a_uniqueness_race_answers_409_and_writes_nothing(settings, db):
    """A unique constraint the command could not pre-check (a concurrent insert) is a 409, not a 500."""
    app = create_app(settings)

    async def insert_twice(session: DbSession) -> dict[str, str]:
        data = station_data("DUP")
        for _ in range(2):
            session.add(Station(code=data.code, name=data.name, timezone=data.timezone,
                                address_line1=data.address.line1, city=data.address.city, state=data.address.state,
                                zip_code=data.address.zip_code, latitude=data.latitude, longitude=data.longitude))
            await session.flush()
        return {"ok": "no"}

    app.add_api_route("/api/v1/tests/boom-unique", insert_twice, methods=["POST"])
    async with LifespanManager(app), AsyncClient(transport=ASGITransport(app=app), base_url="http://t") as http:
        response = await http.post("/api/v1/tests/boom-unique")
    assert response.status_code == 409
    assert response.json()["code"] == "conflict"
    async with db.transaction(write=False) as session:
        assert await session.scalar(select(func.count()).select_from(Station).where(Station.code == "DUP")) == 0
