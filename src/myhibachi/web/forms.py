"""What every customer form shares: a CSRF token (double-submit cookie: a cross-site page can post a form but
can neither read our cookie nor the token in our page), a honeypot for bots, a per-IP rate limit, and validation
errors turned into plain sentences shown beside their fields."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import Request, Response
from pydantic import BaseModel, ValidationError

from myhibachi.core.context import current_request_meta
from myhibachi.core.errors import DomainError, FieldError, RateLimited
from myhibachi.core.runtime import Runtime
from myhibachi.core.security import new_opaque_token

CSRF_FIELD = "csrf_token"
Input = TypeVar("Input", bound=BaseModel)
HONEYPOT_FIELD = "website"  # hidden from people and screen readers; bots fill every field they find


class FormRejected(Exception):
    """A post that must change nothing: the page is shown again, with what was typed, and `message` on top."""

    def __init__(self, status: int, message: str, form: dict[str, str]) -> None:
        super().__init__(message)
        self.status, self.message, self.form = status, message, form


class FormProblem(DomainError):
    """What a page refuses before asking the domain (a malformed field, a preview the rules have overtaken):
    nothing changed. A domain error, so it is shown beside the form exactly like the domain's own refusals."""

    def __init__(self, status: int, message: str, errors: dict[str, str] | None = None) -> None:
        self.status, self.code = status, "conflict" if status == 409 else "validation_error"
        super().__init__(message, errors=[FieldError(field=name, message=text, type="value_error")
                                          for name, text in (errors or {}).items()] or None)


@dataclass(frozen=True)
class BrowserToken:
    """A random token a browser session keeps in an HttpOnly, SameSite=Lax cookie: the one its cookie holds, or a
    new one, which `keep` sets on the response."""

    name: str

    def cookie_name(self, request: Request) -> str:
        # The __Host- prefix (Secure, no Domain, Path=/) pins the cookie to this host, so no sibling subdomain can
        # plant a token; browsers accept it over https only.
        return f"__Host-{self.name}" if request.url.scheme == "https" else self.name

    def read(self, request: Request) -> str:
        token = request.cookies.get(self.cookie_name(request), "")
        if not (20 <= len(token) <= 64 and token.replace("-", "").replace("_", "").isalnum()):
            token = getattr(request.state, f"new_{self.name}", None) or new_opaque_token()
            setattr(request.state, f"new_{self.name}", token)
        return token

    def keep(self, request: Request, response: Response) -> None:
        if token := getattr(request.state, f"new_{self.name}", None):
            response.set_cookie(self.cookie_name(request), token, httponly=True, samesite="lax", path="/",
                                secure=request.url.scheme == "https")


CSRF = BrowserToken("mh_csrf")


async def checked_form(request: Request, runtime: Runtime) -> dict[str, str]:
    """The posted fields, once the post passed the rate limit, the CSRF check and the honeypot."""
    form = {key: value.strip() for key, value in (await request.form()).items() if isinstance(value, str)}
    ip = current_request_meta().ip or "unknown"
    try:  # every post counts, in the step that allows it
        await runtime.public_form_posts_by_ip.reserve(ip)
    except RateLimited as limited:
        minutes = -(-int(limited.headers["Retry-After"]) // 60)
        raise FormRejected(429, f"Too many tries from your connection; please wait {minutes} minute"
                                f"{'s' if minutes > 1 else ''} and send it again.", form) from None
    cookie = request.cookies.get(CSRF.cookie_name(request), "")
    if not cookie or not hmac.compare_digest(cookie.encode(), form.get(CSRF_FIELD, "").encode()):
        raise FormRejected(403, "This form had expired, so nothing was sent. Please check it and send it again.",
                           form)
    if form.get(HONEYPOT_FIELD):
        raise FormRejected(422, "This form could not be sent. Please call or email us.", form)
    return form


_PLAIN = {
    "Field required": "Please fill this in.",
    "Input should be a valid integer, unable to parse string as an integer": "Please enter a whole number.",
    "Input should be a valid date or datetime, input is too short": "Please choose a date.",
    "String should have at least 1 character": "Please fill this in.",
    "value is not a valid email address: An email address must have an @-sign.": "Please enter an email address.",
}


def plain(message: str) -> str:
    """Pydantic's message, in the words a customer expects."""
    message = message.removeprefix("Value error, ")
    if message.startswith(("String should match pattern '^\\d{5}$'", "String should match pattern '^[0-9]{5}$'")):
        return "Please enter 5 digits."
    if message.startswith("String should match pattern '^[A-Z]{2}$'"):
        return "Please enter the 2-letter state code, like CA."
    if message.startswith("Input should be greater than or equal to"):
        return "Please enter 0 or more." if message.endswith(" 0") else message
    return _PLAIN.get(message, message[:1].upper() + message[1:])


def field_errors(exc: ValidationError | DomainError, names: dict[str, str] | None = None) -> dict[str, str]:
    """{form field: message}. `names` maps a model's dotted location (``venue.line1``) to the form's field name."""
    names = names or {}
    if isinstance(exc, ValidationError):
        pairs = [(".".join(str(part) for part in e["loc"]), e["msg"]) for e in exc.errors()]
    else:
        pairs = [(e.field.removeprefix("body."), e.message) for e in exc.errors]
    errors: dict[str, str] = {}
    for location, message in pairs:
        errors.setdefault(names.get(location, location), plain(message))
    return errors


def validated(model: type[Input], fields: dict[str, Any], names: dict[str, str] | None = None) -> Input:
    """A form's fields as the model, or a FormProblem naming each field the model refused (`names` as above)."""
    try:
        return model.model_validate(fields)
    except ValidationError as exc:
        raise FormProblem(422, "Please check the highlighted fields.", field_errors(exc, names)) from None


def hidden_fields(values: dict[str, Any], *, skip: set[str] | frozenset[str] = frozenset()) -> list[tuple[str, str]]:
    """What earlier steps entered, carried along as hidden inputs so Back and Next keep it."""
    return [(name, str(value)) for name, value in values.items() if name not in skip and value not in (None, "")]
