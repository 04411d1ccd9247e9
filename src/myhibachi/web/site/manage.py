"""The customer's "manage my booking" pages at `/manage/<token>`: see the booking, change the party, move it or
cancel it. Forms that work without JavaScript, calling the same commands and showing the same terms as the JSON
API at `/api/v1/manage/<token>`: every rule lives in the bookings domain; these routes read the form, call it and
render what it answers. A change is previewed first and happens only when confirmed; the terms shown are carried
along, so the customer never confirms terms that changed while they were reading."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from myhibachi.bookings import commands, queries
from myhibachi.bookings.commands import CUSTOMER, SlotUnavailable
from myhibachi.bookings.models import Booking
from myhibachi.bookings.schemas import ManageView, OptionalReason, Reschedule
from myhibachi.core.db import utcnow
from myhibachi.core.errors import DomainError, NotFound
from myhibachi.core.web import DbSession, RuntimeDep, discard_changes
from myhibachi.payments.commands import report_payment_sent
from myhibachi.payments.queries import payment_options
from myhibachi.payments.schemas import PaymentSent
from myhibachi.pricing.queries import get_rules
from myhibachi.pricing.quote import Quote, menu_choices
from myhibachi.pricing.rules import BusinessRules
from myhibachi.stations.models import Station
from myhibachi.stations.queries import get_station
from myhibachi.web.booking_changes import (
    calendar_for,
    check_fields,
    chosen_time,
    confirmed_change,
    current_party,
    planned_change,
    posted_party,
    protein_fields,
    when_values,
)
from myhibachi.web.fields import day_of
from myhibachi.web.forms import FormRejected, checked_form, field_errors, hidden_fields
from myhibachi.web.site.calendar import navigate, slot_errors
from myhibachi.web.site.common import clock, missing_page, page

router = APIRouter(include_in_schema=False)
TOKEN = re.compile(r"[A-Za-z0-9_-]{20,100}")  # the API's pattern: anything else is an unknown booking
STATUS_WORDS = {
    "pending_deposit": "Held for you: the date is yours once the deposit is paid.",
    "confirmed": "Confirmed.",
    "completed": "Completed. Thank you!",
    "no_show": "Marked as a no-show.",
    "cancelled": "Cancelled.",
    "expired": "Expired: the hold lapsed before the deposit arrived.",
}
DONE = {
    "party": "Your party has been changed; the new price is below.",
    "rescheduled": "Your booking has been moved; the new date and time are below. We have emailed you too.",
    "cancelled": "Your booking has been cancelled. We have emailed you the details.",
    "payment_sent": "Thank you! We have told our team your payment is on its way. Nothing more to do: we will "
                    "confirm your booking by email once it arrives.",
}


@dataclass
class Managed:
    """A booking opened by its manage link, and what its pages show."""

    token: str
    booking: Booking
    station: Station
    rules: BusinessRules
    view: ManageView

    @property
    def url(self) -> str:
        return f"/manage/{self.token}"


async def _managed(session: Any, token: str) -> Managed | None:
    """The booking behind a well-formed, known token; None for anything else."""
    if not TOKEN.fullmatch(token):
        return None
    try:
        booking = await commands.booking_for_token(session, token)
    except NotFound:
        return None
    station = await get_station(session, booking.station_id)
    return Managed(token, booking, station, await get_rules(session, station.id),
                   await queries.manage_view(session, booking))


async def _reloaded(session: Any, token: str) -> Managed:
    """After `discard_changes`: the rollback expired what was loaded, so load it again."""
    managed = await _managed(session, token)
    if managed is None:  # it was found a moment ago and tokens are never deleted
        raise NotFound("This link is not valid. Check the latest email we sent you.")
    return managed


def _when(moment: datetime) -> str:
    """A local moment as customers read it: Thursday, December 10, 2026 at 6:00 PM."""
    return f"{moment:%A, %B} {moment.day}, {moment.year} at {clock(f'{moment:%H:%M}')}"


def _errors_of(exc: DomainError) -> dict[str, str]:
    return field_errors(exc) if exc.errors else {}


def _render(request: Request, runtime: Any, m: Managed, template: str, title: str, *, status: int = 200,
            **context: Any) -> HTMLResponse:
    zone = ZoneInfo(m.view.timezone)
    context = {"message": None, "errors": {}, "values": {}, **context}
    return page(request, runtime, f"manage/{template}", title=f"{title} — {runtime.settings.brand_name}",
                description="Your hibachi booking: see it, change it, move it or cancel it.", status=status,
                view=m.view, token=m.token, currency=m.view.quote.currency, when=_when,
                local=lambda moment: moment.astimezone(zone), **context)


# --- the booking ---------------------------------------------------------------------------------------------------


async def _view_page(request: Request, runtime: Any, session: Any, m: Managed, *, status: int = 200,
                     message: str | None = None, values: dict[str, str] | None = None,
                     errors: dict[str, str] | None = None) -> HTMLResponse:
    is_open = m.view.status.is_open
    return _render(request, runtime, m, "view.html", f"Your booking {m.view.reference}", status=status,
                   notice=DONE.get(request.query_params.get("done", "")), status_words=STATUS_WORDS,
                   is_open=is_open, can_pay=is_open and m.view.balance_due_cents > 0, message=message,
                   values=values or {}, errors=errors or {},
                   options=await payment_options(session, runtime.settings, m.booking))


@router.get("/manage/{token}", response_class=HTMLResponse)
async def view_booking(token: str, request: Request, session: DbSession, runtime: RuntimeDep) -> HTMLResponse:
    m = await _managed(session, token)
    if m is None:
        return await missing_page(request, runtime, session)
    return await _view_page(request, runtime, session, m)


# --- "I've sent it" ------------------------------------------------------------------------------------------------


@router.get("/manage/{token}/payment-sent", response_class=HTMLResponse)
async def payment_sent_page(token: str, request: Request, session: DbSession, runtime: RuntimeDep) -> Response:
    """The form lives on the booking's page (a reload of a refused post lands here)."""
    if await _managed(session, token) is None:
        return await missing_page(request, runtime, session)
    return RedirectResponse(f"/manage/{token}", status_code=303)


