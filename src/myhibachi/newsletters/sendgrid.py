"""SendGrid's signed Event Webhook: the ECDSA signature checked over the timestamp and the raw body with the
verification key SendGrid shows (SENDGRID_WEBHOOK_PUBLIC_KEY), then its bounce and spam-report events read as
bounce reports. Every other event type is ignored."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from myhibachi.core.db import utcnow
from myhibachi.core.errors import DomainError
from myhibachi.newsletters.bounces import MAX_EVENT_ID, BounceReport, reported_address
from myhibachi.newsletters.models import BounceKind
from myhibachi.settings import Settings

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import ec

PROVIDER = "sendgrid"
SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"
# A signed delivery older (or newer) than this is refused: someone replaying a body they once saw.
TOLERANCE = timedelta(minutes=10)


class InvalidEventSignature(DomainError):
    status, code = 400, "invalid_signature"


def verified_events(settings: Settings, body: bytes, signature: str | None, timestamp: str | None,
                    now: datetime) -> list[dict[str, Any]]:
    """The events of a body SendGrid signed within `TOLERANCE` of `now`; InvalidEventSignature otherwise (nothing
    of the body is read before the signature is checked)."""
    # cryptography (~8 MB resident) loads with the first webhook: a process that receives none never carries it
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    key = _public_key(settings)
    if not signature or not timestamp:
        raise InvalidEventSignature(f"The {SIGNATURE_HEADER} and {TIMESTAMP_HEADER} headers are required.")
    try:
        key.verify(base64.b64decode(signature, validate=True), timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, binascii.Error, ValueError, UnicodeEncodeError):
        raise InvalidEventSignature("The signature does not match this body.") from None
    if not timestamp.isdigit() or abs(now - datetime.fromtimestamp(min(int(timestamp), 2**40), UTC)) > TOLERANCE:
        raise InvalidEventSignature("The signed timestamp is too old (or in the future): a replay is refused.")
    try:
        events = json.loads(body)
    except ValueError:
        raise InvalidEventSignature("The body is not a JSON list of events.") from None
    if not isinstance(events, list):
        raise InvalidEventSignature("The body is not a JSON list of events.")
    return [event for event in events if isinstance(event, dict)]


def _public_key(settings: Settings) -> ec.EllipticCurvePublicKey:
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import load_der_public_key

    if not settings.sendgrid_webhook_public_key:
        raise InvalidEventSignature("SendGrid's event webhook is not configured here.")
    try:
        key = load_der_public_key(base64.b64decode(settings.sendgrid_webhook_public_key.strip()))
    except (ValueError, binascii.Error, TypeError):
        key = None
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise InvalidEventSignature("SENDGRID_WEBHOOK_PUBLIC_KEY is not a base64 DER elliptic-curve public key.")
    return key


def bounce_report(event: dict[str, Any]) -> BounceReport | None:
    """A bounce (type `bounce`: hard; `blocked`: soft) or a spam report (complaint) as a report; None for any
    other event, or one without an address or an event id."""
    kind = _kind(event)
    address = reported_address(event.get("email"))
    event_id = event.get("sg_event_id")
    if kind is None or address is None or not isinstance(event_id, str) or not 0 < len(event_id) <= MAX_EVENT_ID:
        return None
    timestamp = event.get("timestamp")
    at = datetime.fromtimestamp(min(max(timestamp, 0), 2**40), UTC) if isinstance(timestamp, int) else utcnow()
    words = [str(event[name])[:300] for name in ("status", "reason") if isinstance(event.get(name), str | int)]
    message_id = event.get("smtp-id")
    return BounceReport(email=address, kind=kind, provider=PROVIDER, provider_event_id=event_id, at=at,
                        message_id=message_id[:200] if isinstance(message_id, str) else None,
                        detail=" ".join(words) or None)


def _kind(event: dict[str, Any]) -> BounceKind | None:
    if event.get("event") == "spamreport":
        return BounceKind.complaint
    if event.get("event") != "bounce":
        return None
    return BounceKind.soft if event.get("type") == "blocked" else BounceKind.hard
