"""Admin page: the audit log of the stations whose log this staff member may read, newest first, with filters
(station, who, action, record type, dates), keyset pages and each entry's before and after side by side — read
through the audit domain's query, as the API reads it."""

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
from myhibachi.stations.models import Station
from myhibachi.web.admin.pages import AdminVisit
from myhibachi.web.admin.render import staff_stations
from myhibachi.web.admin.stations import RULE_FIELDS, shown_value
from myhibachi.web.fields import day_of, record_id

router = APIRouter(include_in_schema=False)
P = Permission
PAGE_SIZE = 50
LONGEST_VALUE = 300  # characters of one value shown; the API has the whole entry
RECORD_PAGES = {"user": "/admin/users/{}", "booking": "/admin/bookings/{}", "payment": "/admin/payments/{}",
                "station": "/admin/stations/{}", "station_rules": "/admin/stations/{}/rules"}


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


def shown(entry: AuditEntry, key: str, value: Any) -> tuple[str, str]:
    """(label, value) of one recorded field: a business rule as its editor shows it, cents as an amount."""
    if value is None:
        text = "—"
    elif entry.target_type == "station_rules" and key in RULE_FIELDS:
        field = RULE_FIELDS[key]
        try:
            text = shown_value(field.kind, value).replace("\n", "; ")
        except (TypeError, ValueError, AttributeError):  # an older shape of the rule: shown as recorded
            text = _plain_value(value)
        return field.label, text[:LONGEST_VALUE]
    elif key.endswith("_cents") and isinstance(value, int) and not isinstance(value, bool):
        text = f"{value / 100:,.2f}"
        key = key.removesuffix("_cents")
    else:
        text = _plain_value(value)
    return key.replace("_", " "), text[:LONGEST_VALUE]


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
    return await visit.page(
        "audit/list.html", title="Audit log", readable=readable, listing=listing, entries=entries, nobody=nobody,
        when=when, changes=changes, zone=str(zone), station_names={s.id: s.name for s in readable},
        actors=await user_names(session, {e.actor_user_id for e in entries if e.actor_user_id}),
        record_href=lambda entry: record_href(principal, entry),
        next_href=f"/admin/audit?{urlencode({**params, 'cursor': next_id})}" if next_id else None,
        first_href=f"/admin/audit?{urlencode(params)}" if listing.cursor else None)
