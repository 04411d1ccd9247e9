"""Moving a booking and changing its party, as the customer's manage pages do (the forms are shared:
web/booking_changes.py): a calendar of free start times, or the party's fields, then a preview of the terms or the
new price, then the confirmation."""

from __future__ import annotations

from fastapi.responses import Response

from myhibachi.bookings import commands
from myhibachi.bookings.actions import BookingAction
from myhibachi.bookings.policy import guest_change_terms, menu_change_terms
from myhibachi.core.db import utcnow
from myhibachi.core.errors import DomainError
from myhibachi.pricing.quote import Quote, menu_choices
from myhibachi.web.admin.bookings.common import Flow, Target, action_page
from myhibachi.web.admin.bookings.lifecycle import actor
from myhibachi.web.admin.pages import Trouble, Visit
from myhibachi.web.booking_changes import (
    calendar_for,
    chosen_time,
    confirmed_change,
    planned_change,
    posted_party,
    protein_fields,
    when_values,
)
from myhibachi.web.fields import day_of
from myhibachi.web.forms import hidden_fields
from myhibachi.web.site.calendar import navigate, slot_errors

A = BookingAction


# --- rescheduling -------------------------------------------------------------------------------------------------


async def _reschedule_render(visit: Visit, t: Target, form: dict[str, str], trouble: Trouble | None, *,
                             preview: bool = False) -> Response:
    values, terms = when_values(form), t.actions[A.reschedule].terms
    cal = None if preview or not terms.allowed else await calendar_for(visit.session, t.station, t.rules, t.booking,
                                                                       values)
    return await action_page(visit, t, "reschedule.html", "Reschedule", trouble, values=values, terms=terms,
                             cal=cal, preview=preview, chosen_day=day_of(values.get("event_date")))


async def _reschedule_steps(visit: Visit, t: Target, form: dict[str, str]) -> Response | None:
    """Calendar navigation and the preview of the chosen time; None when it is the confirmation."""
    go = form.get("go", "preview")
    if go == "confirm":
        return None
    values, terms = when_values(form), t.actions[A.reschedule].terms
    if go.startswith(("day:", "month:")):
        navigate(values, go)
        return await _reschedule_render(visit, t, values, None)
    if not terms.allowed:
        return await _reschedule_render(visit, t, values, Trouble(409, terms.message))
    if errors := await slot_errors(values, lambda _day: calendar_for(visit.session, t.station, t.rules, t.booking,
                                                                     values)):
        return await _reschedule_render(visit, t, values, Trouble(422, "Please choose a free date and start time.",
                                                                  errors))
    return await _reschedule_render(visit, t, values, None, preview=True)


async def _reschedule_act(visit: Visit, t: Target, form: dict[str, str]) -> None:
    terms = t.actions[A.reschedule].terms
    body = chosen_time(when_values(form), form.get("fee_cents"), terms.fee_cents, terms.allowed, terms.message)
    await commands.reschedule_booking(visit.session, visit.runtime.settings, actor(visit), t.detail.id,
                                      event_date=body.event_date, slot_time=body.slot_time)


# --- guests and menu ----------------------------------------------------------------------------------------------


async def _party_render(visit: Visit, t: Target, form: dict[str, str], trouble: Trouble | None, *,
                        quote: Quote | None = None) -> Response:
    now, values = utcnow(), posted_party(t.rules, t.booking, form)
    return await action_page(visit, t, "party.html", "Change guests or menu", trouble, values=values, quote=quote,
                             catalog=menu_choices(t.rules), proteins=protein_fields(t.rules, values),
                             guest_terms=guest_change_terms(t.rules, t.booking, now),
                             menu_terms=menu_change_terms(t.rules, t.booking, now),
                             carried=hidden_fields(values) if quote else [])


async def _party_steps(visit: Visit, t: Target, form: dict[str, str]) -> Response | None:
    go = form.get("go", "preview")
    if go == "confirm":
        return None
    if go == "edit":
        return await _party_render(visit, t, form, None)
    try:
        _, quote = planned_change(t.rules, t.booking, posted_party(t.rules, t.booking, form), utcnow())
    except DomainError as exc:
        return await _party_render(visit, t, form, Trouble.of(exc))
    return await _party_render(visit, t, form, None, quote=quote)


async def _party_act(visit: Visit, t: Target, form: dict[str, str]) -> None:
    change = confirmed_change(t.rules, t.booking, posted_party(t.rules, t.booking, form), utcnow(),
                              form.get("total_cents"))
    await commands.change_party(visit.session, visit.runtime.settings, actor(visit), t.detail.id, change)


FLOWS: dict[str, Flow] = {
    A.reschedule.value: Flow(A.reschedule, _reschedule_render, _reschedule_act, "rescheduled",
                             steps=_reschedule_steps, conflict_field="slot_time"),
    A.change_party.value: Flow(A.change_party, _party_render, _party_act, "party", steps=_party_steps),
}
