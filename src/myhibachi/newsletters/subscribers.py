"""Subscribers as staff see them (SPEC §7; issue 18's /admin/subscribers): each person's email-marketing state and
suppression, the suppression list (add, lift), a CSV import whose consent source is required, and a CSV export.

Who: reading needs `engagement` ("leads" reads, SPEC §7); importing, changing suppressions and exporting need
`newsletters.send`. Staff see only the people of their stations (`station_people`: a booking, a lead or a consent
event there); a super admin sees everyone. A suppression is global (no marketing from any station), but staff may
add or lift one only for a person of a station where they hold `newsletters.send`."""

from __future__ import annotations

import csv
import io
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import Select, func, or_, select, union
from sqlalchemy.ext.asyncio import AsyncSession

from myhibachi.audit.commands import record_audit
from myhibachi.auth.permissions import Permission
from myhibachi.auth.principal import Principal
from myhibachi.consent.commands import ImportOutcome, import_marketing_consent, lift_suppression, suppress
from myhibachi.consent.models import (
    ConsentAction,
    ConsentChannel,
    ConsentEvent,
    ConsentPurpose,
    Suppression,
    SuppressionReason,
)
from myhibachi.contacts.commands import Identity, add_contact_tag, find_contact, normalize_tag
from myhibachi.contacts.models import Contact
from myhibachi.core.errors import ValidationFailed
from myhibachi.core.text import Email, normalize_email
from myhibachi.newsletters.segments import station_people
from myhibachi.settings import Settings
from myhibachi.stations.models import Station

P = Permission
PAGE_SIZE = 50
MAX_IMPORT_BYTES = 2 * 1024 * 1024
MAX_IMPORT_ROWS = 20_000
TAG_SEPARATORS = (";", "|", ",")
_email = TypeAdapter(Email)


@dataclass(frozen=True)
class SubscriberRow:
    contact_id: int
    name: str
    email: str | None
    state: ConsentAction  # the latest email-marketing event
    since: datetime
    source: str
    suppressed: str | None  # the suppression's reason


# --- scope ----------------------------------------------------------------------------------------------------------


def _people(principal: Principal, permission: Permission) -> Select[tuple[int]] | None:
    """The contacts of the stations where the principal holds `permission` (None: everyone, a super admin)."""
    principal.authorize(permission, None)
    stations = principal.stations_with(permission)
    if stations is None:
        return None
    # Selected from a subquery: as a bare IN (…) under a query that reads consent_events itself, its own read of
    # consent_events would be correlated to the outer row.
    people = union(*[station_people(s) for s in sorted(stations)]).subquery()
    return select(people.c[0])


async def _stations_of_address(session: AsyncSession, principal: Principal, email: str) -> list[int | None]:
    """The stations with `newsletters.send` for the principal where this address is one of the people: where a
    suppression change is theirs to make (and audited). A super admin may change any address's ([None] when it is
    nobody's); for anyone else an address of none of their stations does not exist (404, like any record of
    another station)."""
    principal.authorize(P.newsletters_send, None)
    contact = await find_contact(session, Identity(email=email))
    stations = principal.stations_with(P.newsletters_send)
    candidates = sorted(stations) if stations is not None else list(
        await session.scalars(select(Station.id).order_by(Station.id)))
    found = [s for s in candidates if contact is not None and await session.scalar(
        select(Contact.id).where(Contact.id == contact.id, Contact.id.in_(station_people(s)))) is not None]
    if found:
        return list(found)
    if principal.is_super_admin:
        return [None]
    raise principal.hide(P.newsletters_send, None, "No subscriber or customer of your stations has this address "
                                                   "(so your stations send it nothing anyway).")


# --- reading --------------------------------------------------------------------------------------------------------


def _latest_events() -> Select[tuple[int, int]]:
    return (select(ConsentEvent.contact_id, func.max(ConsentEvent.id).label("last_id"))
            .where(ConsentEvent.channel == ConsentChannel.email.value,
                   ConsentEvent.purpose == ConsentPurpose.marketing.value)
            .group_by(ConsentEvent.contact_id))


def _subscribers(people: Select[tuple[int]] | None, text: str = "") -> Select:  # type: ignore[type-arg]
    latest = _latest_events().subquery()
    stmt = (select(Contact.id, Contact.name, Contact.email, ConsentEvent.action, ConsentEvent.at,
                   ConsentEvent.source, Suppression.reason)
            .join(latest, latest.c.contact_id == Contact.id)
            .join(ConsentEvent, ConsentEvent.id == latest.c.last_id)
            .outerjoin(Suppression, Suppression.email == Contact.email))
    if people is not None:
        stmt = stmt.where(Contact.id.in_(people))
    words = " ".join(text.split())[:100].lower()
    if words:
        pattern = f"%{words}%"
        stmt = stmt.where(or_(func.lower(Contact.name).like(pattern, escape="\\"),
                              Contact.email.like(pattern, escape="\\")))
    return stmt