@router.post("/manage/{token}/payment-sent", response_class=HTMLResponse)
async def payment_sent(token: str, request: Request, session: DbSession, runtime: RuntimeDep) -> Response:
    """The customer says a Zelle, Venmo or other payment is on its way: the payments domain stores it and tells the
    staff. A refusal (the booking no longer awaits its deposit, too many tries) shows the booking page again with
    why and what was typed."""
    m = await _managed(session, token)
    if m is None:
        return await missing_page(request, runtime, session)
    try:
        form = await checked_form(request, runtime)
    except FormRejected as rejected:
        return await _view_page(request, runtime, session, m, status=rejected.status, message=rejected.message,
                                values=_sent_values(rejected.form))
    values = _sent_values(form)
    try:
        body = PaymentSent.model_validate({"method": values["method"], "reference": values["reference"] or None})
    except ValidationError as exc:
        errors = field_errors(exc)
        return await _view_page(request, runtime, session, m, status=422, values=values, errors=errors,
                                message=check_fields(errors))
    try:
        await report_payment_sent(session, runtime.settings, m.booking.id, body)
    except DomainError as exc:
        await discard_changes(session)
        m = await _reloaded(session, token)
        return await _view_page(request, runtime, session, m, status=exc.status, message=exc.detail, values=values)
    return RedirectResponse(f"{m.url}?done=payment_sent", status_code=303)


def _sent_values(form: dict[str, str]) -> dict[str, str]:
    return {"method": form.get("method", "")[:20], "reference": form.get("reference", "")[:200]}


# --- guests and menu -----------------------------------------------------------------------------------------------


def _party_page(request: Request, runtime: Any, m: Managed, values: dict[str, str], *, quote: Quote | None = None,
                status: int = 200, message: str | None = None, errors: dict[str, str] | None = None) -> HTMLResponse:
    return _render(request, runtime, m, "party.html", f"Change guests or menu — booking {m.view.reference}",
                   status=status, values=values, errors=errors or {}, message=message, quote=quote,
                   catalog=menu_choices(m.rules), proteins=protein_fields(m.rules, values),
                   carried=hidden_fields(values) if quote else [])


