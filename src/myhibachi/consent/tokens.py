"""Signed links about a contact's consent: `{contact_id}.{issued}.{mac}`, HMAC-SHA256 with SECRET_KEY over what the
link is for, the contact and the time it was issued. No email address in clear; nothing stored to check it."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta


def _mac(secret: str, purpose: str, contact_id: int, issued: int) -> str:
    digest = hmac.digest(secret.encode(), f"consent:{purpose}:{contact_id}:{issued}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def sign_contact(secret: str, purpose: str, contact_id: int, now: datetime) -> str:
    issued = int(now.timestamp())
    return f"{contact_id}.{issued}.{_mac(secret, purpose, contact_id, issued)}"


def read_contact(secret: str, purpose: str, token: str, *, max_age: timedelta, now: datetime) -> int | None:
    """The contact a token of this purpose names, if it is ours and younger than `max_age`; else None."""
    parts = token.split(".")
    if len(parts) != 3 or not (parts[0].isdigit() and parts[1].isdigit()) or len(parts[0]) > 19:
        return None
    contact_id, issued = int(parts[0]), int(parts[1])
    if not hmac.compare_digest(parts[2].encode(), _mac(secret, purpose, contact_id, issued).encode()):
        return None
    age = now - datetime.fromtimestamp(min(issued, 2**40), UTC)
    if age > max_age or age < -timedelta(minutes=5):
        return None
    return contact_id
