"""Admin pages: payments of the chosen station (filters, keyset pages, CSV export), one payment with its refunds
and Stripe events, and a refund with its confirmation — all through the payments domain's queries and commands."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from myhibachi.auth.permissions import Permission
from myhibachi.auth.principal import Principal
from myhibachi.core.dates import parse_day
from myhibachi.core.errors import DomainError, FieldError, NotFound, PermissionDenied, ValidationFailed
from myhibachi.core.web import DbSession, PathId, RuntimeDep, discard_changes
from myhibachi.payments import commands, queries
from myhibachi.payments.gateway import card_gateway
from myhibachi.payments.models import PaymentMethod, PaymentStatus
from myhibachi.payments.schemas import PaymentDetail, PaymentRead, RefundCreate
from myhibachi.stations.models import Station
from myhibachi.stations.queries import get_station
from myhibachi.web.admin.render import admin_page, finish, refusal_page, staff_stations
from myhibachi.web.admin.session import Staff, checked_form, chosen_station
from myhibachi.web.forms import FormRejected, field_errors

router = APIRouter(include_in_schema=False)
E = TypeVar("E", PaymentMethod, PaymentStatus)
PAGE_SIZE = 50
CSV_BATCH, CSV_MAX_ROWS = 200, 50_000  # an export walks the keyset pages; the cap keeps one request bounded
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # what a spreadsheet would run as a formula
DONE = {"refunded": "The refund is recorded; the customer is told by email."}
AMOUNT_HINT = "Enter an amount in dollars and cents, like 25.00."


# --- the list and its filters --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Listing:
    """The filters as asked for in the query string, each one ignored when it makes no sense."""

    method: PaymentMethod | None = None
    status: PaymentStatus | None = None
    date_from: date | None = None
    date_to: date | None = None
    cursor: str | None = None

    def params(self, station: Station) -> dict[str, str]:
        """The query string that shows these filters again (without the page cursor)."""
        values = {"station": str(station.id), "method": self.method.value if self.method else "",
                  "status": self.status.value if self.status else "",
                  "from": self.date_from.isoformat() if self.date_from else "",
                  "to": self.date_to.isoformat() if self.date_to else ""}
        return {key: value for key, value in values.items() if value}

    def domain_filter(self, station: Station) -> queries.PaymentFilter:
        return queries.PaymentFilter(station_id=station.id, method=self.method, status=self.status,
                                     date_from=self.date_from, date_to=self.date_to)


def _choice(enum: type[E], raw: str | None) -> E | None:
    try:
        return enum(raw) if raw else None
    except ValueError:
        return None


def read_listing(request: Request) -> Listing:
    q = request.query_params
    start, end = parse_day(q.get("from")), parse_day(q.get("to"))
    if start and end and end < start:
        start, end = end, start
    cursor = q.get("cursor") or None
    return Listing(method=_choice(PaymentMethod, q.get("method")), status=_choice(PaymentStatus, q.get("status")),
                   date_from=start, date_to=end, cursor=cursor if cursor and len(cursor) <= 200 else None)


async def _page_of_payments(session: Any, principal: Principal, station: Station, listing: Listing,
                            limit: int) -> tuple[list[PaymentRead], str | None]:
    filters = listing.domain_filter(station)
    try:
        return await queries.list_payments(session, principal, filters, cursor=listing.cursor, limit=limit)
    except ValidationFailed:  # a cursor that is not ours: start from the first page
        return await queries.list_payments(session, principal, filters, cursor=None, limit=limit)


def local_time(moment: datetime | None, zone: ZoneInfo) -> str:
    return "—" if moment is None else moment.astimezone(zone).strftime("%b %-d, %Y, %-I:%M %p")


async def _station(request: Request, session: Any, principal: Principal) -> Station | None:
    return chosen_station(request, principal, await staff_stations(session, principal))


@router.get("/admin/payments", response_class=HTMLResponse)
async def payments_list(request: Request, principal: Staff, session: DbSession, runtime: RuntimeDep) -> Response:
    station = await _station(request, session, principal)
    if station is None:
        return await admin_page(request, runtime, session, principal, "payments/list.html", title="Payments",
                                station=None)
    listing = read_listing(request)
    try:
        payments, next_cursor = await _page_of_payments(session, principal, station, listing, PAGE_SIZE)
    except (PermissionDenied, NotFound) as exc:
        return await refusal_page(request, runtime, session, principal, exc)
    params = listing.params(station)
    zone = ZoneInfo(station.timezone)
    return await admin_page(
        request, runtime, session, principal, "payments/list.html", title="Payments", station=station,
        payments=payments, listing=listing, methods=list(PaymentMethod), statuses=list(PaymentStatus),
        csv_href="/admin/payments.csv?" + urlencode(params),
        next_href=f"/admin/payments?{urlencode({**params, 'cursor': next_cursor})}" if next_cursor else None,
        first_href=f"/admin/payments?{urlencode(params)}" if listing.cursor else None,
        when=lambda moment: local_time(moment, zone), zone=station.timezone)


# --- CSV ------------------------------------------------------------------------------------------------------------


CSV_HEADER = ["payment_id", "created_local", "succeeded_local", "booking_reference", "purpose", "method", "status",
              "amount", "amount_cents", "refunded", "refunded_cents", "currency", "reference"]


def safe_cell(value: object) -> object:
    """A text cell a spreadsheet would run as a formula gets a leading quote (CSV injection)."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def decimal_amount(cents: int) -> str:
    return f"{Decimal(cents) / 100:.2f}"


