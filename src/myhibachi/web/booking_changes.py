"""The party-change and reschedule forms of both doors — the customer's manage pages and the staff's booking
pages: how what was typed becomes the change the bookings commands take, and which month the calendar shows. Their
fields are drawn by the macros of templates/site/_changes.html. The terms come from the domain, the wording from
each door."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from myhibachi.bookings.commands import requote
from myhibachi.bookings.models import Booking
from myhibachi.bookings.policy import guest_change_terms, menu_change_terms
from myhibachi.bookings.schemas import PartyChange, Reschedule
from myhibachi.core.errors import ValidationFailed
from myhibachi.pricing.quote import (
    ORDER_CHOICES,
    PROTEIN_ENTITLEMENT,
    PROTEINS,
    PartyOrder,
    ProteinCheck,
    Quote,
    menu_catalog,
    protein_check,
)
from myhibachi.pricing.rules import BusinessRules
from myhibachi.stations.models import Station
from myhibachi.web.fields import day_of, whole_number
from myhibachi.web.forms import FormProblem, field_errors
from myhibachi.web.site.calendar import MonthOfSlots, month_of_slots

GUEST_FIELDS = ("adults", "children", "toddlers")
WHEN_FIELDS = ("month", "event_date", "slot_time")


def check_fields(errors: dict[str, str]) -> str:
    return f"Please check the {len(errors)} field{'s' if len(errors) > 1 else ''} marked below."


def _refused(errors: dict[str, str]) -> FormProblem:
    return FormProblem(422, check_fields(errors), errors)


# --- guests and menu ---------------------------------------------------------------------------------------------


def _form_codes(rules: BusinessRules) -> dict[str, list[str]]:
    """The choices the form has a field for, by group: the base proteins, then the priced menu."""
    return {PROTEINS: list(rules.base_proteins), **{group: list(codes) for group, codes in menu_catalog(rules).items()}}


@dataclass(frozen=True)
class ProteinFields:
    """What the base-protein fieldset shows: a field per protein and how the typed counts meet the party's
    entitlement (None while a count is not a whole number)."""

    codes: list[str]
    check: ProteinCheck | None
    entitlement: str = PROTEIN_ENTITLEMENT


def protein_fields(rules: BusinessRules, values: dict[str, str]) -> ProteinFields:
    """The fieldset for the typed values; the check is the domain's (pricing.quote.protein_check)."""
    counts = {name: whole_number(values.get(name) or "0") for name in (*GUEST_FIELDS, *(
        f"{PROTEINS}.{code}" for code in rules.base_proteins))}
    if any(count is None for count in counts.values()):
        return ProteinFields(list(rules.base_proteins), None)
    chosen = {name.removeprefix(f"{PROTEINS}."): count for name, count in counts.items()
              if name.startswith(f"{PROTEINS}.") and count}
    order = PartyOrder(counts["adults"] or 0, counts["children"] or 0, counts["toddlers"] or 0, proteins=chosen)
    return ProteinFields(list(rules.base_proteins), protein_check(order))


def current_party(rules: BusinessRules, booking: Booking) -> dict[str, str]:
    """The booking's party as the form's fields: each count, the base proteins and each item of the menu (0 when
    not chosen)."""
    values = {name: str(getattr(booking, name)) for name in GUEST_FIELDS}
    for group, codes in _form_codes(rules).items():
        chosen = getattr(booking, group)
        values.update({f"{group}.{code}": str(chosen.get(code, 0)) for code in codes})
    return values


def posted_party(rules: BusinessRules, booking: Booking, form: dict[str, str]) -> dict[str, str]:
    """The booking's party with the posted fields over it: a closed window's fields are disabled, so not sent,
    and stay as they are. A blank count is 0."""
    return {name: (form[name][:10] or "0") if name in form else value
            for name, value in current_party(rules, booking).items()}


def _party_change(booking: Booking, values: dict[str, str]) -> PartyChange:
    """Only what differs from the booking: a window matters only when its fields change."""
    counts = {name: whole_number(value) for name, value in values.items()}
    if errors := {name: "Please enter a whole number." for name, count in counts.items() if count is None}:
        raise _refused(errors)
    data: dict[str, Any] = {name: counts[name] for name in GUEST_FIELDS if counts[name] != getattr(booking, name)}
    for group in ORDER_CHOICES:
        prefix = f"{group}."
        chosen = {name.removeprefix(prefix): qty for name, qty in counts.items() if name.startswith(prefix) and qty}
        if chosen != {code: qty for code, qty in getattr(booking, group).items() if qty > 0}:
            data[group] = chosen
    try:
        return PartyChange.model_validate(data)
    except ValidationError as exc:
        raise _refused(field_errors(exc)) from None


def planned_change(rules: BusinessRules, booking: Booking, values: dict[str, str],
                   now: datetime) -> tuple[PartyChange, Quote]:
    """The change and its new price, under the change windows of the domain's policy now (FormProblem when it
    cannot be made: nothing changed, a window closed, a party the rules refuse)."""
    change = _party_change(booking, values)
    if not change.model_fields_set:
        raise FormProblem(422, "Nothing has changed yet: change a number, then preview the new price.")
    for fields, terms in ((GUEST_FIELDS, guest_change_terms(rules, booking, now)),
                          (ORDER_CHOICES, menu_change_terms(rules, booking, now))):
        if change.model_fields_set & set(fields) and not terms.allowed:
            raise FormProblem(409, terms.message)
    try:
        return change, requote(rules, booking, change)
    except ValidationFailed as exc:
        raise _refused(field_errors(exc)) from None


def confirmed_change(rules: BusinessRules, booking: Booking, values: dict[str, str], now: datetime,
                     previewed_total: str | None) -> PartyChange:
    """The change to make, if its price is still the one the preview showed."""
    change, quote = planned_change(rules, booking, values, now)
    if previewed_total != str(quote.total_cents):
        raise FormProblem(409, "The price has changed since the preview; please preview it again.")
    return change


# --- a new date and time -----------------------------------------------------------------------------------------


def when_values(form: dict[str, str]) -> dict[str, str]:
    return {name: form[name][:20] for name in WHEN_FIELDS if form.get(name)}


async def calendar_for(session: AsyncSession, station: Station, rules: BusinessRules, booking: Booking,
                       values: dict[str, str]) -> MonthOfSlots:
    """The month shown: the one navigated to, else the chosen day's, else the booking's."""
    month = day_of(values.get("month", "") + "-01") or day_of(values.get("event_date")) or booking.event_date
    return await month_of_slots(session, station.id, station.timezone, rules, booking.guests, month,
                                moving_booking_id=booking.id)


def chosen_time(values: dict[str, str], fee_previewed: str | None, fee_now: int, allowed: bool,
                message: str) -> Reschedule:
    """The date and time to move to, if the fee is still the one the preview showed."""
    if allowed and fee_previewed != str(fee_now):
        raise FormProblem(409, f"The terms have changed since the preview: {message} "
                               "Please check them and confirm again.")
    try:
        return Reschedule.model_validate({"event_date": values.get("event_date"),
                                          "slot_time": values.get("slot_time")})
    except ValidationError as exc:
        raise _refused(field_errors(exc)) from None