@router.get("/manage/{token}/party", response_class=HTMLResponse)
async def party_form(token: str, request: Request, session: DbSession, runtime: RuntimeDep) -> HTMLResponse:
    m = await _managed(session, token)
    if m is None:
        return await missing_page(request, runtime, session)
    return _party_page(request, runtime, m, current_party(m.rules, m.booking))


@router.post("/manage/{token}/party", response_class=HTMLResponse)
async def change_party(token: str, request: Request, session: DbSession, runtime: RuntimeDep) -> Response:
    """`go=preview` prices the change; `go=confirm` makes it (if the price is still the one previewed)."""
    m = await _managed(session, token)
    if m is None:
        return await missing_page(request, runtime, session)
    try:
        form = await checked_form(request, runtime)
    except FormRejected as rejected:
        return _party_page(request, runtime, m, posted_party(m.rules, m.booking, rejected.form),
                           status=rejected.status, message=rejected.message)
    values = posted_party(m.rules, m.booking, form)
    go = form.get("go", "preview")
    if go == "edit":
        return _party_page(request, runtime, m, values)
    quote = None
    try:
        if go != "confirm":
            _, quote = planned_change(m.rules, m.booking, values, utcnow())
            return _party_page(request, runtime, m, values, quote=quote)
        change = confirmed_change(m.rules, m.booking, values, utcnow(), form.get("total_cents"))
        await commands.change_party(session, runtime.settings, CUSTOMER, m.booking.id, change)
    except DomainError as exc:
        await discard_changes(session)
        m = await _reloaded(session, token)
        return _party_page(request, runtime, m, values, status=exc.status, message=exc.detail,
                           errors=_errors_of(exc))
    return RedirectResponse(f"{m.url}?done=party", status_code=303)


# --- rescheduling --------------------------------------------------------------------------------------------------


async def _reschedule_page(request: Request, runtime: Any, session: Any, m: Managed, values: dict[str, str], *,
                           preview: bool = False, status: int = 200, message: str | None = None,
                           errors: dict[str, str] | None = None) -> HTMLResponse:
    cal = None if preview else await calendar_for(session, m.station, m.rules, m.booking, values)
    return _render(request, runtime, m, "reschedule.html", f"Reschedule booking {m.view.reference}",
                   status=status, values=values, errors=errors or {}, message=message, cal=cal, preview=preview,
                   chosen_day=day_of(values.get("event_date")))


@router.get("/manage/{token}/reschedule", response_class=HTMLResponse)
async def reschedule_form(token: str, request: Request, session: DbSession, runtime: RuntimeDep) -> HTMLResponse:
    m = await _managed(session, token)
    if m is None:
        return await missing_page(request, runtime, session)
    return await _reschedule_page(request, runtime, session, m, {})


@router.post("/manage/{token}/reschedule", response_class=HTMLResponse)
async def reschedule(token: str, request: Request, session: DbSession, runtime: RuntimeDep) -> Response:
    """`go` is a month or a day of the calendar, `preview` (the terms of the chosen time) or `confirm`."""
    m = await _managed(session, token)
    if m is None:
        return await missing_page(request, runtime, session)
    try:
        form = await checked_form(request, runtime)
    except FormRejected as rejected:
        values = when_values(rejected.form)
        return await _reschedule_page(request, runtime, session, m, values, status=rejected.status,
                                      message=rejected.message)
    values = when_values(form)
    go = form.get("go", "preview")
    if go.startswith(("month:", "day:")):
        navigate(values, go)
        return await _reschedule_page(request, runtime, session, m, values)
    if go == "confirm":
        return await _move(request, runtime, session, m, values, form.get("fee_cents"))
    if not (terms := m.view.actions.reschedule).allowed:
        return await _reschedule_page(request, runtime, session, m, values, status=409, message=terms.message)
    if errors := await slot_errors(values, lambda _day: calendar_for(session, m.station, m.rules, m.booking, values)):
        return await _reschedule_page(request, runtime, session, m, values, status=422, errors=errors)
    return await _reschedule_page(request, runtime, session, m, values, preview=True)


