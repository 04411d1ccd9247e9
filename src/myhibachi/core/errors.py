"""Domain errors with a status and a stable code, rendered as RFC 9457 problem+json."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://myhibachi.dev/problems/"
log = structlog.get_logger(__name__)


class FieldError(BaseModel):
    field: str = Field(description="Dotted path of the offending field, e.g. `body.email`.")
    message: str
    type: str


class Problem(BaseModel):
    """An RFC 9457 problem document."""

    type: str = Field(examples=[PROBLEM_TYPE_BASE + "validation_error"])
    title: str = Field(examples=["Unprocessable Content"])
    status: int = Field(examples=[422])
    detail: str = Field(examples=["The request is not valid."])
    code: str = Field(description="Stable snake_case error code.", examples=["validation_error"])
    errors: list[FieldError] | None = None


class DomainError(Exception):
    """Base of every expected error: subclasses set status and code; the message is the detail."""

    status: int = 400
    code: str = "bad_request"
    keeps_changes: bool = False  # commit the unit of work anyway (e.g. a security revocation)

    def __init__(self, detail: str | None = None, *, errors: list[FieldError] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        self.detail = detail or HTTPStatus(self.status).phrase
        self.errors = errors
        self.headers = headers
        super().__init__(self.detail)


class NotAuthenticated(DomainError):
    status, code = 401, "not_authenticated"


class InvalidCredentials(DomainError):
    status, code = 401, "invalid_credentials"


class PermissionDenied(DomainError):
    status, code = 403, "permission_denied"


class NotFound(DomainError):
    status, code = 404, "not_found"


class Conflict(DomainError):
    status, code = 409, "conflict"


class IllegalTransition(DomainError):
    status, code = 409, "illegal_transition"


class ValidationFailed(DomainError):
    status, code = 422, "validation_error"

    @classmethod
    def on(cls, field: str, message: str, type_: str = "value_error") -> ValidationFailed:
        return cls(message, errors=[FieldError(field=field, message=message, type=type_)])


class RateLimited(DomainError):
    status, code = 429, "rate_limited"

    def __init__(self, retry_after: int, detail: str | None = None) -> None:
        super().__init__(detail or "Too many attempts; try again later.",
                         headers={"Retry-After": str(max(1, retry_after))})


class ServiceUnavailable(DomainError):
    status, code = 503, "service_unavailable"


_STATUS_CODES = {
    400: "bad_request", 401: "not_authenticated", 403: "permission_denied", 404: "not_found",
    405: "method_not_allowed", 406: "not_acceptable", 409: "conflict", 413: "payload_too_large",
    415: "unsupported_media_type", 422: "validation_error", 429: "rate_limited", 500: "internal_error",
    503: "service_unavailable",
}


def problem_response(status: int, code: str, detail: str, *, errors: list[FieldError] | None = None,
                     headers: dict[str, str] | None = None) -> JSONResponse:
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + code,
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "code": code,
    }
    if errors is not None:
        body["errors"] = [e.model_dump() for e in errors]
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_MEDIA_TYPE)


def _field_errors(exc: RequestValidationError) -> list[FieldError]:
    return [
        FieldError(field=".".join(str(p) for p in err.get("loc", ())), message=err.get("msg", "invalid"),
                   type=err.get("type", "value_error"))
        for err in exc.errors()
    ]


async def domain_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    return problem_response(exc.status, exc.code, exc.detail, errors=exc.errors, headers=exc.headers)


async def http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400 and isinstance(exc.__cause__, ValueError | RecursionError):
        # FastAPI answers malformed JSON with 422 but a body it cannot even decode (not UTF-8, nested too
        # deep) with an undocumented 400; to the client both are the same mistake.
        return problem_response(422, "validation_error", "The request body is not valid JSON.", errors=[
            FieldError(field="body", message="The body is not valid JSON.", type="json_invalid")])
    code = _STATUS_CODES.get(exc.status_code, "http_error")
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    return problem_response(exc.status_code, code, detail, headers=getattr(exc, "headers", None))


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return problem_response(422, "validation_error", "The request is not valid.", errors=_field_errors(exc))


async def _integrity_error(_: Request, exc: Exception) -> JSONResponse:
    # A uniqueness race the command's own check could not see (two requests at once): the loser's change
    # is rolled back by the unit of work; tell the client instead of failing with a 500.
    log.warning("integrity_conflict", error=type(exc.orig).__name__ if isinstance(exc, IntegrityError) else None)
    return problem_response(409, "conflict", "The change conflicts with data saved meanwhile; reload and retry.")


async def _unexpected_error(_: Request, exc: Exception) -> JSONResponse:
    # The traceback goes to the log (and Sentry), never to the client.
    log.error("unhandled_error", exc_info=exc)
    return problem_response(500, "internal_error", "Something went wrong on our side; it has been logged.")


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, domain_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(IntegrityError, _integrity_error)
    app.add_exception_handler(Exception, _unexpected_error)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries declaring problem+json errors for a route."""
    return {
        status: {
            "model": Problem,
            "description": HTTPStatus(status).phrase,
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status in statuses
    }
