"""Property-based fuzzing of the whole JSON API (schemathesis 4), in-process, as a super admin on a seeded
database: no 5xx, and nothing the server answers contradicts the OpenAPI document."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from myhibachi.app import create_app
from myhibachi.auth.commands import create_user, set_station_role
from myhibachi.auth.permissions import Role
from myhibachi.auth.principal import SYSTEM
from myhibachi.auth.schemas import UserCreate
from myhibachi.bookings.models import BookingStatus
from myhibachi.chefs.commands import create_chef, request_time_off
from myhibachi.chefs.schemas import ChefCreate, TimeOffCreate
from myhibachi.core.db import Database
from myhibachi.settings import Environment, Settings
from myhibachi.stations.commands import create_station, update_station
from myhibachi.stations.schemas import StationUpdate
from tests.conftest import PASSWORD, PG_URL, REDIS_URL, TEST_SECRET, _empty_postgres, station_data
from tests.factories import insert_booking

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          response_headers_conformance]
ROOT_EMAIL = "root@example.com"


async def seed(settings: Settings) -> None:
    """Stations, staff of every role, chefs with time-off, bookings and a few audit rows, so ids 1..n exist and
    lists are not empty."""
    db = Database(settings.database_url)
    try:
        async with db.transaction() as session:
            fre = await create_station(session, SYSTEM, station_data("FRE"))
            sjc = await create_station(session, SYSTEM, station_data("SJC", "America/New_York"))
            await update_station(session, SYSTEM, sjc.id, StationUpdate(name="San Jose & South Bay"))
            await create_user(session, settings, SYSTEM, UserCreate(
                email=ROOT_EMAIL, name="Root", role=Role.super_admin, password=PASSWORD))
            for role in (Role.admin, Role.manager, Role.support, Role.chef):
                user = await create_user(session, settings, SYSTEM, UserCreate(
                    email=f"{role.value}@example.com", name=role.value.title(), role=role, station_id=fre.id,
                    password=None))  # invited: hashing a password per user is slow
                await set_station_role(session, SYSTEM, station_id=sjc.id, user_id=user.id, role=Role.chef)
            for station in (fre, sjc):
                chef = await create_chef(session, SYSTEM, station.id, ChefCreate(name=f"Chef of {station.code}"))
                await request_time_off(session, SYSTEM, station.id, chef.id, TimeOffCreate.model_validate(
                    {"first_day": "2026-12-24", "last_day": "2026-12-26"}))
        start = datetime.now(UTC).replace(hour=2, minute=0, second=0, microsecond=0) + timedelta(days=10)
        for offset, status in enumerate((BookingStatus.pending_deposit, BookingStatus.confirmed)):
            await insert_booking(db, fre, start + timedelta(days=offset), status=status)
    finally:
        await db.dispose()


@pytest.fixture(scope="module")
def fuzz_settings(migrated_database: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """One database for the whole module (seeding and signing in per operation would cost more than the
    fuzzing): a copy of the migrated SQLite template, or the emptied PostgreSQL test database."""
    tmp = tmp_path_factory.mktemp("fuzz")
    if PG_URL:
        asyncio.run(_empty_postgres(migrated_database))
        url = migrated_database
    else:
        shutil.copyfile(migrated_database, tmp / "fuzz.sqlite")
        url = f"sqlite+aiosqlite:///{tmp / 'fuzz.sqlite'}"
    if REDIS_URL:  # throttles of an earlier run would refuse the sign-in below
        asyncio.run(_flush_redis(REDIS_URL))
    return Settings(_env_file=None, environment=Environment.test, secret_key=TEST_SECRET,  # type: ignore[call-arg]
                    database_url=url, redis_url=REDIS_URL, mail_dir=tmp / "mail", jobs_inline=True,
                    base_url="http://testserver", booking_holds_per_ip=100_000)


async def _flush_redis(url: str) -> None:
    from redis.asyncio import Redis

    client = Redis.from_url(url)
    await client.flushdb()
    await client.aclose()


@pytest.fixture(scope="module")
def fuzz_app(fuzz_settings: Settings) -> Iterator[object]:
    """A separate app: schemathesis runs it (and its lifespan) on its own event-loop thread."""
    asyncio.run(seed(fuzz_settings))
    app = create_app(fuzz_settings)
    yield app
    asgi.shutdown_lifespans()  # disposes the app's database pool before the database goes away


@pytest.fixture(scope="module")
def root_headers(fuzz_app: object) -> dict[str, str]:
    with asgi.get_client(fuzz_app) as client:
        response = client.post("/api/v1/auth/login", json={"email": ROOT_EMAIL, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


# The document is read at import time so pytest gets one test per operation; it does not depend on the
# database, so a bare app gives the same one. (`schemathesis.pytest.from_fixture` would read it from the
# seeded app, but its lazy loader needs `Node._nodeid`, which pytest 9 no longer has.) Requests go to the
# seeded app through `app=`.
schema = schemathesis.openapi.from_dict(create_app(Settings(_env_file=None)).openapi())  # type: ignore[call-arg]


@schema.parametrize()
@settings(max_examples=10, derandomize=True, database=None, deadline=None,
          suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_schema(case: schemathesis.Case, fuzz_app: object, root_headers: dict[str, str]) -> None:
    response = case.call_and_validate(app=fuzz_app, headers=dict(root_headers), checks=CHECKS)  # it edits them
    # The fuzzing reached the handlers as the super admin: the token, when sent (some negative cases leave
    # it out on purpose), was never refused. A wrong password in a body may still be `invalid_credentials`.
    if response.status_code == 401 and "Authorization" in response.request.headers:
        assert response.json()["code"] != "not_authenticated", response.text


def test_the_fuzzed_document_is_the_one_served(fuzz_app: object) -> None:
    served = schemathesis.openapi.from_asgi("/openapi.json", fuzz_app)
    assert served.raw_schema == schema.raw_schema
    assert len(list(served.get_all_operations())) >= 20
