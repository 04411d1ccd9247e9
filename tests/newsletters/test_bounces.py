"""Bounces and complaints (SPEC §7): SendGrid's signed event webhook (a real ECDSA P-256 key pair made here) and
DSN/ARF reports posted to the inbound email endpoint. A bad signature stores nothing, a redelivery is stored once,
and after a hard bounce or a complaint the address is out of every marketing audience and segment."""

from __future__ import annotations

import time
from datetime import timedelta

from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select

from myhibachi.audit.models import AuditEntry
from myhibachi.consent.commands import lift_suppression
from myhibachi.consent.models import Suppression
from myhibachi.newsletters.models import BounceEvent
from myhibachi.newsletters.segments import SegmentRules, segment_audience
from tests.newsletters.conftest import (
    INBOUND_SECRET,
    NOW,
    audience,
    recipient_row,
    sendgrid_body,
    sent_campaign,
    sign_sendgrid,
    subscriber,
)

EVENTS = "/api/v1/webhooks/sendgrid/events"
INBOUND = "/api/v1/webhooks/email/inbound"
STAMP = int(NOW.timestamp())


def bounce(email: str, event_id: str, kind: str = "bounce", *, smtp_id: str | None = None) -> dict:
    event = {"email": email, "timestamp": STAMP, "event": "bounce", "type": kind, "sg_event_id": event_id,
             "status": "5.1.1" if kind == "bounce" else "4.0.0", "reason": "550 no such user"}
    return {**event, "smtp-id": smtp_id} if smtp_id else event


async def bounces(db) -> list[tuple[str, str, str]]:  # noqa: ANN001
    async with db.transaction(write=False) as session:
        return [(b.email, b.kind, b.provider_event_id) for b in await session.scalars(
            select(BounceEvent).order_by(BounceEvent.id))]


async def suppressions(db) -> dict[str, tuple[str, str]]:  # noqa: ANN001
    async with db.transaction(write=False) as session:
        return {s.email: (s.reason, s.source) for s in await session.scalars(select(Suppression))}


async def segment(db, station_id: int) -> set[int]:  # noqa: ANN001
    async with db.transaction(write=False) as session:
        return {row[0] for row in await session.execute(segment_audience(station_id, SegmentRules(), NOW.date()))}


async def test_a_hard_bounce_webhook_suppresses_the_address_everywhere(provider, db, station, make_station):
    other = await make_station("SAC")
    dana = await subscriber(db, "dana@example.com", station.id)
    await subscriber(db, "dana@example.com", other.id)  # subscribed at both stations
    eli = await subscriber(db, "eli@example.com", station.id, name="Eli")
    sent = await sent_campaign(db, station.id, dana, "dana@example.com")
    assert {dana, eli} <= await segment(db, station.id) and dana in await audience(db, other.id)
    body = sendgrid_body(bounce("Dana@Example.com", "sg-1", smtp_id=sent.message_id),
                         {"email": "eli@example.com", "event": "delivered", "sg_event_id": "sg-2",
                          "timestamp": STAMP})

    response = await provider.post(EVENTS, content=body, headers=sign_sendgrid(body, STAMP))

    assert response.status_code == 200, response.text
    assert response.json() == {"received": 2, "stored": 1, "ignored": 1, "duplicates": 0}
    assert await bounces(db) == [("dana@example.com", "hard", "sg-1")]
    assert (await suppressions(db))["dana@example.com"] == ("hard_bounce", "sendgrid")
    assert (await recipient_row(db, sent.recipient_id)).bounced_at == NOW
    assert await segment(db, station.id) == {eli}
    assert dana not in await audience(db, other.id)
    async with db.transaction(write=False) as session:
        [audit] = await session.scalars(select(AuditEntry).where(AuditEntry.action == "suppression.add"))
    assert audit.after["reason"] == "hard_bounce" and audit.actor_user_id is None

    redelivered = await provider.post(EVENTS, content=body, headers=sign_sendgrid(body, STAMP + 60))
    assert redelivered.json() == {"received": 2, "stored": 0, "ignored": 1, "duplicates": 1}
    assert len(await bounces(db)) == 1


async def test_a_spam_report_is_a_complaint_and_suppresses(provider, db, station):
    dana = await subscriber(db, "dana@example.com", station.id)
    sent = await sent_campaign(db, station.id, dana, "dana@example.com")
    body = sendgrid_body({"email": "dana@example.com", "event": "spamreport", "sg_event_id": "sg-9",
                          "timestamp": STAMP, "smtp-id": sent.message_id.strip("<>")})
    assert (await provider.post(EVENTS, content=body, headers=sign_sendgrid(body, STAMP))).status_code == 200
    assert (await suppressions(db))["dana@example.com"] == ("complaint", "sendgrid")
    assert (await recipient_row(db, sent.recipient_id)).complained_at == NOW
    assert dana not in await audience(db, station.id)


