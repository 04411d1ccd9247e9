"""Property-based fuzzing of the whole JSON API (schemathesis 4), in-process, as a super admin on a seeded
database: no 5xx, and nothing the server answers contradicts the OpenAPI document."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import shutil
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import select

from myhibachi.app import create_app
from myhibachi.auth.commands import create_user, set_station_role
from myhibachi.auth.permissions import Role
from myhibachi.auth.principal import SYSTEM
from myhibachi.auth.schemas import UserCreate
from myhibachi.bookings.models import BookingStatus
from myhibachi.chefs.commands import create_chef, request_time_off
from myhibachi.chefs.schemas import ChefCreate, TimeOffCreate
from myhibachi.core.db import Database
from myhibachi.payments.models import (
    Payment,
    PaymentMethod,
    PaymentPurpose,
    PaymentStatus,
    Refund,
    RefundStatus,
    StripeEvent,
)
from myhibachi.settings import Environment, Settings
from myhibachi.stations.commands import create_station, update_station
from myhibachi.stations.schemas import StationUpdate
from tests.conftest import PASSWORD, PG_URL, REDIS_URL, TEST_SECRET, _empty_postgres, station_data
from tests.factories import insert_booking

pytestmark = pytest.mark.sweep  # every route: `make test` runs it unmeasured (the routes' own tests measure them)

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          response_headers_conformance]
ROOT_EMAIL = "root@example.com"
WEBHOOK = "/api/v1/webhooks/stripe"
WEBHOOK_SECRET = "whsec_fuzz"  # noqa: S105 - so fuzzed signatures are really checked, not refused as unconfigured


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
        pending, confirmed = [await insert_booking(db, fre, start + timedelta(days=offset), status=status)
                              for offset, status in enumerate((BookingStatus.pending_deposit, BookingStatus.confirmed))]
        await seed_payments(db, fre.id, confirmed, pending)
    finally:
        await db.dispose()


async def seed_payments(db: Database, station_id: int, confirmed: int, pending: int) -> None:
    """Payment 1: the confirmed booking's cash deposit, partly refunded (what is left can be refunded by hand).
    Payment 2: a card deposit awaiting the customer, with a Stripe event about it (not refundable: 409)."""
    now = datetime.now(UTC)
    async with db.transaction() as session:
        cash = Payment(booking_id=confirmed, station_id=station_id, purpose=PaymentPurpose.deposit.value,
                       method=PaymentMethod.cash.value, status=PaymentStatus.succeeded.value, amount_cents=10000,
                       currency="USD", reference="R-1", succeeded_at=now)
        card = Payment(booking_id=pending, station_id=station_id, purpose=PaymentPurpose.deposit.value,
                       method=PaymentMethod.card.value, status=PaymentStatus.pending.value, amount_cents=10000,
                       currency="USD", provider_intent_id="pi_seeded", idempotency_key=f"deposit:{pending}:1")
        session.add_all([cash, card])
        await session.flush()
        session.add_all([
            Refund(payment_id=cash.id, station_id=cash.station_id, amount_cents=1000, method=PaymentMethod.cash.value,
                   status=RefundStatus.succeeded.value, reason="One guest fewer"),
            StripeEvent(id="evt_seeded", type="payment_intent.created", payment_intent_id="pi_seeded",
                        payload={"id": "evt_seeded", "type": "payment_intent.created"}, received_at=now,
                        handled_at=now, outcome="ignored: not handled")])


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
                    base_url="http://testserver", booking_holds_per_ip=100_000,
                    stripe_webhook_secret=SecretStr(WEBHOOK_SECRET))


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
# Dates at the ends of the calendar and moments whose offset pushes them past it, beside schemathesis's own: every
# date filter and body must answer them with 4xx, never 500 (date arithmetic near year 1 or 9999 overflows).
CALENDAR_ENDS = ["0001-01-01", "1999-12-31", "2000-01-01", "2999-12-31", "3000-01-01", "9999-12-31"]
WIDE_OFFSETS = ["+14:00", "-14:00", "+23:59", "-23:59", "Z"]
schemathesis.openapi.format("date", st.sampled_from(CALENDAR_ENDS) | st.dates().map(str))
schemathesis.openapi.format("date-time", st.builds("{}T{}{}".format, st.sampled_from(CALENDAR_ENDS),
                                                   st.sampled_from(["00:00:00", "23:59:59.999999"]),
                                                   st.sampled_from(WIDE_OFFSETS))
                            | st.datetimes(timezones=st.timezones()).map(datetime.isoformat))
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


# --- Stripe's webhook ---------------------------------------------------------------------------------------------
# Its handler reads the raw body, so the document declares none and the operation above fuzzes only the
# `Stripe-Signature` header. Here arbitrary bodies go with every kind of signature Stripe did not make for them.

def stripe_signature(body: bytes, *, secret: str = WEBHOOK_SECRET, at: int | None = None, scheme: str = "v1") -> str:
    timestamp = int(time.time()) if at is None else at
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},{scheme}={digest}"


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                                                max_size=4), max_leaves=12)
EVENTS = st.fixed_dictionaries({"id": st.text(max_size=30), "type": st.text(max_size=30)},
                               optional={"data": JSON, "created": JSON, "object": st.just("event")})
BODIES = st.one_of(st.binary(max_size=200), JSON.map(json.dumps), EVENTS.map(json.dumps)).map(
    lambda body: body if isinstance(body, bytes) else body.encode())
HEADER_TEXT = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=120)


@st.composite
def unsigned_deliveries(draw: st.DrawFn) -> tuple[bytes, str | None]:
    """A body and a `Stripe-Signature` that does not vouch for it (None: no header)."""
    body = draw(BODIES)
    now = int(time.time())
    signature = draw(st.one_of(
        st.none(), st.just(""), HEADER_TEXT,
        st.builds(lambda t, v1: f"t={t},v1={v1}", st.integers(0, now + 10**6), HEADER_TEXT),
        st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=30).map(
            lambda secret: stripe_signature(body, secret=secret)),  # another account's secret
        st.integers(301, 10**6).map(lambda age: stripe_signature(body, at=now - age)),  # older than 5 minutes
        st.binary(min_size=1, max_size=10).map(lambda extra: stripe_signature(body + extra)),  # another body
        st.just(stripe_signature(body, scheme="v0")),  # not the scheme Stripe signs with
    ))
    return body, signature


async def _stripe_event_ids(url: str) -> set[str]:
    db = Database(url)
    try:
        async with db.transaction(write=False) as session:
            return set(await session.scalars(select(StripeEvent.id)))
    finally:
        await db.dispose()


def post_webhook(client: object, body: bytes, signature: str | None) -> object:
    headers = {"Content-Type": "application/json"} | ({"Stripe-Signature": signature} if signature is not None else {})
    return client.post(WEBHOOK, data=body, headers=headers)  # type: ignore[attr-defined]


def webhook_case(signature: str | None) -> schemathesis.Case:
    return schema[WEBHOOK]["POST"].Case(headers={"Stripe-Signature": signature} if signature is not None else {})


def test_the_stripe_webhook_refuses_what_stripe_did_not_sign(fuzz_app: object, fuzz_settings: Settings) -> None:
    before = asyncio.run(_stripe_event_ids(fuzz_settings.database_url))

    with asgi.get_client(fuzz_app) as client:

        @given(unsigned_deliveries())
        @settings(max_examples=150, derandomize=True, database=None, deadline=None,
                  suppress_health_check=list(HealthCheck))
        def deliver(delivery: tuple[bytes, str | None]) -> None:
            body, signature = delivery
            response = post_webhook(client, body, signature)
            webhook_case(signature).validate_response(response, checks=CHECKS)
            assert response.status_code == 400, response.text
            assert response.headers["content-type"].startswith("application/problem+json")
            assert response.json()["code"] == "invalid_signature"

        deliver()

    assert asyncio.run(_stripe_event_ids(fuzz_settings.database_url)) == before, "a refused delivery was stored"


def test_a_signed_stripe_event_is_received_once(fuzz_app: object, fuzz_settings: Settings) -> None:
    """The control for the test above: with the right signature the same endpoint answers 200 (so its 400s come
    from the signature check), and a repeated delivery is acknowledged as a duplicate."""
    body = json.dumps({"id": "evt_fuzz_control", "object": "event", "type": "customer.created",
                       "created": int(time.time()), "data": {"object": {"object": "customer", "id": "cus_1"}}}).encode()
    with asgi.get_client(fuzz_app) as client:
        for duplicate in (False, True):
            signature = stripe_signature(body)
            response = post_webhook(client, body, signature)
            webhook_case(signature).validate_response(response, checks=CHECKS)
            assert response.status_code == 200, response.text
            assert response.json() == {"received": True, "duplicate": duplicate}
    assert "evt_fuzz_control" in asyncio.run(_stripe_event_ids(fuzz_settings.database_url))
