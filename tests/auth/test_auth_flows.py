"""Sign-in, token rotation and reuse detection, sign-out, expiry, throttling, deactivation (SPEC §4)."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from sqlalchemy import update

from myhibachi.auth.models import AuthSession
from myhibachi.auth.permissions import Role
from myhibachi.core import security
from myhibachi.settings import Settings
from tests.conftest import PASSWORD, TEST_SECRET

LOGIN = "/api/v1/auth/login"
REFRESH = "/api/v1/auth/refresh"
ME = "/api/v1/auth/me"


@pytest.fixture
async def support(make_station, make_user):
    station = await make_station("FRE")
    await make_user("admin@example.com", Role.admin, station)
    await make_user("support@example.com", Role.support, station)
    return station


async def sign_in(client, email="support@example.com", password=PASSWORD):
    return await client.post(LOGIN, json={"email": email, "password": password})


def bearer(pair):
    return {"Authorization": f"Bearer {pair['access_token']}"}


async def test_login_returns_a_short_lived_access_token_and_a_refresh_token(client, support):
    response = await sign_in(client, email="  Support@Example.com ")
    assert response.status_code == 200
    pair = response.json()
    assert pair["token_type"] == "bearer"
    assert pair["expires_in"] == 15 * 60
    claims = jwt.decode(pair["access_token"], TEST_SECRET, algorithms=["HS256"])
    assert claims["exp"] - claims["iat"] == 15 * 60
    me = await client.get(ME, headers=bearer(pair))
    assert me.status_code == 200
    assert me.json()["email"] == "support@example.com"
    assert me.json()["stations"] == [{"station_id": support.id, "role": "support",
                                      "permissions": sorted(me.json()["stations"][0]["permissions"])}]
    assert "bookings.write" in me.json()["stations"][0]["permissions"]


async def test_unknown_email_and_wrong_password_answer_identically_and_both_hash(client, support, monkeypatch):
    verifications = []
    real = security._hasher

    class SpyHasher:
        def verify(self, password_hash, password):
            verifications.append(password)
            return real.verify(password_hash, password)

        def __getattr__(self, name):
            return getattr(real, name)

    monkeypatch.setattr(security, "_hasher", SpyHasher())

    wrong_password = await sign_in(client, password="not-the-password")
    unknown_email = await sign_in(client, email="nobody@example.com", password="not-the-password")

    assert wrong_password.status_code == unknown_email.status_code == 401
    assert wrong_password.json() == unknown_email.json()
    assert wrong_password.json()["code"] == "invalid_credentials"
    # Both paths spend one argon2 verification, so they take similar time (measured in benchmarks/).
    assert verifications == ["not-the-password", "not-the-password"]


async def test_refresh_rotates_and_the_old_token_stops_working(client, support):
    first = (await sign_in(client)).json()
    rotated = await client.post(REFRESH, json={"refresh_token": first["refresh_token"]})
    assert rotated.status_code == 200
    second = rotated.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert (await client.get(ME, headers=bearer(second))).status_code == 200

    again = await client.post(REFRESH, json={"refresh_token": first["refresh_token"]})
    assert again.status_code == 401
    assert again.json()["code"] == "invalid_token"


async def test_reusing_a_rotated_refresh_token_revokes_the_whole_family(client, support):
    first = (await sign_in(client)).json()
    second = (await client.post(REFRESH, json={"refresh_token": first["refresh_token"]})).json()
    other_sign_in = (await sign_in(client)).json()  # a separate family: must survive

    replay = await client.post(REFRESH, json={"refresh_token": first["refresh_token"]})
    assert replay.status_code == 401

    # The legitimate newest token of that family and its access token are dead too.
    assert (await client.post(REFRESH, json={"refresh_token": second["refresh_token"]})).status_code == 401
    assert (await client.get(ME, headers=bearer(second))).status_code == 401
    assert (await client.get(ME, headers=bearer(other_sign_in))).status_code == 200


async def test_logout_ends_the_session_and_is_harmless_twice(client, support):
    pair = (await sign_in(client)).json()
    assert (await client.post("/api/v1/auth/logout", json={"refresh_token": pair["refresh_token"]})).status_code == 204
    assert (await client.post("/api/v1/auth/logout", json={"refresh_token": pair["refresh_token"]})).status_code == 204
    assert (await client.get(ME, headers=bearer(pair))).status_code == 401
    assert (await client.post(REFRESH, json={"refresh_token": pair["refresh_token"]})).status_code == 401


async def test_expired_or_forged_access_tokens_are_refused(client, support):
    pair = (await sign_in(client)).json()
    claims = jwt.decode(pair["access_token"], TEST_SECRET, algorithms=["HS256"])
    past = datetime.now(UTC) - timedelta(minutes=16)
    expired = jwt.encode({**claims, "iat": past, "exp": past + timedelta(minutes=15)}, TEST_SECRET, "HS256")
    forged = jwt.encode(claims, "some-other-secret-that-is-long-enough!", "HS256")
    for token in (expired, forged, "not-a-jwt"):
        response = await client.get(ME, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401
        assert response.json()["code"] == "not_authenticated"
        assert response.headers["www-authenticate"] == "Bearer"
    assert (await client.get(ME)).status_code == 401


async def test_an_expired_session_cannot_be_refreshed(client, support, db):
    pair = (await sign_in(client)).json()
    async with db.transaction() as session:
        await session.execute(update(AuthSession).values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    assert (await client.post(REFRESH, json={"refresh_token": pair["refresh_token"]})).status_code == 401
    assert (await client.get(ME, headers=bearer(pair))).status_code == 401


async def test_failed_logins_are_throttled_per_account_even_with_the_right_password(client, support, settings):
    for _ in range(settings.login_failures_per_account):
        assert (await sign_in(client, password="wrong-password")).status_code == 401
    blocked = await sign_in(client)
    assert blocked.status_code == 429
    assert blocked.json()["code"] == "rate_limited"
    assert 0 < int(blocked.headers["retry-after"]) <= settings.login_failure_window_seconds
    # Another account from the same IP is not locked by this one.
    assert (await sign_in(client, email="admin@example.com")).status_code == 200


async def test_failed_logins_are_throttled_per_ip(client, support, settings):
    for n in range(settings.login_failures_per_ip):
        assert (await sign_in(client, email=f"guess{n}@example.com")).status_code == 401
    blocked = await sign_in(client)  # right password, but this IP is spent
    assert blocked.status_code == 429
    assert int(blocked.headers["retry-after"]) >= 1


async def test_successful_sign_ins_are_not_counted(client, support, settings):
    for _ in range(settings.login_failures_per_account + 2):
        assert (await sign_in(client)).status_code == 200


async def test_simultaneous_wrong_passwords_lock_the_account_like_sequential_ones(client, support, settings):
    """Each failure is counted before its verdict: 12 at once get as many 401s as 12 one after another."""
    attempts = await asyncio.gather(*(sign_in(client, password="wrong-password") for _ in range(12)))

    limit = settings.login_failures_per_account
    assert Counter(r.status_code for r in attempts) == {401: limit, 429: 12 - limit}
    assert (await sign_in(client)).status_code == 429  # locked, even with the right password


async def test_simultaneous_guesses_from_one_ip_stop_at_its_limit(client, support, settings):
    guesses = await asyncio.gather(*(sign_in(client, email=f"guess{n}@example.com")
                                     for n in range(settings.login_failures_per_ip + 5)))

    assert Counter(r.status_code for r in guesses) == {401: settings.login_failures_per_ip, 429: 5}
    assert (await sign_in(client)).status_code == 429


class TestOneLimitRefusingDoesNotCountForTheOther:
    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        return settings.model_copy(update={"login_failures_per_account": 2, "login_failures_per_ip": 4})

    async def test_attempts_refused_for_the_account_leave_the_ips_count_alone(self, client, support):
        for expected in (401, 401, 429, 429, 429):  # the account locks after 2; the IP has counted 2
            assert (await sign_in(client, password="wrong-password")).status_code == expected

        others = [(await sign_in(client, email="admin@example.com", password="nope")).status_code for _ in range(3)]

        assert others == [401, 401, 429]  # the IP's 3rd and 4th failures, then its limit


async def test_deactivation_ends_every_session_at_once(client, support, login):
    admin = await login("admin@example.com")
    pair = (await sign_in(client)).json()
    me = (await client.get(ME, headers=bearer(pair))).json()

    response = await client.post(f"/api/v1/users/{me['id']}/deactivate", headers=admin,
                                 json={"reason": "Left the company"})
    assert response.status_code == 200
    assert response.json()["is_active"] is False

    assert (await client.get(ME, headers=bearer(pair))).status_code == 401
    assert (await client.post(REFRESH, json={"refresh_token": pair["refresh_token"]})).status_code == 401
    refused = await sign_in(client)
    assert refused.status_code == 401
    assert refused.json()["code"] == "invalid_credentials"

    assert (await client.post(f"/api/v1/users/{me['id']}/reactivate", headers=admin)).status_code == 200
    assert (await sign_in(client)).status_code == 200