async def test_a_bad_missing_replayed_or_unconfigured_signature_stores_nothing(provider, db, station, settings, app):
    await subscriber(db, "dana@example.com", station.id)
    body = sendgrid_body(bounce("dana@example.com", "sg-1"))
    other_key = ec.generate_private_key(ec.SECP256R1())
    signed = sign_sendgrid(body, STAMP)
    attempts = [
        sign_sendgrid(body, STAMP, other_key),  # someone else's key
        {**signed, "X-Twilio-Email-Event-Webhook-Timestamp": str(STAMP + 1)},  # the timestamp changed
        {**signed, "X-Twilio-Email-Event-Webhook-Signature": "bm90IGEgc2lnbmF0dXJl"},
        {"Content-Type": "application/json"},  # no signature at all
        sign_sendgrid(body, STAMP - 11 * 60),  # a replay of an old delivery
    ]
    for headers in attempts:
        response = await provider.post(EVENTS, content=body, headers=headers)
        assert response.status_code == 400 and response.json()["code"] == "invalid_signature", response.text
    tampered = body.replace(b"sg-1", b"sg-2")
    assert (await provider.post(EVENTS, content=tampered, headers=signed)).status_code == 400

    app.state.runtime.settings.sendgrid_webhook_public_key = None  # the key not set: everything refused
    assert (await provider.post(EVENTS, content=body, headers=signed)).status_code == 400
    assert await bounces(db) == [] and await suppressions(db) == {}


async def test_soft_bounces_suppress_at_the_limit_counted_afresh_after_a_lift(provider, db, station, clock):
    dana = await subscriber(db, "dana@example.com", station.id)

    async def soft(event_id: str) -> None:
        stamp = int(time.time())
        body = sendgrid_body({**bounce("dana@example.com", event_id, "blocked"), "timestamp": stamp})
        assert (await provider.post(EVENTS, content=body, headers=sign_sendgrid(body, stamp))).status_code == 200

    await soft("s-1")
    await soft("s-2")
    assert await suppressions(db) == {} and dana in await audience(db, station.id)
    await soft("s-3")  # SOFT_BOUNCE_LIMIT = 3
    assert (await suppressions(db))["dana@example.com"] == ("soft_bounces", "sendgrid")
    assert dana not in await audience(db, station.id)

    clock.move_to(NOW + timedelta(days=1))
    async with db.transaction() as session:
        await lift_suppression(session, "dana@example.com", reason="Their mailbox works again", actor_user_id=None)
    assert dana in await audience(db, station.id)
    clock.move_to(NOW + timedelta(days=2))
    await soft("s-4")
    await soft("s-5")
    assert await suppressions(db) == {}  # the three before the lift no longer count
    await soft("s-6")
    assert (await suppressions(db))["dana@example.com"] == ("soft_bounces", "sendgrid")


async def test_a_graver_report_replaces_a_lesser_suppression_and_never_the_other_way(provider, db, station):
    await subscriber(db, "dana@example.com", station.id)
    complaint = sendgrid_body({"email": "dana@example.com", "event": "spamreport", "sg_event_id": "c-1",
                               "timestamp": STAMP})
    hard = sendgrid_body(bounce("dana@example.com", "h-1"))
    await provider.post(EVENTS, content=complaint, headers=sign_sendgrid(complaint, STAMP))
    await provider.post(EVENTS, content=hard, headers=sign_sendgrid(hard, STAMP))
    assert (await suppressions(db))["dana@example.com"] == ("complaint", "sendgrid")  # not downgraded

    manual = await provider.post(EVENTS, content=hard, headers=sign_sendgrid(hard, STAMP + 5))  # a redelivery
    assert manual.json()["duplicates"] == 1 and len(await bounces(db)) == 2
    async with db.transaction(write=False) as session:
        added = list(await session.scalars(select(AuditEntry).where(AuditEntry.action == "suppression.add")))
    assert [a.after["reason"] for a in added] == ["complaint"]  # the hard bounce changed nothing


# --- DSN and ARF reports mailed back --------------------------------------------------------------------------

def dsn(recipients: list[tuple[str, str, str]], original_id: str, own_id: str = "<dsn-1@mx.example.net>") -> bytes:
    blocks = "\n".join(f"Final-Recipient: rfc822; {email}\nAction: {action}\nStatus: {status}\n"
                       f"Diagnostic-Code: smtp; {status} something\n" for email, action, status in recipients)
    return f"""From: MAILER-DAEMON@mx.example.net
To: news@myhibachi.local
Subject: Undelivered Mail Returned to Sender
Message-ID: {own_id}
Date: Tue, 01 Dec 2026 16:00:00 +0000
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="BOUNDARY"

--BOUNDARY
Content-Type: text/plain

Your message could not be delivered to one or more recipients.

--BOUNDARY
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net
Arrival-Date: Tue, 01 Dec 2026 15:59:00 +0000

{blocks}
--BOUNDARY
Content-Type: message/rfc822

Message-ID: {original_id}
From: news@myhibachi.local
To: someone@example.com
Subject: Our winter menu

Hello
--BOUNDARY--
""".replace("\n", "\r\n").encode()


