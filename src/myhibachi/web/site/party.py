"""The party form of the instant quote (/quote) and of the booking's first step: the venue's ZIP code picks the
station that cooks there (`pricing.queries.station_for_zip`, remembered for the next pages), then the party is
priced by that station's rules. Errors come per field; while the form is still being typed (htmx), those of fields
not filled in yet are left out, every other one — outside the area, too many upgrades — is shown at once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import Request
from pydantic import ValidationError

from myhibachi.core.errors import ValidationFailed
from myhibachi.core.web import READ_ONLY_METHODS
from myhibachi.leads.commands import record_quote
from myhibachi.pricing.queries import get_rules, quote_for_station, station_for_zip
from myhibachi.pricing.quote import Quote
from myhibachi.pricing.rules import BusinessRules
from myhibachi.pricing.schemas import QuoteRequest
from myhibachi.stations.queries import list_public_stations
from myhibachi.stations.schemas import StationPublic
from myhibachi.web.forms import field_errors
from myhibachi.web.site.common import VISITOR, current_station, remember_station

PARTY_COUNTS = ("adults", "children", "toddlers")
ZIP_HINT = "5 digits: it picks our location nearest to you and sets the travel fee."


@dataclass(frozen=True)
class Venue:
    """The station a party is priced by: the one that serves its ZIP code (`served`), else — no ZIP code yet, or
    one no station serves (`zip_error`) — the station the visitor's pages show."""

    station: StationPublic | None
    rules: BusinessRules | None
    served: bool = False
    zip_error: str | None = None


async def venue_station(request: Request, session: Any, zip_code: str | None) -> Venue:
    zip_code = (zip_code or "").strip()
    zip_error = None
    if len(zip_code) == 5 and zip_code.isdigit():
        try:
            serving = await station_for_zip(session, zip_code)
        except ValidationFailed as exc:
            zip_error = exc.errors[0].message
        else:
            station = next(s for s in await list_public_stations(session) if s.id == serving.station_id)
            remember_station(request, station)
            return Venue(station, await get_rules(session, station.id), served=True)
    shown = await current_station(request, session)
    return Venue(shown.station, shown.rules, zip_error=zip_error)


async def price_party_form(session: Any, venue: Venue, values: dict[str, str],
                      menu: dict[str, dict[str, int]] | None = None) -> tuple[Quote | None, dict[str, str]]:
    """The quote of the party in `values` (ZIP code and counts as typed; a blank count is none) with its menu
    choices, or the errors beside each field."""
    filled = {name: values[name].strip() for name in ("zip_code", *PARTY_COUNTS) if (values.get(name) or "").strip()}
    errors: dict[str, str] = {}
    data = None
    try:
        data = QuoteRequest.model_validate({"station_id": venue.station.id if venue.station else 0, "children": 0,
                                            "toddlers": 0, **filled, **(menu or {})}, strict=False)
    except ValidationError as exc:
        errors = {name: message for name, message in field_errors(exc).items() if name != "station_id"}
    if venue.zip_error:
        errors.setdefault("zip_code", venue.zip_error)
    if errors or data is None or venue.station is None:
        return None, errors
    try:
        return await quote_for_station(session, venue.station.id, data.zip_code, data.to_order()), {}
    except ValidationFailed as exc:
        return None, field_errors(exc)


def settled(values: dict[str, str], errors: dict[str, str]) -> dict[str, str]:
    """The errors worth showing while the form is still being typed: not "please fill this in" for a field left
    empty so far, nor "5 digits" for a ZIP code still being typed."""
    def being_typed(name: str) -> bool:
        typed = (values.get(name) or "").strip()
        if name == "zip_code":
            return typed.isdigit() and len(typed) < 5 or not typed
        return not typed and not any(key.startswith(f"{name}.") and value.strip() for key, value in values.items())

    return {name: message for name, message in errors.items() if not being_typed(name)}


async def count_quote(request: Request, runtime: Any, session: Any, quote: Quote | None, venue: Venue) -> None:
    """A party priced for this visitor session: the funnel's quote (one per session). A page read (GET) writes it in
    a transaction of its own, since its own is a read-only one."""
    if quote is None or venue.station is None:
        return
    if request.method not in READ_ONLY_METHODS:
        await record_quote(session, VISITOR.read(request), venue.station.id)
        return
    async with runtime.db.transaction() as own:
        await record_quote(own, VISITOR.read(request), venue.station.id)
