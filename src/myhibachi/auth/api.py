"""Auth and staff-user routes: HTTP in, command or query, HTTP out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from myhibachi.auth import commands, queries
from myhibachi.auth.dependencies import CurrentPrincipal, require
from myhibachi.auth.permissions import Permission
from myhibachi.auth.principal import Principal
from myhibachi.auth.schemas import (
    LoginRequest,
    Me,
    PasswordResetRequest,
    PasswordSet,
    ReasonBody,
    RefreshRequest,
    TokenPair,
    TotpConfirm,
    TotpDisable,
    TotpSetup,
    UserCreate,
    UserPage,
    UserRead,
)
from myhibachi.core.db import MAX_ID
from myhibachi.core.errors import problem_responses
from myhibachi.core.web import DbSession, PathId, RuntimeDep

public = APIRouter(prefix="/auth", tags=["auth"])
staff = APIRouter(tags=["auth"])
users = APIRouter(prefix="/users", tags=["users"])
ManageUsers = Annotated[Principal, require(Permission.users_manage)]


@public.post("/login", summary="Sign in", response_model=TokenPair,
             responses=problem_responses(401, 422, 429))
async def login(body: LoginRequest, session: DbSession, runtime: RuntimeDep) -> TokenPair:
    """Exchange email and password (and the TOTP code when two-factor sign-in is on) for an access token
    (15 minutes) and a refresh token. Unknown email and wrong password give the same 401
    `invalid_credentials`; repeated failures per account and per IP give 429 `rate_limited` with Retry-After."""
    return await commands.login(session, runtime, email=body.email, password=body.password,
                                totp_code=body.totp_code)


@public.post("/refresh", summary="Rotate the refresh token", response_model=TokenPair,
             responses=problem_responses(401, 422))
async def refresh(body: RefreshRequest, session: DbSession, runtime: RuntimeDep) -> TokenPair:
    """Spend a refresh token for a new pair. The old one stops working; presenting an already-rotated token
    ends its whole session family (401 `invalid_token`)."""
    return await commands.refresh(session, runtime.settings, refresh_token=body.refresh_token)


@public.post("/logout", summary="Sign out", status_code=status.HTTP_204_NO_CONTENT,
             responses=problem_responses(422))
async def logout(body: RefreshRequest, session: DbSession) -> Response:
    """End the session of this refresh token; its access tokens stop working at once. Unknown tokens are
    ignored, so signing out twice is harmless."""
    await commands.logout(session, refresh_token=body.refresh_token)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@public.post("/password-reset", summary="Ask for a password-reset email", status_code=status.HTTP_202_ACCEPTED,
             response_class=Response, responses=problem_responses(422))  # 202 has no body, not JSON
async def request_password_reset(body: PasswordResetRequest, session: DbSession, runtime: RuntimeDep) -> Response:
    """Email a single-use link to set a new password. The answer is the same whether or not the account
    exists."""
    await commands.request_password_reset(session, runtime, email=body.email)
    return Response(status_code=status.HTTP_202_ACCEPTED)


@public.post("/password", summary="Set a password with an emailed token", status_code=status.HTTP_204_NO_CONTENT,
             responses=problem_responses(400, 422))
async def set_password(body: PasswordSet, session: DbSession, runtime: RuntimeDep) -> Response:
    """Spend a reset or invite token to set the password. Every open session of the user is ended."""
    await commands.set_password_with_token(session, runtime.settings, token=body.token,
                                           new_password=body.new_password)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@staff.get("/auth/me", summary="Who am I", response_model=Me, responses=problem_responses(401))
async def me(principal: CurrentPrincipal, session: DbSession) -> Me:
    """The signed-in user with a role and the permissions it grants at each station."""
    return await queries.describe_me(session, principal)


@staff.post("/auth/totp/setup", summary="Start two-factor setup", response_model=TotpSetup,
            responses=problem_responses(401, 409))
async def totp_setup(principal: CurrentPrincipal, session: DbSession, runtime: RuntimeDep) -> TotpSetup:
    """Create a new authenticator secret for the signed-in user (shown once, as a secret and an otpauth URI
    for a QR code). It takes effect after `POST /auth/totp/confirm`."""
    return await commands.start_totp_setup(session, runtime.settings, principal)


@staff.post("/auth/totp/confirm", summary="Turn two-factor sign-in on", status_code=status.HTTP_204_NO_CONTENT,
            responses=problem_responses(401, 409, 422))
async def totp_confirm(body: TotpConfirm, principal: CurrentPrincipal, session: DbSession) -> Response:
    """Prove the authenticator works with one code; from then on sign-in asks for a code."""
    await commands.confirm_totp(session, principal, code=body.code)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@staff.post("/auth/totp/disable", summary="Turn two-factor sign-in off", status_code=status.HTTP_204_NO_CONTENT,
            responses=problem_responses(401, 422))
async def totp_disable(body: TotpDisable, principal: CurrentPrincipal, session: DbSession) -> Response:
    """Requires the current password."""
    await commands.disable_totp(session, principal, password=body.password)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@users.get("", summary="List staff users", response_model=UserPage, responses=problem_responses(401, 403, 404, 422))
async def list_users(
    principal: ManageUsers,
    session: DbSession,
    station_id: Annotated[int | None, Query(ge=1, le=MAX_ID, description="Only members of this station.")] = None,
    q: Annotated[str | None, Query(max_length=100, description="Part of the name or email.")] = None,
    cursor: Annotated[str | None, Query(pattern=r"^\d{1,18}$", description="`next_cursor` of the last page.")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> UserPage:
    """Users holding a role at a station where you may manage users (everyone, for a super admin)."""
    items, next_cursor = await queries.list_users(session, principal, station_id=station_id, query=q,
                                                  after_id=int(cursor) if cursor else None, limit=limit)
    return UserPage(items=items, next_cursor=str(next_cursor) if next_cursor else None)


@users.post("", summary="Create or invite a staff user", status_code=status.HTTP_201_CREATED,
            response_model=UserRead, responses=problem_responses(401, 403, 404, 409, 422))
async def create_user(body: UserCreate, principal: ManageUsers, session: DbSession,
                      runtime: RuntimeDep) -> UserRead:
    """Create a user with one role at one station. Without a password the user is emailed a single-use invite
    link to choose one. Admins may create managers, support and chefs of their stations; managers may create
    chefs; only a super admin creates a super admin."""
    user = await commands.create_user(session, runtime.settings, principal, body)
    return await queries.get_user(session, principal, user.id)


@users.get("/{user_id}", summary="A staff user", response_model=UserRead,
           responses=problem_responses(401, 403, 404, 422))
async def get_user(user_id: PathId, principal: ManageUsers, session: DbSession) -> UserRead:
    """A user holding a role at a station where you manage users; anyone else is 404."""
    return await queries.get_user(session, principal, user_id)


@users.post("/{user_id}/deactivate", summary="Deactivate a staff user", response_model=UserRead,
            responses=problem_responses(401, 403, 404, 409, 422))
async def deactivate_user(user_id: PathId, body: ReasonBody, principal: ManageUsers, session: DbSession) -> UserRead:
    """The user can no longer sign in, and every open session (access tokens too) ends at once. You must be
    allowed to grant each role the user holds."""
    await commands.deactivate_user(session, principal, user_id=user_id, reason=body.reason)
    return await queries.get_user(session, principal, user_id)


@users.post("/{user_id}/reactivate", summary="Reactivate a staff user", response_model=UserRead,
            responses=problem_responses(401, 403, 404, 409, 422))
async def reactivate_user(user_id: PathId, principal: ManageUsers, session: DbSession) -> UserRead:
    """Allow the user to sign in again (with their existing password)."""
    await commands.reactivate_user(session, principal, user_id=user_id)
    return await queries.get_user(session, principal, user_id)
