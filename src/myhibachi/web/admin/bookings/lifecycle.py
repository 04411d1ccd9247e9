"""The actions of a booking's lifecycle: confirm without a payment, assign or unassign a chef, close it after the
event, cancel it (or ask an admin to), decline a cancellation request. Each page says what would happen; the
terms and why-nots are the domain's (`t.actions`)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi.responses import Response
from pydantic import ValidationError

from myhibachi.bookings import commands
from myhibachi.bookings.actions import BookingAction
from myhibachi.bookings.commands import Actor
from myhibachi.bookings.models import BookingStatus
from myhibachi.bookings.queries import BookingFilter, list_bookings
from myhibachi.bookings.schemas import Reason
from myhibachi.chefs.queries import on_duty_roster
from myhibachi.core.db import utcnow
from myhibachi.core.money import format_money
from myhibachi.web.admin.bookings.common import Flow, Target, action_page, chef_names, staff_names
from myhibachi.web.admin.pages import Trouble, Visit
from myhibachi.web.fields import record_id
from myhibachi.web.forms import FormProblem
from myhibachi.web.site.common import clock

A = BookingAction


def actor(visit: Visit) -> Actor:
    return Actor.staff(visit.principal)


async def _names(session: Any, t: Target) -> dict[str, str]:
    chef = (await chef_names(session, t.station.id, {t.detail.chef_id})).get(t.detail.chef_id or 0, "The chef")
    request = t.detail.cancel_request
    asker = await staff_names(session, {request.requested_by_user_id} if request else set())
    asked_by = asker.get(request.requested_by_user_id or 0, "support") if request else "support"
    return {"chef": chef, "asked_by": asked_by}


# --- actions that need only a confirmation ------------------------------------------------------------------------


def _confirm_consequences(t: Target, now: datetime, names: dict[str, str]) -> list[str]:
    paid = format_money(t.detail.paid_cents, t.currency)
    lines = [f"The booking becomes confirmed with {paid} paid so far, as for a waived or otherwise settled "
             "deposit. When money came in, record it as a payment instead: that confirms the booking too.",
             "The customer is emailed the confirmation with the calendar invite."]
    if t.booking.hold_lapsed(now):
        lines.insert(0, "The hold has lapsed: it is confirmed only if a chef is still free at that time.")
    return lines


def _unassign_consequences(t: Target, now: datetime, names: dict[str, str]) -> list[str]:
    return [f"{names['chef']} no longer cooks this event and no longer sees it under My events.",
            "The event keeps its place in the day's capacity; any free chef can take it."]


def _decline_consequences(t: Target, now: datetime, names: dict[str, str]) -> list[str]:
    request = t.detail.cancel_request
    assert request is not None
    return [f"The request by {names['asked_by']} (“{request.reason}”) is cleared; it stays in the history.",
            "The booking stays as it is. The customer is not emailed."]


def _close_consequences(completed: bool) -> Callable[[Target, datetime, dict[str, str]], list[str]]:
    def consequences(t: Target, now: datetime, names: dict[str, str]) -> list[str]:
        due, paid = t.due_cents, format_money(t.detail.paid_cents, t.currency)
        if completed:
            owed = f"{format_money(due, t.currency)} of the total is unpaid: record it as a payment if it was " \
                   "paid at the event." if due else "It is paid in full."
            return ["The event is marked completed and leaves the open bookings.", owed]
        return ["The event is marked as a no-show and leaves the open bookings.",
                f"Nothing is refunded: the {paid} paid is kept, and no further payment can be recorded on it."]

    return consequences


@dataclass(frozen=True)
class Simple:
    """An action that needs only a confirmation: its words, what it would do, and its command."""

    action: BookingAction
    title: str
    button: str
    done: str
    consequences: Callable[[Target, datetime, dict[str, str]], list[str]]
    command: Callable[[Visit, Target], Awaitable[Any]]

    async def render(self, visit: Visit, t: Target, form: dict[str, str], trouble: Trouble | None) -> Response:
        blocked = t.why_not(self.action)
        consequences = [] if blocked else self.consequences(t, utcnow(), await _names(visit.session, t))
        return await action_page(visit, t, "simple.html", self.title, trouble, slug=self.action.value,
                                 blocked=blocked, consequences=consequences, button=self.button)

    async def act(self, visit: Visit, t: Target, form: dict[str, str]) -> None:
        await self.command(visit, t)

    def flow(self) -> Flow:
        return Flow(self.action, self.render, self.act, self.done)


SIMPLE = (
    Simple(A.confirm, "Confirm the booking", "Confirm the booking", "confirmed", _confirm_consequences,
           lambda v, t: commands.confirm_booking(v.session, v.runtime.settings, actor(v), t.detail.id)),
    Simple(A.unassign_chef, "Unassign the chef", "Unassign the chef", "chef_unassigned", _unassign_consequences,
           lambda v, t: commands.unassign_chef(v.session, v.runtime.settings, actor(v), t.detail.id)),
    Simple(A.decline_cancellation, "Decline the cancellation request", "Decline the request", "cancel_declined",
           _decline_consequences,
           lambda v, t: commands.decline_cancellation(v.session, v.runtime.settings, actor(v), t.detail.id)),
    Simple(A.complete, "Mark the event completed", "Mark completed", "completed", _close_consequences(True),
           lambda v, t: commands.close_booking(v.session, v.runtime.settings, actor(v), t.detail.id,
                                               outcome=BookingStatus.completed)),
    Simple(A.no_show, "Mark the event a no-show", "Mark no-show", "no_show", _close_consequences(False),
           lambda v, t: commands.close_booking(v.session, v.runtime.settings, actor(v), t.detail.id,
                                               outcome=BookingStatus.no_show)),
)


# --- assigning a chef ---------------------------------------------------------------------------------------------


async def _assign_render(visit: Visit, t: Target, form: dict[str, str], trouble: Trouble | None) -> Response:
    b, zone = t.detail, ZoneInfo(t.station.timezone)
    roster = await on_duty_roster(visit.session, visit.principal, t.station.id, b.event_date)
    same_day, _ = await list_bookings(visit.session, visit.principal, BookingFilter(
        station_id=t.station.id, date_from=b.event_date, date_to=b.event_date), cursor=None, limit=200)
    busy: dict[int, list[str]] = defaultdict(list)
    for other in same_day:
        if other.chef_id is not None and other.id != b.id and other.is_open:
            busy[other.chef_id].append(f"{clock(other.slot_time)} ({other.reference})")
    window = (f"{clock(f'{t.booking.busy_start.astimezone(zone):%H:%M}')} to "
              f"{clock(f'{t.booking.busy_end.astimezone(zone):%H:%M}')}")
    current = (await chef_names(visit.session, t.station.id, {b.chef_id})).get(b.chef_id or 0)
    return await action_page(visit, t, "assign.html", "Assign a chef", trouble,
                             values={"chef_id": form.get("chef_id", str(b.chef_id or ""))}, roster=roster, busy=busy,
                             window=window, current=current, blocked=t.why_not(A.assign_chef))


async def _assign_act(visit: Visit, t: Target, form: dict[str, str]) -> None:
    chef_id = record_id(form.get("chef_id"))
    if chef_id is None:
        raise FormProblem(422, "Please choose a chef.", {"chef_id": "Please choose a chef from the list."})
    await commands.assign_chef(visit.session, visit.runtime.settings, actor(visit), t.detail.id, chef_id)


# --- cancelling, or asking an admin to --------------------------------------------------------------------------


def _reason(form: dict[str, str]) -> str:
    try:
        return Reason.model_validate({"reason": form.get("reason", "")}).reason
    except ValidationError:
        raise FormProblem(422, "Please give a reason.", {"reason": "Please say why, for the history."}) from None


async def _cancel_render(visit: Visit, t: Target, form: dict[str, str], trouble: Trouble | None) -> Response:
    request = t.detail.cancel_request
    asked_by = (await _names(visit.session, t))["asked_by"] if request else None
    reason = form.get("reason", request.reason if request and request.reason else "")[:1000]
    return await action_page(visit, t, "cancel.html", "Approve the cancellation" if request else "Cancel the booking",
                             trouble, values={"reason": reason}, terms=t.actions[A.cancel].terms, asked_by=asked_by)


async def _cancel_act(visit: Visit, t: Target, form: dict[str, str]) -> None:
    terms = t.actions[A.cancel].terms
    if terms.allowed and form.get("refund_cents") != str(terms.refund_cents):
        raise FormProblem(409, f"The terms have changed since this page was opened: {terms.message} "
                               "Please read them again before cancelling.")
    await commands.cancel_booking(visit.session, visit.runtime.settings, actor(visit), t.detail.id,
                                  reason=_reason(form))


async def _cancel_request_render(visit: Visit, t: Target, form: dict[str, str],
                                 trouble: Trouble | None) -> Response:
    # What cancelling would do now (whoever may cancel): the admin who approves decides on it.
    return await action_page(visit, t, "cancel_request.html", "Ask an admin to cancel", trouble,
                             values={"reason": form.get("reason", "")[:1000]}, terms=t.actions[A.cancel].terms,
                             blocked=t.why_not(A.request_cancellation))


async def _cancel_request_act(visit: Visit, t: Target, form: dict[str, str]) -> None:
    await commands.request_cancellation(visit.session, visit.runtime.settings, actor(visit), t.detail.id,
                                        reason=_reason(form))


FLOWS: dict[str, Flow] = {
    **{simple.action.value: simple.flow() for simple in SIMPLE},
    A.assign_chef.value: Flow(A.assign_chef, _assign_render, _assign_act, "chef_assigned", conflict_field="chef_id"),
    A.cancel.value: Flow(A.cancel, _cancel_render, _cancel_act, "cancelled"),
    A.request_cancellation.value: Flow(A.request_cancellation, _cancel_request_render, _cancel_request_act,
                                       "cancel_requested"),
}
