"""Password reset and invites by single-use emailed token; optional TOTP second factor."""

from __future__ import annotations

import email
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import unquote

import pyotp
import pytest
from sqlalchemy import func, select, update

from myhibachi.auth import commands
from myhibachi.auth.models import PasswordToken
from myhibachi.auth.permissions import Role
from myhibachi.core.outbox import OutboxMessage, take_pending_ids
from tests.conftest import PASSWORD, mail_files

NEW_PASSWORD = "a-brand-new-password"  # noqa: S105


@pytest.fixture
async def station(make_station):
    return await make_station("FRE")


def token_from_mail(path):
    message = email.message_from_bytes(path.read_bytes())
    body = message.get_payload(decode=True).decode()
    return unquote(re.search(r"token=(\S+)", body).group(1)), message


async def test_password_reset_by_single_use_emailed_token(client, station, make_user, settings):
    await make_user("sue@example.com", Role.support, station)
    old_session = (await client.post("/api/v1/auth/login",
                                     json={"email": "sue@example.com", "password": PASSWORD})).json()

    assert (await client.post("/api/v1/auth/password-reset", json={"email": "SUE@example.com"})).status_code == 202
    [mail] = mail_files(settings)
    token, message = token_from_mail(mail)
    assert message["To"] == "sue@example.com"
    assert "Reset your" in message["Subject"]

    done = await client.post("/api/v1/auth/password", json={"token": token, "new_password": NEW_PASSWORD})
    assert done.status_code == 204
    login_new = await client.post("/api/v1/auth/login", json={"email": "sue@example.com", "password": NEW_PASSWORD})
    assert login_new.status_code == 200
    login_old = await client.post("/api/v1/auth/login", json={"email": "sue@example.com", "password": PASSWORD})
    assert login_old.status_code == 401
    # Every earlier session ended, and the user was told by email.
    stale = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {old_session['access_token']}"})
    assert stale.status_code == 401
    assert any("was changed" in email.message_from_bytes(p.read_bytes())["Subject"] for p in mail_files(settings))

    reused = await client.post("/api/v1/auth/password", json={"token": token, "new_password": "yet-another-one1"})
    assert reused.status_code == 400
    assert reused.json()["code"] == "invalid_token"


async def test_reset_for_unknown_email_answers_the_same_and_sends_nothing(client, station, settings, db):
    response = await client.post("/api/v1/auth/password-reset", json={"email": "ghost@example.com"})
    assert response.status_code == 202
    assert mail_files(settings) == []
    async with db.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(PasswordToken)) == 0


async def test_a_reset_request_does_the_same_work_whether_or_not_the_account_exists(runtime, db, station,
                                                                                   make_user):
    """Nothing in the request depends on the account (so its time cannot tell): it only queues a job, which looks
    the account up after commit and sends the email or drops the request. benchmarks/password_reset_timing.py."""
    await make_user("sue@example.com", Role.support, station)
    written = {}
    for address in ("sue@example.com", "ghost@example.com"):
        async with db.transaction() as session:
            await commands.request_password_reset(session, runtime, email=address)
            ids = take_pending_ids(session)  # not enqueued: only what the request itself did is compared
            topics = list(await session.scalars(select(OutboxMessage.topic).where(OutboxMessage.id.in_(ids))))
            tokens = await session.scalar(select(func.count()).select_from(PasswordToken))
            written[address] = (topics, tokens)

    assert written["sue@example.com"] == written["ghost@example.com"] == (["auth.password_reset_requested"], 0)


async def test_an_expired_reset_token_is_refused(client, station, make_user, settings, db):
    await make_user("sue@example.com", Role.support, station)
    await client.post("/api/v1/auth/password-reset", json={"email": "sue@example.com"})
    token, _ = token_from_mail(mail_files(settings)[0])
    async with db.transaction() as session:
        await session.execute(update(PasswordToken).values(expires_at=datetime.now(UTC) - timedelta(minutes=1)))
    response = await client.post("/api/v1/auth/password", json={"token": token, "new_password": NEW_PASSWORD})
    assert response.status_code == 400


async def test_reset_emails_per_account_are_capped(client, station, make_user, settings):
    await make_user("sue@example.com", Role.support, station)
    for _ in range(5):
        assert (await client.post("/api/v1/auth/password-reset", json={"email": "sue@example.com"})).status_code == 202
    assert len(mail_files(settings)) == 3


async def test_an_invited_user_sets_a_password_then_signs_in(client, station, make_user, login, settings):
    await make_user("admin@example.com", Role.admin, station)
    admin = await login("admin@example.com")
    created = await client.post("/api/v1/users", headers=admin, json={
        "email": "kenji@example.com", "name": "Kenji", "role": "chef", "station_id": station.id})
    assert created.status_code == 201
    assert created.json()["invite_pending"] is True
    [invite] = mail_files(settings)
    token, message = token_from_mail(invite)
    assert "invited" in message["Subject"]
    assert (await client.post("/api/v1/auth/login", json={"email": "kenji@example.com",
                                                          "password": NEW_PASSWORD})).status_code == 401

    assert (await client.post("/api/v1/auth/password", json={"token": token,
                                                             "new_password": NEW_PASSWORD})).status_code == 204
    await login("kenji@example.com", NEW_PASSWORD)
    user = (await client.get(f"/api/v1/users/{created.json()['id']}", headers=admin)).json()
    assert user["invite_pending"] is False


async def test_totp_second_factor(client, station, make_user, login):
    await make_user("sue@example.com", Role.support, station)
    headers = await login("sue@example.com")
    setup = (await client.post("/api/v1/auth/totp/setup", headers=headers)).json()
    totp = pyotp.TOTP(setup["secret"])
    assert setup["otpauth_uri"].startswith("otpauth://totp/")

    wrong = await client.post("/api/v1/auth/totp/confirm", headers=headers, json={"code": _wrong_code(totp)})
    assert wrong.status_code == 401
    assert (await client.post("/api/v1/auth/totp/confirm", headers=headers,
                              json={"code": totp.now()})).status_code == 204
    assert (await client.get("/api/v1/auth/me", headers=headers)).json()["totp_enabled"] is True

    credentials = {"email": "sue@example.com", "password": PASSWORD}
    missing = await client.post("/api/v1/auth/login", json=credentials)
    assert (missing.status_code, missing.json()["code"]) == (401, "totp_required")
    bad = await client.post("/api/v1/auth/login", json={**credentials, "totp_code": _wrong_code(totp)})
    assert (bad.status_code, bad.json()["code"]) == (401, "invalid_totp")
    good = await client.post("/api/v1/auth/login", json={**credentials, "totp_code": totp.now()})
    assert good.status_code == 200

    refused = await client.post("/api/v1/auth/totp/disable", headers=headers, json={"password": "wrong-password"})
    assert refused.status_code == 401
    assert (await client.post("/api/v1/auth/totp/disable", headers=headers,
                              json={"password": PASSWORD})).status_code == 204
    assert (await client.post("/api/v1/auth/login", json=credentials)).status_code == 200


def _wrong_code(totp: pyotp.TOTP) -> str:
    valid = {totp.at(datetime.now(UTC) + timedelta(seconds=30 * k)) for k in (-1, 0, 1)}
    return next(code for code in (f"{n:06d}" for n in range(1000)) if code not in valid)