def _row(values: tuple) -> SubscriberRow:  # type: ignore[type-arg]
    contact_id, name, email, action, at, source, suppressed = values
    return SubscriberRow(contact_id, name, email, ConsentAction(action), at, source, suppressed)


def _escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def search_subscribers(session: AsyncSession, principal: Principal, text: str = "", *,
                             before: int | None = None) -> tuple[list[SubscriberRow], int | None]:
    """Everyone with an email-marketing event, newest contact first, whose name or email holds `text`; a page
    and the cursor of the next (`before`)."""
    stmt = _subscribers(_people(principal, P.engagement), _escaped(text))
    if before is not None:
        stmt = stmt.where(Contact.id < before)
    rows = [_row(r) for r in await session.execute(stmt.order_by(Contact.id.desc()).limit(PAGE_SIZE + 1))]
    return rows[:PAGE_SIZE], rows[PAGE_SIZE - 1].contact_id if len(rows) > PAGE_SIZE else None


@dataclass(frozen=True)
class SuppressionRow:
    email: str
    reason: SuppressionReason
    source: str
    detail: str | None
    at: datetime
    contact_id: int | None


async def suppression_list(session: AsyncSession, principal: Principal, text: str = "") -> list[SuppressionRow]:
    """The suppressed addresses of the principal's people (a super admin: all), newest first (at most 500)."""
    people = _people(principal, P.engagement)
    stmt = (select(Suppression, Contact.id).outerjoin(Contact, Contact.email == Suppression.email)
            .order_by(Suppression.at.desc(), Suppression.email).limit(500))
    if people is not None:
        stmt = stmt.where(Contact.id.in_(people))
    if words := " ".join(text.split())[:100].lower():
        stmt = stmt.where(Suppression.email.like(f"%{_escaped(words)}%", escape="\\"))
    return [SuppressionRow(s.email, SuppressionReason(s.reason), s.source, s.detail, s.at, contact_id)
            for s, contact_id in await session.execute(stmt)]


# --- suppression by staff -------------------------------------------------------------------------------------------


def _address(text: str) -> str:
    try:
        return _email.validate_python(text)
    except ValidationError:
        raise ValidationFailed.on("email", "Type an email address, like name@example.com.") from None


async def suppress_by_hand(session: AsyncSession, principal: Principal, email: str, detail: str) -> bool:
    """A manual suppression (audited); False when the address already was suppressed (nothing changes)."""
    address = _address(email)
    stations = await _stations_of_address(session, principal, address)
    return await suppress(session, address, SuppressionReason.manual, "staff", detail.strip()[:500] or None,
                          actor_user_id=principal.user_id, station_ids=stations)


async def lift_by_hand(session: AsyncSession, principal: Principal, email: str, reason: str) -> None:
    address = normalize_email(email)
    stations = await _stations_of_address(session, principal, address)
    await lift_suppression(session, address, reason=reason, actor_user_id=principal.user_id, station_ids=stations)


# --- CSV import -----------------------------------------------------------------------------------------------------


@dataclass
class ImportReport:
    """What an import did: how many people each way, and each refused line with why."""

    outcomes: Counter[ImportOutcome] = field(default_factory=Counter)
    problems: list[tuple[int, str]] = field(default_factory=list)  # (line number in the file, why)
    suppressed: int = 0  # imported, but their address is suppressed: nothing will reach them

    @property
    def imported(self) -> int:
        return sum(self.outcomes.values())


@dataclass(frozen=True)
class _Person:
    line: int
    email: str
    name: str
    tags: list[str]


