"""Canned replies: texts staff insert with a click, naming the station's rules as placeholders (`{deposit}`,
`{minimum}` …) that are filled in with the rules as they are when the reply is used, so a canned reply never
disagrees with the site. A station's replies are its own; a reply of no station serves every station."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from string import Formatter
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from myhibachi.audit.commands import record_audit
from myhibachi.auth.permissions import P
from myhibachi.auth.principal import Principal
from myhibachi.core.errors import NotFound, ValidationFailed
from myhibachi.core.money import format_money
from myhibachi.core.text import multi_line, single_line
from myhibachi.inbox.models import CannedReply, Conversation
from myhibachi.pricing.queries import get_rules
from myhibachi.pricing.quote import in_a_sentence
from myhibachi.pricing.rules import BusinessRules
from myhibachi.stations.models import Station
from myhibachi.stations.queries import get_station

StationId = Annotated[int, Field(ge=1, le=2**31 - 1, strict=True)]
PlaceholderValue = Callable[[BusinessRules, Station], str]


def _money(cents_of: str) -> PlaceholderValue:
    return lambda rules, _: format_money(getattr(rules, cents_of), rules.currency)


def _number(rule: str) -> PlaceholderValue:
    return lambda rules, _: str(getattr(rules, rule))

def _listed(items: Iterable[str]) -> str:
    """"a, b and c"."""
    items = list(items)
    return ", ".join(items[:-1]) + " and " + items[-1] if len(items) > 1 else "".join(items)


def _priced(codes: dict[str, int], currency: str) -> str:
    """"salmon (+$5.00) and lobster tail (+$15.00)"; "none" for an empty list."""
    return _listed(f"{in_a_sentence(code)} (+{format_money(cents, currency)})" for code, cents in codes.items()) or \
        "none"


# Every placeholder a body may name: a rule of the station as a person reads it (money as the site shows it).
PLACEHOLDERS: dict[str, PlaceholderValue] = {
    "station": lambda _, station: station.name,
    "deposit": _money("deposit_cents"),
    "minimum": _money("party_minimum_cents"),
    "adult_price": _money("adult_price_cents"),
    "child_price": _money("child_price_cents"),
    "toddler_price": _money("toddler_price_cents"),
    "extra_protein": _money("extra_protein_cents"),
    "travel_free_miles": _number("travel_free_miles"),
    "travel_per_mile": _money("travel_per_mile_cents"),
    "max_service_miles": _number("max_service_miles"),
    "tax_rate": lambda rules, _: f"{rules.tax_rate_percent.normalize():f}%",
    "deposit_hours": _number("hold_hours"),  # how long an unpaid hold waits for the deposit
    "refund_hours": _number("deposit_refund_min_hours"),
    "min_notice_hours": _number("min_notice_hours"),
    "reschedule_fee": _money("reschedule_fee_cents"),
    "free_reschedule_hours": _number("free_reschedule_min_hours"),
    "guest_change_hours": _number("guest_change_min_hours"),
    "menu_change_hours": _number("menu_change_min_hours"),
    "max_days_ahead": _number("max_days_ahead"),
    "event_minutes": _number("event_minutes"),
    "large_party_minutes": _number("large_party_event_minutes"),
    "large_party_guests": _number("large_party_min_guests"),
    "guests_max": _number("guests_max"),
    "base_proteins": lambda rules, _: _listed(in_a_sentence(code) for code in rules.base_proteins),
    "protein_upgrades": lambda rules, _: _priced(rules.protein_upgrades, rules.currency),
    "addons": lambda rules, _: _priced(rules.addons, rules.currency),
    "start_times": lambda rules, _: _listed(slot.strftime("%-I:%M %p").replace(":00", "").lower()
                                            for slot in rules.slot_times),
}


class CannedReplyCreate(BaseModel):
    station_id: StationId | None = Field(None, description="None: a reply for every station (super admin only).")
    title: single_line(80)
    body: multi_line(5000, min_length=1)

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "station_id": 1, "title": "Deposit",
        "body": "A {deposit} deposit holds your date for {deposit_hours} hours; it comes off the total."}]})


class CannedReplyUpdate(BaseModel):
    title: single_line(80) | None = None
    body: multi_line(5000, min_length=1) | None = None

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"title": "Deposit and minimum"}]})


EXAMPLE_READ = {"id": 7, "station_id": 1, "title": "Deposit",
                "body": "A {deposit} deposit holds your date for {deposit_hours} hours."}


class CannedReplyRead(BaseModel):
    id: int
    station_id: int | None
    title: str
    body: str

    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE_READ]})

    @classmethod
    def of(cls, reply: CannedReply) -> CannedReplyRead:
        return cls(id=reply.id, station_id=reply.station_id, title=reply.title, body=reply.body)


class RenderedCannedReply(CannedReplyRead):
    rendered: str = Field(description="The body with the station's current rules filled in.")

    model_config = ConfigDict(json_schema_extra={"examples": [{
        **EXAMPLE_READ, "rendered": "A $100.00 deposit holds your date for 24 hours."}]})


# --- placeholders --------------------------------------------------------------------------------------------------


def _pieces(body: str) -> list[tuple[str, str | None]]:
    """(literal text, placeholder name or None) in order. Refuses what is not a plain known placeholder: an unknown
    name, a format (`{deposit:>10}`), an attribute (`{station.id}`) or a lone brace (`{{` writes one)."""
    try:
        parsed = list(Formatter().parse(body))
    except ValueError:
        raise ValidationFailed.on("body.body", "A lone { or } — write {{ or }} for a brace.") from None
    pieces: list[tuple[str, str | None]] = []
    for literal, name, spec, conversion in parsed:
        if name is not None and (name not in PLACEHOLDERS or spec or conversion):
            known = ", ".join(f"{{{known}}}" for known in PLACEHOLDERS)
            raise ValidationFailed.on("body.body", f"Unknown placeholder {{{name}}}: use one of {known}.")
        pieces.append((literal, name))
    return pieces


def render_body(body: str, rules: BusinessRules, station: Station) -> str:
    """The body with each placeholder replaced by the station's rule now."""
    return "".join(literal + (PLACEHOLDERS[name](rules, station) if name else "") for literal, name in _pieces(body))


