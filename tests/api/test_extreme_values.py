"""No 500 on any input (issue 14 item 6): dates at the ends of the calendar (year 1, year 9999, with the widest
offsets) and junk, in every date filter of the API and in every query parameter of every admin and site page, give
a 422 (or the page with a message, or the page with the value ignored), never a server error. Runs on the seeded
demo, so the pages have bookings, payments, chefs and users to show."""

from __future__ import annotations

import random
import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from sqlalchemy import select

from myhibachi.app import API_PREFIX
from myhibachi.auth.models import User
from myhibachi.automations.commands import ensure_automations
from myhibachi.bookings.commands import manage_token
from myhibachi.bookings.models import Booking
from myhibachi.chefs.models import Chef, ChefTimeOff
from myhibachi.demo import DEMO_PASSWORD
from myhibachi.inbox.models import Conversation
from myhibachi.leads.models import Lead
from myhibachi.newsletters.models import Campaign, Segment
from myhibachi.payments.models import Payment
from myhibachi.stations.models import Station
from myhibachi.web.site.booking import DETAIL_FIELDS, PARTY_FIELDS, WHEN_FIELDS
from tests.web.browserless import read, submit

pytestmark = pytest.mark.sweep  # every route: `make test` runs it unmeasured (the routes' own tests measure them)

EXTREME_DATES = ["0001-01-01", "9999-12-31", "0001-01", "9999-12", "10000-01-01", "2026-02-30", "-0001-01-01"]
EXTREME_MOMENTS = ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "9999-12-31T23:59:59Z",
                   "0001-01-01T00:00:00Z", "0001-01-01T00:00:00-23:59", "9999-12-31T23:59:59.999999+00:00"]
JUNK = ["", "x", "-1", "0", "99999999999999999999", "1e309", "NaN", "\x00", "\u202e2026-01-01", "%ff", "a" * 1000]
# What a page is asked with every parameter set at once (the rest meet the pages in the random mixtures).
EVERY_PARAMETER = ["0001-01-01", "9999-12-31", "0001-01", "9999-12", "10000-01-01", "9999-12-31T23:59:59-14:00",
                   "", "-1", "99999999999999999999", "\x00", "a" * 1000]
MIXTURES_PER_PAGE = 4
SOURCE = Path(__file__).parents[2] / "src" / "myhibachi" / "web"


def page_parameter_names() -> list[str]:
    """Every query parameter a page reads (`….get("name"` in the page modules), and the booking form's fields."""
    names = set()
    for path in SOURCE.rglob("*.py"):
        names |= set(re.findall(r'(?:query_params|\bq|\bparams)\.get\("(\w+)"', path.read_text()))
        names |= set(re.findall(r'(?:_day_param\(\w+, |\bday\()"(\w+)"', path.read_text()))
    return sorted(names | {*PARTY_FIELDS, *WHEN_FIELDS, *DETAIL_FIELDS, "month", "start", "end", "from", "to"})


PAGE_PARAMETERS = page_parameter_names()


@pytest.fixture
def database_url(demo_database_url: str) -> str:
    return demo_database_url


async def demo_ids(db, app_settings) -> dict[str, str]:  # noqa: ANN001
    """A real value for every path parameter of the pages, from the seeded demo."""
    async with db.transaction(write=False) as session:
        booking = await session.scalar(select(Booking).order_by(Booking.id))
        payment = await session.scalar(select(Payment).order_by(Payment.id))
        chef = await session.scalar(select(Chef).order_by(Chef.id))
        time_off = await session.scalar(select(ChefTimeOff).order_by(ChefTimeOff.id))
        station = await session.scalar(select(Station).order_by(Station.id))
        user = await session.scalar(select(User).where(User.is_super_admin.is_(False)).order_by(User.id))
        lead = await session.scalar(select(Lead).order_by(Lead.id))
    assert booking and payment and chef and station and user and lead  # the demo has a lead history
    async with db.transaction() as session:  # the demo's newsletters, and the sequences the automations page makes
        segment = await session.scalar(select(Segment).where(Segment.station_id == station.id).order_by(Segment.id))
        campaign = await session.scalar(select(Campaign).where(Campaign.station_id == station.id)
                                        .order_by(Campaign.id))
        automation = (await ensure_automations(session, station.id))[0]
        conversation = await session.scalar(select(Conversation).where(Conversation.station_id == station.id)
                                            .order_by(Conversation.id))
    assert segment and campaign and conversation
    return {"booking_id": str(booking.id), "payment_id": str(payment.id), "chef_id": str(chef.id),
            "time_off_id": str(time_off.id if time_off else 1), "station_id": str(station.id),
            "user_id": str(user.id), "code": station.code.lower(), "reference": booking.reference,
            "token": manage_token(app_settings, booking), "action": "cancel", "decision": "approve",
            "lead_id": str(lead.id), "contact_id": str(lead.contact_id), "segment_id": str(segment.id),
            "campaign_id": str(campaign.id), "automation_id": str(automation.id),
            "conversation_id": str(conversation.id)}


