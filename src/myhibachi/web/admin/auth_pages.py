"""Signing in and out of the admin pages, with the same login command as the API (throttling, the TOTP step)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from myhibachi.auth import commands
from myhibachi.core.errors import DomainError
from myhibachi.core.security import decode_access_token
from myhibachi.core.templating import render
from myhibachi.core.web import DbSession, RuntimeDep
from myhibachi.web.admin.session import checked_form, end_cookie, safe_next, signed_in, start_session
from myhibachi.web.assets import asset_url
from myhibachi.web.forms import CSRF, CSRF_FIELD, FormRejected

router = APIRouter(include_in_schema=False)


def _login_page(request: Request, runtime: Any, *, status: int = 200, message: str | None = None,
                notice: str | None = None, email: str = "", password: str = "", totp_step: bool = False,
                next_path: str = "/admin") -> HTMLResponse:
    html = render("admin/login.html", title="Sign in", brand=runtime.settings.brand_name, asset=asset_url,
                  csrf_field=CSRF_FIELD, csrf_token=CSRF.read(request), message=message, notice=notice,
                  email=email, password=password, totp_step=totp_step, next=safe_next(next_path))
    response = HTMLResponse(html, status_code=status)
    CSRF.keep(request, response)
    return response


@router.get("/admin/login", response_class=HTMLResponse)
async def login_page(request: Request, session: DbSession, runtime: RuntimeDep) -> Response:
    if await signed_in(request, session, runtime.settings):
        return RedirectResponse(safe_next(request.query_params.get("next")), status_code=303)
    notice = "You have signed out." if request.query_params.get("bye") else None
    return _login_page(request, runtime, notice=notice, next_path=request.query_params.get("next", "/admin"))


@router.post("/admin/login", response_class=HTMLResponse)
async def login(request: Request, session: DbSession, runtime: RuntimeDep) -> Response:
    try:
        form = await checked_form(request)
    except FormRejected as rejected:
        return _login_page(request, runtime, status=rejected.status, message=rejected.message,
                           email=rejected.form.get("email", ""), next_path=rejected.form.get("next", "/admin"))
    email, password, next_path = form.get("email", ""), form.get("password", ""), form.get("next", "/admin")
    try:
        pair = await commands.login(session, runtime, email=email, password=password,
                                    totp_code=form.get("totp_code") or None)
    except commands.TotpRequired:  # the password was right: ask for the second factor, keeping the first
        return _login_page(request, runtime, email=email, password=password, totp_step=True, next_path=next_path)
    except commands.InvalidTotp as exc:
        return _login_page(request, runtime, status=exc.status, message=exc.detail, email=email,
                           password=password, totp_step=True, next_path=next_path)
    except DomainError as exc:  # wrong email or password (one message for both), or throttled
        return _login_page(request, runtime, status=exc.status, message=exc.detail, email=email,
                           next_path=next_path)
    claims = decode_access_token(pair.access_token, runtime.settings.secret_key)
    assert claims is not None  # just issued
    response = RedirectResponse(safe_next(next_path), status_code=303)
    start_session(request, response, runtime.settings, *claims)
    return response


@router.post("/admin/logout")
async def logout(request: Request, session: DbSession, runtime: RuntimeDep) -> Response:
    principal = await signed_in(request, session, runtime.settings)  # first: the token is this session's
    try:
        await checked_form(request)
    except FormRejected:
        return RedirectResponse("/admin", status_code=303)  # a forged sign-out changes nothing
    if principal is not None and principal.session_id is not None:
        await commands.end_session(session, principal.session_id)
    response = RedirectResponse("/admin/login?bye=1", status_code=303)
    end_cookie(request, response)
    return response