# --- commands ------------------------------------------------------------------------------------------------------


def _authorize(principal: Principal, station_id: int | None) -> None:
    """`engagement` at the station; a reply of every station is the super admin's."""
    if station_id is None and not principal.is_super_admin:
        raise principal.deny(P.engagement, None, "Only a super admin writes canned replies for every station.")
    if station_id is not None:
        principal.authorize(P.engagement, station_id)


async def create_canned_reply(session: AsyncSession, principal: Principal, data: CannedReplyCreate) -> CannedReply:
    _authorize(principal, data.station_id)
    if data.station_id is not None:
        await get_station(session, data.station_id)
    _pieces(data.body)
    reply = CannedReply(station_id=data.station_id, title=data.title, body=data.body)
    session.add(reply)
    await session.flush()
    await _audit(session, principal, reply, "inbox.canned_create", after=CannedReplyRead.of(reply).model_dump())
    return reply


async def update_canned_reply(session: AsyncSession, principal: Principal, reply_id: int,
                              data: CannedReplyUpdate) -> CannedReply:
    reply = await _find(session, principal, reply_id)
    before = CannedReplyRead.of(reply).model_dump()
    if data.body is not None:
        _pieces(data.body)
        reply.body = data.body
    if data.title is not None:
        reply.title = data.title
    await _audit(session, principal, reply, "inbox.canned_update", before=before,
                 after=CannedReplyRead.of(reply).model_dump())
    return reply


async def delete_canned_reply(session: AsyncSession, principal: Principal, reply_id: int) -> None:
    reply = await _find(session, principal, reply_id)
    await _audit(session, principal, reply, "inbox.canned_delete", before=CannedReplyRead.of(reply).model_dump())
    await session.delete(reply)
    await session.flush()


async def _find(session: AsyncSession, principal: Principal, reply_id: int) -> CannedReply:
    """A reply the principal may change: 404 for another station's, as if absent."""
    reply = await session.get(CannedReply, reply_id, with_for_update=True)
    if reply is None:
        raise NotFound("No such canned reply.")
    if reply.station_id is not None:
        principal.authorize(P.engagement, reply.station_id, missing="No such canned reply.")
    else:
        _authorize(principal, None)
    return reply


async def _audit(session: AsyncSession, principal: Principal, reply: CannedReply, action: str, *,
                 before: dict[str, object] | None = None, after: dict[str, object] | None = None) -> None:
    await record_audit(session, actor_user_id=principal.user_id, action=action, target_type="canned_reply",
                       target_id=reply.id, station_id=reply.station_id, before=before, after=after)


# --- queries -------------------------------------------------------------------------------------------------------


async def list_canned_replies(session: AsyncSession, principal: Principal,
                              station_id: int | None) -> list[CannedReply]:
    """The station's replies and those of every station; without a station, those of every station the principal
    works the inbox at."""
    principal.authorize(P.engagement, station_id)
    stations = {station_id} if station_id is not None else principal.stations_with(P.engagement)
    mine = CannedReply.station_id.in_(sorted(stations)) if stations is not None else CannedReply.station_id.isnot(None)
    found = await session.scalars(select(CannedReply).where(or_(CannedReply.station_id.is_(None), mine))
                                  .order_by(CannedReply.title, CannedReply.id))
    return list(found)


@dataclass(frozen=True)
class Rendered:
    reply: CannedReply
    rendered: str


async def canned_replies_for_conversation(session: AsyncSession, principal: Principal,
                                          conversation_id: int) -> list[Rendered]:
    """The replies usable in the thread, each filled in with its station's rules as they are now."""
    conversation = await readable_conversation(session, principal, conversation_id)
    station = await get_station(session, conversation.station_id)
    rules = await get_rules(session, station.id)
    replies = await list_canned_replies(session, principal, station.id)
    return [Rendered(reply, render_body(reply.body, rules, station)) for reply in replies]


async def readable_conversation(session: AsyncSession, principal: Principal, conversation_id: int) -> Conversation:
    """The conversation, read without a lock, if the principal works the inbox at its station (404 otherwise)."""
    conversation = await session.get(Conversation, conversation_id)
    if conversation is None:
        raise NotFound("No such conversation.")
    if not principal.can(P.engagement, conversation.station_id):  # as every thread route: not yours, not there
        raise principal.hide(P.engagement, conversation.station_id, "No such conversation.")
    return conversation
