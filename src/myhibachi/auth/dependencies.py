"""FastAPI dependencies: who is calling (`CurrentPrincipal`) and may they (`require(permission)`)."""

from __future__ import annotations

from typing import Annotated

import structlog
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from myhibachi.auth.permissions import Permission
from myhibachi.auth.principal import Principal
from myhibachi.auth.queries import load_principal
from myhibachi.core.errors import NotAuthenticated
from myhibachi.core.observability import name_user_in_errors
from myhibachi.core.security import decode_access_token
from myhibachi.core.web import DbSession, RuntimeDep

bearer = HTTPBearer(auto_error=False, description="Access token from `POST /api/v1/auth/login`.")


async def current_principal(
    session: DbSession,
    runtime: RuntimeDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    """The signed-in staff member; loaded fresh on every request so role changes and deactivation apply at once."""
    challenge = {"WWW-Authenticate": "Bearer"}
    if credentials is None:
        raise NotAuthenticated("Sign in to use this endpoint.", headers=challenge)
    claims = decode_access_token(credentials.credentials, runtime.settings.secret_key)
    principal = await load_principal(session, *claims) if claims else None
    if principal is None:
        raise NotAuthenticated("The access token is invalid or has expired.", headers=challenge)
    structlog.contextvars.bind_contextvars(user_id=principal.user_id)
    name_user_in_errors(principal.user_id)
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


async def optional_principal(session: DbSession, runtime: RuntimeDep, request: Request) -> Principal | None:
    """For a public route that staff may also call: nobody without an Authorization header, else as
    `current_principal` (401 for a bad token: a caller who meant to sign in is told, not served as the public). Read
    from the request, not declared as a security scheme: the route is public."""
    credentials = await bearer(request)
    return None if credentials is None else await current_principal(session, runtime, credentials)


OptionalPrincipal = Annotated[Principal | None, Depends(optional_principal)]


def _station_id_of(request: Request) -> int | None:
    raw = request.path_params.get("station_id", request.query_params.get("station_id"))
    try:
        return int(raw) if raw is not None else None
    except ValueError:
        return None  # the parameter's own validation answers 422


def require(permission: Permission):  # noqa: ANN201 - returns a FastAPI dependency
    """Authorize `permission` at the request's `station_id` (path or query), or somewhere when it has none."""

    async def authorized(request: Request, principal: CurrentPrincipal) -> Principal:
        station_id = _station_id_of(request)
        principal.authorize(permission, station_id)
        if station_id is not None:
            structlog.contextvars.bind_contextvars(station_id=station_id)
        return principal

    authorized.required_permission = permission  # type: ignore[attr-defined]  # read by the matrix test
    return Depends(authorized)
