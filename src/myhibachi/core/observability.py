"""Logs (structlog), error tracking (Sentry) and metrics (Prometheus)."""

from __future__ import annotations

import logging
import re
import sys
from typing import Any

import structlog

from myhibachi import __version__
from myhibachi.settings import LogFormat, Settings

SENSITIVE_KEYS = re.compile(r"pass(word)?|token|secret|authorization|cookie|email|totp|api[_-]?key", re.I)
EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
# `name=value` pairs of sensitive names inside strings: query strings (reset links carry `?token=`), messages.
SENSITIVE_PARAM = re.compile(rf"([\w.-]*(?:{SENSITIVE_KEYS.pattern})[\w.-]*=)[^&\s#\"']+", re.I)
FILTERED = "[Filtered]"


def configure_logging(settings: Settings) -> None:
    renderer: Any = (structlog.processors.JSONRenderer() if settings.effective_log_format is LogFormat.json
                     # exceptions reach it formatted (format_exc_info, below); rich's formatter, its default when
                     # structlog finds rich, is not there (core/lean_imports.py)
                     else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty(),
                                                        exception_formatter=structlog.dev.plain_traceback))
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.stdlib.ExtraAdder(),
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler()
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.format_exc_info, renderer],
    ))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level.upper())
    for noisy in ("uvicorn.access", "aiosqlite", "taskiq"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def scrub(value: Any) -> Any:
    """Replace secrets and personal data (passwords, tokens, emails) anywhere in an event."""
    if isinstance(value, dict):
        return {k: FILTERED if isinstance(k, str) and SENSITIVE_KEYS.search(k) else scrub(v)
                for k, v in value.items()}
    if isinstance(value, list):
        return [scrub(v) for v in value]
    if isinstance(value, str):
        return EMAIL.sub(FILTERED, SENSITIVE_PARAM.sub(rf"\g<1>{FILTERED}", value))
    return value


def _before_send(event: dict[str, Any], _hint: dict[str, Any]) -> dict[str, Any]:
    return scrub(event)


def init_sentry(settings: Settings) -> bool:
    if not settings.sentry_dsn:
        return False
    # Imported here: the SDK costs ~21 MB that a process without SENTRY_DSN never loads.
    import sentry_sdk
    from sentry_sdk.integrations.fastapi import FastApiIntegration
    from sentry_sdk.integrations.starlette import StarletteIntegration

    # No send_default_pii (deprecated): unset, the SDK sends no IPs, cookies or bodies, and _before_send scrubs.
    sentry_sdk.init(
        dsn=settings.sentry_dsn,
        environment=settings.environment.value,
        release=settings.release or f"myhibachi@{__version__}",
        traces_sample_rate=settings.sentry_traces_sample_rate,
        profiles_sample_rate=settings.sentry_profiles_sample_rate,
        integrations=[StarletteIntegration(), FastApiIntegration()],
        before_send=_before_send,  # type: ignore[arg-type]
        before_send_transaction=_before_send,  # type: ignore[arg-type]
    )
    return True


def name_user_in_errors(user_id: int) -> None:
    """Errors reported from here on in this request name the staff member (by id only), when Sentry is on."""
    if (sentry_sdk := sys.modules.get("sentry_sdk")) is not None:
        sentry_sdk.set_user({"id": str(user_id)})


def report_error_message(message: str) -> None:
    """An error seen elsewhere (a browser's), reported to Sentry when it is on."""
    if (sentry_sdk := sys.modules.get("sentry_sdk")) is not None:
        sentry_sdk.capture_message(message, level="error")
