"""Twilio's webhooks (SPEC §7 "Inbox"): a text received and a sent text's status. Public routes: the
`X-Twilio-Signature` over the public URL and the form, made with TWILIO_AUTH_TOKEN, is the credential."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import parse_qsl

from fastapi import APIRouter, Header, Request, Response, status
from starlette.datastructures import ImmutableMultiDict

from myhibachi.contacts.schemas import e164_phone
from myhibachi.core.errors import DomainError, ValidationFailed, problem_responses
from myhibachi.core.web import DbSession, RuntimeDep, capped_body
from myhibachi.inbox import commands, sms
from myhibachi.inbox.commands import Inbound
from myhibachi.inbox.models import Channel, DeliveryState
from myhibachi.settings import Settings

webhooks = APIRouter(prefix="/webhooks/twilio", tags=["inbox"])
MAX_FORM_BODY = 64 * 1024  # a text's webhook is a couple of kilobytes, an MMS's a few more
NOTHING_TO_SAY = '<?xml version="1.0" encoding="UTF-8"?><Response />'  # empty TwiML: Twilio sends nothing back
# Twilio's MessageStatus values and how far they take our message; others (receiving, received…) are inbound's.
STATUSES = {
    "accepted": DeliveryState.queued, "scheduled": DeliveryState.queued, "queued": DeliveryState.queued,
    "sending": DeliveryState.queued, "sent": DeliveryState.sent, "delivered": DeliveryState.delivered,
    "read": DeliveryState.read, "undelivered": DeliveryState.failed, "failed": DeliveryState.failed,
    "canceled": DeliveryState.failed,
}
Form = ImmutableMultiDict[str, str]


class SmsOff(DomainError):
    status, code = 403, "sms_disabled"


class InvalidSignature(DomainError):
    status, code = 403, "invalid_signature"


class NotAForm(DomainError):
    status, code = 400, "invalid_body"


async def _form_body(request: Request) -> Form:
    """The urlencoded form as Twilio sent it (every value of a repeated field, in order), refused past
    `MAX_FORM_BODY` bytes without reading the rest."""
    body = await capped_body(request, MAX_FORM_BODY)
    try:
        return ImmutableMultiDict(parse_qsl(body.decode("ascii"), keep_blank_values=True,
                                            errors="strict"))
    except (UnicodeDecodeError, ValueError):
        raise NotAForm("Send the fields as application/x-www-form-urlencoded, as Twilio does.") from None


def _verified_form(settings: Settings, request: Request, form: Form, signature: str | None) -> Form:
    """The form, once its signature is Twilio's for the public URL it was sent to (BASE_URL + the path and query,
    never the Host header, which a proxy changes): 403 otherwise, and 403 `sms_disabled` while
    TWILIO_AUTH_TOKEN is unset."""
    if settings.twilio_auth_token is None:
        raise SmsOff("Texts are not configured here (TWILIO_AUTH_TOKEN is not set).")
    from twilio.request_validator import RequestValidator  # here: the SDK costs a process that takes no texts ~7 MB

    url = settings.base_url.rstrip("/") + request.url.path + (f"?{request.url.query}" if request.url.query else "")
    validator = RequestValidator(settings.twilio_auth_token.get_secret_value())
    if not signature or not validator.validate(url, form, signature):
        raise InvalidSignature("The X-Twilio-Signature header is missing or is not Twilio's for this request.")
    return form


def _required(form: Form, field: str) -> str:
    value = form.get(field, "").strip()
    if not value:
        raise ValidationFailed.on(f"body.{field}", f"{field} is missing.", "missing")
    return value


def _sender_phone(form: Form) -> str:
    try:
        return e164_phone(_required(form, "From"))
    except ValueError:
        raise ValidationFailed.on("body.From", "From is not a phone number.", "value_error") from None


SIGNATURE = Annotated[str | None, Header(alias="X-Twilio-Signature", max_length=200)]


@webhooks.post("/sms", summary="A text received (Twilio's messaging webhook)", response_class=Response,
               responses={200: {"description": "Empty TwiML: Twilio answers nothing by itself.",
                                "content": {"text/xml": {"example": NOTHING_TO_SAY}}},
                          **problem_responses(400, 403, 413, 422)})
async def receive_sms(request: Request, session: DbSession, runtime: RuntimeDep,
                      signature: SIGNATURE = None) -> Response:
    """Twilio's form (`MessageSid`, `From` in E.164, `Body`) signed in `X-Twilio-Signature` with TWILIO_AUTH_TOKEN
    (403 `invalid_signature` when missing or wrong, 403 `sms_disabled` while the token is unset: nothing is stored).
    The text joins its sender's SMS thread (an unknown number becomes a contact and a lead), once per `MessageSid`;
    STOP / START / HELP and their synonyms are honoured (consent ledger, an answer to HELP), a stop request in
    other words flags the thread `opt-out?`. Answers empty TwiML, so Twilio sends nothing by itself."""
    form = _verified_form(runtime.settings, request, await _form_body(request), signature)
    await sms.receive_text(session, Inbound(
        channel=Channel.sms, provider_message_id=_required(form, "MessageSid"), phone=_sender_phone(form),
        body=form.get("Body", "")))
    return Response(NOTHING_TO_SAY, media_type="text/xml")


@webhooks.post("/status", summary="A sent text's status (Twilio's status callback)",
               status_code=status.HTTP_204_NO_CONTENT, response_class=Response,
               responses=problem_responses(400, 403, 413, 422))
async def text_status(request: Request, session: DbSession, runtime: RuntimeDep,
                      signature: SIGNATURE = None) -> Response:
    """Signed like the messaging webhook. `MessageStatus` moves the message with that `MessageSid` forward (queued,
    sent, delivered, read; undelivered, failed and canceled are final, with `ErrorCode` kept); an older status
    arriving late changes nothing, nor does an unknown `MessageSid` or status (204 all the same, so Twilio does not
    retry)."""
    form = _verified_form(runtime.settings, request, await _form_body(request), signature)
    sid, state = _required(form, "MessageSid"), STATUSES.get(_required(form, "MessageStatus").lower())
    if state is not None:
        error = form.get("ErrorCode") or None
        await commands.record_delivery(session, Channel.sms, sid, state,
                                       f"Twilio error {error}" if error else None)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
