"""Bounce and complaint routes: SendGrid's signed Event Webhook and the inbound email endpoint that mailed-back DSN
and ARF reports are posted to (SPEC §7); any other inbound message goes to the inbox. Public routes: the signature, or
the bearer secret, is the credential."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Header, Request, status
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession

from myhibachi.core.db import utcnow
from myhibachi.core.errors import DomainError, NotAuthenticated, problem_responses
from myhibachi.core.web import DbSession, RuntimeDep, capped_body
from myhibachi.newsletters import dsn, sendgrid
from myhibachi.newsletters.bounce_schemas import (
    NOT_A_REPORT_EXAMPLE,
    STORED_IN_INBOX_EXAMPLE,
    EventsReceipt,
    InboundReceipt,
)
from myhibachi.newsletters.bounces import record_bounce

webhooks = APIRouter(prefix="/webhooks", tags=["bounces"])
MAX_EVENTS_BODY = 5 * 1024 * 1024  # SendGrid batches at most a few thousand events a post
MAX_INBOUND_BODY = 10 * 1024 * 1024  # a report quotes the bounced message, images and all


class InboundEmailOff(DomainError):
    status, code = 403, "inbound_email_disabled"


@webhooks.post("/sendgrid/events", summary="SendGrid's event webhook (bounces and spam reports)",
               response_model=EventsReceipt, responses=problem_responses(400, 413, 422))
async def sendgrid_events(
        request: Request, session: DbSession, runtime: RuntimeDep,
        signature: Annotated[str | None, Header(alias=sendgrid.SIGNATURE_HEADER, max_length=400)] = None,
        timestamp: Annotated[str | None, Header(alias=sendgrid.TIMESTAMP_HEADER, max_length=20)] = None,
) -> EventsReceipt:
    """Verifies the ECDSA P-256 signature SendGrid puts in `X-Twilio-Email-Event-Webhook-Signature` over
    `X-Twilio-Email-Event-Webhook-Timestamp` + the raw body with `SENDGRID_WEBHOOK_PUBLIC_KEY` (400
    `invalid_signature` when it is missing, wrong, more than 10 minutes off, or the key is not set: nothing is
    stored). Events `bounce` (type `bounce`: hard; `blocked`: soft) and `spamreport` (complaint) are stored once by
    `sg_event_id` and linked to the campaign recipient by `smtp-id`; a hard bounce or complaint suppresses the
    address at once, soft bounces after `SOFT_BOUNCE_LIMIT`. Other events are ignored; a redelivery changes
    nothing."""
    body = await capped_body(request, MAX_EVENTS_BODY)
    events = sendgrid.verified_events(runtime.settings, body, signature, timestamp, utcnow())
    receipt = EventsReceipt(received=len(events), stored=0, ignored=0, duplicates=0)
    for event in events:
        report = sendgrid.bounce_report(event)
        if report is None:
            receipt.ignored += 1
        elif await record_bounce(session, runtime.settings, report):
            receipt.stored += 1
        else:
            receipt.duplicates += 1
    return receipt


@dataclass(frozen=True)
class InboxStored:
    conversation_id: int
    message_id: int


# The inbox (a layer above this one) takes the messages that are no report: it registers itself when imported.
# The receiver answers None for a message it had stored before.
InboxReceiver = Callable[[AsyncSession, bytes], Awaitable[InboxStored | None]]
_inbox_receivers: list[InboxReceiver] = []


def receive_other_mail_with(receiver: InboxReceiver) -> None:
    _inbox_receivers[:] = [receiver]


def _authorize_inbound(runtime: RuntimeDep, authorization: str | None) -> None:
    secret = runtime.settings.inbound_email_secret
    if secret is None:
        raise InboundEmailOff("Inbound email is not configured here (INBOUND_EMAIL_SECRET is not set).")
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(),
                                                             secret.get_secret_value().encode()):
        raise NotAuthenticated("Send `Authorization: Bearer` with the inbound email secret.",
                               headers={"WWW-Authenticate": "Bearer"})


@webhooks.post("/email/inbound", summary="An inbound email: a delivery or feedback report, or a message for the inbox",
               response_model=InboundReceipt,
               responses={201: {"description": "A message for the inbox, stored in its conversation.",
                                "content": {"application/json": {"example": STORED_IN_INBOX_EXAMPLE}}},
                          202: {"description": "Not a report, and no inbox to take it: nothing stored.",
                                "content": {"application/json": {"example": NOT_A_REPORT_EXAMPLE}}},
                          **problem_responses(401, 403, 413, 422)})
async def inbound_email(
        request: Request, session: DbSession, runtime: RuntimeDep,
        authorization: Annotated[str | None, Header(max_length=1000)] = None,
) -> InboundReceipt | JSONResponse:
    """The raw RFC 5322 message as the body, with `Authorization: Bearer <INBOUND_EMAIL_SECRET>` (compared in
    constant time; 401 otherwise, 403 while the secret is not set). A DSN (`multipart/report;
    report-type=delivery-status`) stores a bounce per failed recipient — Status 5.x.x hard, 4.x.x or Action
    `delayed` soft; an ARF report (`report-type=feedback-report`) stores a complaint. Each is stored once (the
    report's Message-ID + the recipient) and linked to the campaign recipient by the Message-ID the report quotes.
    Any other message goes to the inbox: 201 with its conversation and message, 200 `duplicate` when its Message-ID
    was stored before (a redelivery), 422 `unreadable_email` (nothing stored) without a sender address."""
    _authorize_inbound(runtime, authorization)
    raw = await capped_body(request, MAX_INBOUND_BODY)
    report_read = dsn.read_report(raw)
    if report_read is None:
        return await _to_inbox(session, raw)
    receipt = InboundReceipt(report=report_read.report_type, detail="")
    for report in report_read.bounces:
        if await record_bounce(session, runtime.settings, report):
            receipt.stored += 1
        else:
            receipt.duplicates += 1
    receipt.detail = f"{receipt.stored} bounce or complaint stored." if receipt.stored == 1 else \
        f"{receipt.stored} bounces or complaints stored."
    return receipt


async def _to_inbox(session: AsyncSession, raw: bytes) -> JSONResponse:
    if not _inbox_receivers:
        return JSONResponse(NOT_A_REPORT_EXAMPLE, status_code=status.HTTP_202_ACCEPTED)
    stored = await _inbox_receivers[0](session, raw)
    if stored is None:
        receipt = InboundReceipt(report=None, duplicates=1, detail="duplicate: this message was stored before.")
        return JSONResponse(receipt.model_dump(), status_code=status.HTTP_200_OK)
    receipt = InboundReceipt(report=None, stored=1, conversation_id=stored.conversation_id,
                             message_id=stored.message_id, detail="Stored in the inbox.")
    return JSONResponse(receipt.model_dump(), status_code=status.HTTP_201_CREATED)
