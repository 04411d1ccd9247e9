"""POST /quotes and the business-rules editor: the rules of each station drive every price."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import TypeAdapter
from sqlalchemy import select

from myhibachi.audit.models import AuditEntry
from myhibachi.auth.permissions import Role
from myhibachi.pricing.distance import ZipCentroidDistance
from myhibachi.pricing.quote import PartyOrder, quote_event
from myhibachi.pricing.rules import DEFAULT_RULES
from myhibachi.pricing.schemas import QuoteJson, QuoteRead

EXAMPLE = {"zip_code": "94536", "adults": 12, "children": 4, "toddlers": 1, "upgrades": {"filet_mignon": 3},
           "addons": {"gyoza": 1}}


@pytest.fixture
async def fremont(make_station):
    return await make_station("FRE")


async def test_quote_uses_the_station_rules_and_the_offline_distance(client, fremont):
    response = await client.post("/api/v1/quotes", json={"station_id": fremont.id, **EXAMPLE})
    assert response.status_code == 200
    body = response.json()
    miles = ZipCentroidDistance().miles((fremont.latitude, fremont.longitude), "94536", DEFAULT_RULES.road_factor)
    expected = quote_event(DEFAULT_RULES, PartyOrder(12, 4, 1, {"filet_mignon": 3}, {}, {"gyoza": 1}), miles)
    assert body["travel_miles"] == float(miles)
    assert body["food_subtotal_cents"] == 80500
    assert (body["tax_cents"], body["travel_fee_cents"]) == (expected.tax_cents, expected.travel_fee_cents)
    assert body["total_cents"] == expected.total_cents
    assert body["deposit_cents"] + body["balance_cents"] == body["total_cents"]
    assert body["currency"] == "USD"
    assert [g["percent"] for g in body["suggested_gratuity"]] == [20, 25, 30, 35]


async def test_distance_is_rounded_to_a_tenth_of_a_mile():
    miles = ZipCentroidDistance().miles((37.5483, -121.9886), "95814", Decimal("1.2"))
    assert miles == miles.quantize(Decimal("0.1"))
    assert Decimal(80) < miles < Decimal(130)  # Fremont to Sacramento by road


@pytest.mark.parametrize(("zip_code", "code"), [("00000", "unknown_zip"), ("10001", "outside_service_area")])
async def test_unknown_and_far_zip_codes_are_refused(client, fremont, zip_code, code):
    response = await client.post("/api/v1/quotes", json={"station_id": fremont.id, **EXAMPLE, "zip_code": zip_code})
    assert response.status_code == 422
    assert response.json()["code"] == code
    assert response.json()["errors"][0]["field"] == "body.zip_code"


@pytest.mark.parametrize(("change", "field"), [
    ({"adults": 0}, "body.adults"), ({"adults": 51}, "body.adults"), ({"upgrades": {"wagyu": 1}}, "body.upgrades"),
    ({"adults": "12"}, "body.adults"), ({"adults": True}, "body.adults"), ({"zip_code": "9453"}, "body.zip_code"),
])
async def test_bad_orders_get_field_errors(client, fremont, change, field):
    response = await client.post("/api/v1/quotes", json={"station_id": fremont.id, **EXAMPLE, **change})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == field


async def test_unknown_station_is_a_field_error(client, fremont):
    response = await client.post("/api/v1/quotes", json={"station_id": fremont.id + 99, **EXAMPLE})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body.station_id"


async def test_an_admin_edits_the_rules_and_the_next_quote_follows(client, fremont, make_user, login, db):
    await make_user("admin@example.com", Role.admin, fremont)
    admin = await login("admin@example.com")
    url = f"/api/v1/stations/{fremont.id}/rules"
    rules = (await client.get(url, headers=admin)).json()
    assert rules["adult_price_cents"] == 5500
    assert rules["slot_times"] == ["12:00", "15:00", "18:00", "21:00"]

    saved = await client.put(url, headers=admin, json={**rules, "adult_price_cents": 6000, "deposit_cents": 15000})
    assert saved.status_code == 200
    quote = (await client.post("/api/v1/quotes", json={"station_id": fremont.id, **EXAMPLE})).json()
    assert quote["lines"][0] == {"code": "adult", "label": "Adult (13+)", "quantity": 12, "unit_cents": 6000,
                                 "amount_cents": 72000}
    assert quote["deposit_cents"] == 15000

    async with db.transaction(write=False) as session:
        [row] = await session.scalars(select(AuditEntry).where(AuditEntry.action == "rules.update"))
    assert row.before == {"adult_price_cents": 5500, "deposit_cents": 10000}
    assert row.after == {"adult_price_cents": 6000, "deposit_cents": 15000}
    assert row.station_id == fremont.id


@pytest.mark.parametrize(("change", "field"), [
    ({"adult_price_cents": -1}, "body.adult_price_cents"),
    ({"tax_rate_percent": "80"}, "body.tax_rate_percent"),
    ({"protein_upgrades": {"chicken": 100}}, "body"),
    ({"surprise": 1}, "body.surprise"),
    ({"slot_times": ["25:00"]}, "body.slot_times.0"),
    ({"slot_times": ["18:00", "18:00"]}, "body"),
])
async def test_invalid_rules_are_refused_and_change_nothing(client, fremont, make_user, login, change, field):
    await make_user("admin@example.com", Role.admin, fremont)
    admin = await login("admin@example.com")
    url = f"/api/v1/stations/{fremont.id}/rules"
    rules = (await client.get(url, headers=admin)).json()
    response = await client.put(url, headers=admin, json={**rules, **change})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == field
    assert (await client.get(url, headers=admin)).json() == rules


async def test_a_quote_served_from_the_near_cache_makes_no_database_session(client, fremont, db, monkeypatch):
    made = []
    make = db.session
    monkeypatch.setattr(db, "session", lambda **kwargs: made.append(kwargs) or make(**kwargs))
    first = await client.post("/api/v1/quotes", json={"station_id": fremont.id, **EXAMPLE})
    assert made, "the first quote reads its station and rules"
    made.clear()
    again = await client.post("/api/v1/quotes", json={"station_id": fremont.id, **EXAMPLE})
    assert (again.status_code, again.json(), made) == (200, first.json(), [])


async def test_rules_and_stations_are_served_from_the_cache_and_refreshed_by_a_change(client, fremont, make_user,
                                                                                      login, scrape_metrics):
    await make_user("boss@example.com", Role.super_admin)
    boss = await login("boss@example.com")
    for _ in range(3):
        assert (await client.post("/api/v1/quotes", json={"station_id": fremont.id, **EXAMPLE})).status_code == 200
    assert [s["code"] for s in (await client.get("/api/v1/stations")).json()] == ["FRE"]
    metrics = await scrape_metrics()
    # the first quote reads them, the next two from this process's near cache
    assert 'myhibachi_cache_requests_total{namespace="pricing.rules",result="miss"} 1.0' in metrics
    assert 'myhibachi_cache_requests_total{namespace="pricing.rules",result="near"} 2.0' in metrics

    created = await client.post("/api/v1/stations", headers=boss, json={
        "code": "SJC", "name": "San Jose", "timezone": "America/Los_Angeles", "latitude": 37.3, "longitude": -121.9,
        "address": {"line1": "1 Main St", "city": "San Jose", "state": "CA", "zip_code": "95113"}})
    assert created.status_code == 201, created.text
    assert sorted(s["code"] for s in (await client.get("/api/v1/stations")).json()) == ["FRE", "SJC"]


@pytest.mark.parametrize("miles", [Decimal("0.0"), Decimal("12.4"), Decimal("41.3"), Decimal("100.0")])
@pytest.mark.parametrize("order", [PartyOrder(12, 4, 1, {"filet_mignon": 3}, {}, {"gyoza": 1}),
                                   PartyOrder(2, 0, 0, {}, {}, {}), PartyOrder(40, 10, 3, {}, {"shrimp": 5}, {})])
def test_a_quote_dumped_as_it_is_is_its_response_models_json_to_the_byte(order, miles):
    """The quote route dumps the `Quote` itself (`QuoteJson`); the API documents `QuoteRead`: one JSON."""
    quote = quote_event(DEFAULT_RULES, order, miles)
    assert TypeAdapter(QuoteJson).dump_json(quote) == TypeAdapter(QuoteRead).dump_json(QuoteRead.of(quote))


async def test_the_quote_answers_alike_through_its_fast_path_and_fastapis_own(client, fremont):
    """`application/json` takes the route's own path; another JSON media type FastAPI's handling, which dumps the
    response model."""
    body = {"station_id": fremont.id, **EXAMPLE}
    fast = await client.post("/api/v1/quotes", json=body)
    fastapis = await client.post("/api/v1/quotes", json=body, headers={"content-type": "application/vnd.quote+json"})
    assert (fast.status_code, fastapis.status_code) == (200, 200)
    assert fast.content == fastapis.content
    assert fast.json()["travel_miles"] > 0
