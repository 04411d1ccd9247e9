"""Admin pages: "My account" — who I am, two-factor sign-in on (an authenticator secret, confirmed with a code) or off
(with the password), a password-change link by email — and the page that link (or an invite) opens to choose a
password. All through the auth domain's commands, as the API calls them."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import TypeAdapter, ValidationError

from myhibachi.auth import commands, queries
from myhibachi.auth.principal import Principal
from myhibachi.auth.schemas import Password, TotpCode
from myhibachi.core.errors import DomainError
from myhibachi.core.templating import render
from myhibachi.core.web import DbSession, RuntimeDep, discard_changes
from myhibachi.web.admin.render import admin_page, finish, staff_stations
from myhibachi.web.admin.session import Staff, checked_form
from myhibachi.web.assets import asset_url
from myhibachi.web.forms import CSRF_FIELD, FormRejected, csrf_token

router = APIRouter(include_in_schema=False)
CODE = TypeAdapter(TotpCode)
PASSWORD = TypeAdapter(Password)
DONE = {"totp_on": "Two-factor sign-in is on: from now on, signing in asks for a code from your app.",
        "totp_off": "Two-factor sign-in is off: signing in asks for your password only.",
        "reset_sent": "We sent a link to change your password to your email address. It works once."}
PRIVATE = {"Referrer-Policy": "no-referrer"}  # pages that show a secret or a token (never stored: core/http.py)


async def _settings_page(request: Request, runtime: Any, session: Any, principal: Principal, *,
                         alert: str | None = None, status: int = 200) -> Response:
    names = {station.id: station.name for station in await staff_stations(session, principal)}
    return await admin_page(request, runtime, session, principal, "account/settings.html", title="My account",
                            me=await queries.describe_me(session, principal), station_names=names, alert=alert,
                            status=status,
                            done=DONE.get(request.query_params.get("done", "")),
                            reset_minutes=runtime.settings.password_reset_minutes)


@router.get("/admin/settings", response_class=HTMLResponse)
async def my_account(request: Request, principal: Staff, session: DbSession, runtime: RuntimeDep) -> Response:
    return await _settings_page(request, runtime, session, principal)


# --- two-factor sign-in ---------------------------------------------------------------------------------------------


async def _setup_page(request: Request, runtime: Any, session: Any, principal: Principal, secret: str, uri: str, *,
                      errors: dict[str, str] | None = None, alert: str | None = None, status: int = 200) -> Response:
    spaced = " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))  # easier to type by hand
    return await admin_page(request, runtime, session, principal, "account/totp_setup.html",
                            title="Set up two-factor sign-in", secret=secret, spaced_secret=spaced, uri=uri,
                            errors=errors or {}, alert=alert, status=status, headers=PRIVATE)


@router.post("/admin/settings/totp/setup", response_class=HTMLResponse)
async def start_totp(request: Request, principal: Staff, session: DbSession, runtime: RuntimeDep) -> Response:
    """A new authenticator secret, shown once; sign-in asks for codes only after one is confirmed."""
    try:
        form = await checked_form(request)
    except FormRejected as rejected:
        return await _settings_page(request, runtime, session, principal, alert=rejected.message,
                                    status=rejected.status)
    if form.get("go") != "confirm":
        return RedirectResponse("/admin/settings", status_code=303)
    try:
        setup = await commands.start_totp_setup(session, runtime.settings, principal)
    except DomainError as exc:  # already on
        await discard_changes(session)
        return await _settings_page(request, runtime, session, principal, alert=exc.detail, status=exc.status)
    return await _setup_page(request, runtime, session, principal, setup.secret, setup.otpauth_uri)


@router.post("/admin/settings/totp/confirm", response_class=HTMLResponse)
async def confirm_totp(request: Request, principal: Staff, session: DbSession, runtime: RuntimeDep) -> Response:
    try:
        form = await checked_form(request)
    except FormRejected as rejected:
        return await _settings_page(request, runtime, session, principal, alert=rejected.message,
                                    status=rejected.status)
    # The secret comes back from the form only to show it again after a wrong code; the command uses the saved one.
    secret, uri = form.get("secret", "")[:64], form.get("uri", "")[:400]
    try:
        try:
            code = CODE.validate_python(form.get("code", "").replace(" ", ""))
        except ValidationError:
            return await _setup_page(request, runtime, session, principal, secret, uri, status=422,
                                     errors={"code": "Enter the 6 digits your app shows."})
        await commands.confirm_totp(session, principal, code=code)
    except DomainError as exc:  # a wrong code, or no setup started
        await discard_changes(session)
        return await _setup_page(request, runtime, session, principal, secret, uri, errors={"code": exc.detail},
                                 alert=exc.detail, status=exc.status)
    return RedirectResponse("/admin/settings?done=totp_on", status_code=303)


async def _disable_page(request: Request, runtime: Any, session: Any, principal: Principal, *,
                        errors: dict[str, str] | None = None, alert: str | None = None,
                        status: int = 200) -> Response:
    return await admin_page(request, runtime, session, principal, "account/totp_disable.html",
                            title="Turn off two-factor sign-in", errors=errors or {}, alert=alert, status=status,
                            me=await queries.describe_me(session, principal))


@router.get("/admin/settings/totp/disable", response_class=HTMLResponse)
async def disable_totp_form(request: Request, principal: Staff, session: DbSession, runtime: RuntimeDep) -> Response:
    return await _disable_page(request, runtime, session, principal)


@router.post("/admin/settings/totp/disable", response_class=HTMLResponse)
async def disable_totp(request: Request, principal: Staff, session: DbSession, runtime: RuntimeDep) -> Response:
    try:
        form = await checked_form(request)
    except FormRejected as rejected:
        return await _disable_page(request, runtime, session, principal, alert=rejected.message,
                                   status=rejected.status)
    if form.get("go") != "confirm":
        return await _disable_page(request, runtime, session, principal)
    try:
        await commands.disable_totp(session, principal, password=form.get("password", "")[:128])
    except DomainError as exc:  # a wrong password
        await discard_changes(session)
        return await _disable_page(request, runtime, session, principal, errors={"password": exc.detail},
                                   alert=exc.detail, status=exc.status)
    return RedirectResponse("/admin/settings?done=totp_off", status_code=303)


# --- the password ----------------------------------------------------------------------------------------------------


@router.post("/admin/settings/password-reset", response_class=HTMLResponse)
async def email_password_link(request: Request, principal: Staff, session: DbSession,
                              runtime: RuntimeDep) -> Response:
    """The same single-use email as "forgot my password" (and its throttle); the link opens /admin/set-password."""
    try:
        form = await checked_form(request)
    except FormRejected as rejected:
        return await _settings_page(request, runtime, session, principal, alert=rejected.message,
                                    status=rejected.status)
    if form.get("go") != "confirm":
        return RedirectResponse("/admin/settings", status_code=303)
    await commands.request_password_reset(session, runtime, email=principal.email)
    return RedirectResponse("/admin/settings?done=reset_sent", status_code=303)


def _password_page(request: Request, runtime: Any, *, token: str, done: bool = False,
                   errors: dict[str, str] | None = None, alert: str | None = None, status: int = 200) -> HTMLResponse:
    html = render("admin/account/set_password.html", title="Choose your password", brand=runtime.settings.brand_name,
                  asset=asset_url, csrf_field=CSRF_FIELD, csrf_token=csrf_token(request), token=token, done=done,
                  errors=errors or {}, alert=alert)
    response = HTMLResponse(html, status_code=status, headers=PRIVATE)
    finish(request, response, runtime)
    return response


@router.get("/admin/set-password", response_class=HTMLResponse)
async def set_password_form(request: Request, runtime: RuntimeDep) -> Response:
    """Opened from an invite or a password-reset email (no sign-in: the token in the link is the credential)."""
    return _password_page(request, runtime, token=request.query_params.get("token", "")[:200],
                          done=request.query_params.get("done") == "1")


def _new_password(form: dict[str, str]) -> tuple[str | None, dict[str, str]]:
    password, again = form.get("new_password", ""), form.get("repeat_password", "")
    try:
        PASSWORD.validate_python(password)
    except ValidationError:
        return None, {"new_password": "Choose 10 to 128 characters; a few words in a row is easy to remember."}
    if password != again:
        return None, {"repeat_password": "The two passwords are not the same."}
    return password, {}


@router.post("/admin/set-password", response_class=HTMLResponse)
async def set_password(request: Request, session: DbSession, runtime: RuntimeDep) -> Response:
    try:
        form = await checked_form(request)
    except FormRejected as rejected:
        return _password_page(request, runtime, token=rejected.form.get("token", "")[:200], alert=rejected.message,
                              status=rejected.status)
    token = form.get("token", "")[:200]
    password, errors = _new_password(form)
    if password is None:
        return _password_page(request, runtime, token=token, errors=errors, status=422,
                              alert="Please check the highlighted field; your password is not changed.")
    try:
        await commands.set_password_with_token(session, runtime.settings, token=token, new_password=password)
    except DomainError as exc:  # used, expired or unknown link
        await discard_changes(session)
        return _password_page(request, runtime, token=token, alert=exc.detail, status=exc.status)
    return RedirectResponse("/admin/set-password?done=1", status_code=303)
