"""Admin page: the audit log of the stations whose log this staff member may read, newest first, with filters
(station, who, action, record type, dates), keyset pages and each entry's before and after side by side — read
through the audit domain's query, as the API reads it. Actions and records are said in words ("Chef assigned",
"Business rules of Fremont"), each record named through its own domain's queries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from myhibachi.audit.models import AuditEntry
from myhibachi.audit.queries import AuditFilter, list_audit_entries
from myhibachi.auth.permissions import Permission
from myhibachi.auth.principal import Principal
from myhibachi.auth.queries import user_id_by_email, user_names
from myhibachi.bookings.queries import references_of
from myhibachi.chefs.queries import find_station_chef, find_station_time_off
from myhibachi.core.errors import NotFound
from myhibachi.payments.queries import payments_by_id
from myhibachi.stations.models import Station
from myhibachi.web.admin.bookings.detail import ACTION_WORDS as BOOKING_ACTION_WORDS
from myhibachi.web.admin.bookings.detail import FIELD_WORDS
from myhibachi.web.admin.pages import AdminVisit
from myhibachi.web.admin.payments import method_words, payment_title
from myhibachi.web.admin.render import staff_stations
from myhibachi.web.admin.stations import RULE_FIELDS, shown_value
from myhibachi.web.fields import day_of, record_id

router = APIRouter(include_in_schema=False)
P = Permission
PAGE_SIZE = 50
LONGEST_VALUE = 300  # characters of one value shown; the API has the whole entry
RECORD_PAGES = {"user": "/admin/users/{}", "booking": "/admin/bookings/{}", "payment": "/admin/payments/{}",
                "station": "/admin/stations/{}", "station_rules": "/admin/stations/{}/rules"}
# Each recorded action as people say it; the log and its filter keep the names the commands record.
ACTION_WORDS = {
    **BOOKING_ACTION_WORDS,
    "payments.record": "Payment recorded", "payments.refund": "Payment refunded",
    "rules.update": "Business rules changed", "stations.create": "Station created",
    "stations.update": "Station changed",
    "chefs.create": "Chef added", "chefs.update": "Chef changed", "chefs.time_off_request": "Time off added",
    "chefs.time_off_approve": "Time off approved", "chefs.time_off_reject": "Time off rejected",
    "users.create": "User invited", "users.role_grant": "Role given", "users.role_change": "Role changed",
    "users.role_revoke": "Removed from a station", "users.deactivate": "User deactivated",
    "users.reactivate": "User reactivated", "auth.password_reset": "Password reset",
    "auth.password_invite": "Password chosen from an invitation", "auth.totp_enable": "Two-factor sign-in on",
    "auth.totp_disable": "Two-factor sign-in off",
}
RECORD_WORDS = {"booking": "Booking", "payment": "Payment", "station": "Station", "station_rules": "Business rules",
                "user": "User", "chef": "Chef", "chef_time_off": "Time off"}


@dataclass(frozen=True)
class Listing:
    """The filters as asked for in the query string; a value that makes no sense is ignored."""

    station_id: int | None = None
    actor: str = ""
    action: str = ""
    target_type: str = ""
    date_from: date | None = None
    date_to: date | None = None
    cursor: int | None = None

    def params(self) -> dict[str, str]:
        values = {"station_id": str(self.station_id or ""), "actor": self.actor, "action": self.action,
                  "target_type": self.target_type, "from": self.date_from.isoformat() if self.date_from else "",
                  "to": self.date_to.isoformat() if self.date_to else ""}
        return {key: value for key, value in values.items() if value}

    def with_filter(self, **changes: str) -> str:
        """The link that narrows the list to one actor, action or record type (from the first page)."""
        return "/admin/audit?" + urlencode({**self.params(), **changes})


def action_words(action: str) -> str:
    """An action as people say it; one this page does not know yet, from its own name ("payment_sent" → "Payment
    sent")."""
    return ACTION_WORDS.get(action) or action.rpartition(".")[2].replace("_", " ").capitalize()


def record_words(target_type: str) -> str:
    return RECORD_WORDS.get(target_type) or target_type.replace("_", " ").capitalize()


def _word(raw: str | None, longest: int) -> str:
    text = (raw or "").strip()
    return text if len(text) <= longest else ""


def read_listing(request: Request, readable: list[Station]) -> Listing:
    q = request.query_params
    station = q.get("station_id", "")
    start, end = day_of(q.get("from")), day_of(q.get("to"))
    if start and end and end < start:
        start, end = end, start
    return Listing(station_id=next((s.id for s in readable if str(s.id) == station), None),
                   actor=_word(q.get("actor"), 254), action=_word(q.get("action"), 80),
                   target_type=_word(q.get("target_type"), 50), date_from=start, date_to=end,
                   cursor=record_id(q.get("cursor")))


def _zone(listing: Listing, readable: list[Station]) -> ZoneInfo:
    """Dates are the filtered station's (or the only station's) local dates; UTC across several time zones."""
    zones = {s.timezone for s in readable if listing.station_id in (None, s.id)}
    return ZoneInfo(zones.pop()) if len(zones) == 1 else ZoneInfo("UTC")


def _moment(day: date | None, zone: ZoneInfo, *, days: int = 0) -> datetime | None:
    return None if day is None else datetime.combine(day + timedelta(days=days), time(0), zone).astimezone(UTC)


# --- one entry, as people read it ------------------------------------------------------------------------------------


def _plain_value(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict):
        return "; ".join(f"{key} = {_plain_value(item)}" for key, item in value.items()) or "none"
    if isinstance(value, list):
        return ", ".join(_plain_value(item) for item in value) or "none"
    return str(value)


def field_label(entry: AuditEntry, key: str) -> str:
    """A recorded field's name in words: a business rule's label, else the booking page's words for it."""
    if entry.target_type == "station_rules" and key in RULE_FIELDS:
        return RULE_FIELDS[key].label
    return FIELD_WORDS.get(key) or key.removesuffix("_cents").replace("_", " ")


def shown(entry: AuditEntry, key: str, value: Any) -> tuple[str, str]:
    """(label, value) of one recorded field: a business rule as its editor shows it, cents as an amount."""
    if value is None:
        text = "—"
    elif entry.target_type == "station_rules" and key in RULE_FIELDS:
        try:
            text = shown_value(RULE_FIELDS[key].kind, value).replace("\n", "; ")
        except (TypeError, ValueError, AttributeError):  # an older shape of the rule: shown as recorded
            text = _plain_value(value)
    elif key.endswith("_cents") and isinstance(value, int) and not isinstance(value, bool):
        text = f"{value / 100:,.2f}"
    elif key in ("status", "purpose") and isinstance(value, str):
        text = value.replace("_", " ")
    elif key == "method" and isinstance(value, str):
        text = method_words(value)
    else:
        text = _plain_value(value)
    return field_label(entry, key), text[:LONGEST_VALUE]


@dataclass(frozen=True)
class Change:
    label: str
    before: str
    after: str
    changed: bool


def changes(entry: AuditEntry) -> list[Change]:
    """Every recorded field with its value before and after (a field only one side has shows "—" on the other)."""
    before, after = entry.before or {}, entry.after or {}
    rows = []
    for key in dict.fromkeys([*before, *after]):
        label, old = shown(entry, key, before.get(key))
        _, new = shown(entry, key, after.get(key))
        rows.append(Change(label, old, new, before.get(key) != after.get(key)))
    return rows


def record_href(principal: Principal, entry: AuditEntry) -> str | None:
    """Where the changed record is shown, when this staff member may open that page."""
    if entry.target_type not in RECORD_PAGES or not entry.target_id or \
            (entry.target_type == "station" and not principal.is_super_admin):
        return None
    return RECORD_PAGES[entry.target_type].format(entry.target_id)


# --- each changed record, by name -----------------------------------------------------------------------------------


async def _chef_name(session: Any, station_id: int | None, chef_id: int) -> str | None:
    try:
        return (await find_station_chef(session, station_id, chef_id)).name if station_id else None
    except NotFound:
        return None


async def _time_off_name(session: Any, station_id: int | None, time_off_id: int) -> str | None:
    try:
        time_off = await find_station_time_off(session, station_id, time_off_id) if station_id else None
    except NotFound:
        return None
    if time_off is None:
        return None
    chef = await _chef_name(session, station_id, time_off.chef_id) or "a chef"
    days = f"{time_off.first_day:%b} {time_off.first_day.day}"
    if time_off.last_day != time_off.first_day:
        days += f" to {time_off.last_day:%b} {time_off.last_day.day}"
    return f"Time off of {chef}, {days}"


async def record_names(session: Any, principal: Principal, entries: list[AuditEntry],
                       stations: dict[int, str]) -> dict[tuple[str, str], str]:
    """Each changed record as people know it — "Booking MH-7K3Q9D", "$100.00 Zelle payment of MH-7K3Q9D",
    "Business rules of Fremont", a person's or a chef's name — read through each domain's queries (a record the
    reader may not read keeps its kind and number). Keyed by (record type, id as recorded)."""
    wanted: dict[str, set[int]] = {}
    for entry in entries:
        if (number := record_id(entry.target_id)) is not None:
            wanted.setdefault(entry.target_type, set()).add(number)
    names: dict[tuple[str, int], str] = {}
    if ids := wanted.get("booking"):
        names |= {("booking", i): f"Booking {ref}" for i, ref in (await references_of(session, principal, ids)).items()}
    if ids := wanted.get("payment"):
        names |= {("payment", i): payment_title(p) for i, p in (await payments_by_id(session, principal, ids)).items()}
    if ids := wanted.get("user"):
        names |= {("user", i): name for i, (name, _) in (await user_names(session, ids)).items()}
    for station_id in wanted.get("station", set()) & set(stations):
        names["station", station_id] = f"Station {stations[station_id]}"
    for station_id in wanted.get("station_rules", set()) & set(stations):
        names["station_rules", station_id] = f"Business rules of {stations[station_id]}"
    for entry in entries:
        number = record_id(entry.target_id)
        if number is None or (entry.target_type, number) in names or entry.target_type not in ("chef", "chef_time_off"):
            continue
        find = _chef_name if entry.target_type == "chef" else _time_off_name
        if (name := await find(session, entry.station_id, number)) is not None:
            names[entry.target_type, number] = name
    return {(kind, str(number)): name for (kind, number), name in names.items()}


def record_name(names: dict[tuple[str, str], str], entry: AuditEntry) -> str:
    if not entry.target_id:
        return record_words(entry.target_type)
    return names.get((entry.target_type, entry.target_id), f"{record_words(entry.target_type)} #{entry.target_id}")


# --- the page --------------------------------------------------------------------------------------------------------


async def _entries(session: Any, principal: Principal, listing: Listing,
                   zone: ZoneInfo) -> tuple[list[AuditEntry], int | None, str | None]:
    """The page of entries, the next cursor, and why the list is empty when the filter names nobody."""
    actor_id = None
    if listing.actor:
        actor_id = await user_id_by_email(session, listing.actor)
        if actor_id is None:
            return [], None, f"No staff user has the email {listing.actor}."
    filters = AuditFilter(station_id=listing.station_id, actor_user_id=actor_id, action=listing.action or None,
                          target_type=listing.target_type or None, occurred_from=_moment(listing.date_from, zone),
                          occurred_to=_moment(listing.date_to, zone, days=1))
    entries, next_id = await list_audit_entries(session, principal, filters, before_id=listing.cursor,
                                                limit=PAGE_SIZE)
    return entries, next_id, None


def _choices(known: dict[str, str], chosen: str, words: Any) -> list[tuple[str, str]]:
    """A filter's options (name, words) by their words, with the chosen one even when this page does not know it."""
    names = set(known) | ({chosen} if chosen else set())
    return sorted(((name, words(name)) for name in names), key=lambda choice: choice[1])


@router.get("/admin/audit", response_class=HTMLResponse)
async def audit_log(visit: AdminVisit) -> Response:
    principal, session = visit.principal, visit.session
    if not principal.has_anywhere(P.audit_read):
        raise principal.deny(P.audit_read, None, "Your role does not allow reading the audit log.")
    readable = [s for s in await staff_stations(session, principal) if principal.can(P.audit_read, s.id)]
    listing = read_listing(visit.request, readable)
    zone = _zone(listing, readable)
    entries, next_id, nobody = await _entries(session, principal, listing, zone)
    zones = {s.id: ZoneInfo(s.timezone) for s in readable}

    def when(entry: AuditEntry) -> str:
        return entry.occurred_at.astimezone(zones.get(entry.station_id or 0, zone)).strftime("%b %-d, %Y, %-I:%M %p %Z")

    params = listing.params()
    station_names = {s.id: s.name for s in readable}
    names = await record_names(session, principal, entries, station_names)
    return await visit.page(
        "audit/list.html", title="Audit log", readable=readable, listing=listing, entries=entries, nobody=nobody,
        when=when, changes=changes, zone=str(zone), station_names=station_names, action_words=action_words,
        record_name=lambda entry: record_name(names, entry), record_words=record_words,
        action_choices=_choices(ACTION_WORDS, listing.action, action_words),
        record_choices=_choices(RECORD_WORDS, listing.target_type, record_words),
        actors=await user_names(session, {e.actor_user_id for e in entries if e.actor_user_id}),
        record_href=lambda entry: record_href(principal, entry),
        next_href=f"/admin/audit?{urlencode({**params, 'cursor': next_id})}" if next_id else None,
        first_href=f"/admin/audit?{urlencode(params)}" if listing.cursor else None)
