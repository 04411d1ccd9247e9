"""Messenger and Instagram through Meta's Messenger Platform: the webhook's verify-token handshake, its
`X-Hub-Signature-256` check over the raw body with META_APP_SECRET, its events read into what the inbox
understands (a person's message, our page's echo, delivery and read receipts), and the Send API adapter."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from myhibachi.contacts.models import HandleKind
from myhibachi.core.errors import DomainError
from myhibachi.inbox.channels import ChannelRefused, Outgoing, Sent, register_adapter
from myhibachi.inbox.commands import Inbound
from myhibachi.inbox.models import Channel
from myhibachi.inbox.window import HUMAN_AGENT
from myhibachi.settings import Settings

SIGNATURE_HEADER = "X-Hub-Signature-256"
CHANNEL_OF_OBJECT = {"page": Channel.messenger, "instagram": Channel.instagram}
HANDLE_OF_CHANNEL = {Channel.messenger: HandleKind.messenger, Channel.instagram: HandleKind.instagram}
# Sent with each message as Meta's `metadata`, which comes back in its echo: that echo is ours, already stored.
OUR_METADATA_PREFIX = "myhibachi:"
GRAPH_TIMEOUT_SECONDS, GRAPH_CONNECT_SECONDS = 10.0, 5.0
# Graph error codes that no retry will change: 10 / 200 permission (2018278: outside the reply window), 100 invalid
# parameter (an unknown person, a message too long), 551 the person is unavailable.
PERMANENT_GRAPH_ERRORS = frozenset({10, 100, 200, 551})
MAX_ID = 100  # Meta's ids are a few dozen characters
MAX_TEXT = 20_000

if TYPE_CHECKING:
    import httpx


class MetaOff(DomainError):
    status, code = 403, "meta_disabled"


class VerifyTokenMismatch(DomainError):
    status, code = 403, "verify_token_mismatch"


class InvalidMetaSignature(DomainError):
    status, code = 403, "invalid_signature"


class NotAnEventBatch(DomainError):
    status, code = 400, "invalid_payload"


class GraphUnavailable(Exception):
    """Meta could not take the message now (a 5xx, a rate limit, a timeout): the outbox tries again later."""


# --- the webhook's checks ------------------------------------------------------------------------------------------


def subscription_challenge(settings: Settings, mode: str | None, token: str | None, challenge: str | None) -> str:
    """The challenge to echo when Meta subscribes the webhook with our META_VERIFY_TOKEN (compared in constant time)."""
    if settings.meta_verify_token is None:
        raise MetaOff("Messenger and Instagram are not configured here (META_VERIFY_TOKEN is not set).")
    expected = settings.meta_verify_token.get_secret_value().encode()
    if mode != "subscribe" or not challenge or not hmac.compare_digest((token or "").encode(), expected):
        raise VerifyTokenMismatch("The verify token does not match (or this is not a subscription request).")
    return challenge


def verified_payload(settings: Settings, body: bytes, signature: str | None) -> dict[str, Any]:
    """The JSON of a body Meta signed with META_APP_SECRET; nothing of it is read before the signature matches."""
    if settings.meta_app_secret is None:
        raise MetaOff("Messenger and Instagram are not configured here (META_APP_SECRET is not set).")
    expected = "sha256=" + hmac.new(settings.meta_app_secret.get_secret_value().encode(), body,
                                    hashlib.sha256).hexdigest()
    if not signature or not hmac.compare_digest(signature.strip().lower().encode(), expected.encode()):
        raise InvalidMetaSignature(f"The {SIGNATURE_HEADER} signature does not match this body.")
    try:
        payload = json.loads(body)
    except ValueError:
        raise NotAnEventBatch("The body is not JSON.") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("entry"), list):
        raise NotAnEventBatch("Expected Meta's webhook object: {object, entry: [...]}.")
    return payload


# --- the events ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PersonWrote:
    inbound: Inbound


@dataclass(frozen=True)
class PageWrote:
    """Our page's own message, sent from elsewhere (Meta Business Suite, the Instagram app)."""

    channel: Channel
    handle: tuple[HandleKind, str]  # the person it went to
    provider_message_id: str
    body: str
    at: datetime


@dataclass(frozen=True)
class Delivered:
    channel: Channel
    provider_message_ids: list[str]


@dataclass(frozen=True)
class Seen:
    """The person read our messages: up to `until` (Messenger's watermark) or through one message (Instagram's)."""

    channel: Channel
    handle: tuple[HandleKind, str]
    until: datetime | None
    provider_message_id: str | None


MetaEvent = PersonWrote | PageWrote | Delivered | Seen
Id = Annotated[str, Field(min_length=1, max_length=MAX_ID)]
Millis = Annotated[int, Field(ge=0, le=253_402_300_799_999)]  # epoch milliseconds up to the year 9999


class _Loose(BaseModel):
    model_config = ConfigDict(extra="ignore")


class _Party(_Loose):
    id: Id


class _Attachment(_Loose):
    type: Annotated[str, Field(max_length=40)] = "file"


class _Message(_Loose):
    mid: Id
    text: Annotated[str | None, Field(max_length=MAX_TEXT)] = None
    attachments: Annotated[list[_Attachment], Field(max_length=50)] = []
    is_echo: bool = False
    metadata: Annotated[str | None, Field(max_length=1000)] = None


class _Delivery(_Loose):
    mids: Annotated[list[Id], Field(max_length=1000)] = []


class _Read(_Loose):
    watermark: Millis | None = None
    mid: Id | None = None