async def import_subscribers(session: AsyncSession, settings: Settings, principal: Principal, station_id: int,
                             data: bytes, *, origin: str, confirmed: bool) -> ImportReport:
    """A CSV file (columns `email`, `name`, optional `tags` separated by `;`) into the station's subscribers, in
    one transaction: every line is checked first; a bad line is reported by its line number and skipped, the good
    ones are kept. `origin` (required) says where these people gave their consent, kept on each consent event
    (source `csv_import`). `confirmed`: they confirmed by double opt-in elsewhere; otherwise each is a grant and
    gets the double opt-in email. Someone who unsubscribed is never subscribed again by an import."""
    principal.authorize(P.newsletters_send, station_id)
    origin = " ".join(origin.split())[:300]
    if not origin:
        raise ValidationFailed.on("origin", "Say where these people gave their consent (a form, an event, a "
                                            "shop's sign-up sheet …): the ledger keeps it.")
    report = ImportReport()
    people = _read_csv(data, report)
    for person in people:
        outcome = await import_marketing_consent(session, settings, person.email, name=person.name,
                                                 station_id=station_id, origin=origin, confirmed=confirmed)
        report.outcomes[outcome] += 1
        contact = await find_contact(session, Identity(email=person.email))
        for tag in person.tags:
            if contact is not None:
                await add_contact_tag(session, contact.id, tag, actor_user_id=principal.user_id,
                                      station_ids=[station_id])
    if people:
        report.suppressed = await session.scalar(select(func.count()).select_from(Suppression).where(
            Suppression.email.in_([p.email for p in people]))) or 0
        await record_audit(session, actor_user_id=principal.user_id, action="subscribers.import",
                           target_type="station", target_id=station_id, station_id=station_id,
                           after={"origin": origin, "confirmed": confirmed, "imported": report.imported,
                                  **{o.value: n for o, n in report.outcomes.items()},
                                  "refused_lines": len(report.problems)})
    return report


def _read_csv(data: bytes, report: ImportReport) -> list[_Person]:
    if len(data) > MAX_IMPORT_BYTES:
        raise ValidationFailed.on("file", f"The file is larger than {MAX_IMPORT_BYTES // (1024 * 1024)} MB; split "
                                          "it into smaller files.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationFailed.on("file", "The file is not UTF-8 text; save it as \"CSV UTF-8\".") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    header = [name.strip().lower() for name in next(reader, [])]
    if "email" not in header:
        raise ValidationFailed.on("file", "The first line must name the columns: email, name and (optional) tags.")
    people: list[_Person] = []
    seen: dict[str, int] = {}
    try:
        for row in reader:
            if reader.line_num > MAX_IMPORT_ROWS + 1:
                raise ValidationFailed.on("file", f"At most {MAX_IMPORT_ROWS} people per file.")
            if not any(cell.strip() for cell in row):
                continue
            person = _person(reader.line_num, dict(zip(header, row, strict=False)), seen, report)
            if person is not None:
                people.append(person)
    except csv.Error as exc:
        raise ValidationFailed.on("file", f"Line {reader.line_num} is not valid CSV ({exc}).") from None
    return people


def _person(line: int, cells: dict[str, str], seen: dict[str, int], report: ImportReport) -> _Person | None:
    try:
        email = _email.validate_python(cells.get("email", "").strip())
    except ValidationError:
        report.problems.append((line, f"“{cells.get('email', '').strip()[:80]}” is not an email address."))
        return None
    if email in seen:
        report.problems.append((line, f"{email} is on line {seen[email]} already."))
        return None
    name = " ".join(cells.get("name", "").split())[:120]
    raw_tags = cells.get("tags", "")
    for separator in TAG_SEPARATORS[1:]:
        raw_tags = raw_tags.replace(separator, TAG_SEPARATORS[0])
    try:
        tags = sorted({normalize_tag(t) for t in raw_tags.split(TAG_SEPARATORS[0]) if t.strip()})
    except ValidationFailed as bad:
        report.problems.append((line, f"A tag is not valid: {bad.detail}"))
        return None
    seen[email] = line
    return _Person(line, email, name, tags)


# --- CSV export -----------------------------------------------------------------------------------------------------

EXPORT_HEADER = ["email", "name", "state", "since", "source", "stations"]


async def export_subscribers(session: AsyncSession, principal: Principal) -> list[list[str]]:
    """Every subscriber the principal may export (people of their `newsletters.send` stations; a super admin:
    all), with their state, since when (UTC, ISO 8601), its source and the stations they subscribed at (codes)."""
    people = _people(principal, P.newsletters_send)
    rows = [_row(r) for r in await session.execute(_subscribers(people).order_by(Contact.id))]
    codes: dict[int, set[str]] = {}
    visible = principal.stations_with(P.newsletters_send)
    where = select(ConsentEvent.contact_id, Station.code, Station.id).join(
        Station, Station.id == ConsentEvent.station_id).distinct()
    for contact_id, code, station_id in await session.execute(
            where if people is None else where.where(ConsentEvent.contact_id.in_(people))):
        if visible is None or station_id in visible:
            codes.setdefault(contact_id, set()).add(code)
    return [EXPORT_HEADER, *([r.email or "", r.name, r.state.value, r.since.isoformat(timespec="seconds"), r.source,
                              " ".join(sorted(codes.get(r.contact_id, ())))] for r in rows)]
