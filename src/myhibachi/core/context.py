"""Who is calling from where: request metadata carried in a context variable for audit rows and logs."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True)
class RequestMeta:
    ip: str | None = None
    user_agent: str | None = None
    request_id: str | None = None


_request_meta: ContextVar[RequestMeta] = ContextVar(
    "request_meta", default=RequestMeta(user_agent="system")  # noqa: B039 - a frozen dataclass
)


def current_request_meta() -> RequestMeta:
    return _request_meta.get()


def set_request_meta(meta: RequestMeta) -> None:
    _request_meta.set(meta)
