"""What the newsletter tests share: the booking fixtures (frozen clock 2026-12-01 16:00 UTC, station FRE with chefs),
staff of the station (an admin who sends, support who reads), subscribers, a campaign with its recipient rows,
SendGrid's signing key pair and the inbound email secret, a client that keeps no cookies and says no Origin (a mail
provider's server), and a recorder of the campaigns handed to the sending job."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from httpx import ASGITransport, AsyncClient
from pydantic import SecretStr
from sqlalchemy import select

from myhibachi.auth.permissions import Role
from myhibachi.consent.commands import record_consent
from myhibachi.consent.models import ConsentAction, ConsentEvent, ConsentSource, Topic
from myhibachi.consent.queries import marketing_audience
from myhibachi.contacts.commands import Identity, find_or_create_contact
from myhibachi.core import outbox
from myhibachi.newsletters.models import Campaign, CampaignRecipient
from myhibachi.newsletters.sending import CAMPAIGN_DUE_TOPIC
from myhibachi.settings import Settings
from tests.bookings.conftest import NOW, add_chefs, book, clock, station  # noqa: F401

API = "/api/v1"
INBOUND_SECRET = "inbound-secret-0123456789"  # noqa: S105 - the test's own
SENDGRID_KEY = ec.generate_private_key(ec.SECP256R1())


@pytest.fixture
def settings(settings: Settings) -> Settings:
    public = SENDGRID_KEY.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return settings.model_copy(update={"sendgrid_webhook_public_key": base64.b64encode(public).decode(),
                                       "inbound_email_secret": SecretStr(INBOUND_SECRET), "soft_bounce_limit": 3})


def sign_sendgrid(body: bytes, timestamp: int, key: ec.EllipticCurvePrivateKey = SENDGRID_KEY) -> dict[str, str]:
    """The headers SendGrid sends with a body it signed at `timestamp`."""
    signature = key.sign(str(timestamp).encode() + body, ec.ECDSA(hashes.SHA256()))
    return {"X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
            "X-Twilio-Email-Event-Webhook-Timestamp": str(timestamp), "Content-Type": "application/json"}


def sendgrid_body(*events: dict[str, Any]) -> bytes:
    return json.dumps(list(events)).encode()


@pytest.fixture
async def provider(app) -> AsyncIterator[AsyncClient]:  # noqa: ANN001
    """A mail provider's server or a mail client's one-click post: no Origin, no Referer, and a cookie jar that
    keeps nothing (whatever a response sets is never sent back)."""
    jar = CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))
    transport = ASGITransport(app=app, client=("198.51.100.25", 41000))
    async with AsyncClient(transport=transport, base_url="http://testserver", cookies=jar) as http:
        yield http


@pytest.fixture
async def admin(station, make_user, login):  # noqa: ANN001, ANN201, F811
    await make_user("admin@example.com", Role.admin, station, name="Ada Admin")
    return await login("admin@example.com")


@pytest.fixture
async def support(station, make_user, login):  # noqa: ANN001, ANN201, F811
    await make_user("support@example.com", Role.support, station, name="Sam Support")
    return await login("support@example.com")


async def subscriber(db, email: str, station_id: int | None = None, *,  # noqa: ANN001
                     action: ConsentAction = ConsentAction.confirmed, name: str | None = None) -> int:
    """A contact whose latest email-marketing consent is `action` (recorded at `station_id`); named after the
    address unless told ("Dana Reyes" for dana@…)."""
    name = name or ("Dana Reyes" if email.startswith("dana@") else email.split("@")[0].title())
    async with db.transaction() as session:
        contact = await find_or_create_contact(session, Identity(email=email), name=name)
        await record_consent(session, contact.id, ConsentAction.granted, ConsentSource.footer_form,
                             station_id=station_id)
        if action != ConsentAction.granted:
            await record_consent(session, contact.id, ConsentAction.confirmed, ConsentSource.confirmation_link,
                                 station_id=station_id)
        if action == ConsentAction.withdrawn:
            await record_consent(session, contact.id, ConsentAction.withdrawn, ConsentSource.unsubscribe,
                                 station_id=station_id)
        return contact.id


@pytest.fixture
def kicked(monkeypatch) -> list[int]:  # noqa: ANN001
    """The campaign ids handed to the sending job, in order (instead of sending them)."""
    started: list[int] = []

    async def record(_session, payload, _context) -> None:  # noqa: ANN001
        started.append(payload["campaign_id"])

    monkeypatch.setitem(outbox._handlers, CAMPAIGN_DUE_TOPIC, record)
    return started


async def ledger_of(db, contact_id: int) -> list[tuple[str, str]]:  # noqa: ANN001
    async with db.transaction(write=False) as session:
        return [(e.action, e.source) for e in await session.scalars(
            select(ConsentEvent).where(ConsentEvent.contact_id == contact_id).order_by(ConsentEvent.id))]


async def audience(db, station_id: int, topic: Topic = Topic.news) -> set[int]:  # noqa: ANN001
    async with db.transaction(write=False) as session:
        return set(await session.scalars(marketing_audience(topic, station_id)))


@dataclass(frozen=True)
class Sent:
    campaign_id: int
    recipient_id: int
    message_id: str


async def sent_campaign(db, station_id: int, contact_id: int, email: str, serial: int = 1) -> Sent:  # noqa: ANN001
    """A campaign that went to the contact: its recipient row, with the Message-ID it was sent under."""
    message_id = f"<campaign-{serial}.{contact_id}@myhibachi.test>"
    async with db.transaction() as session:
        campaign = Campaign(station_id=station_id, name=f"News {serial}", subject="News", body_markdown="Hello",
                            status="sent", started_at=NOW, finished_at=NOW)
        session.add(campaign)
        await session.flush()
        recipient = CampaignRecipient(campaign_id=campaign.id, contact_id=contact_id, email=email, state="sent",
                                      message_id=message_id, sent_at=NOW, attempts=1)
        session.add(recipient)
        await session.flush()
        return Sent(campaign.id, recipient.id, message_id)


async def recipient_row(db, recipient_id: int) -> CampaignRecipient:  # noqa: ANN001
    async with db.transaction(write=False) as session:
        return await session.get_one(CampaignRecipient, recipient_id)
