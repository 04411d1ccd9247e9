"""Meta's webhook for Messenger and Instagram (SPEC §7 Inbox): the subscription handshake and the signed event
posts. Public routes: the verify token, or the signature over the raw body, is the credential."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from myhibachi.core.errors import problem_responses
from myhibachi.core.web import DbSession, RuntimeDep, capped_body
from myhibachi.inbox import commands, meta
from myhibachi.inbox.models import DeliveryState

webhooks = APIRouter(prefix="/webhooks/meta", tags=["inbox"])
# Meta batches events of many pages and people into one post; a megabyte is thousands of them.
MAX_BODY = 1024 * 1024


class MetaReceipt(BaseModel):
    """What one post held: events acted on, redeliveries (nothing new), and events ignored."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"events": 3, "stored": 2, "duplicates": 0,
                                                               "ignored": 1}]})

    events: int = Field(description="Events in the post.")
    stored: int = Field(description="Messages stored, or receipts that moved a message forward.")
    duplicates: int = Field(description="Redelivered messages and receipts that changed nothing.")
    ignored: int = Field(description="Event kinds the inbox does not use, and our own echoes.")


@webhooks.get("", summary="Meta's subscription handshake", response_class=PlainTextResponse,
              responses={200: {"content": {"text/plain": {"example": "1158201444"}}}, **problem_responses(403, 422)})
async def confirm_subscription(
        runtime: RuntimeDep,
        mode: Annotated[str | None, Query(alias="hub.mode", max_length=20)] = None,
        verify_token: Annotated[str | None, Query(alias="hub.verify_token", max_length=500)] = None,
        challenge: Annotated[str | None, Query(alias="hub.challenge", max_length=500)] = None,
) -> PlainTextResponse:
    """Meta calls this when the webhook is set up: `hub.mode=subscribe` with our `META_VERIFY_TOKEN` (compared in
    constant time) gets `hub.challenge` back as plain text; anything else 403 (`meta_disabled` while the token is
    not set)."""
    return PlainTextResponse(meta.subscription_challenge(runtime.settings, mode, verify_token, challenge))


@webhooks.post("", summary="Messenger and Instagram events", response_model=MetaReceipt,
               responses=problem_responses(400, 403, 413, 422))
async def receive_events(
        request: Request, session: DbSession, runtime: RuntimeDep,
        signature: Annotated[str | None, Header(alias=meta.SIGNATURE_HEADER, max_length=200)] = None,
) -> MetaReceipt:
    """The raw body must carry `X-Hub-Signature-256: sha256=<HMAC-SHA256 of it with META_APP_SECRET>` (403
    `invalid_signature` otherwise, nothing stored). `object: page` is Messenger, `instagram` Instagram. A person's
    message joins their thread (an unknown person becomes a contact and a lead); our page's echo of a message sent
    from Meta's own apps is stored as staff's; `delivery` and `read` receipts move our messages to delivered and
    read. Each message is stored once by its `mid`; other event kinds are ignored."""
    body = await capped_body(request, MAX_BODY)
    events, ignored = meta.events_of(meta.verified_payload(runtime.settings, body, signature))
    receipt = MetaReceipt(events=len(events) + ignored, stored=0, duplicates=0, ignored=ignored)
    for event in events:
        if await _act_on(session, event):
            receipt.stored += 1
        else:
            receipt.duplicates += 1
    return receipt


async def _act_on(session: AsyncSession, event: meta.MetaEvent) -> bool:
    """Hands one event to the inbox's commands: whether it changed anything."""
    if isinstance(event, meta.PersonWrote):
        return await commands.receive(session, event.inbound) is not None
    if isinstance(event, meta.PageWrote):
        return await commands.record_sent_elsewhere(session, event.channel, event.provider_message_id,
                                                    event.handle, event.body, event.at) is not None
    if isinstance(event, meta.Delivered):
        moved = [await commands.record_delivery(session, event.channel, mid, DeliveryState.delivered)
                 for mid in event.provider_message_ids]
        return any(moved)
    return await commands.record_read(session, event.channel, event.handle, until=event.until,
                                      through_provider_message_id=event.provider_message_id) > 0
