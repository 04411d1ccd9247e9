"""Admin pages: "My account" — who I am, two-factor sign-in on (an authenticator secret, confirmed with a code) or off
(with the password), a password-change link by email — and the page that link (or an invite) opens to choose a
password. All through the auth domain's commands, as the API calls them."""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response
from pydantic import TypeAdapter, ValidationError

from myhibachi.auth import commands, queries
from myhibachi.auth.schemas import Password, TotpCode
from myhibachi.core.errors import FieldError, ValidationFailed
from myhibachi.core.templating import render
from myhibachi.web.admin.pages import AdminVisit, Anyone, Caller, Trouble, Visit, form_state, submit
from myhibachi.web.admin.render import staff_stations
from myhibachi.web.assets import asset_url
from myhibachi.web.forms import CSRF, CSRF_FIELD, FormProblem

router = APIRouter(include_in_schema=False)
CODE = TypeAdapter(TotpCode)
PASSWORD = TypeAdapter(Password)
DONE = {"totp_on": "Two-factor sign-in is on: from now on, signing in asks for a code from your app.",
        "totp_off": "Two-factor sign-in is off: signing in asks for your password only.",
        "reset_sent": "We sent a link to change your password to your email address. It works once."}
PRIVATE = {"Referrer-Policy": "no-referrer"}  # pages that show a secret or a token (never stored: core/http.py)


async def _settings_page(visit: Visit, trouble: Trouble | None = None) -> Response:
    names = {station.id: station.name for station in await staff_stations(visit.session, visit.principal)}
    return await visit.page("account/settings.html", title="My account", station_names=names,
                            me=await queries.describe_me(visit.session, visit.principal), **form_state(trouble),
                            done=visit.notice(DONE), reset_minutes=visit.runtime.settings.password_reset_minutes)


@router.get("/admin/settings", response_class=HTMLResponse)
async def my_account(visit: AdminVisit) -> Response:
    return await _settings_page(visit)


# --- two-factor sign-in ---------------------------------------------------------------------------------------------


async def _setup_page(visit: Visit, secret: str, uri: str, trouble: Trouble | None = None) -> Response:
    spaced = " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))  # easier to type by hand
    return await visit.page("account/totp_setup.html", title="Set up two-factor sign-in", secret=secret,
                            spaced_secret=spaced, uri=uri, **form_state(trouble), headers=PRIVATE)


@router.post("/admin/settings/totp/setup", response_class=HTMLResponse)
async def start_totp(visit: AdminVisit) -> Response:
    """A new authenticator secret, shown once; sign-in asks for codes only after one is confirmed."""
    async def act(form: dict[str, str]) -> str | Response:
        if form.get("go") != "confirm":
            return "/admin/settings"
        setup = await commands.start_totp_setup(visit.session, visit.runtime.settings, visit.principal)
        return await _setup_page(visit, setup.secret, setup.otpauth_uri)

    return await submit(visit, act=act, show=lambda _, trouble: _settings_page(visit, trouble))  # e.g. already on


def _code(form: dict[str, str]) -> str:
    try:
        return CODE.validate_python(form.get("code", "").replace(" ", ""))
    except ValidationError:
        raise FormProblem(422, "Please check the code.", {"code": "Enter the 6 digits your app shows."}) from None


@router.post("/admin/settings/totp/confirm", response_class=HTMLResponse)
async def confirm_totp(visit: AdminVisit) -> Response:
    async def act(form: dict[str, str]) -> str:
        await commands.confirm_totp(visit.session, visit.principal, code=_code(form))
        return "/admin/settings?done=totp_on"

    async def show(form: dict[str, str], trouble: Trouble | None) -> Response:
        if trouble is None or trouble.expired:  # a refused form's secret may be anyone's: not shown as theirs
            return await _settings_page(visit, trouble)
        # The secret comes back from the form only to show it again after a wrong code; the command uses the saved one.
        return await _setup_page(visit, form.get("secret", "")[:64], form.get("uri", "")[:400], trouble)

    return await submit(visit, act=act, show=show, names={"": "code"})  # a wrong code, or no setup started


