"""Whose address a request comes from: the socket's, unless the socket is a proxy of FORWARDED_ALLOW_IPS, whose
X-Forwarded-For is then read from the right, past the trusted proxies (what a client writes on the left is forgeable).
That one address is what every limit counts, the audit log records and the log lines carry."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from asgi_lifespan import LifespanManager
from httpx import ASGITransport, AsyncClient
from sqlalchemy import select

from myhibachi.app import create_app
from myhibachi.audit.models import AuditEntry
from myhibachi.auth.permissions import Role
from myhibachi.core.db import Database
from myhibachi.settings import LogFormat, Settings
from tests.conftest import PASSWORD

LOGIN = "/api/v1/auth/login"
PROXY = "10.0.0.5"
CLIENT = "198.51.100.7"


@asynccontextmanager
async def serving(settings: Settings, peer: str) -> AsyncIterator[AsyncClient]:
    """An app built from `settings` (the trusted proxies live in the app), called from the socket address `peer`."""
    app = create_app(settings.model_copy(update={"log_format": LogFormat.json}))
    async with LifespanManager(app):
        transport = ASGITransport(app=app, client=(peer, 50000))
        async with AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http


async def failed_sign_in(http: AsyncClient, forwarded_for: str) -> int:
    response = await http.post(LOGIN, json={"email": "root@example.com", "password": "wrong"},
                               headers={"X-Forwarded-For": forwarded_for})
    return response.status_code


async def audited_ip(http: AsyncClient, db: Database, forwarded_for: str) -> str | None:
    """Sign in and create a user (an audited change), both with this X-Forwarded-For; the audit row's IP."""
    headers = {"X-Forwarded-For": forwarded_for}
    signed_in = await http.post(LOGIN, json={"email": "root@example.com", "password": PASSWORD}, headers=headers)
    token = signed_in.json()["access_token"]
    created = await http.post("/api/v1/users", headers={**headers, "Authorization": f"Bearer {token}"},
                              json={"email": f"{uuid.uuid4().hex[:8]}@example.com", "name": "New",
                                    "role": "super_admin", "password": "long-enough-pw"})
    assert created.status_code == 201, created.text
    async with db.transaction(write=False) as session:
        entry = await session.scalar(select(AuditEntry).where(AuditEntry.action == "users.create",
                                                              AuditEntry.target_id == str(created.json()["id"])))
    return entry.ip


def failure_ips(capsys: pytest.CaptureFixture[str]) -> list[str | None]:
    """The client address of each `login_failed` line the app logged (JSON lines on stderr)."""
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    return [line.get("client_ip") for line in lines if line.get("event") == "login_failed"]


@pytest.fixture
async def root(make_user) -> None:  # noqa: ANN001
    await make_user("root@example.com", Role.super_admin)


async def test_without_trusted_proxies_a_forged_forwarded_for_is_ignored(settings, root, db, capsys):
    throttled = settings.model_copy(update={"login_failures_per_ip": 2})
    assert throttled.forwarded_allow_ips == []  # the default: nobody's header is believed
    async with serving(throttled, "127.0.0.1") as http:  # even a local client (`make run` has no proxy)
        audited = await audited_ip(http, db, CLIENT)
        statuses = [await failed_sign_in(http, f"198.51.100.{n}") for n in (1, 2, 3)]

    assert audited == "127.0.0.1"
    assert statuses == [401, 401, 429]  # one count, the socket's, whatever each request claimed
    assert failure_ips(capsys) == ["127.0.0.1", "127.0.0.1"]


async def test_a_trusted_proxys_forwarded_for_names_the_client(settings, root, db, capsys):
    proxied = settings.model_copy(update={"forwarded_allow_ips": ["10.0.0.0/8"], "login_failures_per_ip": 2})
    # The client forged the left-most entry; the outer proxy appended the client, the inner one (trusted) itself.
    chain = f"203.0.113.9, {CLIENT}, 10.0.0.3"
    async with serving(proxied, PROXY) as http:
        audited = await audited_ip(http, db, chain)
        statuses = [await failed_sign_in(http, forged) for forged in (chain, f"192.0.2.1, {CLIENT}", chain)]
        neighbour = await failed_sign_in(http, "198.51.100.8")

    assert audited == CLIENT
    assert statuses == [401, 401, 429]  # one client, whatever it wrote on the left
    assert neighbour == 401  # another client behind the same proxy has a count of its own
    assert failure_ips(capsys) == [CLIENT, CLIENT, "198.51.100.8"]


async def test_an_untrusted_peer_cannot_name_a_client_even_with_proxies_configured(settings, root, db):
    proxied = settings.model_copy(update={"forwarded_allow_ips": ["10.0.0.0/8"]})
    async with serving(proxied, "192.0.2.44") as http:
        assert await audited_ip(http, db, CLIENT) == "192.0.2.44"


def test_trusted_proxies_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", " 10.0.0.1, 192.168.0.0/16,fd00::/8 ")
    assert Settings(_env_file=None).forwarded_allow_ips == ["10.0.0.1", "192.168.0.0/16", "fd00::/8"]  # type: ignore[call-arg]


@pytest.mark.parametrize("value", ["*", "10.0.0.1, proxy.internal", "10.0.0.300"])
def test_anything_but_addresses_and_networks_is_refused(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", value)
    with pytest.raises(ValueError, match="is not an IP address or network"):
        Settings(_env_file=None)  # type: ignore[call-arg]
