"""Reading business rules (the one function every caller uses) and pricing a party."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from myhibachi.core.cache import cached_reference
from myhibachi.core.errors import ValidationFailed
from myhibachi.pricing.distance import DistanceEstimator, UnknownZip, ZipCentroidDistance
from myhibachi.pricing.models import StationRules, rules_tag
from myhibachi.pricing.quote import OrderProblem, PartyOrder, Quote, quote_event
from myhibachi.pricing.rules import DEFAULT_RULES, BusinessRules
from myhibachi.stations.models import Station
from myhibachi.stations.queries import list_public_stations, open_station
from myhibachi.stations.schemas import StationPlace

_distance: DistanceEstimator = ZipCentroidDistance()


async def get_rules(session: AsyncSession, station_id: int) -> BusinessRules:
    """The station's rules: its saved document, or the SPEC defaults until an admin edits them. Cached (every
    quote, availability and booking reads them); saving them refreshes the cache at once."""

    async def load() -> BusinessRules:
        row = await session.get(StationRules, station_id)
        return BusinessRules.model_validate(row.rules) if row else DEFAULT_RULES

    return await cached_reference(session, "pricing.rules", args={"station_id": station_id},
                                  tags=[rules_tag(station_id)], result_type=BusinessRules, compute=load)


class OutsideServiceArea(ValidationFailed):
    code = "outside_service_area"


class UnknownZipCode(ValidationFailed):
    code = "unknown_zip"


class ProteinCountMismatch(ValidationFailed):
    """Base protein choices that are not the station's, or do not add up to the party's entitlement."""

    code = "protein_count"


def order_refused(problem: OrderProblem) -> ValidationFailed:
    """An order the rules refuse, as the 422 of its field and code (every door that prices a party uses this)."""
    kind = ProteinCountMismatch if problem.code == ProteinCountMismatch.code else ValidationFailed
    return kind.on(f"body.{problem.field}", str(problem))


async def quote_for_station(session: AsyncSession, station_id: int, zip_code: str, order: PartyOrder) -> Quote:
    """Reads only cached reference data: a quote costs no SQL once the station and its rules are cached."""
    station = await open_station(session, station_id)
    if station is None:
        raise ValidationFailed.on("body.station_id", "No such station.")
    return price_party(station, await get_rules(session, station_id), zip_code, order)


def price_party(station: Station | StationPlace, rules: BusinessRules, zip_code: str, order: PartyOrder) -> Quote:
    """A party's quote at a station under the given rules: the saved ones, or (the rules editor's preview) the
    rules as an admin is typing them."""
    try:
        miles = _distance.miles((station.latitude, station.longitude), zip_code, rules.road_factor)
    except UnknownZip:
        raise UnknownZipCode.on("body.zip_code", f"We do not know the ZIP code {zip_code}.") from None
    if miles > rules.max_service_miles:
        raise OutsideServiceArea.on(
            "body.zip_code", f"{zip_code} is {miles} miles from {station.name}; we travel up to "
                             f"{rules.max_service_miles} miles. Tell us about your event and we will try to help.")
    try:
        return quote_event(rules, order, miles)
    except OrderProblem as problem:
        raise order_refused(problem) from None


@dataclass(frozen=True)
class ServingStation:
    """The station that cooks at a venue, and how far it drives there."""

    station_id: int
    miles: Decimal


async def station_for_zip(session: AsyncSession, zip_code: str) -> ServingStation:
    """The nearest open station whose maximum service distance (its own rule, with its own road factor) covers the
    venue's ZIP code. UnknownZipCode for a ZIP code we cannot place; OutsideServiceArea, naming the nearest station
    and its reach, when none covers it."""
    reach: list[tuple[StationPlace, BusinessRules, Decimal]] = []
    for station in await list_public_stations(session):
        rules = await get_rules(session, station.id)
        try:
            miles = _distance.miles((station.latitude, station.longitude), zip_code, rules.road_factor)
        except UnknownZip:
            raise UnknownZipCode.on("body.zip_code", f"We do not know the ZIP code {zip_code}.") from None
        reach.append((station, rules, miles))
    covering = [(station, miles) for station, rules, miles in reach if miles <= rules.max_service_miles]
    if covering:
        station, miles = min(covering, key=lambda option: option[1])  # ties: the first by name
        return ServingStation(station.id, miles)
    if not reach:
        raise OutsideServiceArea.on("body.zip_code", "We have no open location yet. Tell us about your event and "
                                                     "we will let you know when we open near you.")
    station, rules, miles = min(reach, key=lambda option: option[2])
    raise OutsideServiceArea.on(
        "body.zip_code", f"{zip_code} is outside our service area: our nearest location, {station.city}, "
                         f"{station.state}, travels up to {rules.max_service_miles} miles and {zip_code} is {miles} "
                         "miles away. Tell us about your event and we will try to help.")