class _Event(_Loose):
    sender: _Party
    recipient: _Party
    timestamp: Millis
    message: _Message | None = None
    delivery: _Delivery | None = None
    read: _Read | None = None


def events_of(payload: dict[str, Any]) -> tuple[list[MetaEvent], int]:
    """The events the inbox acts on, and how many others were ignored (unknown kinds, malformed items, our own
    echoes, an object other than a page or an Instagram account)."""
    channel = CHANNEL_OF_OBJECT.get(payload.get("object"))  # type: ignore[arg-type]
    raw_events = [event for entry in payload["entry"] if isinstance(entry, dict)
                  for event in (entry.get("messaging") if isinstance(entry.get("messaging"), list) else [])]
    if channel is None:
        return [], len(raw_events)
    events = [event for raw in raw_events if (event := _event(channel, raw)) is not None]
    return events, len(raw_events) - len(events)


def _event(channel: Channel, raw: Any) -> MetaEvent | None:
    try:
        event = _Event.model_validate(raw)
    except ValidationError:
        return None
    at = datetime.fromtimestamp(event.timestamp / 1000, UTC)
    if event.message is not None:
        return _message_event(channel, event, event.message, at)
    if event.delivery is not None and event.delivery.mids:
        return Delivered(channel, event.delivery.mids)
    if event.read is not None and (event.read.watermark is not None or event.read.mid):
        until = datetime.fromtimestamp(event.read.watermark / 1000, UTC) if event.read.watermark is not None else None
        return Seen(channel, _handle(channel, event.sender.id), until, event.read.mid)
    return None


def _message_event(channel: Channel, event: _Event, message: _Message, at: datetime) -> MetaEvent | None:
    body = message_text(message.text, [attachment.type for attachment in message.attachments])
    if not message.is_echo:
        return PersonWrote(Inbound(channel=channel, provider_message_id=message.mid, body=body,
                                   handle=_handle(channel, event.sender.id), at=at))
    if (message.metadata or "").startswith(OUR_METADATA_PREFIX):
        return None  # sent through our Send API: the delivery that sent it stores its id
    return PageWrote(channel, _handle(channel, event.recipient.id), message.mid, body, at)


def _handle(channel: Channel, person_id: str) -> tuple[HandleKind, str]:
    return HANDLE_OF_CHANNEL[channel], person_id


def message_text(text: str | None, attachment_types: list[str]) -> str:
    """What staff read: the text, and a short note of what was attached (Meta's attachment links expire)."""
    parts = [text.strip()] if text and text.strip() else []
    if attachment_types:
        kinds = ", ".join(dict.fromkeys(attachment_types))
        parts.append(f"[sent {len(attachment_types)} attachment{'s' if len(attachment_types) > 1 else ''}: {kinds}]")
    return "\n".join(parts) or "[a message without text]"


# --- sending: the Send API ------------------------------------------------------------------------------------------


class MetaSendApi:
    """Sends through `POST {META_GRAPH_BASE}/me/messages` with the page token, for Messenger and Instagram alike."""

    def __init__(self, graph_base: str, page_token: str, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.url = graph_base.rstrip("/") + "/me/messages"
        self.page_token = page_token
        self.transport = transport

    async def send(self, message: Outgoing) -> Sent:
        import httpx  # here: only a process that sends to Meta loads it

        timeout = httpx.Timeout(GRAPH_TIMEOUT_SECONDS, connect=GRAPH_CONNECT_SECONDS)
        async with httpx.AsyncClient(timeout=timeout, transport=self.transport) as client:
            # The token goes in the body, not the query: httpx logs request URLs.
            response = await client.post(self.url, json=self.request_body(message))
        answer = _json_of(response)
        if response.is_success and isinstance(answer.get("message_id"), str):
            return Sent(answer["message_id"])
        raise _graph_error(response.status_code, answer.get("error"))

    def request_body(self, message: Outgoing) -> dict[str, Any]:
        body: dict[str, Any] = {
            "recipient": {"id": message.to},
            "message": {"text": message.body, "metadata": f"{OUR_METADATA_PREFIX}{message.message_id}"},
            "access_token": self.page_token,
        }
        if message.tag == HUMAN_AGENT:  # a person answering after the 24-hour window, within 7 days
            return {**body, "messaging_type": "MESSAGE_TAG", "tag": HUMAN_AGENT}
        return {**body, "messaging_type": "RESPONSE"}


def _json_of(response: httpx.Response) -> dict[str, Any]:
    try:
        answer = response.json()
    except ValueError:
        return {}
    return answer if isinstance(answer, dict) else {}


def _graph_error(status: int, error: Any) -> Exception:
    """ChannelRefused for an error no retry changes; any other exception tells the outbox to try again."""
    error = error if isinstance(error, dict) else {}
    detail = f"Meta refused the message: {error.get('message') or f'HTTP {status}'}"
    if status < 500 and error.get("code") in PERMANENT_GRAPH_ERRORS:
        return ChannelRefused(f"{detail} (code {error['code']}, subcode {error.get('error_subcode', '-')})")
    return GraphUnavailable(f"{detail} (HTTP {status}): will retry")


def send_api_for(settings: Settings) -> MetaSendApi | None:
    """The Send API while META_PAGE_TOKEN is set; None (the channel is off: messages go to files) otherwise."""
    if settings.meta_page_token is None:
        return None
    return MetaSendApi(settings.meta_graph_base, settings.meta_page_token.get_secret_value())


register_adapter(Channel.messenger, lambda context: send_api_for(context.settings))
register_adapter(Channel.instagram, lambda context: send_api_for(context.settings))
