"""The booking flow at `/book`: party and menu → date and time → venue and contact → review → deposit.

Stateless between steps: what earlier steps entered travels along as hidden fields, so Back and Next keep it,
a reload loses nothing, and it works without JavaScript (htmx only refreshes the live quote). Each step is
checked when it is left; the booking itself is made by the same command as `POST /api/v1/bookings`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from myhibachi.bookings import commands
from myhibachi.bookings.commands import SlotUnavailable
from myhibachi.bookings.schemas import BookingCreate
from myhibachi.consent.commands import ask_marketing_consent
from myhibachi.consent.models import ConsentSource
from myhibachi.core.errors import DomainError, RateLimited
from myhibachi.core.money import format_money
from myhibachi.core.security import new_opaque_token
from myhibachi.core.web import DbSession, RuntimeDep, discard_changes
from myhibachi.leads.commands import mark_flow_booked, record_flow_details
from myhibachi.leads.schemas import FlowDetails
from myhibachi.pricing.quote import MENU_GROUPS, ORDER_CHOICES, PROTEINS, Quote, menu_catalog, menu_choices
from myhibachi.pricing.rules import BusinessRules
from myhibachi.pricing.schemas import QuoteRequest
from myhibachi.stations.schemas import StationPublic
from myhibachi.web.booking_changes import protein_fields
from myhibachi.web.fields import day_of, time_of, whole_number
from myhibachi.web.forms import FormRejected, checked_form, field_errors, hidden_fields
from myhibachi.web.site.calendar import MonthOfSlots, month_of_slots, navigate, slot_errors, time_span
from myhibachi.web.site.common import VISITOR, clock, page
from myhibachi.web.site.party import ZIP_HINT, Venue, count_quote, price_party_form, settled, venue_station

router = APIRouter(include_in_schema=False)
BOOKING_COOKIE = "mh_booking"

STEPS = (("party", "Party and menu"), ("when", "Date and time"), ("details", "Venue and contact"),
         ("review", "Review"), ("deposit", "Deposit"))
STEP_NAMES = tuple(name for name, _ in STEPS[:4])
PARTY_FIELDS = ("station_id", "zip_code", "adults", "children", "toddlers")
WHEN_FIELDS = ("event_date", "slot_time")
DETAIL_FIELDS = ("venue_line1", "venue_line2", "venue_city", "venue_state", "name", "email", "phone", "allergies",
                 "notes", "occasion", "news")
NEWS_WANTED = "yes"  # the details step's "Send me news and offers" box, unticked until the visitor ticks it
# BookingCreate's locations -> the form's field names.
FORM_NAMES = {"venue.line1": "venue_line1", "venue.line2": "venue_line2", "venue.city": "venue_city",
              "venue.state": "venue_state", "venue.zip_code": "zip_code", "customer.name": "name",
              "customer.email": "email", "customer.phone": "phone"}


@dataclass
class Draft:
    """The visitor's booking so far: the form's fields, and the station (the one that serves the venue's ZIP code)
    and rules they point at."""

    values: dict[str, str]
    venue: Venue
    errors: dict[str, str] = field(default_factory=dict)
    quote: Quote | None = None

    @property
    def station(self) -> StationPublic | None:
        return self.venue.station

    @property
    def rules(self) -> BusinessRules | None:
        return self.venue.rules

    def menu(self, group: str) -> dict[str, int]:
        prefix = f"{group}."
        return {name.removeprefix(prefix): count for name, qty in self.values.items()
                if name.startswith(prefix) and (count := whole_number(qty))}

    @property
    def guests(self) -> int:
        return sum(whole_number(self.values.get(n)) or 0 for n in ("adults", "children", "toddlers")) or 1


async def _draft(request: Request, session: Any, form: dict[str, str]) -> Draft:
    venue = await venue_station(request, session, form.get("zip_code"))
    names = {*PARTY_FIELDS, *WHEN_FIELDS, *DETAIL_FIELDS, "month"}
    if venue.rules:
        names |= {f"{group}.{code}" for group, items in menu_catalog(venue.rules).items() for code in items}
        names |= {f"{PROTEINS}.{code}" for code in venue.rules.base_proteins}
    values = {name: value[:2000] for name, value in form.items() if name in names}
    if venue.station:
        values["station_id"] = str(venue.station.id)
    return Draft(values=values, venue=venue)


def _quote_request(draft: Draft) -> QuoteRequest:
    data: dict[str, Any] = {name: draft.values[name] for name in PARTY_FIELDS if draft.values.get(name)}
    return QuoteRequest.model_validate({"children": 0, "toddlers": 0, **data,
                                        **{group: draft.menu(group) for group in ORDER_CHOICES}}, strict=False)


async def _price(session: Any, draft: Draft) -> dict[str, str]:
    """Prices the party (sets `draft.quote`); the errors beside the party fields."""
    draft.quote, errors = await price_party_form(session, draft.venue, draft.values,
                                                 {group: draft.menu(group) for group in ORDER_CHOICES})
    return errors


def _hours(hours: int) -> str:
    days = f" ({hours // 24} days)" if hours >= 48 and hours % 24 == 0 else ""
    return f"{hours} hour{'s' if hours != 1 else ''}{days}"


def booking_terms(rules: BusinessRules) -> list[tuple[str, str]]:
    """What holding the date commits the customer to, a complete sentence each, every number from the station's
    rules (shown on the review step, the moment of commitment)."""
    def money(cents: int) -> str:
        return format_money(cents, rules.currency)

    deposit, fee = money(rules.deposit_cents), money(rules.reschedule_fee_cents)
    reschedule = (f"Your first move is free when you ask at least {_hours(rules.free_reschedule_min_hours)} before "
                  f"the start; any other move adds a {fee} fee to your balance." if rules.reschedule_fee_cents
                  else "Moving your party to another free date and time costs nothing.")
    return [
        ("Hold", f"Holding the date keeps a chef for you for {_hours(rules.hold_hours)}: pay the {deposit} deposit "
                 "within that time or the hold lapses and the time goes back on offer. The deposit counts towards "
                 "your total; the rest is paid at the event."),
        ("Cancel", f"Cancel at least {_hours(rules.deposit_refund_min_hours)} before the start and everything you "
                   f"paid is refunded; cancel later and the {deposit} deposit is kept, anything paid beyond it "
                   "refunded."),
        ("Reschedule", reschedule),
        ("Changes", f"Change the number of guests until {_hours(rules.guest_change_min_hours)} before the start, and "
                    f"the menu until {_hours(rules.menu_change_min_hours)} before, from the link in your "
                    "confirmation email."),
    ]


def _booking_request(draft: Draft) -> BookingCreate:
    v = draft.values
    return BookingCreate.model_validate({
        **_quote_request(draft).model_dump(), "event_date": v.get("event_date"), "slot_time": v.get("slot_time"),
        "venue": {"line1": v.get("venue_line1", ""), "line2": v.get("venue_line2") or None,
                  "city": v.get("venue_city", ""), "state": v.get("venue_state", "").upper(),
                  "zip_code": v.get("zip_code")},
        "customer": {"name": v.get("name", ""), "email": v.get("email", ""), "phone": v.get("phone", "")},
        "allergies": v.get("allergies", ""), "notes": v.get("notes") or None,
        "occasion": v.get("occasion") or None}, strict=False)


async def _render(request: Request, runtime: Any, session: Any, draft: Draft, step: str, *, status: int = 200,
                  message: str | None = None) -> HTMLResponse:
    context: dict[str, Any] = {"draft": draft, "values": draft.values, "errors": draft.errors, "step": step,
                               "steps": STEPS, "message": message, "quote": draft.quote,
                               "catalog": menu_catalog(draft.rules) if draft.rules else {},
                               "choices": menu_choices(draft.rules) if draft.rules else {},
                               "proteins": protein_fields(draft.rules, draft.values) if draft.rules else None,
                               "parse_day": day_of, "zip_hint": ZIP_HINT,
                               "menu_open": any(draft.menu(group) for group in MENU_GROUPS)
                               or any(name.split(".")[0] in MENU_GROUPS for name in draft.errors)}
    visible = {"party": {*PARTY_FIELDS, *(n for n in draft.values if n.split(".")[0] in ORDER_CHOICES)},
               "when": {*WHEN_FIELDS, "month"}, "details": set(DETAIL_FIELDS), "review": set()}[step]
    context["carried"] = hidden_fields(draft.values, skip=visible)
    if step == "when" and draft.station and draft.rules:
        chosen = day_of(draft.values.get("event_date"))
        month = day_of(draft.values.get("month", "") + "-01") or chosen
        context["cal"] = await month_of_slots(session, draft.station.id, draft.station.timezone, draft.rules,
                                              draft.guests, month)
        context["chosen_day"] = chosen
        context["times_action"] = "/book"  # a day's button leads to its times (#times), in view
    if step == "review" and draft.station and draft.rules:
        context["terms"] = booking_terms(draft.rules)
        day, slot = day_of(draft.values.get("event_date")), draft.values.get("slot_time", "")
        context["when"] = f"{draft.values.get('event_date', '')} {slot}"  # a hand-edited form: the command refuses it
        if day and time_of(slot):
            span = time_span(day, slot, draft.station.timezone, draft.rules.event_length_minutes(draft.guests))
            context["when"] = f"{day:%A, %B} {day.day}, {day.year}, {span}"
        context["idempotency_key"] = new_opaque_token()
    title = dict(STEPS)[step]
    return page(request, runtime, "book.html", title=f"Book: {title.lower()} — {runtime.settings.brand_name}",
                description="Book a private hibachi chef: party, date, venue, deposit.", status=status, **context)


@router.get("/book", response_class=HTMLResponse)
async def start(request: Request, session: DbSession, runtime: RuntimeDep) -> HTMLResponse:
    """Step one, pre-filled from the quote page's fields when the visitor comes from there."""
    draft = await _draft(request, session, dict(request.query_params))
    if draft.values.get("zip_code") and draft.values.get("adults"):
        draft.errors = settled(draft.values, await _price(session, draft))
        await count_quote(request, runtime, session, draft.quote, draft.venue)
    return await _render(request, runtime, session, draft, "party")


@router.post("/book/quote", response_class=HTMLResponse)
async def live_quote(request: Request, session: DbSession, runtime: RuntimeDep) -> HTMLResponse:
    """The step-one quote as the party is typed in (htmx); changes nothing, so it needs no CSRF token."""
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    # The proteins cost nothing and have their own live check: half-chosen ones must not hide the price.
    draft = await _draft(request, session, {k: v for k, v in form.items() if not k.startswith(f"{PROTEINS}.")})
    errors = settled(draft.values, await _price(session, draft))
    await count_quote(request, runtime, session, draft.quote, draft.venue)
    return page(request, runtime, "book_quote.html", title="", description="", quote=draft.quote, draft=draft,
                values=draft.values, errors=errors, live=True, zip_hint=ZIP_HINT,
                catalog=menu_catalog(draft.rules) if draft.rules else {})


@router.post("/book/proteins", response_class=HTMLResponse)
async def live_protein_check(request: Request, session: DbSession, runtime: RuntimeDep) -> HTMLResponse:
    """The step-one check of the base proteins chosen against the party's entitlement, as they are typed (htmx);
    changes nothing, so it needs no CSRF token."""
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    draft = await _draft(request, session, form)
    check = protein_fields(draft.rules, draft.values).check if draft.rules else None
    return page(request, runtime, "book/proteins_check.html", title="", description="", check=check)


@router.post("/book", response_class=HTMLResponse)
async def advance(request: Request, session: DbSession, runtime: RuntimeDep) -> Response:
    """One button press: `go` is next, back, a month or a day of the calendar; `step` is the step shown."""
    try:
        form = await checked_form(request, runtime)
    except FormRejected as rejected:
        draft = await _draft(request, session, rejected.form)
        step = rejected.form.get("step") if rejected.form.get("step") in STEP_NAMES else "party"
        if await _price(session, draft):
            step = "party"
        return await _render(request, runtime, session, draft, step, status=rejected.status,
                             message=rejected.message)
    draft = await _draft(request, session, form)
    step = form.get("step") if form.get("step") in STEP_NAMES else "party"
    go = form.get("go", "next")
    if step != "party" and (party_errors := await _price(session, draft)):
        draft.errors = party_errors  # changed meanwhile (rules, a hand-edited form): back to the party
        return await _render(request, runtime, session, draft, "party", status=422)
    if step == "details":
        await _keep_details(request, session, draft)
    if go == "back":
        return await _render(request, runtime, session, draft, STEP_NAMES[max(0, STEP_NAMES.index(step) - 1)])
    if go.startswith(("month:", "day:")):  # calendar navigation: nothing to check yet
        navigate(draft.values, go)
        return await _render(request, runtime, session, draft, "when")
    checks = {"party": _price, "when": _leave_when, "details": _leave_details}
    if step in checks:
        draft.errors = await checks[step](session, draft)
        if step == "party":
            await count_quote(request, runtime, session, draft.quote, draft.venue)
        if draft.errors:
            return await _render(request, runtime, session, draft, step, status=422,
                                 message=f"Please check the {len(draft.errors)} field"
                                         f"{'s' if len(draft.errors) > 1 else ''} marked below.")
        return await _render(request, runtime, session, draft, STEP_NAMES[STEP_NAMES.index(step) + 1])
    return await _book(request, runtime, session, draft, form.get("idempotency_key") or None)


async def _leave_when(session: Any, draft: Draft) -> dict[str, str]:
    station, rules = draft.station, draft.rules
    assert station and rules  # a priced draft has both

    async def month_for(day: date) -> MonthOfSlots:
        return await month_of_slots(session, station.id, station.timezone, rules, draft.guests, day)

    return await slot_errors(draft.values, month_for)


async def _leave_details(session: Any, draft: Draft) -> dict[str, str]:
    try:
        _booking_request(draft)
    except ValidationError as exc:
        return {name: message for name, message in field_errors(exc, FORM_NAMES).items() if name in DETAIL_FIELDS}
    return {}


async def _keep_details(request: Request, session: Any, draft: Draft) -> None:
    """The details step left with an email: kept for the visit, so that leaving without booking makes a lead."""
    v = draft.values
    details = FlowDetails.of_typed({"name": v.get("name"), "email": v.get("email"), "phone": v.get("phone"),
                                    "event_date": v.get("event_date"), "guests": draft.guests,
                                    "zip_code": v.get("zip_code")})
    if details is not None and draft.station is not None:
        await record_flow_details(session, VISITOR.read(request), draft.station.id, details)


async def _book(request: Request, runtime: Any, session: Any, draft: Draft, key: str | None) -> Response:
    """Holds the date (the same command as the API), then on to the deposit. A time taken meanwhile goes back to
    the calendar with the times still free."""
    try:
        body = _booking_request(draft)
    except ValidationError as exc:  # a hand-edited review form: show the step that holds the problem
        draft.errors = field_errors(exc, FORM_NAMES)
        step = "details" if draft.errors.keys() & set(DETAIL_FIELDS) else "when"
        return await _render(request, runtime, session, draft, step, status=422)
    try:
        result = await commands.create_public_booking(session, runtime, body, idempotency_key=key)
    except DomainError as exc:
        await discard_changes(session)
        await commands.record_refusal(session, body, exc)  # a time taken meanwhile: a lead for the staff
        return await _not_booked(request, runtime, session, draft, exc)
    await mark_flow_booked(session, VISITOR.read(request))
    if draft.values.get("news") == NEWS_WANTED and result.created:  # a grant, and the double opt-in email
        await ask_marketing_consent(session, runtime.settings, body.customer.email, source=ConsentSource.booking_flow,
                                    station_id=result.station.id)
    response = RedirectResponse(f"/manage/{result.token}/pay", status_code=303)
    # Lets this browser see the confirmation page of this booking (it shows nothing personal without it).
    response.set_cookie(BOOKING_COOKIE, result.token, max_age=7 * 24 * 3600, httponly=True, samesite="lax",
                        path="/bookings/", secure=request.url.scheme == "https")
    return response


async def _not_booked(request: Request, runtime: Any, session: Any, draft: Draft, exc: DomainError) -> Response:
    if isinstance(exc, SlotUnavailable):
        day, slot = day_of(draft.values.get("event_date")), draft.values.get("slot_time", "")
        taken = f"{day:%A, %B} {day.day} at {clock(slot)}" if day else "that time"
        draft.values.pop("slot_time", None)
        return await _render(request, runtime, session, draft, "when", status=409,
                             message=f"Sorry — someone has just booked {taken}. Here are the times still free.")
    if isinstance(exc, RateLimited):
        return await _render(request, runtime, session, draft, "review", status=429,
                             message="You have held several dates in the last hour. Please pay a deposit on one of "
                                     "them, or call us, before holding another.")
    draft.errors = {"event_date": exc.detail}  # e.g. the booking window moved on while the visitor was reading
    return await _render(request, runtime, session, draft, "when", status=exc.status)


