"""Consent routes: the public double opt-in door `POST /subscribe` (SPEC §7). The ledger of a contact is read at
`GET /contacts/{id}/consents` (leads/people_api.py: who sees a contact is decided there)."""

from __future__ import annotations

from fastapi import APIRouter, status

from myhibachi.consent.commands import ask_marketing_consent
from myhibachi.consent.models import ConsentSource
from myhibachi.consent.schemas import SubscribeAccepted, SubscribeRequest
from myhibachi.core.context import current_request_meta
from myhibachi.core.errors import ValidationFailed, problem_responses
from myhibachi.core.web import DbSession, RuntimeDep
from myhibachi.stations.models import Station

public = APIRouter(tags=["consent"])


@public.post("/subscribe", summary="Subscribe to news and offers (double opt-in)",
             status_code=status.HTTP_202_ACCEPTED, response_model=SubscribeAccepted,
             responses=problem_responses(422, 429))
async def subscribe(body: SubscribeRequest, session: DbSession, runtime: RuntimeDep) -> SubscribeAccepted:
    """Records the grant (source, time, IP) and emails a signed confirmation link, `GET /subscribe/confirm/{token}`,
    valid 7 days; nothing marketing is sent before it is opened. An address that already confirmed gets no second
    email. The answer is the same 202 for every address. At most `PUBLIC_FORM_POSTS_PER_IP` a window per client
    address (429 `rate_limited`); an unknown or closed `station_id` is 422."""
    await runtime.public_form_posts_by_ip.reserve(current_request_meta().ip or "unknown")
    if body.station_id is not None:
        station = await session.get(Station, body.station_id)
        if station is None or not station.is_active:
            raise ValidationFailed.on("body.station_id", "No such station.")
    await ask_marketing_consent(session, runtime.settings, body.email, source=ConsentSource(body.source),
                                station_id=body.station_id)
    return SubscribeAccepted()