def arf(complainer: str | None, original_id: str) -> bytes:
    rcpt = f"Original-Rcpt-To: <{complainer}>\n" if complainer else ""
    return f"""From: feedback@mail.example.org
To: abuse@myhibachi.local
Subject: Complaint about message from news@myhibachi.local
Message-ID: <arf-1@mail.example.org>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="B2"

--B2
Content-Type: text/plain

This is an email abuse report.

--B2
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: ExampleFBL/1.0
Version: 1
{rcpt}
--B2
Content-Type: text/rfc822-headers

Message-ID: {original_id}
From: news@myhibachi.local
To: Dana Reyes <dana@example.com>
Subject: Our winter menu

--B2--
""".encode()


def inbound(secret: str = INBOUND_SECRET) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}", "Content-Type": "message/rfc822"}


async def test_a_dsn_stores_hard_and_soft_bounces_per_recipient(provider, db, station):
    dana = await subscriber(db, "dana@example.com", station.id)
    eli = await subscriber(db, "eli@example.com", station.id, name="Eli")
    sent = await sent_campaign(db, station.id, dana, "dana@example.com")
    report = dsn([("dana@example.com", "failed", "5.1.1"), ("eli@example.com", "delayed", "4.2.2"),
                  ("fay@example.com", "delivered", "2.0.0")], sent.message_id)

    response = await provider.post(INBOUND, content=report, headers=inbound())

    assert response.status_code == 200, response.text
    assert response.json()["report"] == "delivery-status" and response.json()["stored"] == 2
    assert await bounces(db) == [("dana@example.com", "hard", "<dsn-1@mx.example.net>:dana@example.com"),
                                 ("eli@example.com", "soft", "<dsn-1@mx.example.net>:eli@example.com")]
    assert await suppressions(db) == {"dana@example.com": ("hard_bounce", "dsn")}
    assert (await recipient_row(db, sent.recipient_id)).bounced_at == NOW
    assert await segment(db, station.id) == {eli}
    again = await provider.post(INBOUND, content=report, headers=inbound())
    assert again.json()["stored"] == 0 and again.json()["duplicates"] == 2 and len(await bounces(db)) == 2


async def test_a_failed_4xx_is_soft_and_a_feedback_report_is_a_complaint(provider, db, station):
    dana = await subscriber(db, "dana@example.com", station.id)
    sent = await sent_campaign(db, station.id, dana, "dana@example.com")
    soft = dsn([("dana@example.com", "failed", "4.4.7")], "<other@myhibachi.test>", own_id="<dsn-2@mx>")
    assert (await provider.post(INBOUND, content=soft, headers=inbound())).json()["stored"] == 1
    assert await suppressions(db) == {}

    complaint = await provider.post(INBOUND, content=arf(None, sent.message_id), headers=inbound())

    assert complaint.status_code == 200 and complaint.json()["report"] == "feedback-report"
    assert await suppressions(db) == {"dana@example.com": ("complaint", "dsn")}
    assert (await recipient_row(db, sent.recipient_id)).complained_at == NOW
    assert dana not in await audience(db, station.id)


async def test_the_inbound_endpoint_wants_its_secret_and_hands_a_plain_message_to_the_inbox(provider, db, station,
                                                                                            app):
    report = dsn([("dana@example.com", "failed", "5.1.1")], "<x@y>")
    for headers in ({"Content-Type": "message/rfc822"}, inbound("wrong-secret"),
                    {"Authorization": f"Basic {INBOUND_SECRET}"}):
        response = await provider.post(INBOUND, content=report, headers=headers)
        assert response.status_code == 401 and response.json()["code"] == "not_authenticated"
    plain = b"From: dana@example.com\r\nTo: hello@myhibachi.local\r\nSubject: Do you cater in May?\r\n\r\nHi!\r\n"
    answered = await provider.post(INBOUND, content=plain, headers=inbound())
    assert answered.status_code == 201 and answered.json()["report"] is None  # the inbox's (tests/inbox/email)
    assert answered.json()["stored"] == 1 and answered.json()["conversation_id"] is not None
    assert (await provider.post(INBOUND, content=b"\xff\x00garbage", headers=inbound())).status_code == 422

    app.state.runtime.settings.inbound_email_secret = None
    off = await provider.post(INBOUND, content=report, headers=inbound())
    assert off.status_code == 403 and off.json()["code"] == "inbound_email_disabled"
    assert await bounces(db) == [] and await suppressions(db) == {}
