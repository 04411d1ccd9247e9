"""Analytics routes: the payments report and the KPIs, as JSON or as CSV (`?format=csv`)."""

from __future__ import annotations

import csv
import io
from datetime import date
from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Query, Response

from myhibachi.analytics import queries
from myhibachi.analytics.schemas import Granularity, KpiReport, PaymentReport
from myhibachi.auth.dependencies import CurrentPrincipal
from myhibachi.core.dates import EARLIEST_DAY, LATEST_DAY
from myhibachi.core.db import MAX_ID
from myhibachi.core.errors import problem_responses
from myhibachi.core.web import DbSession, RuntimeDep
from myhibachi.payments.models import PaymentMethod

staff = APIRouter(prefix="/analytics", tags=["analytics"])
LocalDate = Annotated[date, Query(ge=EARLIEST_DAY, le=LATEST_DAY, description="A local date of the "
                                  "station (each station's own for all stations), inclusive.")]
StationParam = Annotated[int | None, Query(ge=1, le=MAX_ID, description="Omit for every station you may read.")]


class ReportFormat(StrEnum):
    json = "json"
    csv = "csv"


def _csv_response(rows: list[list[object]], filename: str) -> Response:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@staff.get("/payments", summary="Payments by local day, week or month", response_model=PaymentReport,
           responses={200: {"content": {"text/csv": {"example": "period_start,gross_cents,refunds_cents,net_cents,"
                                                     "count,card_cents,...\n2026-11-23,45000,5000,40000,3,...\n"}},
                            "description": "The report (JSON), or its buckets as CSV with `?format=csv`."},
                      **problem_responses(401, 403, 404, 422)})
async def payments_report(principal: CurrentPrincipal, session: DbSession, runtime: RuntimeDep, start: LocalDate,
                          end: LocalDate, station_id: StationParam = None,
                          granularity: Granularity = Granularity.day,
                          format_: Annotated[ReportFormat, Query(alias="format")] = ReportFormat.json):
    """Gross, refunds, net and count per period, every period included (empty ones as zeros), with a breakdown
    by method, totals, and the first and last payment's local time. Periods are the station's local calendar days,
    ISO weeks (from Monday) or months; without `station_id`, each payment counts in its own station's zone.
    Cached for `CACHE_TTL_ANALYTICS_SECONDS`; a payment or refund refreshes it at once. Needs `analytics.read`."""
    raw = await queries.payment_report_json(
        session, runtime.cache, runtime.settings.cache_ttl_analytics_seconds, principal,
        queries.ReportRange(station_id, start, end), granularity)
    if format_ is ReportFormat.json:
        return Response(raw, media_type="application/json")  # already a PaymentReport: no second encoding
    report = PaymentReport.model_validate_json(raw)
    methods = list(PaymentMethod)
    rows: list[list[object]] = [["period_start", "gross_cents", "refunds_cents", "net_cents", "count",
                                 *(f"{m.value}_cents" for m in methods)]]
    for bucket in report.buckets:
        gross_by = {t.method: t.gross_cents for t in bucket.by_method}
        rows.append([bucket.period_start.isoformat(), bucket.gross_cents, bucket.refunds_cents, bucket.net_cents,
                     bucket.count, *(gross_by.get(m, 0) for m in methods)])
    return _csv_response(rows, f"payments-{start}-{end}-{granularity.value}.csv")


@staff.get("/kpis", summary="Key figures", response_model=KpiReport,
           responses={200: {"content": {"text/csv": {"example": "metric,value\nrevenue_cents,1625000\n"}},
                            "description": "The KPIs (JSON), or one `metric,value` row each as CSV."},
                      **problem_responses(401, 403, 404, 422)})
async def kpis(principal: CurrentPrincipal, session: DbSession, runtime: RuntimeDep, start: LocalDate,
               end: LocalDate, station_id: StationParam = None,
               format_: Annotated[ReportFormat, Query(alias="format")] = ReportFormat.json):
    """Bookings by status (by event date in the range), bookings made this week and month (local), upcoming
    events, guests served, net revenue, deposits, outstanding balances, average booking value and cancellation
    rate. Cached for `CACHE_TTL_KPIS_SECONDS`; bookings, payments and refunds refresh it at once. Needs
    `analytics.read`."""
    report = await queries.kpi_report(session, runtime.cache, runtime.settings.cache_ttl_kpis_seconds, principal,
                                      queries.ReportRange(station_id, start, end))
    if format_ is ReportFormat.json:
        return report
    rows: list[list[object]] = [["metric", "value"]]
    for name, value in report.model_dump(mode="json", exclude={"bookings_by_status"}).items():
        rows.append([name, "" if value is None else value])
    rows += [[f"bookings_{status}", count] for status, count in report.model_dump(mode="json")[
        "bookings_by_status"].items()]
    return _csv_response(rows, f"kpis-{start}-{end}.csv")
