"""Admin pages: payments of the chosen station (filters, keyset pages, CSV export), one payment with its refunds
and Stripe events, and a refund with its confirmation — all through the payments domain's queries and commands."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any, TypeVar
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from myhibachi.auth.permissions import Permission
from myhibachi.auth.principal import Principal
from myhibachi.core.errors import FieldError, ValidationFailed
from myhibachi.core.money import format_money
from myhibachi.core.web import PathId
from myhibachi.payments import commands, queries
from myhibachi.payments.gateway import card_gateway
from myhibachi.payments.models import PaymentMethod, PaymentStatus
from myhibachi.payments.schemas import PaymentDetail, PaymentRead, RefundCreate
from myhibachi.stations.models import Station
from myhibachi.stations.queries import get_station
from myhibachi.web.admin.pages import AdminVisit, Trouble, Visit, form_state, submit
from myhibachi.web.fields import day_of, dollars, positive_cents
from myhibachi.web.forms import field_errors

router = APIRouter(include_in_schema=False)
E = TypeVar("E", PaymentMethod, PaymentStatus)
PAGE_SIZE = 50
CSV_BATCH, CSV_MAX_ROWS = 200, 50_000  # an export walks the keyset pages; the cap keeps one request bounded
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # what a spreadsheet would run as a formula
DONE = {"refunded": "The refund is recorded; the customer is told by email."}


METHOD_WORDS = {PaymentMethod.card: "card", PaymentMethod.cash: "cash", PaymentMethod.zelle: "Zelle",
                PaymentMethod.venmo: "Venmo", PaymentMethod.check: "check"}


def method_words(method: PaymentMethod | str) -> str:
    return METHOD_WORDS.get(method, str(method))  # type: ignore[call-overload]  # a method's value finds it too


def payment_title(payment: PaymentRead) -> str:
    """A payment as people name it: "$100.00 Zelle payment of MH-7K3Q9D"."""
    return (f"{format_money(payment.amount_cents, payment.currency)} {method_words(payment.method)} payment of "
            f"{payment.booking_reference}")


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
    start, end = day_of(q.get("from")), day_of(q.get("to"))
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


@router.get("/admin/payments", response_class=HTMLResponse)
async def payments_list(visit: AdminVisit) -> Response:
    station = await visit.chosen()
    if station is None:
        return await visit.page("payments/list.html", title="Payments", station=None)
    listing = read_listing(visit.request)
    payments, next_cursor = await _page_of_payments(visit.session, visit.principal, station, listing, PAGE_SIZE)
    params = listing.params(station)
    zone = ZoneInfo(station.timezone)
    return await visit.page(
        "payments/list.html", title="Payments", station=station, payments=payments, listing=listing,
        methods=list(PaymentMethod), statuses=list(PaymentStatus), csv_href="/admin/payments.csv?" + urlencode(params),
        next_href=f"/admin/payments?{urlencode({**params, 'cursor': next_cursor})}" if next_cursor else None,
        first_href=f"/admin/payments?{urlencode(params)}" if listing.cursor else None,
        when=lambda moment: local_time(moment, zone), zone=station.timezone, payment_title=payment_title,
        method_words=method_words)


# --- CSV ------------------------------------------------------------------------------------------------------------


CSV_HEADER = ["payment_id", "created_local", "succeeded_local", "booking_reference", "purpose", "method", "status",
              "amount", "amount_cents", "refunded", "refunded_cents", "currency", "reference"]


def safe_cell(value: object) -> object:
    """A text cell a spreadsheet would run as a formula gets a leading quote (CSV injection)."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_row(payment: PaymentRead, zone: ZoneInfo) -> list[object]:
    def iso(moment: datetime | None) -> str:
        return "" if moment is None else moment.astimezone(zone).isoformat(timespec="seconds")

    row: list[object] = [
        payment.id, iso(payment.created_at), iso(payment.succeeded_at), payment.booking_reference,
        payment.purpose.value, payment.method.value, payment.status.value, dollars(payment.amount_cents),
        payment.amount_cents, dollars(payment.refunded_cents), payment.refunded_cents, payment.currency,
        payment.reference or ""]
    return [safe_cell(cell) for cell in row]


