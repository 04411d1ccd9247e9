"""Read use-cases of staff identity: the principal of a request, and the staff directory."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from myhibachi.auth.models import AuthSession, PasswordToken, StationMembership, User
from myhibachi.auth.permissions import Permission, Role, permissions_of
from myhibachi.auth.principal import Principal, scope_to_stations
from myhibachi.auth.schemas import Me, MembershipRead, StationRole, UserRead
from myhibachi.core.db import utcnow
from myhibachi.core.errors import NotFound


async def load_principal(session: AsyncSession, user_id: int, session_id: int) -> Principal | None:
    """The active user behind a live sign-in session, with current roles; None if anything is off."""
    row = (await session.execute(
        select(User, AuthSession)
        .join(AuthSession, AuthSession.user_id == User.id)
        .where(User.id == user_id, AuthSession.id == session_id, User.is_active.is_(True),
               AuthSession.revoked_at.is_(None), AuthSession.expires_at > utcnow())
    )).first()
    if row is None:
        return None
    user = row[0]
    return Principal(user_id=user.id, email=user.email, name=user.name, is_super_admin=user.is_super_admin,
                     session_id=session_id, roles=await roles_of(session, user.id))


async def roles_of(session: AsyncSession, user_id: int) -> dict[int, Role]:
    rows = await session.execute(
        select(StationMembership.station_id, StationMembership.role).where(StationMembership.user_id == user_id)
    )
    return {station_id: Role(role) for station_id, role in rows}


async def staff_emails_with(session: AsyncSession, station_id: int, permission: Permission) -> list[str]:
    """Who at a station should hear about something needing `permission` (super admins when nobody there may)."""
    roles = [role.value for role in Role if role is not Role.super_admin and permission in permissions_of(role)]
    members = select(User.email).join(StationMembership, StationMembership.user_id == User.id).where(
        StationMembership.station_id == station_id, StationMembership.role.in_(roles), User.is_active.is_(True))
    emails = list(await session.scalars(members.order_by(User.email)))
    if not emails:
        emails = list(await session.scalars(select(User.email).where(
            User.is_super_admin.is_(True), User.is_active.is_(True)).order_by(User.email)))
    return emails


async def describe_me(session: AsyncSession, principal: Principal) -> Me:
    user = await session.get_one(User, principal.user_id)
    return Me(
        id=user.id, email=user.email, name=user.name, is_super_admin=user.is_super_admin,
        totp_enabled=user.totp_enabled,
        stations=[
            StationRole(station_id=sid, role=role, permissions=sorted(p.value for p in permissions_of(role)))
            for sid, role in sorted(principal.roles.items())
        ],
    )


def _visible_users(principal: Principal):  # noqa: ANN202 - a select
    """Users the principal may see: members of its users.manage stations (everyone for a super admin)."""
    members = scope_to_stations(select(StationMembership.user_id), principal, Permission.users_manage,
                                StationMembership.station_id)
    stmt = select(User)
    return stmt if principal.is_super_admin else stmt.where(User.id.in_(members))


async def find_visible_user(session: AsyncSession, principal: Principal, user_id: int) -> User:
    user = await session.scalar(_visible_users(principal).where(User.id == user_id))
    if user is None:
        if await session.get(User, user_id) is not None:  # it exists, outside the principal's stations: a denial
            principal.deny(Permission.users_manage, None, "not_visible")  # logs `permission_denied`
        raise NotFound("No such user.")
    return user


async def _read_users(session: AsyncSession, principal: Principal, users: list[User]) -> list[UserRead]:
    """Users with their roles at the principal's stations only (roles elsewhere are another station's data)."""
    ids = [u.id for u in users]
    memberships_stmt = scope_to_stations(
        select(StationMembership).where(StationMembership.user_id.in_(ids)).order_by(StationMembership.station_id),
        principal, Permission.users_manage, StationMembership.station_id)
    memberships = (await session.scalars(memberships_stmt)).all() if ids else []
    pending = set((await session.scalars(
        select(PasswordToken.user_id).where(PasswordToken.user_id.in_(ids), PasswordToken.purpose == "invite",
                                            PasswordToken.used_at.is_(None))
    )).all()) if ids else set()
    return [
        UserRead(
            id=u.id, email=u.email, name=u.name, is_super_admin=u.is_super_admin, is_active=u.is_active,
            totp_enabled=u.totp_enabled, invite_pending=u.password_hash is None and u.id in pending,
            created_at=u.created_at,
            memberships=[MembershipRead.model_validate(m) for m in memberships if m.user_id == u.id],
        )
        for u in users
    ]


async def get_user(session: AsyncSession, principal: Principal, user_id: int) -> UserRead:
    return (await _read_users(session, principal, [await find_visible_user(session, principal, user_id)]))[0]


async def list_users(session: AsyncSession, principal: Principal, *, station_id: int | None, query: str | None,
                     after_id: int | None, limit: int) -> tuple[list[UserRead], int | None]:
    stmt = _visible_users(principal)
    if station_id is not None:
        stmt = stmt.where(User.id.in_(select(StationMembership.user_id)
                                      .where(StationMembership.station_id == station_id)))
    if query:
        pattern = f"%{query.lower()}%"
        stmt = stmt.where(User.email.like(pattern) | User.name.ilike(pattern))
    if after_id is not None:
        stmt = stmt.where(User.id > after_id)
    users = list(await session.scalars(stmt.order_by(User.id).limit(limit + 1)))
    next_cursor = users[limit - 1].id if len(users) > limit else None
    return await _read_users(session, principal, users[:limit]), next_cursor


async def user_names(session: AsyncSession, user_ids: set[int]) -> dict[int, tuple[str, str]]:
    """{id: (name, email)} of the given users: how the audit log names who did what."""
    if not user_ids:
        return {}
    rows = await session.execute(select(User.id, User.name, User.email).where(User.id.in_(sorted(user_ids))))
    return {user_id: (name, email) for user_id, name, email in rows}


async def user_id_by_email(session: AsyncSession, email: str) -> int | None:
    """The id behind an email address (the audit log's "who" filter), None when there is no such user."""
    return await session.scalar(select(User.id).where(User.email == email.strip().lower()))
