"""No known key, ever (issue 14 item 1): an install without SECRET_KEY makes its own random key once and keeps it;
production refuses to start without one; keys anyone can read in this repository are refused; the session a
token names is bound by its signature."""

from __future__ import annotations

import base64
import json
import stat
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import pytest
from pydantic import ValidationError

from myhibachi.auth.permissions import Role
from myhibachi.settings import Environment, Settings, load_or_create_secret_key
from tests.conftest import PASSWORD, PRODUCTION_SECRET, TEST_SECRET

PUBLISHED_KEYS = ["dev-insecure-secret-key-change-me-in-production", TEST_SECRET]  # the old placeholder, the tests'


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    """The suite's settings, but with no SECRET_KEY: what `make run` gets."""
    return settings.model_copy(update={"secret_key": load_or_create_secret_key(tmp_path / "var" / "secret_key")})


def test_without_a_key_one_is_made_once_readable_by_its_owner_only(tmp_path: Path) -> None:
    key_file = tmp_path / "var" / "secret_key"
    first = Settings(_env_file=None, secret_key_file=key_file)  # type: ignore[call-arg]
    again = Settings(_env_file=None, secret_key_file=key_file)  # type: ignore[call-arg]
    elsewhere = Settings(_env_file=None, secret_key_file=tmp_path / "other")  # type: ignore[call-arg]

    assert len(first.secret_key) >= 32
    assert again.secret_key == first.secret_key  # a restart keeps its sign-ins
    assert elsewhere.secret_key != first.secret_key  # each install its own
    assert first.secret_key not in PUBLISHED_KEYS
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert key_file.read_text() == first.secret_key


def test_processes_starting_at_once_agree_on_one_key(tmp_path: Path) -> None:
    key_file = tmp_path / "secret_key"
    with ThreadPoolExecutor(8) as pool:
        keys = set(pool.map(lambda _: load_or_create_secret_key(key_file), range(16)))
    assert keys == {key_file.read_text()}
    assert [path.name for path in tmp_path.iterdir()] == ["secret_key"]  # no drafts left behind


def test_an_unusable_key_file_is_named_not_silently_replaced(tmp_path: Path) -> None:
    key_file = tmp_path / "secret_key"
    key_file.write_text("short\n")
    with pytest.raises(ValueError, match="secret_key holds no usable key"):
        load_or_create_secret_key(key_file)


def test_production_refuses_to_start_without_a_long_key(tmp_path: Path) -> None:
    for key in ("", "too-short-0123456789"):
        with pytest.raises(ValidationError, match="SECRET_KEY must be set"):
            Settings(_env_file=None, environment=Environment.production, secret_key=key,  # type: ignore[call-arg]
                     secret_key_file=tmp_path / "secret_key")
    assert not (tmp_path / "secret_key").exists()  # production never makes one up
    production = Settings(_env_file=None, environment=Environment.production,  # type: ignore[call-arg]
                          secret_key=PRODUCTION_SECRET)
    assert production.secret_key == PRODUCTION_SECRET


@pytest.mark.parametrize("environment", [Environment.development, Environment.production])
def test_keys_published_in_the_repository_are_refused(environment: Environment) -> None:
    for key in PUBLISHED_KEYS:
        with pytest.raises(ValidationError, match="published key"):
            Settings(_env_file=None, environment=environment, secret_key=key)  # type: ignore[call-arg]


async def test_a_token_signed_with_a_published_key_is_refused(client, make_station, make_user, settings) -> None:
    await make_user("support@example.com", Role.support, await make_station("FRE"))
    signed_in = await client.post("/api/v1/auth/login", json={"email": "support@example.com", "password": PASSWORD})
    claims = jwt.decode(signed_in.json()["access_token"], settings.secret_key, algorithms=["HS256"])
    claims["exp"] = datetime.now(UTC) + timedelta(minutes=5)

    async def me(token: str) -> int:
        return (await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})).status_code

    assert await me(jwt.encode(claims, settings.secret_key, algorithm="HS256")) == 200  # the install's own key
    for key in PUBLISHED_KEYS:
        assert await me(jwt.encode(claims, key, algorithm="HS256")) == 401


async def test_the_signature_binds_the_session_a_token_names(client, make_station, make_user) -> None:
    """Session ids count up, but a token naming another session than the one it was signed for is refused."""
    await make_user("support@example.com", Role.support, await make_station("FRE"))
    login = {"email": "support@example.com", "password": PASSWORD}
    token = (await client.post("/api/v1/auth/login", json=login)).json()["access_token"]
    await client.post("/api/v1/auth/login", json=login)  # a second session, the id a forger would guess
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sid"] += 1
    forged_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()

    response = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {header}.{forged_payload}."
                                                                              f"{signature}"})
    assert response.status_code == 401
    assert (await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})).status_code == 200


def test_an_empty_secret_or_address_counts_as_not_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    blank = ["STRIPE_SECRET_KEY", "STRIPE_PUBLISHABLE_KEY", "STRIPE_WEBHOOK_SECRET", "STRIPE_API_BASE", "SMTP_URL",
             "REDIS_URL", "SENTRY_DSN", "RELEASE"]
    for name in blank:
        monkeypatch.setenv(name, " ")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert {name: getattr(settings, name.lower()) for name in blank} == dict.fromkeys(blank)
    assert settings.card_payments_enabled is False
