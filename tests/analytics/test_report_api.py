"""The payments report over HTTP: fresh after every payment and refund, scoped to the caller's stations, CSV,
clear errors, and served uncached when Redis is down."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest
from prometheus_client import CollectorRegistry

from myhibachi.auth.permissions import Role
from myhibachi.core.cache import cache_for
from tests.analytics.conftest import API, Row
from tests.core.test_cache import closed_port

pytestmark = pytest.mark.usefixtures("clock")  # 2026-12-01 08:00 in Los Angeles
TODAY = {"start": "2026-12-01", "end": "2026-12-01"}


async def net_today(client, headers: dict[str, str], station_id: int | None = None) -> tuple[int, int]:  # noqa: ANN001
    params = {**TODAY, **({"station_id": station_id} if station_id else {})}
    response = await client.get(f"{API}/analytics/payments", headers=headers, params=params)
    assert response.status_code == 200, response.text
    totals = response.json()["totals"]
    return totals["net_cents"], totals["count"]


@pytest.fixture
async def admin(station, make_user, login) -> dict[str, str]:
    await make_user("admin@example.com", Role.admin, station)
    return await login("admin@example.com")


async def test_a_payment_and_a_refund_show_at_once_despite_the_cache(client, station, book, admin):
    booking = await book(station.id)
    assert await net_today(client, admin, station.id) == (0, 0)
    assert await net_today(client, admin, station.id) == (0, 0)  # now cached

    paid = await client.post(f"{API}/bookings/{booking['id']}/payments", headers=admin,
                             json={"method": "zelle", "amount_cents": 10000, "reference": "ZL-1"})
    assert paid.status_code == 201, paid.text
    assert await net_today(client, admin, station.id) == (10000, 1)

    refunded = await client.post(f"{API}/payments/{paid.json()['id']}/refunds", headers=admin,
                                 json={"amount_cents": 2500, "reason": "Two guests fewer"})
    assert refunded.status_code == 201, refunded.text
    assert await net_today(client, admin, station.id) == (7500, 1)


async def test_each_admin_sees_only_their_stations_even_from_the_cache(client, zones, make_user, login,
                                                                        ledger_rows):
    lax, chi = zones["LAX"], zones["CHI"]
    moment = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    await ledger_rows([Row(lax.station, "cash", "succeeded", 1000, moment),
                       Row(chi.station, "cash", "succeeded", 2000, moment)],
                      {lax.station.id: lax.booking_id, chi.station.id: chi.booking_id})
    await make_user("lax@example.com", Role.admin, lax.station)
    await make_user("chi@example.com", Role.manager, chi.station)
    lax_admin, chi_manager = await login("lax@example.com"), await login("chi@example.com")

    assert await net_today(client, lax_admin) == (1000, 1)
    assert await net_today(client, chi_manager) == (2000, 1)  # same request, other scope: not the cached one
    assert await net_today(client, lax_admin) == (1000, 1)
    other = await client.get(f"{API}/analytics/payments", headers=chi_manager,
                             params={**TODAY, "station_id": lax.station.id})
    assert other.status_code == 404


async def test_support_staff_may_not_read_analytics(client, station, make_user, login):
    await make_user("support@example.com", Role.support, station)
    support = await login("support@example.com")

    for path in ("payments", "kpis"):
        response = await client.get(f"{API}/analytics/{path}", headers=support, params=TODAY)
        assert response.status_code == 403, response.text


async def test_every_period_is_listed_even_when_empty(client, station, admin):
    response = await client.get(f"{API}/analytics/payments", headers=admin, params={
        "station_id": station.id, "start": "2026-10-15", "end": "2027-01-10", "granularity": "month"})

    report = response.json()
    assert [b["period_start"] for b in report["buckets"]] == ["2026-10-01", "2026-11-01", "2026-12-01",
                                                              "2027-01-01"]
    assert all(b["count"] == 0 and b["net_cents"] == 0 for b in report["buckets"])
    assert report["first_payment_at"] is None and report["by_method"] == []


async def test_the_report_as_csv(client, station, book, admin):
    booking = await book(station.id)
    await client.post(f"{API}/bookings/{booking['id']}/payments", headers=admin,
                      json={"method": "cash", "amount_cents": 10000, "reference": "C-1"})

    response = await client.get(f"{API}/analytics/payments", headers=admin, params={
        "station_id": station.id, "start": "2026-11-30", "end": "2026-12-06", "granularity": "day",
        "format": "csv"})

    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [r["period_start"] for r in rows] == [f"2026-{d}" for d in ("11-30", "12-01", "12-02", "12-03",
                                                                       "12-04", "12-05", "12-06")]
    assert (rows[1]["gross_cents"], rows[1]["count"], rows[1]["cash_cents"], rows[1]["card_cents"]) == \
        ("10000", "1", "10000", "0")
    assert rows[0]["gross_cents"] == "0"


@pytest.mark.parametrize(("params", "field"), [
    ({"start": "2026-12-02", "end": "2026-12-01"}, "query.end"),
    ({"start": "2020-01-01", "end": "2026-12-01", "granularity": "day"}, "query.end"),
    ({"start": "2026-12-01", "end": "2026-12-01", "granularity": "hour"}, "query.granularity"),
    ({"start": "2026-13-01", "end": "2026-12-01"}, "query.start"),
    ({"end": "2026-12-01"}, "query.start"),
])
async def test_bad_ranges_are_a_clear_422(client, station, admin, params, field):
    response = await client.get(f"{API}/analytics/payments", headers=admin,
                                params={"station_id": station.id, **params})

    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert field in [e["field"] for e in response.json()["errors"]]


async def test_with_redis_down_the_report_is_still_served_and_the_failure_counted(client, app, station, book,
                                                                                 admin):
    runtime = app.state.runtime
    working, runtime.cache = runtime.cache, cache_for(f"redis://127.0.0.1:{closed_port()}/0")
    runtime.db.cache = runtime.cache
    registry = CollectorRegistry()
    runtime.cache.metrics.register(registry)
    try:
        booking = await book(station.id)
        await client.post(f"{API}/bookings/{booking['id']}/payments", headers=admin,
                          json={"method": "cash", "amount_cents": 10000, "reference": "C-1"})
        assert await net_today(client, admin, station.id) == (10000, 1)
        assert await net_today(client, admin, station.id) == (10000, 1)
    finally:
        await runtime.cache.close()
        runtime.cache = runtime.db.cache = working
    assert registry.get_sample_value("myhibachi_cache_errors_total", {"operation": "versions"}) >= 2
    assert registry.get_sample_value("myhibachi_cache_errors_total", {"operation": "bump"}) >= 1  # the payment


async def test_cache_hits_and_misses_are_prometheus_metrics(client, station, admin, scrape_metrics):
    for _ in range(3):
        await net_today(client, admin, station.id)

    metrics = await scrape_metrics()

    assert 'myhibachi_cache_requests_total{namespace="analytics.payments",result="miss"} 1.0' in metrics
    assert 'myhibachi_cache_requests_total{namespace="analytics.payments",result="hit"} 2.0' in metrics