async def _disable_page(visit: Visit, trouble: Trouble | None = None) -> Response:
    return await visit.page("account/totp_disable.html", title="Turn off two-factor sign-in", **form_state(trouble),
                            me=await queries.describe_me(visit.session, visit.principal))


@router.get("/admin/settings/totp/disable", response_class=HTMLResponse)
async def disable_totp_form(visit: AdminVisit) -> Response:
    return await _disable_page(visit)


@router.post("/admin/settings/totp/disable", response_class=HTMLResponse)
async def disable_totp(visit: AdminVisit) -> Response:
    async def act(form: dict[str, str]) -> str | Response:
        if form.get("go") != "confirm":
            return await _disable_page(visit)
        await commands.disable_totp(visit.session, visit.principal, password=form.get("password", "")[:128])
        return "/admin/settings?done=totp_off"

    return await submit(visit, act=act, show=lambda _, trouble: _disable_page(visit, trouble),
                        names={"": "password"})  # a wrong password


# --- the password ----------------------------------------------------------------------------------------------------


@router.post("/admin/settings/password-reset", response_class=HTMLResponse)
async def email_password_link(visit: AdminVisit) -> Response:
    """The same single-use email as "forgot my password" (and its throttle); the link opens /admin/set-password."""
    async def act(form: dict[str, str]) -> str:
        if form.get("go") != "confirm":
            return "/admin/settings"
        await commands.request_password_reset(visit.session, visit.runtime, email=visit.principal.email)
        return "/admin/settings?done=reset_sent"

    return await submit(visit, act=act, show=lambda _, trouble: _settings_page(visit, trouble))


async def _password_page(caller: Caller, token: str, trouble: Trouble | None = None, *,
                         done: bool = False) -> Response:
    state = form_state(trouble)
    html = render("admin/account/set_password.html", title="Choose your password",
                  brand=caller.runtime.settings.brand_name, asset=asset_url, csrf_field=CSRF_FIELD,
                  csrf_token=CSRF.read(caller.request), token=token, done=done, **state)
    return caller.send(HTMLResponse(html, status_code=state["status"], headers=PRIVATE))


def _token(values: Mapping[str, str]) -> str:
    return values.get("token", "")[:200]


@router.get("/admin/set-password", response_class=HTMLResponse)
async def set_password_form(caller: Anyone) -> Response:
    """Opened from an invite or a password-reset email (no sign-in: the token in the link is the credential)."""
    asked = caller.request.query_params
    return await _password_page(caller, _token(asked), done=asked.get("done") == "1")


def _new_password(form: dict[str, str]) -> str:
    password, again = form.get("new_password", ""), form.get("repeat_password", "")
    try:
        PASSWORD.validate_python(password)
    except ValidationError:
        raise _unchanged("new_password", "Choose 10 to 128 characters; a few words in a row is easy to remember.") \
            from None
    if password != again:
        raise _unchanged("repeat_password", "The two passwords are not the same.")
    return password


def _unchanged(name: str, message: str) -> ValidationFailed:
    return ValidationFailed("Please check the highlighted field; your password is not changed.",
                            errors=[FieldError(field=name, message=message, type="value_error")])


@router.post("/admin/set-password", response_class=HTMLResponse)
async def set_password(caller: Anyone) -> Response:
    async def act(form: dict[str, str]) -> str:
        await commands.set_password_with_token(caller.session, caller.runtime.settings, token=_token(form),
                                               new_password=_new_password(form))
        return "/admin/set-password?done=1"

    # A used, expired or unknown link is said on top of the form.
    return await submit(caller, act=act, show=lambda form, trouble: _password_page(caller, _token(form), trouble))
