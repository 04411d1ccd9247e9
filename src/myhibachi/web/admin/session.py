"""Who is using the admin pages: a signed sign-in cookie naming the same sign-in session as the API's tokens
(so logout, deactivation and role changes apply at once), renewed on each visit until it lapses after
`ADMIN_IDLE_MINUTES`; CSRF checks for every form and htmx request, with a token bound to that sign-in session;
and the station being looked at."""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import quote

import structlog
from fastapi import Depends, Request, Response
from fastapi.responses import RedirectResponse
from starlette.requests import HTTPConnection

from myhibachi.auth.principal import Principal
from myhibachi.auth.queries import load_principal
from myhibachi.core.db import utcnow
from myhibachi.core.observability import name_user_in_errors
from myhibachi.core.security import create_access_token, decode_token
from myhibachi.core.web import DbSession, RuntimeDep
from myhibachi.settings import Settings
from myhibachi.stations.models import Station
from myhibachi.web.forms import CSRF, CSRF_FIELD, FormRejected

TOKEN_KIND = "admin_page"
CSRF_HEADER = "X-CSRF-Token"  # what htmx sends (see hx-headers in admin/base.html)
STATION_COOKIE = "mh_station"


class SignInRequired(Exception):
    """A page that needs a signed-in staff member: answered with a redirect to the sign-in page."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


def cookie_name(request: HTTPConnection) -> str:
    # The __Host- prefix (Secure, no Domain, Path=/) pins the cookie to this host; browsers accept it over https only
    # (and send it to wss:// sockets of that host: /ws/staff).
    return "__Host-mh_admin" if request.url.scheme in ("https", "wss") else "mh_admin"


def start_session(request: Request, response: Response, settings: Settings, user_id: int, session_id: int) -> None:
    token, seconds = create_access_token(user_id=user_id, session_id=session_id, secret=settings.secret_key,
                                         minutes=settings.admin_idle_minutes, kind=TOKEN_KIND)
    response.set_cookie(cookie_name(request), token, max_age=seconds, httponly=True, samesite="lax", path="/",
                        secure=request.url.scheme == "https")


def end_cookie(request: Request, response: Response) -> None:
    response.delete_cookie(cookie_name(request), path="/", secure=request.url.scheme == "https", httponly=True,
                           samesite="lax")


async def signed_in(request: HTTPConnection, session: Any, settings: Settings) -> Principal | None:
    decoded = decode_token(request.cookies.get(cookie_name(request), ""), settings.secret_key, TOKEN_KIND)
    if decoded is None:
        return None
    user_id, session_id, expires = decoded
    principal = await load_principal(session, user_id, session_id)
    if principal is not None:
        request.state.admin_csrf_token = session_csrf_token(settings.secret_key, session_id)
    if principal is not None and expires - utcnow() < timedelta(minutes=settings.admin_idle_minutes) / 2:
        request.state.renew_admin_session = (user_id, session_id)  # sliding expiry: set again on the way out
    return principal


async def current_staff(request: Request, session: DbSession, runtime: RuntimeDep) -> Principal:
    principal = await signed_in(request, session, runtime.settings)
    if principal is None:
        raise SignInRequired(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
    request.state.staff = principal  # for the refusal page of a domain error (web/admin/pages.py)
    structlog.contextvars.bind_contextvars(user_id=principal.user_id)
    name_user_in_errors(principal.user_id)
    return principal


Staff = Annotated[Principal, Depends(current_staff)]


def sign_in_redirect(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SignInRequired)
    target = "/admin/login" if exc.next_path in ("/admin", "/admin/") else f"/admin/login?next={quote(exc.next_path)}"
    if request.headers.get("HX-Request") == "true":  # htmx follows this header with a full page load
        return Response(status_code=204, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


def safe_next(path: str | None) -> str:
    """Only somewhere inside the admin pages: never an open redirect to another site."""
    if path and path.startswith("/admin") and not path.startswith("//") and "\\" not in path:
        return path
    return "/admin"


def session_csrf_token(secret: str, session_id: int) -> str:
    """A signed-in staff member's CSRF token: bound to their sign-in session, so neither another session's token
    nor a cookie a forger managed to plant passes."""
    return hmac.new(secret.encode(), f"admin-csrf:{session_id}".encode(), hashlib.sha256).hexdigest()


def admin_csrf_token(request: Request) -> str:
    """The token for this page's forms: the sign-in session's, or before signing in the double-submit cookie's."""
    return getattr(request.state, "admin_csrf_token", None) or CSRF.read(request)


def csrf_ok(request: Request, sent: str) -> bool:
    expected = getattr(request.state, "admin_csrf_token", None) or request.cookies.get(CSRF.cookie_name(request), "")
    return bool(expected) and hmac.compare_digest(expected.encode(), sent.encode())


async def checked_form(request: Request) -> dict[str, str]:
    """The posted fields, once the CSRF token (form field or htmx header) is the sign-in session's (before signing
    in: the visitor's cookie's). Call it after the staff member is known (`Staff`, `signed_in`)."""
    form = {key: value.strip() for key, value in (await request.form()).items() if isinstance(value, str)}
    if not csrf_ok(request, form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER, "")):
        raise FormRejected(403, "This form had expired, so nothing was changed. Please try again.", form)
    return form


def chosen_station(request: Request, principal: Principal, stations: list[Station]) -> Station | None:
    """The station picked in the switcher (a cookie), else the first the staff member works at."""
    wanted = request.query_params.get("station") or request.cookies.get(STATION_COOKIE, "")
    visible = [s for s in stations if principal.role_at(s.id) is not None]
    return next((s for s in visible if str(s.id) == wanted), visible[0] if visible else None)
