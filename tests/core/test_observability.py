"""Request ids, JSON logs, Sentry scrubbing and setup, and Prometheus metrics by route template."""

from __future__ import annotations

import io
import json
import logging
import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import sentry_sdk
import structlog
from asgi_lifespan import LifespanManager
from prometheus_client.parser import text_string_to_metric_families
from sentry_sdk.transport import Transport
from sqlalchemy import select

from myhibachi.app import create_app
from myhibachi.audit.models import AuditEntry
from myhibachi.auth.permissions import Role
from myhibachi.core.observability import FILTERED, configure_logging, init_sentry, scrub
from myhibachi.settings import Environment, Settings
from tests.conftest import PASSWORD, PRODUCTION_SECRET

# --- request ids ----------------------------------------------------------------------------------------------


async def test_request_id_is_echoed_when_sent(client):
    request_id = uuid.uuid4().hex
    response = await client.get("/health", headers={"X-Request-ID": request_id})
    assert response.headers["X-Request-ID"] == request_id


async def test_request_id_is_generated_when_absent(client):
    first = (await client.get("/health")).headers["X-Request-ID"]
    second = (await client.get("/health")).headers["X-Request-ID"]
    assert uuid.UUID(first) and uuid.UUID(second)
    assert first != second


async def test_request_id_is_recorded_in_the_audit_row(client, db, make_user, login):
    await make_user("root@example.com", Role.super_admin)
    headers = await login("root@example.com")
    request_id = uuid.uuid4().hex
    response = await client.post("/api/v1/users", headers={**headers, "X-Request-ID": request_id,
                                                            "User-Agent": "audit-test/1.0"},
                                 json={"email": "new@example.com", "name": "New Admin", "role": "super_admin",
                                       "password": "long-enough-pw"})
    assert response.status_code == 201, response.text

    async with db.transaction(write=False) as session:
        entry = await session.scalar(select(AuditEntry).where(
            AuditEntry.action == "users.create", AuditEntry.target_id == str(response.json()["id"])))
    assert entry is not None
    assert entry.request_id == request_id
    assert entry.ip == "203.0.113.7"
    assert entry.user_agent == "audit-test/1.0"


# --- logs -------------------------------------------------------------------------------------------------------


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


async def test_production_logs_are_json_with_the_request_id(client, make_user, restore_logging):
    production = Settings(_env_file=None, environment=Environment.production,  # type: ignore[call-arg]
                          secret_key=PRODUCTION_SECRET)
    assert production.log_format is None  # JSON is the production default, not configured here
    configure_logging(production)
    stream = io.StringIO()
    handler = logging.getLogger().handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(stream)

    await make_user("root@example.com", Role.super_admin)
    request_id = uuid.uuid4().hex
    response = await client.post("/api/v1/auth/login", headers={"X-Request-ID": request_id},
                                 json={"email": "root@example.com", "password": PASSWORD})
    assert response.status_code == 200
    logging.getLogger("tests.observability").info("stdlib line", extra={"booking_id": 7})

    records = [json.loads(line) for line in stream.getvalue().splitlines()]
    login_lines = [r for r in records if r.get("event") == "login_succeeded"]
    assert len(login_lines) == 1
    assert login_lines[0]["request_id"] == request_id
    assert login_lines[0]["level"] == "info"
    assert login_lines[0]["timestamp"].endswith("Z")
    stdlib_line = next(r for r in records if r.get("event") == "stdlib line")
    assert stdlib_line["booking_id"] == 7  # stdlib loggers render as JSON too
    assert PASSWORD not in stream.getvalue()


def test_console_logs_in_development(restore_logging):
    configure_logging(Settings(_env_file=None))  # type: ignore[call-arg]
    stream = io.StringIO()
    logging.getLogger().handlers[0].setStream(stream)  # type: ignore[attr-defined]
    structlog.get_logger("tests.observability").info("hello_console", station="FRE")
    line = re.sub(r"\x1b\[[0-9;]*m", "", stream.getvalue())  # colours, when run in a terminal
    assert "hello_console" in line and "station=FRE" in line
    with pytest.raises(json.JSONDecodeError):
        json.loads(line)
    stream.seek(0), stream.truncate()
    try:
        raise ValueError("boom")
    except ValueError:
        structlog.get_logger("tests.observability").exception("it_failed")
    failed = stream.getvalue()
    assert "it_failed" in failed and "Traceback (most recent call last)" in failed and "ValueError: boom" in failed


