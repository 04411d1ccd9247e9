"""A booking's page: its quote, party, payments, emails and audited history, and the actions this reader may take
on it now, as the bookings domain reports them (`queries.staff_actions`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from myhibachi.auth.permissions import ROLE_WORDS, Role
from myhibachi.bookings.actions import BookingAction
from myhibachi.bookings.queries import reads_whole_station
from myhibachi.bookings.schemas import BookingDetail, HistoryEntry
from myhibachi.core.email import emails_about
from myhibachi.core.money import format_money
from myhibachi.payments.notifications import notice_line
from myhibachi.payments.queries import booking_notices, booking_payments, may_refund
from myhibachi.pricing.quote import label_of
from myhibachi.web.admin.bookings.common import (
    Target,
    chef_names,
    load_target,
    staff_names,
    switched_away,
    when,
    words,
)
from myhibachi.web.admin.pages import AdminVisit
from myhibachi.web.site.common import clock

router = APIRouter(include_in_schema=False)
A = BookingAction
BUTTONS = {  # the actions' links on the booking's page, in this order
    A.record_payment: "Record a payment", A.confirm: "Confirm without a payment", A.assign_chef: "Assign a chef",
    A.unassign_chef: "Unassign the chef", A.reschedule: "Reschedule", A.change_party: "Change guests or menu",
    A.complete: "Mark completed", A.no_show: "Mark no-show", A.cancel: "Cancel the booking",
    A.decline_cancellation: "Decline the cancellation request", A.request_cancellation: "Ask an admin to cancel",
}
DONE = {
    "confirmed": "The booking is confirmed and the customer has been emailed.",
    "chef_assigned": "The chef is assigned.",
    "chef_unassigned": "The chef is unassigned: the event needs a chef again.",
    "rescheduled": "The booking has moved; the customer has been emailed the new date with an updated invite.",
    "party": "The party has changed and has been re-quoted.",
    "payment": "The payment is recorded and the customer has been emailed.",
    "refund": "The refund is recorded and the customer has been emailed.",
    "cancelled": "The booking is cancelled and the customer has been emailed. The refund owed is below.",
    "cancel_requested": "Cancellation requested: an admin of the station will approve or decline it.",
    "cancel_declined": "The cancellation request is declined; the booking stays as it is.",
    "completed": "The event is marked completed.",
    "no_show": "The event is marked as a no-show.",
}
ACTION_WORDS = {
    "bookings.create": "Booked", "bookings.confirm": "Confirmed", "bookings.reschedule": "Rescheduled",
    "bookings.change_party": "Party changed", "bookings.assign_chef": "Chef assigned",
    "bookings.unassign_chef": "Chef unassigned", "bookings.cancel": "Cancelled",
    "bookings.cancel_request": "Cancellation requested", "bookings.cancel_request_decline": "Cancellation declined",
    "bookings.complete": "Completed", "bookings.no_show": "No-show", "bookings.expire": "Hold expired",
    "payments.payment_sent": "Customer says a payment is on its way",
}
FIELD_WORDS = {"event_date": "date", "slot_time": "start time", "chef_id": "chef", "extra_proteins": "extra proteins",
               "total_cents": "total", "fees_cents": "fees", "refund_owed_cents": "refund owed",
               "by_payment": "by a payment", "request_reason": "request's reason", "notice_id": "notice",
               "amount_cents": "amount"}


def _offered(t: Target) -> list[tuple[str, str]]:
    """The action links for this reader on this booking now: (href, label)."""
    links = []
    for action, label in BUTTONS.items():
        if not t.actions[action].offered:
            continue
        if action is A.assign_chef and t.detail.chef_id is not None:
            label = "Change the chef"
        if action is A.cancel and t.detail.cancel_request is not None:
            label = "Approve the cancellation"
        links.append((f"{t.url}/{action.value}", label))
    return links


def _role_words(role: Role | None) -> str | None:
    return ROLE_WORDS[role] if role is not None else None


def _not_yours(t: Target) -> list[str]:
    """What could be done now, but not by this reader: who may, as the domain says it, once per sentence."""
    return list(dict.fromkeys(t.actions[action].not_yours for action in BUTTONS if t.actions[action].not_yours))


@dataclass(frozen=True)
class Change:
    name: str
    before: str | None
    after: str | None


@dataclass(frozen=True)
class HistoryRow:
    when: str
    what: str
    who: str
    changes: list[Change]
    reason: str | None


def _shown(name: str, value: Any, currency: str, chefs: dict[int, str]) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if name.endswith("_cents") and isinstance(value, int):
        return format_money(value, currency)
    if name == "chef_id" and isinstance(value, int):
        return chefs.get(value, f"Chef #{value}")
    if name == "status":
        return words(str(value))
    if name == "slot_time":
        return clock(str(value))
    if isinstance(value, dict):
        return ", ".join(f"{label_of(code)} × {qty}" for code, qty in value.items() if qty) or "none"
    return str(value)


def _history_row(entry: HistoryEntry, zone: ZoneInfo, currency: str, chefs: dict[int, str],
                 names: dict[int, str]) -> HistoryRow:
    before, after = entry.before or {}, dict(entry.after or {})
    by = after.pop("by", None)
    who = names.get(entry.actor_user_id, f"Staff member #{entry.actor_user_id}") if entry.actor_user_id else \
        {"customer": "The customer", "system": "The system"}.get(str(by), "—")
    keys = list(after) + [k for k in before if k not in after]
    changes = [Change(FIELD_WORDS.get(k, k.replace("_", " ")),
                      _shown(k, before[k], currency, chefs) if k in before else None,
                      _shown(k, after[k], currency, chefs) if k in after else None) for k in keys]
    return HistoryRow(when(entry.occurred_at.astimezone(zone)), ACTION_WORDS.get(entry.action, entry.action),
                      who, changes, entry.reason)


def _chef_ids_in(history: list[HistoryEntry]) -> set[int | None]:
    found: set[int | None] = set()
    for entry in history:
        for side in (entry.before or {}, entry.after or {}):
            if isinstance(side.get("chef_id"), int):
                found.add(side["chef_id"])
    return found



@router.get("/admin/bookings/{booking_id}", response_class=HTMLResponse)
async def booking_page(booking_id: str, visit: AdminVisit) -> Response:
    t = await load_target(visit, booking_id)
    if switched := switched_away(visit, t):
        return switched
    session, b, zone = visit.session, t.detail, ZoneInfo(t.station.timezone)
    payments = await booking_payments(session, visit.principal, b.id, t.station.id)
    notices = await booking_notices(session, visit.principal, b.id, t.station.id)
    chefs = await chef_names(session, t.station.id, {b.chef_id} | _chef_ids_in(b.history))
    people = {e.actor_user_id for e in b.history} | {p.recorded_by_user_id for p in payments or []} | \
        {r.requested_by_user_id for p in payments or [] for r in p.refunds}
    if b.cancel_request:
        people.add(b.cancel_request.requested_by_user_id)
    names = await staff_names(session, people)
    history = [_history_row(e, zone, t.currency, chefs, names) for e in reversed(b.history)]
    # The customer's emails tell of payments and refunds: not for readers without the money (a chef).
    messages = await emails_about(session, b.reference) if isinstance(b, BookingDetail) else None
    return await visit.page("bookings/detail.html", messages=messages, title=f"Booking {b.reference}",
                            station=t.station, b=b, t=t, chef=chefs.get(b.chef_id) if b.chef_id else None,
                            names=names, payments=payments, history=history, actions=_offered(t), words=words,
                            said_sent=[notice_line(n, when(n.created_at)) for n in notices or []],
                            not_yours=_not_yours(t), role=_role_words(visit.principal.role_at(t.station.id)),
                            when=when, local=lambda moment: moment.astimezone(zone), label=label_of,
                            notice=visit.notice(DONE), can_refund=may_refund(visit.principal, t.station.id),
                            whole_station=reads_whole_station(visit.principal, t.station.id))
