"""Delivery reports mailed back to us, read with the standard library: a DSN (RFC 3464, `multipart/report;
report-type=delivery-status`) says per recipient whether delivery failed for good (Status 5.x.x: hard) or for now
(4.x.x, or Action `delayed`: soft); an ARF report (RFC 5965, `report-type=feedback-report`) is a complaint. The
bounced message is recognised by its Message-ID, quoted in the report's message/rfc822 or text/rfc822-headers
part."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from email import message_from_bytes, message_from_string, policy
from email.message import EmailMessage, Message
from email.utils import parseaddr

from myhibachi.core.db import utcnow
from myhibachi.newsletters.bounces import BounceReport, reported_address
from myhibachi.newsletters.models import BounceKind

PROVIDER = "dsn"
DELIVERY_STATUS = "delivery-status"
FEEDBACK_REPORT = "feedback-report"
# A malformed mail is no report: whatever the parser or a header trips over, the message is simply not one.
UNREADABLE = (ValueError, TypeError, IndexError, KeyError, AttributeError, LookupError)


@dataclass(frozen=True)
class MailedReport:
    report_type: str  # DELIVERY_STATUS | FEEDBACK_REPORT
    bounces: list[BounceReport]  # [] for a report of nothing acted on (delivered, relayed)


def read_report(raw: bytes) -> MailedReport | None:
    """The bounces or complaints a mailed-back report holds; None when the message is no delivery or feedback
    report at all."""
    try:
        message = message_from_bytes(raw, policy=policy.default)
        if message.get_content_type() != "multipart/report":
            return None
        report_type = str(message.get_param("report-type", "", header="content-type")).lower()
        own_id = _header(message, "Message-ID") or "sha256:" + hashlib.sha256(raw).hexdigest()
        parts = list(message.iter_parts())
        original_id = _original_message_id(parts)
        if report_type == DELIVERY_STATUS:
            return MailedReport(DELIVERY_STATUS, _bounces(parts, own_id, original_id))
        if report_type == FEEDBACK_REPORT:
            return MailedReport(FEEDBACK_REPORT, _complaints(parts, own_id, original_id))
    except UNREADABLE:
        return None
    return None


def _header(message: Message, name: str) -> str | None:
    value = message.get(name)
    return " ".join(str(value).split())[:200] or None if value is not None else None


def _fields(part: Message) -> list[Message]:
    """The header blocks of a message/delivery-status or message/feedback-report part."""
    payload = part.get_payload()
    if isinstance(payload, str):  # a parser that left it as text
        return [message_from_string(block, policy=policy.default) for block in payload.split("\n\n") if block.strip()]
    return [block for block in payload if isinstance(block, Message)]


def _original_message_id(parts: list[EmailMessage]) -> str | None:
    for part in parts:
        kind = part.get_content_type()
        if kind in ("message/rfc822", "message/global"):
            quoted = part.get_payload()
            if isinstance(quoted, list) and quoted and isinstance(quoted[0], Message):
                return _header(quoted[0], "Message-ID")
        if kind in ("text/rfc822-headers", "text/global-headers"):
            return _header(message_from_string(part.get_content(), policy=policy.default), "Message-ID")
    return None


def _bounces(parts: list[EmailMessage], own_id: str, original_id: str | None) -> list[BounceReport]:
    reports = []
    for part in (p for p in parts if p.get_content_type() in ("message/delivery-status",
                                                              "message/global-delivery-status")):
        for block in _fields(part)[1:]:  # the first block is about the whole message, the rest per recipient
            kind = _bounce_kind(_header(block, "Action"), _header(block, "Status"))
            address = reported_address((_header(block, "Final-Recipient") or "").rpartition(";")[2])
            if kind is None or address is None:
                continue
            words = [w for w in (_header(block, "Status"), _header(block, "Diagnostic-Code")) if w]
            reports.append(BounceReport(email=address, kind=kind, provider=PROVIDER,
                                        provider_event_id=f"{own_id}:{address}", at=utcnow(),
                                        message_id=original_id, detail=" ".join(words)[:500] or None))
    return reports


def _bounce_kind(action: str | None, status: str | None) -> BounceKind | None:
    action, status = (action or "").lower(), (status or "").strip()
    if action == "delayed" or (action == "failed" and status.startswith("4.")):
        return BounceKind.soft
    if action == "failed":
        return BounceKind.hard  # 5.x.x, or a failure that gave no status: permanent as far as we can tell
    return None  # delivered, relayed, expanded


def _complaints(parts: list[EmailMessage], own_id: str, original_id: str | None) -> list[BounceReport]:
    reports = []
    for part in (p for p in parts if p.get_content_type() == "message/feedback-report"):
        for block in _fields(part)[:1]:
            address = reported_address(_header(block, "Original-Rcpt-To") or _quoted_to(parts))
            if address is None:
                continue
            feedback = _header(block, "Feedback-Type") or "abuse"
            reports.append(BounceReport(email=address, kind=BounceKind.complaint, provider=PROVIDER,
                                        provider_event_id=f"{own_id}:{address}", at=utcnow(),
                                        message_id=original_id, detail=f"feedback type {feedback}"[:500]))
    return reports


def _quoted_to(parts: list[EmailMessage]) -> str | None:
    """The To of the quoted original: whom the complaint is about when the report does not say."""
    for part in parts:
        quoted = None
        if part.get_content_type() == "message/rfc822":
            payload = part.get_payload()
            quoted = payload[0] if isinstance(payload, list) and payload and isinstance(payload[0], Message) else None
        elif part.get_content_type() == "text/rfc822-headers":
            quoted = message_from_string(part.get_content(), policy=policy.default)
        if quoted is not None:
            return parseaddr(_header(quoted, "To") or "")[1] or None
    return None