def csv_filename(station: Station, listing: Listing) -> str:
    parts = ["payments", station.code.lower()]
    if listing.date_from:
        parts.append(listing.date_from.isoformat())
    if listing.date_to:
        parts.append(listing.date_to.isoformat())
    return "-".join(parts) + ".csv"


async def csv_text(session: Any, principal: Principal, station: Station, listing: Listing) -> str:
    """Every payment the listing's filters match, page after page, up to CSV_MAX_ROWS."""
    zone = ZoneInfo(station.timezone)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    written = 0
    while written < CSV_MAX_ROWS:
        batch, cursor = await _page_of_payments(session, principal, station, listing, CSV_BATCH)
        writer.writerows(csv_row(payment, zone) for payment in batch)
        written += len(batch)
        if cursor is None:
            break
        listing = replace(listing, cursor=cursor)
    return out.getvalue()


@router.get("/admin/payments.csv")
async def payments_csv(visit: AdminVisit) -> Response:
    """Every payment the list's filters match (not only the page on screen), times in the station's zone."""
    station = await visit.station()
    listing = replace(read_listing(visit.request), cursor=None)
    return visit.send(Response(
        await csv_text(visit.session, visit.principal, station, listing), media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{csv_filename(station, listing)}"'}))


# --- one payment ---------------------------------------------------------------------------------------------------


def refundable_cents(payment: PaymentDetail) -> int:
    """What the page offers; the refund command checks it again under the payment's lock."""
    if payment.status is not PaymentStatus.succeeded:
        return 0
    return max(0, payment.amount_cents - payment.refunded_cents)


@router.get("/admin/payments/{payment_id}", response_class=HTMLResponse)
async def payment_page(payment_id: PathId, visit: AdminVisit) -> Response:
    payment = await queries.payment_detail(visit.session, visit.principal, payment_id)
    station = await get_station(visit.session, payment.station_id)
    zone = ZoneInfo(station.timezone)
    return await visit.page("payments/detail.html", title=payment_title(payment), station=station, payment=payment,
                            refundable=refundable_cents(payment), done=visit.notice(DONE),
                            can_refund=queries.may_refund(visit.principal, payment.station_id),
                            when=lambda moment: local_time(moment, zone), payment_title=payment_title,
                            method_words=method_words)


# --- refunds -------------------------------------------------------------------------------------------------------
# A refund is asked for (amount, reason), then previewed in a sentence, then confirmed: nothing is pre-filled, and
# every sum is said in dollars. The booking's refund page (web/admin/bookings/money.py) takes the same steps.

CENTS_IN_TEXT = re.compile(r"\b([0-9]+) cents\b")
MOST_AT_ONCE = 10_000_000  # RefundCreate's limit, in cents


def cents_in_words(text: str, currency: str) -> str:
    """The domain counts in cents ("At most 7954 cents ..."); people read money ("At most $79.54 ...")."""
    return CENTS_IN_TEXT.sub(lambda match: format_money(int(match.group(1)), currency), text)


def in_dollars(trouble: Trouble | None, currency: str) -> Trouble | None:
    if trouble is None:
        return None
    return Trouble(trouble.status, cents_in_words(trouble.message, currency),
                   {name: cents_in_words(text, currency) for name, text in trouble.errors.items()}, trouble.code,
                   trouble.expired)


def refund_request(form: dict[str, str], method: str | None = None) -> RefundCreate:
    """The form as the refund command's input (`method`: how the money goes back, when the form asks); bad input
    raises ValidationFailed naming the form's fields."""
    cents = positive_cents(form, "amount")
    try:
        return RefundCreate.model_validate({"amount_cents": cents, "reason": form.get("reason", ""),
                                            "method": method})
    except ValidationError as exc:
        errors = field_errors(exc, {"amount_cents": "amount"})
        if "amount" in errors:
            errors["amount"] = f"At most {format_money(MOST_AT_ONCE)} can be refunded at once."
        if "reason" in errors:
            errors["reason"] = "Please say why (at most 500 characters): the customer reads it in the email."
        raise ValidationFailed("Please check the amount and the reason.", errors=[
            FieldError(field=name, message=message, type="value_error") for name, message in errors.items()]
        ) from None


def refund_sentence(payment: PaymentRead, data: RefundCreate) -> str:
    """What confirming will do, in one sentence: "Refund $40.00 of the $100.00 Zelle payment to the customer by
    cash; they will be emailed." """
    how = "to the customer's card through Stripe" if payment.method is PaymentMethod.card else \
        f"to the customer by {method_words(data.method or payment.method)}"
    return (f"Refund {format_money(data.amount_cents, payment.currency)} of the "
            f"{format_money(payment.amount_cents, payment.currency)} {method_words(payment.method)} payment {how}; "
            "they will be emailed.")


def planned_refund(payment: PaymentRead, form: dict[str, str], method: str | None = None) -> RefundCreate:
    """The refund the form asks for, if the payments domain would make it (its own check, said in cents: show the
    refusal `in_dollars`)."""
    data = refund_request(form, method)
    if problem := commands.refund_problem(payment.status.value, payment.amount_cents, payment.refunded_cents,
                                          data.amount_cents):
        raise problem
    return data


async def _refund_page(visit: Visit, payment_id: int, form: dict[str, str] | None = None,
                       trouble: Trouble | None = None, planned: RefundCreate | None = None) -> Response:
    """The refund form (empty, or as posted with what was wrong), or its preview before the confirmation."""
    payment = await queries.payment_detail(visit.session, visit.principal, payment_id)
    visit.principal.authorize(Permission.payments_refund, payment.station_id, missing="No such payment.")
    station = await get_station(visit.session, payment.station_id)
    values = {"amount": (form or {}).get("amount", "")[:20], "reason": (form or {}).get("reason", "")[:500]}
    return await visit.page("payments/refund.html", title=f"Refund the {payment_title(payment)}", station=station,
                            payment=payment, title_words=payment_title(payment), refundable=refundable_cents(payment),
                            values=values, **form_state(in_dollars(trouble, payment.currency)),
                            to_card=payment.method is PaymentMethod.card, planned=planned,
                            sentence=refund_sentence(payment, planned) if planned else None,
                            method_words=method_words)


@router.get("/admin/payments/{payment_id}/refund", response_class=HTMLResponse)
async def refund_form(payment_id: PathId, visit: AdminVisit) -> Response:
    return await _refund_page(visit, payment_id)


@router.post("/admin/payments/{payment_id}/refund", response_class=HTMLResponse)
async def refund(payment_id: PathId, visit: AdminVisit) -> Response:
    """`go=preview` (the form's button) says what the refund will do; `go=confirm` makes it; anything else shows
    the form again, as typed."""
    async def act(form: dict[str, str]) -> str | Response:
        go = form.get("go")
        if go not in ("preview", "confirm"):
            return await _refund_page(visit, payment_id, form)
        payment = await queries.refundable_payment(visit.session, visit.principal, payment_id)  # refund's check first
        data = planned_refund(payment, form)
        if go == "preview":
            return await _refund_page(visit, payment_id, form, planned=data)
        settings = visit.runtime.settings
        await commands.refund_payment(visit.session, settings, card_gateway(settings), visit.principal, payment_id,
                                      data)
        return f"/admin/payments/{payment_id}?done=refunded"

    return await submit(visit, act=act, show=lambda form, trouble: _refund_page(visit, payment_id, form, trouble),
                        names={"amount_cents": "amount"})