def date_filters(app) -> list[tuple[str, str]]:  # noqa: ANN001
    """(path, parameter) of every GET operation's query parameter that takes a date or a date-time, read from the
    OpenAPI document, so a new filter is fuzzed without being listed here."""
    found = []
    for path, operations in app.openapi()["paths"].items():
        for parameter in operations.get("get", {}).get("parameters", []):
            schema = parameter.get("schema", {})
            formats = {schema.get("format"), *(option.get("format") for option in schema.get("anyOf", []))}
            if parameter["in"] == "query" and formats & {"date", "date-time"}:
                found.append((path, parameter["name"]))
    return found


def page_routes(app) -> list[str]:  # noqa: ANN001
    """Every GET page of the admin and the site (not the API, the docs or the live event stream)."""
    paths = []
    for route in iter_route_contexts(app.routes):  # flattens the included routers
        if not isinstance(route.original_route, APIRoute) or "GET" not in route.methods:
            continue
        if route.path.startswith((API_PREFIX, "/docs", "/redoc", "/openapi", "/metrics", "/static", "/healthz",
                                  "/readyz")) or route.path == "/admin/events":
            continue
        paths.append(route.path)
    return sorted(paths)


async def test_every_api_date_filter_answers_422_or_200_to_the_ends_of_the_calendar(client, db, login,
                                                                                   settings) -> None:
    headers = await login("superadmin@example.com", DEMO_PASSWORD)
    ids = await demo_ids(db, settings)
    operations = [(path.removeprefix(API_PREFIX).replace("{station_id}", ids["station_id"]), name)
                  for path, name in date_filters(client._transport.app)]
    assert len(operations) >= 13, operations  # the document's date filters were found
    failures = []
    for path, name in operations:
        for value in EXTREME_DATES + EXTREME_MOMENTS:
            response = await client.get(f"{API_PREFIX}{path}", params={name: value}, headers=headers)
            if response.status_code not in (200, 422):
                failures.append((path, name, value, response.status_code, response.text[:200]))
            elif response.status_code == 422:
                assert response.headers["content-type"] == "application/problem+json"
    assert failures == []


async def test_no_page_answers_5xx_to_any_query(client, db, settings) -> None:  # noqa: ANN001
    """Every GET page, signed in as the super admin (who sees every page), with every parameter any page reads set
    to the ends of the calendar or junk: all at once for each value, then a few seeded random mixtures of them."""
    page = await submit(client, read(await client.get("/admin/login")), None, email="superadmin@example.com",
                        password=DEMO_PASSWORD)
    assert page.response.status_code == 200, page.text[:300]
    ids = await demo_ids(db, settings)
    paths = [re.sub(r"\{(\w+)\}", lambda m: ids[m.group(1)], path) for path in page_routes(client._transport.app)]
    assert len(paths) >= 40, paths  # the enumeration found the pages

    failures: list[tuple[str, Any, int]] = []

    async def visit(path: str, params: dict[str, str]) -> None:
        response = await client.get(path, params=params)
        if response.status_code >= 500:
            failures.append((path, params, response.status_code))

    values = EXTREME_DATES + EXTREME_MOMENTS + JUNK
    for path in paths:
        for value in EVERY_PARAMETER:
            await visit(path, dict.fromkeys(PAGE_PARAMETERS, value))
        mixer = random.Random(path)  # the same mixtures on every run
        for _ in range(MIXTURES_PER_PAGE):
            names = mixer.sample(PAGE_PARAMETERS, k=mixer.randint(1, 4))
            await visit(path, {name: mixer.choice(values) for name in names})
    assert failures == []


async def test_a_nul_in_an_address_is_refused_before_any_handler(client) -> None:
    """PostgreSQL cannot compare text holding NUL: refused at the door, for every path and parameter."""
    for url in ("/admin/audit?actor=%00", "/admin/users?q=a%00b", "/api/v1/stations?x=%00", "/book%00"):
        response = await client.get(url)
        assert response.status_code == 422, url
        assert response.json()["code"] == "invalid_request"


async def test_a_nul_in_a_sign_in_or_reset_address_is_nobodys(client, db) -> None:
    login = await client.post(f"{API_PREFIX}/auth/login", json={"email": "a\x00@example.com", "password": "x" * 12})
    reset = await client.post(f"{API_PREFIX}/auth/password-reset", json={"email": "a\x00@example.com"})
    unknown = await client.post(f"{API_PREFIX}/auth/password-reset", json={"email": "nobody@example.com"})

    assert login.status_code == 401 and login.json()["code"] == "invalid_credentials"
    assert (reset.status_code, reset.content) == (unknown.status_code, unknown.content)