# --- Sentry -----------------------------------------------------------------------------------------------------


def test_scrub_removes_passwords_tokens_and_emails():
    event = {
        "message": "Reset asked by ada@example.com",
        "request": {
            "url": "https://myhibachi.example/admin/set-password",
            "query_string": "token=abc123secret&next=/admin",
            "headers": {"Authorization": "Bearer eyJsecret", "Cookie": "session=zzz", "Accept": "text/html"},
            "data": {"email": "ada@example.com", "password": "hunter2-hunter2", "new_password": "x" * 12,
                     "refresh_token": "rt-secret", "totp_code": "123456", "guests": 12},
        },
        "extra": {"notes": ["call ada@example.com", "VIP", 3], "stripe_api_key": "sk_test_secret"},
        "breadcrumbs": {"values": [{"message": "POST /login?password=hunter2-hunter2 failed"}]},
    }
    scrubbed = scrub(event)
    flat = json.dumps(scrubbed)
    for secret in ("ada@example.com", "hunter2-hunter2", "abc123secret", "eyJsecret", "session=zzz",
                   "rt-secret", "123456", "sk_test_secret"):
        assert secret not in flat, secret
    data = scrubbed["request"]["data"]
    assert data["password"] == data["email"] == data["refresh_token"] == FILTERED
    assert data["guests"] == 12  # the rest is kept
    assert scrubbed["request"]["headers"]["Accept"] == "text/html"
    assert scrubbed["request"]["url"] == "https://myhibachi.example/admin/set-password"
    assert "next=/admin" in scrubbed["request"]["query_string"]
    assert scrubbed["extra"]["notes"] == [f"call {FILTERED}", "VIP", 3]
    assert scrubbed["message"] == f"Reset asked by {FILTERED}"
    assert event["request"]["data"]["password"] == "hunter2-hunter2"  # the input is not mutated


class RecordingTransport(Transport):
    """Keeps envelopes in memory: nothing leaves the process."""

    def __init__(self, options: dict[str, Any] | None = None) -> None:
        super().__init__(options)
        self.envelopes: list[Any] = []

    def capture_envelope(self, envelope: Any) -> None:
        self.envelopes.append(envelope)


@pytest.fixture
def sentry_transport(monkeypatch: pytest.MonkeyPatch) -> Iterator[RecordingTransport]:
    transport = RecordingTransport()
    real_init = sentry_sdk.init

    def init_with_recording_transport(*args: Any, **kwargs: Any) -> Any:
        return real_init(*args, **kwargs, transport=transport)

    monkeypatch.setattr(sentry_sdk, "init", init_with_recording_transport)
    yield transport
    sentry_sdk.get_client().close(timeout=0)
    real_init()  # back to a client without a DSN: later tests send nothing


def test_init_sentry_is_off_without_a_dsn(sentry_transport: RecordingTransport):
    assert init_sentry(Settings(_env_file=None)) is False  # type: ignore[call-arg]
    assert not sentry_sdk.get_client().is_active()


def test_init_sentry_with_a_dsn_scrubs_what_it_sends(sentry_transport: RecordingTransport):
    settings = Settings(_env_file=None, sentry_dsn="http://public@127.0.0.1:9/1",  # type: ignore[call-arg]
                        environment=Environment.production, secret_key=PRODUCTION_SECRET, release="myhibachi@test")
    assert init_sentry(settings) is True
    client = sentry_sdk.get_client()
    assert client.is_active()
    assert client.options["environment"] == "production"
    assert client.options["release"] == "myhibachi@test"
    assert not client.should_send_default_pii()  # the SDK's default: no IPs, cookies or bodies

    with sentry_sdk.new_scope() as scope:
        scope.set_extra("payload", {"password": "hunter2-hunter2", "email": "ada@example.com", "guests": 12})
        sentry_sdk.capture_message("password reset failed for ada@example.com")
    sentry_sdk.flush(timeout=2)

    events = [item.payload.json for envelope in sentry_transport.envelopes for item in envelope.items
              if item.type == "event"]
    assert len(events) == 1
    sent = json.dumps(events[0])
    assert "hunter2-hunter2" not in sent
    assert "ada@example.com" not in sent
    assert events[0]["extra"]["payload"]["guests"] == 12
    assert events[0]["environment"] == "production"