async def _move(request: Request, runtime: Any, session: Any, m: Managed, values: dict[str, str],
                fee_previewed: str | None) -> Response:
    """Moves the booking unless the fee changed since the preview. Whether the time is still free is the
    command's to say (under its locks): a time taken meanwhile goes back to the calendar."""
    terms = m.view.actions.reschedule
    try:
        body = chosen_time(values, fee_previewed, terms.fee_cents, terms.allowed, terms.message)
    except DomainError as exc:
        return await _reschedule_page(request, runtime, session, m, values, preview=exc.status == 409,
                                      status=exc.status, errors=_errors_of(exc), message=exc.detail)
    try:
        await commands.reschedule_booking(session, runtime.settings, CUSTOMER, m.booking.id,
                                          event_date=body.event_date, slot_time=body.slot_time)
    except DomainError as exc:
        await discard_changes(session)
        m = await _reloaded(session, m.token)
        if isinstance(exc, SlotUnavailable):
            values.pop("slot_time", None)
            return await _reschedule_page(request, runtime, session, m, values, status=409,
                                          message=f"Sorry — {_when_text(body)} has just been taken. "
                                                  "Here are the times still free.")
        return await _reschedule_page(request, runtime, session, m, values, status=exc.status, message=exc.detail,
                                      errors=_errors_of(exc))
    return RedirectResponse(f"{m.url}?done=rescheduled", status_code=303)


def _when_text(body: Reschedule) -> str:
    day = body.event_date
    return f"{day:%A, %B} {day.day} at {clock(body.slot_time)}"


# --- cancelling ----------------------------------------------------------------------------------------------------


def _cancel_page(request: Request, runtime: Any, m: Managed, values: dict[str, str], *, status: int = 200,
                 message: str | None = None, errors: dict[str, str] | None = None) -> HTMLResponse:
    return _render(request, runtime, m, "cancel.html", f"Cancel booking {m.view.reference}", status=status,
                   values=values, errors=errors or {}, message=message)


@router.get("/manage/{token}/cancel", response_class=HTMLResponse)
async def cancel_form(token: str, request: Request, session: DbSession, runtime: RuntimeDep) -> HTMLResponse:
    m = await _managed(session, token)
    if m is None:
        return await missing_page(request, runtime, session)
    return _cancel_page(request, runtime, m, {})


@router.post("/manage/{token}/cancel", response_class=HTMLResponse)
async def cancel(token: str, request: Request, session: DbSession, runtime: RuntimeDep) -> Response:
    """Cancels on the terms the page showed: if the refund changed meanwhile, the new terms are shown first."""
    m = await _managed(session, token)
    if m is None:
        return await missing_page(request, runtime, session)
    try:
        form = await checked_form(request, runtime)
    except FormRejected as rejected:
        return _cancel_page(request, runtime, m, {"reason": rejected.form.get("reason", "")[:2000]},
                            status=rejected.status, message=rejected.message)
    values = {"reason": form.get("reason", "")[:2000]}
    terms = m.view.actions.cancel
    if terms.allowed and form.get("refund_cents") != str(terms.refund_cents):
        return _cancel_page(request, runtime, m, values, status=409,
                            message=f"The terms have changed since you opened this page: {terms.message} "
                                    "Please read them again before cancelling.")
    try:
        body = OptionalReason.model_validate({"reason": values["reason"] or None})
    except ValidationError as exc:
        errors = field_errors(exc)
        return _cancel_page(request, runtime, m, values, status=422, message=check_fields(errors), errors=errors)
    try:
        await commands.cancel_booking(session, runtime.settings, CUSTOMER, m.booking.id, reason=body.reason)
    except DomainError as exc:
        await discard_changes(session)
        m = await _reloaded(session, token)
        return _cancel_page(request, runtime, m, values, status=exc.status, message=exc.detail)
    return RedirectResponse(f"{m.url}?done=cancelled", status_code=303)
