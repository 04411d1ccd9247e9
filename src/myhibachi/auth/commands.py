"""Write use-cases of staff identity: sign-in, token rotation, password reset, 2FA, staff management."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import quote

import pyotp
import structlog
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from myhibachi.audit.commands import record_audit
from myhibachi.auth.models import AuthSession, PasswordToken, RefreshToken, StationMembership, User
from myhibachi.auth.permissions import STATION_ROLES, Permission, Role
from myhibachi.auth.principal import Principal
from myhibachi.auth.queries import find_visible_user
from myhibachi.auth.schemas import TokenPair, TotpSetup, UserCreate
from myhibachi.core.context import current_request_meta
from myhibachi.core.db import utcnow
from myhibachi.core.email import queue_email
from myhibachi.core.errors import (
    Conflict,
    DomainError,
    InvalidCredentials,
    NotFound,
    RateLimited,
    ValidationFailed,
)
from myhibachi.core.outbox import add_outbox_message
from myhibachi.core.ratelimit import Reservation
from myhibachi.core.runtime import Runtime
from myhibachi.core.security import (
    burn_password_check,
    create_access_token,
    hash_password,
    hash_token,
    new_opaque_token,
    password_needs_rehash,
    verify_password,
)
from myhibachi.core.templating import render
from myhibachi.core.text import has_control_characters, normalize_email
from myhibachi.settings import Settings
from myhibachi.stations.models import Station

log = structlog.get_logger(__name__)
PASSWORD_RESET_REQUESTED = "auth.password_reset_requested"  # outbox topic: see auth/jobs.py


class TotpRequired(DomainError):
    status, code = 401, "totp_required"


class InvalidTotp(DomainError):
    status, code = 401, "invalid_totp"


class InvalidToken(DomainError):
    status, code = 401, "invalid_token"


class RefreshTokenReused(InvalidToken):
    keeps_changes = True  # the family revocation must survive the error response


class InvalidPasswordToken(DomainError):
    status, code = 400, "invalid_token"


# --- signing in and out ------------------------------------------------------------------------------------

async def login(session: AsyncSession, runtime: Runtime, *, email: str, password: str,
                totp_code: str | None) -> TokenPair:
    email = normalize_email(email)
    attempt = await _reserve_failure(runtime, current_request_meta().ip or "unknown", email)
    try:
        user = await _verified_user(session, email=email, password=password, totp_code=totp_code)
    except (InvalidCredentials, InvalidTotp):
        log.info("login_failed", email_hash=hash_token(email)[:12])
        raise  # the reserved failures stay counted
    except BaseException:
        await _release(attempt)
        raise
    # Released, not reset: a reset would also wipe failures counted by other attempts, and one's own valid
    # password would clear an IP's count of guesses at other accounts.
    await _release(attempt)
    assert user.password_hash is not None  # a verified user has one
    if password_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    log.info("login_succeeded", user_id=user.id)
    return await _open_session(session, runtime.settings, user.id)


async def _reserve_failure(runtime: Runtime, ip: str, email: str) -> tuple[Reservation, ...]:
    """Count the attempt as a failure of its IP and of its account before the verdict, so simultaneous guesses
    cannot all be checked before any is counted; refused by either limit, it counts for neither."""
    by_ip = await runtime.login_failures_by_ip.reserve(ip)
    try:
        by_account = await runtime.login_failures_by_account.reserve(email)
    except RateLimited:
        await by_ip.release()
        raise
    return by_ip, by_account


async def _release(attempt: tuple[Reservation, ...]) -> None:
    for reservation in attempt:
        await reservation.release()


async def _verified_user(session: AsyncSession, *, email: str, password: str, totp_code: str | None) -> User:
    """The active user these credentials prove; `InvalidCredentials` / `InvalidTotp` are the failures that count."""
    # An address with a control character is nobody's (and PostgreSQL cannot compare text holding NUL).
    user = None if has_control_characters(email) else await session.scalar(select(User).where(User.email == email))
    if user is None or user.password_hash is None:
        burn_password_check(password)  # same work, same time, as a wrong password
        raise InvalidCredentials("The email or the password is wrong.")
    if not (verify_password(user.password_hash, password) and user.is_active):
        raise InvalidCredentials("The email or the password is wrong.")
    if user.totp_enabled:
        if not totp_code:
            raise TotpRequired("Enter the 6-digit code from your authenticator app.")
        if not pyotp.TOTP(user.totp_secret or "").verify(totp_code, valid_window=1):
            raise InvalidTotp("The authenticator code is wrong or has expired.")
    return user


async def _open_session(session: AsyncSession, settings: Settings, user_id: int) -> TokenPair:
    meta = current_request_meta()
    auth_session = AuthSession(user_id=user_id, expires_at=utcnow() + timedelta(days=settings.refresh_token_days),
                               ip=meta.ip, user_agent=(meta.user_agent or "")[:400] or None)
    session.add(auth_session)
    await session.flush()
    return await _issue_tokens(session, settings, auth_session)


async def _issue_tokens(session: AsyncSession, settings: Settings, auth_session: AuthSession) -> TokenPair:
    refresh_token = new_opaque_token()
    session.add(RefreshToken(session_id=auth_session.id, token_hash=hash_token(refresh_token)))
    await session.flush()
    access_token, expires_in = create_access_token(
        user_id=auth_session.user_id, session_id=auth_session.id, secret=settings.secret_key,
        minutes=settings.access_token_minutes,
    )
    return TokenPair(access_token=access_token, refresh_token=refresh_token, expires_in=expires_in)


async def _find_refresh_token(session: AsyncSession, token: str) -> tuple[RefreshToken, AuthSession] | None:
    stmt = (select(RefreshToken, AuthSession).join(AuthSession, AuthSession.id == RefreshToken.session_id)
            .where(RefreshToken.token_hash == hash_token(token)).with_for_update())
    row = (await session.execute(stmt)).first()
    return (row[0], row[1]) if row else None


async def refresh(session: AsyncSession, settings: Settings, *, refresh_token: str) -> TokenPair:
    """Rotate: the presented token is spent and a new pair issued in the same session family."""
    found = await _find_refresh_token(session, refresh_token)
    if found is None:
        raise InvalidToken("The refresh token is not valid.")
    token, auth_session = found
    user = await session.get_one(User, auth_session.user_id)
    if auth_session.revoked_at is not None or auth_session.expires_at <= utcnow() or not user.is_active:
        raise InvalidToken("This session has ended; sign in again.")
    if token.used_at is not None:
        # A spent token came back: it was stolen or replayed. End the whole family.
        _revoke(auth_session, "refresh_token_reuse")
        log.warning("refresh_token_reuse", user_id=auth_session.user_id, session_id=auth_session.id)
        raise RefreshTokenReused("This refresh token was already used; the session has been ended.")
    token.used_at = utcnow()
    return await _issue_tokens(session, settings, auth_session)


async def logout(session: AsyncSession, *, refresh_token: str) -> None:
    found = await _find_refresh_token(session, refresh_token)
    if found is not None and found[1].revoked_at is None:
        _revoke(found[1], "logout")


async def end_session(session: AsyncSession, session_id: int, reason: str = "logout") -> None:
    """Signing out of the admin pages: the sign-in session ends, so its cookie is refused from now on."""
    auth_session = await session.get(AuthSession, session_id)
    if auth_session is not None and auth_session.revoked_at is None:
        _revoke(auth_session, reason)


def _revoke(auth_session: AuthSession, reason: str) -> None:
    auth_session.revoked_at = utcnow()
    auth_session.revoked_reason = reason


async def end_all_sessions(session: AsyncSession, user_id: int, reason: str) -> None:
    await session.execute(
        update(AuthSession)
        .where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=utcnow(), revoked_reason=reason)
    )


# --- passwords ---------------------------------------------------------------------------------------------

async def request_password_reset(session: AsyncSession, runtime: Runtime, *, email: str) -> None:
    """Email a single-use link if the account exists; answer the same either way, in the same time: the request
    never looks the account up (the throttle counts the address, known or not) and only queues a job, which
    `send_password_reset` runs after commit."""
    email = normalize_email(email)
    try:  # an account can not be flooded with emails: every email counts, in the step that allows it
        await runtime.password_resets_by_account.reserve(email)
    except RateLimited:
        log.warning("password_reset_throttled")
        return
    await add_outbox_message(session, PASSWORD_RESET_REQUESTED, {"email": email})


async def send_password_reset(session: AsyncSession, settings: Settings, *, email: str) -> None:
    """The reset email of an active account; an unknown or deactivated address is dropped."""
    user = None if has_control_characters(email) else await session.scalar(
        select(User).where(User.email == email, User.is_active.is_(True)))
    if user is None:
        log.info("password_reset_dropped")
        return
    token = await _new_password_token(session, user.id, "reset", timedelta(minutes=settings.password_reset_minutes))
    text = render("email/password_reset.txt", name=user.name, brand=settings.brand_name,
                  minutes=settings.password_reset_minutes, link=_password_link(settings, token))
    await queue_email(session, to=user.email, subject=f"Reset your {settings.brand_name} password", text=text)


async def _new_password_token(session: AsyncSession, user_id: int, purpose: str, lifetime: timedelta) -> str:
    token = new_opaque_token()
    session.add(PasswordToken(user_id=user_id, purpose=purpose, token_hash=hash_token(token),
                              expires_at=utcnow() + lifetime))
    await session.flush()
    return token


def _password_link(settings: Settings, token: str) -> str:
    return f"{settings.base_url.rstrip('/')}/admin/set-password?token={quote(token)}"


async def set_password_with_token(session: AsyncSession, settings: Settings, *, token: str,
                                  new_password: str) -> None:
    """Spend a reset or invite token: set the password and sign the user out everywhere."""
    row = await session.scalar(
        select(PasswordToken).where(PasswordToken.token_hash == hash_token(token)).with_for_update()
    )
    if row is None or row.used_at is not None or row.expires_at <= utcnow():
        raise InvalidPasswordToken("This link is invalid, expired or already used; ask for a new one.")
    user = await session.get_one(User, row.user_id)
    if not user.is_active:
        raise InvalidPasswordToken("This account is deactivated.")
    row.used_at = utcnow()
    user.password_hash = hash_password(new_password)
    await end_all_sessions(session, user.id, "password_changed")
    await record_audit(session, actor_user_id=user.id, action=f"auth.password_{row.purpose}",
                       target_type="user", target_id=user.id)
    text = render("email/password_changed.txt", name=user.name, brand=settings.brand_name)
    await queue_email(session, to=user.email, subject=f"Your {settings.brand_name} password was changed", text=text)


# --- two-factor sign-in ------------------------------------------------------------------------------------

async def start_totp_setup(session: AsyncSession, settings: Settings, principal: Principal) -> TotpSetup:
    user = await session.get_one(User, principal.user_id)
    if user.totp_enabled:
        raise Conflict("Two-factor sign-in is already on; turn it off first to change the device.")
    user.totp_secret = pyotp.random_base32()
    uri = pyotp.TOTP(user.totp_secret).provisioning_uri(name=user.email, issuer_name=settings.brand_name)
    return TotpSetup(secret=user.totp_secret, otpauth_uri=uri)


async def confirm_totp(session: AsyncSession, principal: Principal, *, code: str) -> None:
    user = await session.get_one(User, principal.user_id)
    if user.totp_enabled or not user.totp_secret:
        raise Conflict("Start the setup first.")
    if not pyotp.TOTP(user.totp_secret).verify(code, valid_window=1):
        raise InvalidTotp("The code does not match; check the device's clock and try again.")
    user.totp_enabled = True
    await record_audit(session, actor_user_id=user.id, action="auth.totp_enable", target_type="user",
                       target_id=user.id, after={"totp_enabled": True})


async def disable_totp(session: AsyncSession, principal: Principal, *, password: str) -> None:
    user = await session.get_one(User, principal.user_id)
    if not user.password_hash or not verify_password(user.password_hash, password):
        raise InvalidCredentials("The password is wrong.")
    user.totp_enabled, user.totp_secret = False, None
    await record_audit(session, actor_user_id=user.id, action="auth.totp_disable", target_type="user",
                       target_id=user.id, before={"totp_enabled": True}, after={"totp_enabled": False})


# --- staff management ----------------------------------------------------------------------------------------

def _check_can_grant(principal: Principal, station_id: int, role: Role) -> None:
    if role not in principal.grantable_roles(station_id):
        raise principal.deny(Permission.users_manage, station_id,
                             f"Your role may not grant or change the role `{role.value}` here.")


async def _station_or_404(session: AsyncSession, station_id: int) -> Station:
    station = await session.get(Station, station_id)
    if station is None:
        raise NotFound("No such station.")
    return station


async def create_user(session: AsyncSession, settings: Settings, principal: Principal, data: UserCreate) -> User:
    station: Station | None = None
    if data.role is Role.super_admin:
        if not principal.is_super_admin:
            raise principal.deny(Permission.users_manage, None, "Only a super admin can create a super admin.")
    else:
        if data.station_id is None:
            raise ValidationFailed.on("body.station_id", "A station is required for this role.", "missing")
        principal.authorize(Permission.users_manage, data.station_id)
        station = await _station_or_404(session, data.station_id)
        _check_can_grant(principal, data.station_id, data.role)

    email = normalize_email(data.email)
    if await session.scalar(select(User.id).where(User.email == email)) is not None:
        raise Conflict("A user with this email already exists; add them to the station instead.")
    user = User(email=email, name=data.name, is_super_admin=data.role is Role.super_admin,
                password_hash=hash_password(data.password) if data.password else None)
    session.add(user)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise Conflict("A user with this email already exists.") from None
    if station is not None:
        session.add(StationMembership(user_id=user.id, station_id=station.id, role=data.role.value))
        await session.flush()
    await record_audit(session, actor_user_id=principal.user_id, action="users.create", target_type="user",
                       target_id=user.id, station_id=station.id if station else None,
                       after={"email": email, "name": data.name, "role": data.role.value,
                              "invited": data.password is None})
    if data.password is None:
        await _send_invite(session, settings, principal, user, data.role, station)
    return user


async def _send_invite(session: AsyncSession, settings: Settings, principal: Principal, user: User, role: Role,
                       station: Station | None) -> None:
    token = await _new_password_token(session, user.id, "invite", timedelta(days=settings.invite_days))
    text = render("email/invite.txt", name=user.name, inviter=principal.name, brand=settings.brand_name,
                  role=role.value.replace("_", " "), station=station.name if station else None,
                  days=settings.invite_days, link=_password_link(settings, token), email=user.email)
    await queue_email(session, to=user.email, subject=f"You're invited to {settings.brand_name}", text=text)


async def set_station_role(session: AsyncSession, principal: Principal, *, station_id: int, user_id: int,
                           role: Role) -> tuple[StationMembership, bool]:
    """Grant a role at a station, or change the existing one. Returns (membership, created)."""
    if role not in STATION_ROLES:
        raise ValidationFailed.on("body.role", "Super admin is not a station role.")
    await _station_or_404(session, station_id)
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound("No such user.")
    _check_can_grant(principal, station_id, role)
    membership = await session.scalar(select(StationMembership).where(
        StationMembership.user_id == user_id, StationMembership.station_id == station_id))
    before = None
    if membership is None:
        membership = StationMembership(user_id=user_id, station_id=station_id, role=role.value)
        session.add(membership)
    else:
        _check_can_grant(principal, station_id, Role(membership.role))
        before = {"role": membership.role}
        membership.role = role.value
    await session.flush()
    await record_audit(session, actor_user_id=principal.user_id,
                       action="users.role_grant" if before is None else "users.role_change",
                       target_type="user", target_id=user_id, station_id=station_id, before=before,
                       after={"role": role.value})
    return membership, before is None


async def revoke_station_role(session: AsyncSession, principal: Principal, *, station_id: int, user_id: int,
                              reason: str) -> None:
    membership = await session.scalar(select(StationMembership).where(
        StationMembership.user_id == user_id, StationMembership.station_id == station_id))
    if membership is None:
        raise NotFound("This user has no role at this station.")
    _check_can_grant(principal, station_id, Role(membership.role))
    await record_audit(session, actor_user_id=principal.user_id, action="users.role_revoke", target_type="user",
                       target_id=user_id, station_id=station_id, before={"role": membership.role}, reason=reason)
    await session.delete(membership)
    await session.flush()


async def _check_can_manage_user(session: AsyncSession, principal: Principal, user: User) -> int | None:
    """Every role the user holds must be one the principal may grant. Returns a station for the audit row."""
    if user.id == principal.user_id:
        raise Conflict("You cannot change your own account's access.")
    if user.is_super_admin and not principal.is_super_admin:
        raise principal.deny(Permission.users_manage, None, "Only a super admin can change a super admin.")
    memberships = (await session.scalars(
        select(StationMembership).where(StationMembership.user_id == user.id).order_by(StationMembership.station_id)
    )).all()
    for m in memberships:
        _check_can_grant(principal, m.station_id, Role(m.role))
    return memberships[0].station_id if memberships else None


async def deactivate_user(session: AsyncSession, principal: Principal, *, user_id: int, reason: str) -> User:
    """Deactivation ends every session of the user at once (access tokens included)."""
    user = await find_visible_user(session, principal, user_id)
    station_id = await _check_can_manage_user(session, principal, user)
    if user.is_active:
        user.is_active, user.deactivated_at = False, utcnow()
        await end_all_sessions(session, user.id, "deactivated")
        await record_audit(session, actor_user_id=principal.user_id, action="users.deactivate", target_type="user",
                           target_id=user.id, station_id=station_id, before={"is_active": True},
                           after={"is_active": False}, reason=reason)
    return user


async def reactivate_user(session: AsyncSession, principal: Principal, *, user_id: int) -> User:
    user = await find_visible_user(session, principal, user_id)
    station_id = await _check_can_manage_user(session, principal, user)
    if not user.is_active:
        user.is_active, user.deactivated_at = True, None
        await record_audit(session, actor_user_id=principal.user_id, action="users.reactivate", target_type="user",
                           target_id=user.id, station_id=station_id, before={"is_active": False},
                           after={"is_active": True})
    return user
