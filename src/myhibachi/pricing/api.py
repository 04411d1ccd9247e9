"""Quote route (public) and the business-rules editor routes (admin of the station)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from myhibachi.auth.dependencies import require
from myhibachi.auth.permissions import Permission
from myhibachi.auth.principal import Principal
from myhibachi.core.errors import problem_responses
from myhibachi.core.web import DbSession, JsonRoute, RuntimeDep, reading
from myhibachi.pricing import commands, queries
from myhibachi.pricing.rules import BusinessRules
from myhibachi.pricing.schemas import QuoteJson, QuoteRead, QuoteRequest
from myhibachi.stations.queries import get_station

public = APIRouter(tags=["quotes"], route_class=JsonRoute)
staff = APIRouter(prefix="/stations/{station_id}/rules", tags=["stations"])
ManageRules = Annotated[Principal, require(Permission.rules_manage)]


@public.post("/quotes", summary="Get an instant quote", response_model=QuoteRead, responses=problem_responses(422))
async def create_quote(body: QuoteRequest, runtime: RuntimeDep) -> QuoteJson:
    """Price a party at a station: per-person food, upgrades, extras and sides, the party minimum, travel from
    the station to the venue ZIP code, tax and the deposit. 422 `unknown_zip` for a ZIP code we do not know and
    422 `outside_service_area` beyond the station's maximum distance."""
    async with reading(runtime) as session:
        return await queries.quote_for_station(session, body.station_id, body.zip_code, body.to_order())


@staff.get("", summary="A station's business rules", response_model=BusinessRules,
           responses=problem_responses(401, 403, 404, 422))
async def read_rules(station_id: int, _: ManageRules, session: DbSession) -> BusinessRules:
    """Prices, fees, windows and limits of the station (the SPEC defaults until an admin changes them)."""
    await get_station(session, station_id)
    return await queries.get_rules(session, station_id)


@staff.put("", summary="Replace a station's business rules", response_model=BusinessRules,
           responses=problem_responses(401, 403, 404, 422))
async def replace_rules(station_id: int, body: BusinessRules, principal: ManageRules,
                        session: DbSession) -> BusinessRules:
    """Validated as a whole; the change is audited with the before and after of every changed value and applies
    to the next quote."""
    return await commands.update_rules(session, principal, station_id, body)