# --- metrics ------------------------------------------------------------------------------------------------------


def _samples(body: str, name: str) -> list[Any]:
    return [sample for family in text_string_to_metric_families(body) for sample in family.samples
            if sample.name == name]


@pytest.fixture
def app(fresh_app):  # noqa: ANN001, ANN201 - counts start at zero only in an app of the test's own
    return fresh_app


async def test_metrics_count_requests_by_route_template(client, make_station, make_user, login):
    station = await make_station("FRE")
    await make_user("root@example.com", Role.super_admin)
    headers = await login("root@example.com")
    for _ in range(2):
        assert (await client.get(f"/api/v1/stations/{station.id}", headers=headers)).status_code == 200
    assert (await client.get("/api/v1/stations/999999", headers=headers)).status_code == 404
    assert (await client.get("/wp-login.php")).status_code == 404  # no route: one label for every such path

    response = await _get_from(client, "127.0.0.1", "/metrics")  # the test client's own address is public
    assert response.status_code == 200
    requests = _samples(response.text, "http_requests_total")
    by_route = {(s.labels["handler"], s.labels["method"], s.labels["status"]): s.value for s in requests}
    assert by_route[("/api/v1/stations/{station_id}", "GET", "2xx")] == 2
    assert by_route[("/api/v1/stations/{station_id}", "GET", "4xx")] == 1
    assert by_route[("/api/v1/auth/login", "POST", "2xx")] == 1
    assert not any(handler.startswith("/api/v1/stations/") and "{" not in handler for handler, _, _ in by_route)
    assert by_route[("none", "GET", "4xx")] == 1 and not any("wp-login" in handler for handler, _, _ in by_route)
    assert _samples(response.text, "http_request_duration_seconds_count")


async def _get_from(client: httpx.AsyncClient, host: str, path: str, app: Any = None) -> httpx.Response:
    """GET `path` of the test client's app (or `app`) as a client at `host`."""
    transport = httpx.ASGITransport(app=app or client._transport.app, client=(host, 50123))  # type: ignore[attr-defined]
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as other:
        return await other.get(path)


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.53", "::1"])
async def test_metrics_are_served_to_loopback(client, host):
    response = await _get_from(client, host, "/metrics")

    assert response.status_code == 200 and _samples(response.text, "http_requests_total") is not None


async def test_metrics_are_not_found_elsewhere_but_the_docs_are_public(client):
    hidden = await client.get("/metrics")  # the test client is 203.0.113.7
    absent = await client.get("/no-such-page")

    assert hidden.status_code == 404 and "http_requests_total" not in hidden.text
    assert hidden.headers["content-type"] == absent.headers["content-type"] == "application/problem+json"
    assert hidden.json() == absent.json()
    for path in ("/docs", "/openapi.json"):
        assert (await client.get(path)).status_code == 200, path


async def test_metrics_are_served_everywhere_when_the_setting_says_so(client, settings):
    public = create_app(settings.model_copy(update={"metrics_public": True}))
    async with LifespanManager(public):
        response = await _get_from(client, "203.0.113.7", "/metrics", app=public)

    assert response.status_code == 200 and _samples(response.text, "http_requests_total") is not None


def test_metrics_public_reads_the_environment(monkeypatch):
    monkeypatch.setenv("METRICS_PUBLIC", "true")
    assert Settings(_env_file=None).metrics_public is True  # type: ignore[call-arg]
    monkeypatch.setenv("METRICS_PUBLIC", "maybe")
    with pytest.raises(ValueError, match="metrics_public"):
        Settings(_env_file=None)  # type: ignore[call-arg]
