"""Admin pages: the stations list, creating and editing a station (super admin), and each station's business-rules
editor with a live preview quote priced by the rules as typed — all through the stations and pricing domains."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import time
from decimal import Decimal
from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from myhibachi.auth.permissions import Permission
from myhibachi.core.errors import FieldError, ValidationFailed
from myhibachi.core.money import SYMBOLS, format_money
from myhibachi.core.templating import render
from myhibachi.core.web import PathId
from myhibachi.leads.scoring import FACTOR_LABELS
from myhibachi.pricing import commands as pricing_commands
from myhibachi.pricing.queries import get_rules, price_party
from myhibachi.pricing.quote import PartyOrder, Quote, label_of
from myhibachi.pricing.rules import LEAD_FACTORS, BusinessRules
from myhibachi.stations import commands
from myhibachi.stations.models import Station
from myhibachi.stations.queries import get_station, stations_to_manage
from myhibachi.stations.schemas import StationCreate, StationUpdate
from myhibachi.web.admin.pages import AdminVisit, Trouble, Visit, form_state, submit
from myhibachi.web.fields import cents_of, dollars, record_id, time_of, whole_number
from myhibachi.web.forms import plain

router = APIRouter(include_in_schema=False)
P = Permission
DONE = {"created": "The station is created. It uses the default business rules until you change them.",
        "saved": "Station saved.", "rules_saved": "Business rules saved: the next quote and booking use them.",
        "unchanged": "Nothing was changed, so nothing was saved."}
STATION_FIELDS = ("code", "name", "timezone", "line1", "city", "state", "zip_code", "latitude", "longitude")
PREVIEW_PARTY = {"preview_zip": "", "preview_adults": "10", "preview_children": "0"}


def _invalid(errors: dict[str, str], detail: str = "Please check the highlighted fields; nothing was saved.") \
        -> ValidationFailed:
    return ValidationFailed(detail, errors=[FieldError(field=name, message=message, type="value_error")
                                            for name, message in errors.items()])


# --- the list -------------------------------------------------------------------------------------------------------


@router.get("/admin/stations", response_class=HTMLResponse)
async def stations_list(visit: AdminVisit) -> Response:
    return await visit.page("stations/list.html", title="Stations and rules",
                            overview=await stations_to_manage(visit.session, visit.principal), done=visit.notice(DONE))


# --- creating and editing a station (super admin) ---------------------------------------------------------------


def station_values(station: Station | None) -> dict[str, Any]:
    if station is None:
        return {name: "" for name in STATION_FIELDS} | {"timezone": "America/Los_Angeles", "is_active": True}
    return {"code": station.code, "name": station.name, "timezone": station.timezone,
            "line1": station.address_line1, "city": station.city, "state": station.state,
            "zip_code": station.zip_code, "latitude": str(station.latitude), "longitude": str(station.longitude),
            "is_active": station.is_active}


def _posted_station(form: dict[str, str], station: Station | None) -> dict[str, Any]:
    """What was sent, to show the form again as it was filled in (a station's code never changes)."""
    values = {name: form.get(name, "") for name in STATION_FIELDS} | {"is_active": bool(form.get("is_active"))}
    return values | ({"code": station.code} if station else {})


def _coordinate(raw: str, errors: dict[str, str], name: str) -> float | None:
    if re.fullmatch(r"[+-]?\d{1,3}(\.\d{1,10})?", raw):
        return float(raw)
    errors[name] = "Please fill this in." if not raw else "Enter decimal degrees, like 37.5483 or -121.9886."
    return None


def _station_message(name: str, error: dict[str, Any]) -> str:
    if error["type"] == "string_pattern_mismatch" and name == "code":
        return "2 to 16 letters, digits or dashes, like SJC."
    if error["type"] == "string_pattern_mismatch" and name == "state":
        return "Please enter the 2-letter state code, like CA."
    return plain(error["msg"])


def station_input(form: dict[str, str], *, new: bool) -> StationCreate | StationUpdate:
    """The form as the stations commands' input; every complaint is named after its form field."""
    errors: dict[str, str] = {}
    data: dict[str, Any] = {
        "name": form.get("name", ""), "timezone": form.get("timezone", ""),
        "address": {key: form.get(key, "") for key in ("line1", "city", "state", "zip_code")},
        "latitude": _coordinate(form.get("latitude", ""), errors, "latitude"),
        "longitude": _coordinate(form.get("longitude", ""), errors, "longitude")}
    data = {key: value for key, value in data.items() if value is not None}
    if new:
        data["code"] = form.get("code", "")
    else:
        data["is_active"] = bool(form.get("is_active"))
    model = StationCreate if new else StationUpdate
    try:
        if not errors:
            return model.model_validate(data)
        model.model_validate(data | {"latitude": 0.0, "longitude": 0.0})  # the other fields' complaints too
    except ValidationError as exc:
        for error in exc.errors():
            name = str(error["loc"][-1] if error["loc"][0] == "address" else error["loc"][0])
            errors.setdefault(name, _station_message(name, error))
    raise _invalid(errors)


async def _station_form(visit: Visit, station_id: int | None, form: dict[str, str] | None = None,
                        trouble: Trouble | None = None) -> Response:
    """A station's form (a new one for no `station_id`): as saved, or as posted with what was wrong."""
    if station_id is None:
        visit.principal.authorize(P.stations_manage)
    station = None if station_id is None else await _managed_station(visit, station_id)
    return await visit.page("stations/form.html", title=f"Edit {station.name}" if station else "New station",
                            edited=station, **form_state(trouble), done=visit.notice(DONE),
                            values=station_values(station) if form is None else _posted_station(form, station),
                            **({"station": station} if station else {}))


@router.get("/admin/stations/new", response_class=HTMLResponse)
async def new_station_form(visit: AdminVisit) -> Response:
    return await _station_form(visit, None)


@router.post("/admin/stations/new", response_class=HTMLResponse)
async def create_station(visit: AdminVisit) -> Response:
    async def act(form: dict[str, str]) -> str:
        visit.principal.authorize(P.stations_manage)
        data = station_input(form, new=True)
        assert isinstance(data, StationCreate)
        created = await commands.create_station(visit.session, visit.principal, data)
        return f"/admin/stations/{created.id}?done=created"

    return await submit(visit, act=act, show=lambda form, trouble: _station_form(visit, None, form, trouble),
                        names={"": "code"})  # the one error naming no field: the code is taken


async def _managed_station(visit: Visit, station_id: int) -> Station:
    visit.principal.authorize(P.stations_manage, station_id)
    return await get_station(visit.session, station_id)


@router.get("/admin/stations/{station_id}", response_class=HTMLResponse)
async def edit_station_form(station_id: PathId, visit: AdminVisit) -> Response:
    return _switched(visit, station_id, "/admin/stations/{}") or await _station_form(visit, station_id)


@router.post("/admin/stations/{station_id}", response_class=HTMLResponse)
async def edit_station(station_id: PathId, visit: AdminVisit) -> Response:
    await _managed_station(visit, station_id)

    async def act(form: dict[str, str]) -> str:
        data = station_input(form, new=False)
        assert isinstance(data, StationUpdate)
        await commands.update_station(visit.session, visit.principal, station_id, data)
        return f"/admin/stations/{station_id}?done=saved"

    return await submit(visit, act=act, show=lambda form, trouble: _station_form(visit, station_id, form, trouble))


# --- the business rules as a form: prices typed in dollars, stored in cents ---------------------------------------


@dataclass(frozen=True)
class RuleField:
    name: str
    label: str
    kind: str  # money, prices (code = money lines), codes, percents, times, decimal, whole, weights, switch, text
    hint: str | None = None


MONEY_HINT = "In dollars and cents, like 55.00."
SWITCH_ON, SWITCH_OFF = "On", "Off"  # a yes-or-no rule, chosen from a list (an unticked box would send nothing)
RULE_GROUPS: list[tuple[str, list[RuleField]]] = [
    ("Prices", [
        RuleField("currency", "Currency", "text", "Three capital letters, like USD."),
        RuleField("adult_price_cents", "Adult (13+), per person", "money", MONEY_HINT),
        RuleField("child_price_cents", "Child (6–12), per person", "money", MONEY_HINT),
        RuleField("toddler_price_cents", "Toddler (5 and under), per person", "money", "0.00 means free."),
        RuleField("party_minimum_cents", "Party food minimum", "money",
                  "On food with upgrades and add-ons, before travel and tax."),
        RuleField("tax_rate_percent", "Sales tax, percent", "decimal",
                  "On food after the minimum; not on travel or gratuity. Like 8.25."),
    ]),
    ("Menu", [
        RuleField("base_proteins", "Base proteins", "codes", "Separated by commas, like Chicken, NY strip, Shrimp."),
        RuleField("protein_upgrades", "Protein upgrades", "prices",
                  "One a line: the protein, a colon and its price per protein swapped in, like Lobster tail: $15.00."),
        RuleField("extra_protein_cents", "Extra protein, each", "money", "Plus the upgrade price for a premium one."),
        RuleField("addons", "Add-ons", "prices", "One a line: the item, a colon and its price, like Gyoza: $10.00."),
    ]),
    ("Travel", [
        RuleField("travel_free_miles", "Free miles from the station", "whole"),
        RuleField("travel_per_mile_cents", "Price per mile after that", "money", MONEY_HINT),
        RuleField("max_service_miles", "Farthest we travel, miles", "whole",
                  "Beyond it a request becomes an “outside area” lead."),
        RuleField("road_factor", "Road factor", "decimal", "Straight-line distance times this, like 1.2."),
    ]),
    ("Deposit and gratuity", [
        RuleField("deposit_cents", "Deposit", "money", "Fixed; deducted from the total."),
        RuleField("suggested_gratuity_percents", "Suggested gratuity, percents", "percents",
                  "Shown, not charged. Separated by commas, like 20, 25, 30."),
    ]),
    ("Scheduling", [
        RuleField("slot_times", "Start times", "times", "Station time, 24-hour clock, like 12:00, 18:00."),
        RuleField("event_minutes", "Event length, minutes", "whole"),
        RuleField("large_party_event_minutes", "Event length for a large party, minutes", "whole"),
        RuleField("large_party_min_guests", "Guests that make a large party", "whole"),
        RuleField("busy_before_minutes", "Chef busy before the start, minutes", "whole", "Travel and setup."),
        RuleField("busy_after_minutes", "Chef busy after the end, minutes", "whole"),
        RuleField("chef_max_events_per_day", "Most events a chef does a day", "whole"),
        RuleField("min_notice_hours", "Minimum notice, hours", "whole"),
        RuleField("max_days_ahead", "Furthest ahead, days", "whole"),
        RuleField("hold_hours", "Unpaid hold, hours", "whole", "A new booking waits this long for its deposit."),
        RuleField("deposit_reminder_hours_before", "Deposit reminder, hours before the hold lapses", "whole",
                  "Emails how to pay this long before an unpaid hold lapses; 0 sends none."),
    ]),
    ("Party size", [
        RuleField("adults_min", "Fewest adults", "whole"),
        RuleField("adults_max", "Most adults", "whole"),
        RuleField("children_max", "Most children", "whole"),
        RuleField("toddlers_max", "Most toddlers", "whole"),
        RuleField("guests_max", "Most guests in all", "whole"),
    ]),
    ("Changes and cancellations", [
        RuleField("deposit_refund_min_hours", "Full refund if cancelled at least, hours before", "whole"),
        RuleField("free_reschedule_min_hours", "Free first reschedule at least, hours before", "whole"),
        RuleField("reschedule_fee_cents", "Late reschedule fee", "money", MONEY_HINT),
        RuleField("guest_change_min_hours", "Guest count changes until, hours before", "whole"),
        RuleField("menu_change_min_hours", "Menu changes until, hours before", "whole"),
        RuleField("reminder_hours_before", "Reminder email, hours before", "whole"),
    ]),
    ("Leads", [
        RuleField("lead_lost_reasons", "Reasons a lead is lost", "codes",
                  "Separated by commas, like Price, No response. Staff pick one when a lead is lost."),
        RuleField("lead_weights", "Score weights", "weights",
                  "One a line: the factor, a colon and its weight from 0 to 100, like Party size: 15. "
                  "A lead's score weighs each factor by its share of the total."),
        RuleField("lead_hot_min", "Hot from score", "whole", "A lead scoring at least this is hot."),
        RuleField("lead_warm_min", "Warm from score", "whole", "Below the hot score; lower is cold."),
    ]),
    ("Newsletters", [
        RuleField("email_tracking", "Track opens and clicks", "switch",
                  "On: campaign emails carry an invisible image and links that count opens and clicks for the "
                  "campaign's stats. Off: neither, and nothing is counted."),
    ]),
    ("Automated emails and reviews", [
        RuleField("quiet_hours_start", "Quiet hours from", "time",
                  "No automated email in the recipient's own time from then…, like 21:00."),
        RuleField("quiet_hours_end", "Quiet hours until", "time",
                  "…until then, like 09:00. The same time twice: no quiet hours."),
        RuleField("review_links", "Public review pages", "links",
                  "One a line: its name, a colon and its https address, like Google: https://g.page/r/…. Every "
                  "customer's thank-you links to them."),
        RuleField("low_rating_max", "Call back at or below, stars", "whole",
                  "A private rating this low opens a call-back task; 0 never does."),
    ]),
    ("Inbox", [
        RuleField("first_response_minutes", "First answer within, minutes", "whole",
                  "A person's first message is late unanswered after this long, counted in inbox hours."),
        RuleField("next_response_minutes", "Later answers within, minutes", "whole",
                  "Each later message of theirs is late unanswered after this long, counted in inbox hours."),
        RuleField("inbox_hours_start", "Inbox hours from", "time", "Station time, like 09:00."),
        RuleField("inbox_hours_end", "Inbox hours until", "time",
                  "Like 21:00. The same time twice: the clocks run around the clock."),
    ]),
]
RULE_FIELDS = {field.name: field for _, fields in RULE_GROUPS for field in fields}
# A check across several rules names no field of its own: where its message belongs.
CROSS_CHECKS = {"base and upgrade": "protein_upgrades", "slot_times": "slot_times", "adults_min": "adults_min",
                "lead_weights": "lead_weights", "lead_warm_min": "lead_warm_min",
                "inbox_hours": "inbox_hours_end"}


class Unreadable(ValueError):
    """Typed text that cannot be read as its kind of value; the message says how to write it."""


def shown_value(kind: str, value: Any, currency: str = "USD") -> str:
    """A rule's value as the form shows it: menu items by their labels ("Filet mignon: $5.00"), never their codes."""
    if kind == "money":
        return dollars(value)
    if kind == "prices":
        return "\n".join(f"{label_of(code)}: {format_money(cents, currency)}" for code, cents in value.items())
    if kind == "times":
        return ", ".join(t.strftime("%H:%M") if isinstance(t, time) else str(t) for t in value)
    if kind == "codes":
        return ", ".join(label_of(str(item)) for item in value)
    if kind == "percents":
        return ", ".join(str(item) for item in value)
    if kind == "weights":
        return "\n".join(f"{FACTOR_LABELS[factor]}: {value[factor]}" for factor in LEAD_FACTORS if factor in value)
    if kind == "switch":
        return SWITCH_ON if value else SWITCH_OFF
    if kind == "time":
        return value.strftime("%H:%M") if isinstance(value, time) else str(value)
    if kind == "links":
        return "\n".join(f"{link.label}: {link.url}" for link in value)
    return str(value)


def rules_values(rules: BusinessRules) -> dict[str, str]:
    return {name: shown_value(field.kind, getattr(rules, name), rules.currency) for name, field in RULE_FIELDS.items()}


def menu_codes(rules: BusinessRules) -> set[str]:
    """Every menu item the rules name: what a label typed in the editor is matched to first."""
    return {*rules.base_proteins, *rules.protein_upgrades, *rules.addons}


def code_of(label: str, known: Iterable[str] = ()) -> str:
    """The code of a menu item typed by its label ("Filet mignon" → filet_mignon): a known item's own code when
    the label is its label (so a form sent back unchanged saves the same codes), else the label in lowercase with
    underscores for spaces. A code typed as a code stays itself."""
    typed = label.strip()
    by_label = {label_of(code).strip().lower(): code for code in known}
    return by_label.get(typed.lower()) or "_".join(typed.lower().split(" "))


def to_cents(text: str) -> int:
    """Dollars as typed, in integer cents (web/fields.py reads them); Unreadable says how to write them."""
    try:
        return cents_of(text)
    except ValueError as problem:
        raise Unreadable(str(problem)) from None


def _parts(text: str) -> list[str]:
    return [part.strip() for part in re.split(r"[,\n]", text) if part.strip()]


def _time(part: str) -> time:
    moment = time_of(part)
    if moment is None:
        raise Unreadable(f"“{part[:20]}” is not a time: write 24-hour times separated by commas, like 12:00, 18:00.")
    return moment


def _amount(price: str) -> str:
    """A price as typed, without the currency's symbol or code ("€5.00", "5.00 CAD"): the number is read alone."""
    text = price.strip()
    for symbol in sorted(SYMBOLS.values(), key=len, reverse=True):
        text = text.removeprefix(symbol).strip()
    return re.sub(r"(?<=[0-9.])\s*[A-Z]{3}$", "", text)


def _prices(text: str, known: Iterable[str] = ()) -> dict[str, int]:
    """One item a line: "Filet mignon: $5.00" (the editor's own way), or "filet_mignon = 5.00"."""
    prices: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        sep = ":" if ":" in line else "="
        label, found, price = line.rpartition(sep)
        if not found or not label.strip():
            raise Unreadable(f"Line {number}: write the item, a colon and its price, like Gyoza: $10.00.")
        code = code_of(label, known)
        if code in prices:
            raise Unreadable(f"“{label.strip()[:40]}” is listed twice.")
        try:
            prices[code] = to_cents(_amount(price))
        except Unreadable as problem:
            raise Unreadable(f"Line {number}: {problem}") from None
    return prices


def _weights(text: str) -> dict[str, int]:
    """One factor a line by its label, "Party size: 15" (or its code, "party_size = 15"); every factor once."""
    by_label = {label.lower(): factor for factor, label in FACTOR_LABELS.items()} | {f: f for f in LEAD_FACTORS}
    weights: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        label, found, weight = line.rpartition(":" if ":" in line else "=")
        factor = by_label.get(label.strip().lower())
        if not found or factor is None:
            raise Unreadable(f"Line {number}: “{(label or line).strip()[:40]}” is not a factor we score; write one of "
                             + ", ".join(FACTOR_LABELS.values()) + ", a colon and its weight.")
        if not re.fullmatch(r"\d{1,3}", weight.strip()) or int(weight) > 100:
            raise Unreadable(f"Line {number}: the weight of {FACTOR_LABELS[factor]} must be a whole number from "
                             "0 to 100, like Party size: 15.")
        if factor in weights:
            raise Unreadable(f"{FACTOR_LABELS[factor]} is listed twice.")
        weights[factor] = int(weight)
    if missing := [FACTOR_LABELS[factor] for factor in LEAD_FACTORS if factor not in weights]:
        raise Unreadable("Give every factor a weight (0 leaves it out); missing: " + ", ".join(missing) + ".")
    return weights


def _links(text: str) -> list[dict[str, str]]:
    """One page a line: "Google: https://g.page/r/…" (the first ": " before the address separates them)."""
    links = []
    for number, line in enumerate(text.splitlines(), start=1):
        label, found, url = line.partition(": ")
        if not line.strip():
            continue
        if not found or not label.strip() or not url.strip().startswith("https://"):
            raise Unreadable(f"Line {number}: write the page's name, a colon and its https address, like "
                             "Google: https://g.page/r/example.")
        links.append({"label": label.strip(), "url": url.strip()})
    return links


def read_value(kind: str, raw: str, known: Iterable[str] = ()) -> Any:
    """Typed text as a rule's value (the rules model then checks its limits); `known`: the menu items' codes,
    which their labels are read as."""
    text = raw.strip()
    if kind == "money":
        return to_cents(text)
    if kind == "prices":
        return _prices(raw, known)
    if kind == "codes":
        return [code_of(part, known) for part in _parts(text)]
    if kind == "percents":
        if not all(re.fullmatch(r"\d{1,3}", part.rstrip("%").strip()) for part in _parts(text)):
            raise Unreadable("Write whole percents separated by commas, like 20, 25, 30.")
        return [int(part.rstrip("%")) for part in _parts(text)]
    if kind == "times":
        return [_time(part) for part in _parts(text)]
    if kind == "weights":
        return _weights(raw)
    if kind == "switch":
        if text not in (SWITCH_ON, SWITCH_OFF):
            raise Unreadable("Choose on or off.")
        return text == SWITCH_ON
    if kind == "links":
        return _links(raw)
    if kind == "time":
        return _time(text)
    if not text:
        raise Unreadable("Please fill this in.")
    if kind == "whole":
        if not re.fullmatch(r"[+-]?\d{1,9}", text):
            raise Unreadable("Please enter a whole number.")
        return int(text)
    if kind == "decimal":
        if not re.fullmatch(r"[+-]?(\d{1,6}(\.\d{0,6})?|\.\d{1,6})", text):
            raise Unreadable("Enter a number, like 8.25.")
        return Decimal(text.rstrip("0").rstrip(".") if "." in text else text)  # 8.250 is the saved 8.25
    return text.upper()  # the currency code


def _limit_message(field: RuleField, error: dict[str, Any], currency: str) -> str | None:
    ctx = error.get("ctx") or {}

    def shown(bound: Any) -> str:
        return format_money(int(bound), currency) if field.kind in ("money", "prices") else str(bound)

    messages = {
        "greater_than_equal": lambda: f"Must be at least {shown(ctx.get('ge'))}.",
        "less_than_equal": lambda: f"Must be at most {shown(ctx.get('le'))}.",
        "too_short": lambda: f"Enter at least {ctx.get('min_length')}.",
        "too_long": lambda: f"At most {ctx.get('max_length')} entries.",
        "decimal_max_places": lambda: f"At most {ctx.get('decimal_places')} digits after the point.",
        "decimal_max_digits": lambda: "Too many digits.",
        "string_pattern_mismatch": lambda: "Three capital letters, like USD." if field.name == "currency" else
        "Write a name, a colon and an https address without spaces." if field.kind == "links" else
        "Name it with letters, digits and spaces, starting with a letter, like Fried rice.",
    }
    explain = messages.get(error["type"])
    return explain() if explain else None


def _explain(error: dict[str, Any], currency: str) -> tuple[str, str]:
    """(form field, message in plain words) for one of the rules model's complaints."""
    loc = error["loc"]
    if not loc or loc[0] not in RULE_FIELDS:  # a check across rules: beside the rule it is about
        message = error["msg"].removeprefix("Value error, ")
        name = next((target for phrase, target in CROSS_CHECKS.items() if phrase in message), "")
        for field in RULE_FIELDS.values():
            message = message.replace(field.name, f"“{field.label}”")
        return name, message[:1].upper() + message[1:]
    field = RULE_FIELDS[str(loc[0])]
    message = _limit_message(field, error, currency) or plain(error["msg"])
    if len(loc) > 1:  # one entry of a list or one line of prices
        which = f"Entry {loc[1] + 1}" if isinstance(loc[1], int) else f"“{label_of(str(loc[1]))[:40]}”"
        message = f"{which}: {message[:1].lower()}{message[1:]}"
    return field.name, message


def typed_rules(form: dict[str, str], saved: BusinessRules) -> BusinessRules:
    """The rules as typed, checked by the rules model; a rule the form did not send keeps its saved value."""
    values = saved.model_dump()
    errors: dict[str, str] = {}
    known = menu_codes(saved)
    for name, field in RULE_FIELDS.items():
        if name in form:
            try:
                values[name] = read_value(field.kind, form[name], known)
            except Unreadable as problem:
                errors[name] = str(problem)
    currency = form.get("currency", saved.currency).upper()
    rules: BusinessRules | None = None
    try:
        rules = BusinessRules.model_validate(values)
    except ValidationError as exc:
        for error in exc.errors():
            name, message = _explain(dict(error), currency)
            errors.setdefault(name, message)
    if errors or rules is None:
        count = len(errors)
        raise _invalid(errors, f"Please check the {count} highlighted rule{'s' if count != 1 else ''}; "
                               "nothing was saved.")
    return rules


def rule_changes(saved: BusinessRules, typed: BusinessRules) -> list[tuple[str, str, str]]:
    """(label, saved, typed) of every rule the typed form changes."""
    before, after = rules_values(saved), rules_values(typed)
    return [(RULE_FIELDS[name].label, before[name].replace("\n", "; "), after[name].replace("\n", "; "))
            for name in RULE_FIELDS if before[name] != after[name]]


# --- the live preview: a party priced by the rules as typed --------------------------------------------------------


@dataclass(frozen=True)
class Preview:
    party: dict[str, str]
    quote: Quote | None = None
    problems: tuple[str, ...] = ()
    changes: tuple[tuple[str, str, str], ...] = ()
    rules_valid: bool = True


def _count(raw: str, label: str, problems: list[str]) -> int:
    number = whole_number(raw)
    if number is None:
        problems.append(f"{label}: please enter a whole number.")
    return number or 0


def preview(station: Station, saved: BusinessRules, form: dict[str, str]) -> Preview:
    party = {name: form.get(name, default) for name, default in PREVIEW_PARTY.items()}
    party["preview_zip"] = party["preview_zip"] or station.zip_code
    try:
        typed = typed_rules(form, saved)
    except ValidationFailed as exc:
        return Preview(party, rules_valid=False, problems=tuple(
            f"{RULE_FIELDS[e.field].label if e.field in RULE_FIELDS else 'Rules'}: {e.message}"
            for e in exc.errors or []))
    changes = tuple(rule_changes(saved, typed))
    problems: list[str] = []
    if not re.fullmatch(r"\d{5}", party["preview_zip"]):
        problems.append("Venue ZIP code: please enter 5 digits.")
    adults = _count(party["preview_adults"], "Adults", problems)
    children = _count(party["preview_children"] or "0", "Children", problems)
    if problems:
        return Preview(party, problems=tuple(problems), changes=changes)
    try:
        quote = price_party(station, typed, party["preview_zip"], PartyOrder(adults=adults, children=children))
    except ValidationFailed as exc:
        messages = [e.message for e in exc.errors or []] or [exc.detail]
        return Preview(party, problems=tuple(m[:1].upper() + m[1:] for m in messages), changes=changes)
    return Preview(party, quote=quote, changes=changes)


# --- the rules editor ------------------------------------------------------------------------------------------------


async def _rules_station(visit: Visit, station_id: int) -> tuple[Station, BusinessRules]:
    visit.principal.authorize(P.rules_manage, station_id)
    station = await get_station(visit.session, station_id)
    return station, await get_rules(visit.session, station_id)


async def _rules_page(visit: Visit, station_id: int, form: dict[str, str] | None = None,
                      trouble: Trouble | None = None) -> Response:
    """The rules as saved with what was typed over them (and what was wrong with it), and the preview of those."""
    station, saved = await _rules_station(visit, station_id)
    values = rules_values(saved) | (form or {})
    return await visit.page("stations/rules.html", title=f"Business rules — {station.name}", station=station,
                            groups=RULE_GROUPS, switch_choices=(SWITCH_ON, SWITCH_OFF), values=values,
                            **form_state(trouble), done=visit.notice(DONE),
                            preview=preview(station, saved, values), currency=saved.currency)


def _switched(visit: Visit, station_id: int, path: str) -> Response | None:
    """The header's station switcher, used on a station's own page: the same page of the station chosen."""
    wanted = record_id(visit.request.query_params.get("station"))
    if wanted is not None and wanted != station_id:
        return RedirectResponse(path.format(wanted), status_code=303)
    return None


@router.get("/admin/stations/{station_id}/rules", response_class=HTMLResponse)
async def rules_editor(station_id: PathId, visit: AdminVisit) -> Response:
    return _switched(visit, station_id, "/admin/stations/{}/rules") or await _rules_page(visit, station_id)


@router.post("/admin/stations/{station_id}/rules", response_class=HTMLResponse)
async def save_rules(station_id: PathId, visit: AdminVisit) -> Response:
    """`go=confirm` saves (with the same command as the API's PUT); anything else only previews (without JS)."""
    _, saved = await _rules_station(visit, station_id)

    async def act(form: dict[str, str]) -> str | Response:
        typed = typed_rules(form, saved)
        if form.get("go") != "confirm":
            return await _rules_page(visit, station_id, form)
        if typed == saved:
            return f"/admin/stations/{station_id}/rules?done=unchanged"
        await pricing_commands.update_rules(visit.session, visit.principal, station_id, typed)
        return f"/admin/stations/{station_id}/rules?done=rules_saved"

    return await submit(visit, act=act, show=lambda form, trouble: _rules_page(visit, station_id, form, trouble))


@router.post("/admin/stations/{station_id}/rules/preview", response_class=HTMLResponse)
async def preview_rules(station_id: PathId, visit: AdminVisit) -> Response:
    """The editor's live preview (htmx): a quote priced by the rules as typed, and what saving would change.
    Saves nothing; a typing mistake is an answer here (200), shown in place of the quote."""
    station, saved = await _rules_station(visit, station_id)

    async def act(form: dict[str, str]) -> Response:
        html = render("admin/stations/_preview.html", preview=preview(station, saved, form), money=format_money,
                      station=station)
        return visit.send(HTMLResponse(html))

    async def refused(_: dict[str, str], trouble: Trouble | None) -> Response:  # a sentence, not a page in a fragment
        assert trouble is not None  # submit shows a form again only with its trouble
        return Response(trouble.message, status_code=trouble.status, media_type="text/plain")

    return await submit(visit, act=act, show=refused)
