"""The payments report against an independent recomputation from the raw rows, on random ledgers around the DST
changes of three US zones and a zone without DST, with payments a minute either side of local midnight."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.analytics.conftest import API, Row, report_params

METHODS = ["card", "cash", "zelle", "venmo", "check"]
# Two fortnights around the 2026 US DST changes (8 March, 1 November); Honolulu has none.
WINDOWS = [(date(2026, 3, 1), date(2026, 3, 15)), (date(2026, 10, 25), date(2026, 11, 8))]
days = st.one_of(*(st.dates(min_value=a, max_value=b) for a, b in WINDOWS))
# Seconds from local midnight: within a minute either side of it, or anywhere in the day.
offsets = st.one_of(st.integers(-60, 60), st.integers(0, 86_399))


@st.composite
def moments(draw: st.DrawFn, zone: str) -> datetime:
    day, offset = draw(days), draw(offsets)
    return datetime.combine(day, datetime.min.time(), ZoneInfo(zone)).astimezone(UTC) + timedelta(seconds=offset)


@st.composite
def ledgers(draw: st.DrawFn, stations: list) -> list[Row]:  # noqa: ANN001
    rows = []
    for _ in range(draw(st.integers(0, 25))):
        station = draw(st.sampled_from(stations))
        status = draw(st.sampled_from(["succeeded", "succeeded", "succeeded", "failed", "pending"]))
        amount = draw(st.integers(1, 200_000))
        refunds = []
        if status == "succeeded":
            for _ in range(draw(st.integers(0, 2))):
                refunds.append((draw(st.integers(1, amount)), draw(st.sampled_from(METHODS)),
                                draw(st.sampled_from(["succeeded", "succeeded", "pending", "failed"])),
                                draw(moments(station.timezone))))
        rows.append(Row(station=station, method=draw(st.sampled_from(METHODS)), status=status, amount_cents=amount,
                        succeeded_at=draw(moments(station.timezone)) if status == "succeeded" else None,
                        refunds=refunds))
    return rows


# --- the oracle: plain Python over the raw rows -----------------------------------------------------------------


def label(day: date, granularity: str) -> date:
    if granularity == "week":
        return day - timedelta(days=day.isocalendar().weekday - 1)
    return day.replace(day=1) if granularity == "month" else day


def expected_report(rows: list[Row], station_ids: set[int], start: date, end: date, granularity: str) -> dict:
    gross: dict[date, int] = defaultdict(int)
    refunds: dict[date, int] = defaultdict(int)
    count: dict[date, int] = defaultdict(int)
    by_method: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    times = []
    for row in rows:
        if row.station.id not in station_ids:
            continue
        zone = ZoneInfo(row.station.timezone)
        if row.status == "succeeded" and start <= (local := row.succeeded_at.astimezone(zone)).date() <= end:
            period = label(local.date(), granularity)
            gross[period] += row.amount_cents
            count[period] += 1
            by_method[row.method][0] += 1
            by_method[row.method][1] += row.amount_cents
            times.append(local)
        for amount, method, status, created_at in row.refunds or []:
            if status == "succeeded" and start <= (day := created_at.astimezone(zone).date()) <= end:
                refunds[label(day, granularity)] += amount
                by_method[method][2] += amount
    periods, current = [], label(start, granularity)
    while current <= end:
        periods.append(current)
        current = (current + timedelta(days={"day": 1, "week": 7}.get(granularity, 32)))
        current = label(current, granularity)
    return {
        "buckets": [(p.isoformat(), gross[p], refunds[p], gross[p] - refunds[p], count[p]) for p in periods],
        "by_method": sorted((m, n, g, r, g - r) for m, (n, g, r) in by_method.items()),
        "totals": (sum(gross.values()), sum(refunds.values()), sum(gross.values()) - sum(refunds.values()),
                   sum(count.values())),
        "first": min(times) if times else None,
        "last": max(times) if times else None,
    }


def shape(report: dict) -> dict:
    totals = report["totals"]
    return {
        "buckets": [(b["period_start"], b["gross_cents"], b["refunds_cents"], b["net_cents"], b["count"])
                    for b in report["buckets"]],
        "by_method": sorted((m["method"], m["count"], m["gross_cents"], m["refunds_cents"], m["net_cents"])
                            for m in report["by_method"]),
        "totals": (totals["gross_cents"], totals["refunds_cents"], totals["net_cents"], totals["count"]),
    }


@settings(max_examples=30, deadline=None, derandomize=True, database=None,  # money: the same examples every run
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
async def test_the_report_equals_a_recomputation_from_the_raw_rows(data, client, zones, boss, ledger_rows):
    stations = [z.station for z in zones.values()]
    rows = data.draw(ledgers(stations))
    await ledger_rows(rows, {z.station.id: z.booking_id for z in zones.values()})
    granularity = data.draw(st.sampled_from(["day", "week", "month"]))
    start = data.draw(days)
    end = data.draw(st.dates(min_value=start, max_value=start + timedelta(days=40)))
    station = data.draw(st.sampled_from([None, *stations]))

    response = await client.get(f"{API}/analytics/payments", headers=boss, params=report_params(
        station_id=station.id if station else None, start=start, end=end, granularity=granularity))

    assert response.status_code == 200, response.text
    report = response.json()
    scope = {station.id} if station else {s.id for s in stations}
    expected = expected_report(rows, scope, start, end, granularity)
    assert shape(report) == {k: expected[k] for k in ("buckets", "by_method", "totals")}
    for field, moment in (("first_payment_at", expected["first"]), ("last_payment_at", expected["last"])):
        shown = report[field]
        assert (shown is None) == (moment is None)
        if moment is not None:  # the same instant, written in the payment's station's local time
            assert datetime.fromisoformat(shown) == moment and datetime.fromisoformat(shown).utcoffset() == \
                moment.utcoffset()
    assert report["timezone"] == (station.timezone if station else None)
