"""Probes, security headers on every response, CORS, and settings that fail closed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient, Response
from pydantic import ValidationError

from myhibachi.app import create_app
from myhibachi.settings import Environment, Settings


async def _serve(settings: Settings, base_url: str = "http://testserver") -> AsyncIterator[AsyncClient]:
    app = create_app(settings)
    async with LifespanManager(app):
        transport = ASGITransport(app=app, raise_app_exceptions=False)
        async with AsyncClient(transport=transport, base_url=base_url) as http:
            yield http


# --- probes -------------------------------------------------------------------------------------------------------


async def test_health(client):
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_ready_when_the_database_answers(client, settings: Settings):
    response = await client.get("/ready")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"] == "ok"
    assert body["redis"] == ("ok" if settings.redis_url else "not_configured")


async def test_not_ready_when_redis_is_down(settings: Settings):
    down = settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"})
    async for http in _serve(down):
        response = await http.get("/ready")
        assert response.status_code == 503
        assert response.headers["content-type"] == "application/problem+json"
        problem = response.json()
        assert problem["code"] == "not_ready"
        assert problem["status"] == 503
        assert "redis" in problem["detail"]
        assert "database" not in problem["detail"]
        assert (await http.get("/health")).status_code == 200  # liveness does not depend on Redis


async def test_not_ready_when_the_database_is_unreachable(settings: Settings):
    # Nothing listens on port 1 of the loopback: the connection is refused at once.
    down = settings.model_copy(update={"database_url": "postgresql+asyncpg://postgres@127.0.0.1:1/nothing",
                                       "redis_url": None})
    async for http in _serve(down):
        response = await http.get("/ready")
        assert response.status_code == 503
        assert response.json()["detail"] == "Not ready: database unavailable."


# --- security headers ------------------------------------------------------------------------------------------


def _assert_security_headers(response: Response, *, https: bool) -> None:
    csp = response.headers.get("Content-Security-Policy", "")
    assert "frame-ancestors 'none'" in csp, (response.request.url, response.headers)
    assert "default-src 'self'" in csp
    assert response.headers.get("X-Content-Type-Options") == "nosniff"
    assert response.headers.get("Referrer-Policy") == "strict-origin-when-cross-origin"
    hsts = response.headers.get("Strict-Transport-Security")
    if https:
        assert hsts is not None and "max-age=" in hsts
    else:
        assert hsts is None


@pytest.fixture
async def boom_app(settings: Settings) -> AsyncIterator[FastAPI]:
    """The app plus one route that fails unexpectedly (a bug), to see what a 500 looks like."""
    app = create_app(settings)

    @app.get("/tests/boom")
    async def boom() -> dict[str, Any]:
        raise RuntimeError("bug with a secret: hunter2")

    async with LifespanManager(app):
        yield app


@pytest.mark.parametrize("base_url", ["http://testserver", "https://testserver"])
async def test_security_headers_on_every_response(boom_app: FastAPI, base_url: str,
                                                  caplog: pytest.LogCaptureFixture):
    https = base_url.startswith("https")
    transport = ASGITransport(app=boom_app, raise_app_exceptions=False)
    async with AsyncClient(transport=transport, base_url=base_url) as http:
        responses = {
            "ok": await http.get("/health"),
            "docs": await http.get("/docs"),
            "not found": await http.get("/api/v1/no-such-thing"),
            "unauthenticated": await http.get("/api/v1/auth/me"),
            "invalid": await http.post("/api/v1/auth/login", json={"email": "x"}),
            "method": await http.delete("/health", headers={"Origin": base_url}),  # from our page: not refused
            "server error": await http.get("/tests/boom"),
        }
    expected = {"ok": 200, "docs": 200, "not found": 404, "unauthenticated": 401, "invalid": 422,
                "method": 405, "server error": 500}
    assert {name: r.status_code for name, r in responses.items()} == expected
    for response in responses.values():
        _assert_security_headers(response, https=https)
        assert response.headers.get("X-Request-ID")
    assert "cdn.jsdelivr.net" in responses["docs"].headers["Content-Security-Policy"]
    assert "cdn.jsdelivr.net" not in responses["ok"].headers["Content-Security-Policy"]
    error = responses["server error"]
    assert error.headers["content-type"] == "application/problem+json"
    assert error.json()["code"] == "internal_error"
    assert "hunter2" not in error.text
    # The bug is logged once, with its traceback, under the request id the client saw.
    logged = [r.msg for r in caplog.records if isinstance(r.msg, dict) and r.msg.get("event") == "unhandled_error"]
    assert len(logged) == 1
    assert logged[0]["request_id"] == error.headers["X-Request-ID"]
    assert "hunter2" in str(logged[0]["exc_info"])


# --- CORS ---------------------------------------------------------------------------------------------------------

ALLOWED = "https://www.myhibachi.example"


@pytest.fixture
async def cors_client(settings: Settings) -> AsyncIterator[AsyncClient]:
    async for http in _serve(settings.model_copy(update={"cors_origins": [ALLOWED]})):
        yield http


async def test_cors_allows_the_configured_origin(cors_client: AsyncClient):
    response = await cors_client.get("/api/v1/stations", headers={"Origin": ALLOWED})
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == ALLOWED
    assert response.headers["Access-Control-Allow-Credentials"] == "true"
    assert "x-request-id" in response.headers["Access-Control-Expose-Headers"].lower()

    preflight = await cors_client.options("/api/v1/auth/login", headers={
        "Origin": ALLOWED, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,authorization"})
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == ALLOWED
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]


async def test_cors_refuses_other_origins(cors_client: AsyncClient):
    response = await cors_client.get("/api/v1/stations", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in response.headers

    preflight = await cors_client.options("/api/v1/auth/login", headers={
        "Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
    assert preflight.status_code == 400
    assert "Access-Control-Allow-Origin" not in preflight.headers


async def test_no_cors_headers_without_configured_origins(client):
    response = await client.get("/api/v1/stations", headers={"Origin": ALLOWED})
    assert response.status_code == 200
    assert "Access-Control-Allow-Origin" not in response.headers


# --- settings -------------------------------------------------------------------------------------------------------


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("SECRET_KEY", "e" * 40)
    monkeypatch.setenv("CORS_ORIGINS", "https://a.example, https://b.example,")
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://app@127.0.0.1/myhibachi")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.environment is Environment.production
    assert settings.cors_origins == ["https://a.example", "https://b.example"]
    assert settings.is_sqlite is False

    monkeypatch.setenv("SECRET_KEY", "too-short-0123456789")
    with pytest.raises(ValidationError, match="SECRET_KEY"):
        Settings(_env_file=None)  # type: ignore[call-arg]