def csv_row(payment: PaymentRead, zone: ZoneInfo) -> list[object]:
    def iso(moment: datetime | None) -> str:
        return "" if moment is None else moment.astimezone(zone).isoformat(timespec="seconds")

    row: list[object] = [
        payment.id, iso(payment.created_at), iso(payment.succeeded_at), payment.booking_reference,
        payment.purpose.value, payment.method.value, payment.status.value, decimal_amount(payment.amount_cents),
        payment.amount_cents, decimal_amount(payment.refunded_cents), payment.refunded_cents, payment.currency,
        payment.reference or ""]
    return [safe_cell(cell) for cell in row]


def csv_filename(station: Station, listing: Listing) -> str:
    parts = ["payments", station.code.lower()]
    if listing.date_from:
        parts.append(listing.date_from.isoformat())
    if listing.date_to:
        parts.append(listing.date_to.isoformat())
    return "-".join(parts) + ".csv"


@router.get("/admin/payments.csv")
async def payments_csv(request: Request, principal: Staff, session: DbSession, runtime: RuntimeDep) -> Response:
    """Every payment the list's filters match (not only the page on screen), times in the station's zone."""
    station = await _station(request, session, principal)
    if station is None:
        return await refusal_page(request, runtime, session, principal, NotFound("You work at no station yet."))
    listing = replace(read_listing(request), cursor=None)
    zone = ZoneInfo(station.timezone)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    written = 0
    try:
        while written < CSV_MAX_ROWS:
            batch, cursor = await _page_of_payments(session, principal, station, listing, CSV_BATCH)
            writer.writerows(csv_row(payment, zone) for payment in batch)
            written += len(batch)
            if cursor is None:
                break
            listing = replace(listing, cursor=cursor)
    except (PermissionDenied, NotFound) as exc:
        return await refusal_page(request, runtime, session, principal, exc)
    response = Response(out.getvalue(), media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="{csv_filename(station, listing)}"'})
    finish(request, response, runtime)
    return response


# --- one payment ---------------------------------------------------------------------------------------------------


def refundable_cents(payment: PaymentDetail) -> int:
    """What the page offers; the refund command checks it again under the payment's lock."""
    if payment.status is not PaymentStatus.succeeded:
        return 0
    return max(0, payment.amount_cents - payment.refunded_cents)


@router.get("/admin/payments/{payment_id}", response_class=HTMLResponse)
async def payment_page(payment_id: PathId, request: Request, principal: Staff, session: DbSession,
                       runtime: RuntimeDep) -> Response:
    try:
        payment = await queries.payment_detail(session, principal, payment_id)
    except (PermissionDenied, NotFound) as exc:
        return await refusal_page(request, runtime, session, principal, exc)
    station = await get_station(session, payment.station_id)
    zone = ZoneInfo(station.timezone)
    return await admin_page(
        request, runtime, session, principal, "payments/detail.html", title=f"Payment {payment.id}",
        station=station, payment=payment, refundable=refundable_cents(payment),
        done=DONE.get(request.query_params.get("done", "")), when=lambda moment: local_time(moment, zone))


# --- refunds -------------------------------------------------------------------------------------------------------


def parse_cents(text: str) -> int | None:
    """'25', '25.5', '$1,025.00' → cents; None when it is not an amount of money."""
    try:
        amount = Decimal(text.strip().removeprefix("$").replace(",", ""))
        if not amount.is_finite() or amount != amount.quantize(Decimal("0.01")):
            return None
    except InvalidOperation:
        return None
    return int(amount * 100)


def refund_request(form: dict[str, str]) -> RefundCreate:
    """The form as the refund command's input; bad input raises ValidationFailed naming the form's fields."""
    cents = parse_cents(form.get("amount", ""))
    if cents is None or cents < 1:
        raise ValidationFailed.on("amount", AMOUNT_HINT)
    try:
        return RefundCreate(amount_cents=cents, reason=form.get("reason", ""))
    except ValidationError as exc:
        errors = field_errors(exc, {"amount_cents": "amount"})
        if "amount" in errors:
            errors["amount"] = f"At most {decimal_amount(10_000_000)} can be refunded at once."
        raise ValidationFailed("Please check the amount and the reason.", errors=[
            FieldError(field=name, message=message, type="value_error") for name, message in errors.items()]
        ) from None


async def _refund_page(request: Request, runtime: Any, session: Any, principal: Principal, payment_id: int, *,
                       values: dict[str, str] | None = None, errors: dict[str, str] | None = None,
                       alert: str | None = None, status: int = 200) -> Response:
    try:
        payment = await queries.payment_detail(session, principal, payment_id)
        principal.authorize(Permission.payments_refund, payment.station_id, missing="No such payment.")
    except (PermissionDenied, NotFound) as exc:
        return await refusal_page(request, runtime, session, principal, exc)
    station = await get_station(session, payment.station_id)
    refundable = refundable_cents(payment)
    shown = values if values is not None else {"amount": decimal_amount(refundable) if refundable else ""}
    return await admin_page(request, runtime, session, principal, "payments/refund.html",
                            title=f"Refund payment {payment.id}", status=status, station=station, payment=payment,
                            refundable=refundable, values=shown, errors=errors or {}, alert=alert,
                            to_card=payment.method is PaymentMethod.card)


@router.get("/admin/payments/{payment_id}/refund", response_class=HTMLResponse)
async def refund_form(payment_id: PathId, request: Request, principal: Staff, session: DbSession,
                      runtime: RuntimeDep) -> Response:
    return await _refund_page(request, runtime, session, principal, payment_id)


@router.post("/admin/payments/{payment_id}/refund", response_class=HTMLResponse)
async def refund(payment_id: PathId, request: Request, principal: Staff, session: DbSession,
                 runtime: RuntimeDep) -> Response:
    try:
        form = await checked_form(request)
    except FormRejected as rejected:
        return await _refund_page(request, runtime, session, principal, payment_id, values=rejected.form,
                                  alert=rejected.message, status=rejected.status)
    if form.get("go") != "confirm":
        return await _refund_page(request, runtime, session, principal, payment_id, values=form)
    try:
        body = refund_request(form)
        await commands.refund_payment(session, runtime.settings, card_gateway(runtime.settings), principal,
                                      payment_id, body)
    except DomainError as exc:
        await discard_changes(session)
        if isinstance(exc, PermissionDenied | NotFound):
            return await refusal_page(request, runtime, session, principal, exc)
        return await _refund_page(request, runtime, session, principal, payment_id, values=form,
                                  errors=field_errors(exc, {"amount_cents": "amount"}) if exc.errors else {},
                                  alert=exc.detail, status=exc.status)
    return RedirectResponse(f"/admin/payments/{payment_id}?done=refunded", status_code=303)
