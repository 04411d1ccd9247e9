"""Password hashing (argon2), opaque tokens stored as hashes, and signed short-lived access tokens."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import UTC, datetime, timedelta
from functools import cache

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
ACCESS_TOKEN_TYPE = "access"  # noqa: S105 - a claim value, not a secret


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def password_needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


@cache
def _dummy_hash() -> str:
    return _hasher.hash(secrets.token_urlsafe(16))


def burn_password_check(password: str) -> None:
    """Spend the time of a real verification, so an unknown email answers as slowly as a wrong password."""
    verify_password(_dummy_hash(), password)


def new_opaque_token() -> str:
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """Opaque tokens (refresh, reset, invite) are stored only as this digest."""
    return hashlib.sha256(token.encode()).hexdigest()


def tokens_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a, b)


def create_access_token(*, user_id: int, session_id: int, secret: str, minutes: int,
                        kind: str = ACCESS_TOKEN_TYPE) -> tuple[str, int]:
    """A signed token naming the user and their sign-in session; `kind` keeps API tokens and admin-page
    cookies apart (neither is accepted as the other)."""
    now = datetime.now(UTC)
    expires_in = minutes * 60
    claims = {
        "sub": str(user_id),
        "sid": session_id,
        "typ": kind,
        "iat": now,
        "exp": now + timedelta(seconds=expires_in),
    }
    return jwt.encode(claims, secret, algorithm="HS256"), expires_in


def decode_token(token: str, secret: str, kind: str) -> tuple[int, int, datetime] | None:
    """(user_id, session_id, expiry) of a valid, unexpired token of that kind; None otherwise."""
    try:
        claims = jwt.decode(token, secret, algorithms=["HS256"], options={"require": ["exp", "sub", "sid"]})
    except jwt.PyJWTError:
        return None
    if claims.get("typ") != kind:
        return None
    try:
        return int(claims["sub"]), int(claims["sid"]), datetime.fromtimestamp(claims["exp"], UTC)
    except (TypeError, ValueError):
        return None


def decode_access_token(token: str, secret: str) -> tuple[int, int] | None:
    """(user_id, session_id) of a valid, unexpired access token; None otherwise."""
    decoded = decode_token(token, secret, ACCESS_TOKEN_TYPE)
    return decoded[:2] if decoded else None


def sign_value(secret: str, purpose: str, value: str) -> str:
    """`value.mac`: a value a browser keeps (a cookie) that it can read but not forge; `purpose` keeps the values
    of different uses apart."""
    mac = hmac.new(secret.encode(), f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()
    return f"{value}.{mac}"


def read_signed_value(secret: str, purpose: str, signed: str) -> str | None:
    """The value `sign_value` signed for this purpose, or None if the text is not one of ours."""
    value, _, mac = signed.rpartition(".")
    if not value or len(signed) > 512 or not tokens_equal(sign_value(secret, purpose, value), signed):
        return None
    return value
