"""Campaigns through the API (SPEC §7): drafts, edits, the state machine (send now or at a time, pause, resume,
cancel) and its refusals, what starts the sending job, stats from the recipient rows, activity over time in the
station's zone, previews, station scoping, and the test send received by a real SMTP server."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from myhibachi.audit.models import AuditEntry
from myhibachi.auth.permissions import Role
from myhibachi.contacts.commands import Identity, find_or_create_contact
from myhibachi.core.outbox import OutboxMessage
from myhibachi.newsletters.models import (
    Campaign,
    CampaignRecipient,
    CampaignStatus,
    RecipientState,
    Segment,
    TrackingEvent,
    TrackingKind,
)
from myhibachi.newsletters.sending import CAMPAIGN_DUE_TOPIC
from myhibachi.settings import Settings
from tests.bookings.conftest import NOW
from tests.newsletters.conftest import API, subscriber

BODY = "## Holiday parties\n\nBook a December date and the gyoza are on us.\n\n[Pick a date](https://example.com/book)"


@pytest.fixture
async def segment(client, db, station, admin) -> int:  # noqa: ANN001
    """Everyone of the station who may receive news: one confirmed subscriber."""
    await subscriber(db, "fan@example.com", station.id)
    response = await client.post(f"{API}/segments", headers=admin,
                                 json={"station_id": station.id, "name": "Everyone", "rules": {}})
    assert response.status_code == 201, response.text
    return response.json()["id"]


@pytest.fixture
def draft(client, station, admin, segment):  # noqa: ANN001, ANN201
    async def make(**fields: Any) -> dict[str, Any]:
        body = {"station_id": station.id, "name": "December offer", "subject": "Free gyoza in December",
                "body_markdown": BODY, "segment_id": segment, **fields}
        response = await client.post(f"{API}/campaigns", headers=admin, json=body)
        assert response.status_code == 201, response.text
        return response.json()

    return make


async def move(client, headers, campaign_id: int, action: str, json: Any = None, expect: int = 200) -> dict:  # noqa: ANN001
    response = await client.post(f"{API}/campaigns/{campaign_id}/{action}", headers=headers, json=json)
    assert response.status_code == expect, response.text
    return response.json()


async def audit_actions(db, campaign_id: int) -> list[str]:  # noqa: ANN001
    async with db.transaction(write=False) as session:
        return list(await session.scalars(select(AuditEntry.action).where(
            AuditEntry.target_type == "campaign", AuditEntry.target_id == str(campaign_id)).order_by(AuditEntry.id)))


async def test_a_new_campaign_is_a_draft_with_empty_stats(client, draft, admin, support, segment):
    created = await draft()
    assert created["status"] == "draft" and created["segment_id"] == segment
    assert created["stats"] == {"recipients": 0, "sent": 0, "failed": 0, "opened": 0, "clicked": 0,
                                "unsubscribed": 0, "bounced": 0, "complained": 0}
    assert (created["send_at"], created["started_at"], created["finished_at"]) == (None, None, None)
    assert created["actions"] == ["edit", "send", "cancel"]
    read = await client.get(f"{API}/campaigns/{created['id']}", headers=support)
    assert read.status_code == 200
    assert read.json()["body_markdown"] == BODY and read.json()["actions"] == []  # support reads, never sends


async def test_campaigns_are_listed_newest_first_by_status_and_page(client, draft, admin, station, kicked):
    first, second, third = await draft(name="One"), await draft(name="Two"), await draft(name="Three")
    await move(client, admin, second["id"], "send")
    page = await client.get(f"{API}/campaigns", params={"station_id": station.id, "limit": 2}, headers=admin)
    assert [c["name"] for c in page.json()["items"]] == ["Three", "Two"]
    rest = await client.get(f"{API}/campaigns", params={"station_id": station.id, "limit": 2,
                                                        "cursor": page.json()["next_cursor"]}, headers=admin)
    assert [c["id"] for c in rest.json()["items"]] == [first["id"]] and rest.json()["next_cursor"] is None
    sending = await client.get(f"{API}/campaigns", params={"status": "sending"}, headers=admin)
    assert [c["id"] for c in sending.json()["items"]] == [second["id"]]
    assert "body_markdown" not in sending.json()["items"][0]
    bad = await client.get(f"{API}/campaigns", params={"cursor": "abc"}, headers=admin)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "query.cursor"
    assert third["id"] > second["id"]


async def test_sending_now_starts_the_job_once_and_is_audited(client, db, draft, admin, kicked):
    campaign = await draft()
    sent = await move(client, admin, campaign["id"], "send")
    assert sent["status"] == "sending" and sent["send_at"] == NOW.isoformat().replace("+00:00", "Z")
    assert sent["actions"] == ["pause", "cancel"]
    assert kicked == [campaign["id"]]
    async with db.transaction(write=False) as session:
        messages = list(await session.scalars(select(OutboxMessage).where(OutboxMessage.topic == CAMPAIGN_DUE_TOPIC)))
    assert [m.payload for m in messages] == [{"campaign_id": campaign["id"]}]
    assert await audit_actions(db, campaign["id"]) == ["campaigns.create", "campaigns.send"]


async def test_scheduling_waits_and_pause_resume_follow_the_time(client, db, clock, draft, admin, kicked):
    campaign = await draft()
    send_at = NOW + timedelta(minutes=10)  # the admin's access token outlives the wait
    scheduled = await move(client, admin, campaign["id"], "send", {"send_at": send_at.isoformat()})
    assert (scheduled["status"], scheduled["send_at"]) == ("scheduled", "2026-12-01T16:10:00Z")
    assert scheduled["actions"] == ["edit", "send", "pause", "cancel"]
    assert (await move(client, admin, campaign["id"], "pause"))["status"] == "paused"
    assert (await move(client, admin, campaign["id"], "resume"))["status"] == "scheduled"  # still ahead
    assert kicked == []
    await move(client, admin, campaign["id"], "pause")
    clock.move_to(send_at + timedelta(minutes=1))
    assert (await move(client, admin, campaign["id"], "resume"))["status"] == "sending"  # its time has passed
    assert kicked == [campaign["id"]]
    await move(client, admin, campaign["id"], "pause")
    assert (await move(client, admin, campaign["id"], "resume"))["status"] == "sending"
    assert kicked == [campaign["id"], campaign["id"]]
    assert await audit_actions(db, campaign["id"]) == [
        "campaigns.create", "campaigns.schedule", "campaigns.pause", "campaigns.resume", "campaigns.pause",
        "campaigns.resume", "campaigns.pause", "campaigns.resume"]


async def test_a_scheduled_campaign_may_be_sent_at_once_or_moved(client, draft, admin, kicked):
    campaign = await draft()
    await move(client, admin, campaign["id"], "send", {"send_at": (NOW + timedelta(days=5)).isoformat()})
    moved = await move(client, admin, campaign["id"], "send", {"send_at": (NOW + timedelta(days=1)).isoformat()})
    assert moved["send_at"] == "2026-12-02T16:00:00Z"
    assert (await move(client, admin, campaign["id"], "send"))["status"] == "sending"
    assert kicked == [campaign["id"]]


@pytest.mark.parametrize(("status", "action", "body"), [
    ("draft", "pause", None), ("draft", "resume", None), ("scheduled", "resume", None),
    ("sending", "send", None), ("sending", "resume", None), ("paused", "pause", None), ("paused", "send", None),
    ("sent", "send", None), ("sent", "pause", None), ("sent", "cancel", {"reason": "Too late"}),
    ("cancelled", "cancel", {"reason": "Twice"}), ("cancelled", "resume", None),
])
async def test_illegal_moves_are_409_and_change_nothing(client, db, draft, admin, kicked, status, action, body):
    campaign = await draft()
    async with db.transaction() as session:
        (await session.get_one(Campaign, campaign["id"])).status = status
    response = await client.post(f"{API}/campaigns/{campaign['id']}/{action}", headers=admin, json=body)
    assert response.status_code == 409, response.text
    assert response.json()["code"] == "illegal_transition"
    assert f"this one is {status}" in response.json()["detail"]
    after = (await client.get(f"{API}/campaigns/{campaign['id']}", headers=admin)).json()
    assert after["status"] == status and kicked == []
    assert await audit_actions(db, campaign["id"]) == ["campaigns.create"]


@pytest.mark.parametrize("status", ["sending", "paused", "sent", "cancelled"])
async def test_only_drafts_and_scheduled_campaigns_are_edited(client, db, draft, admin, status):
    campaign = await draft()
    async with db.transaction() as session:
        (await session.get_one(Campaign, campaign["id"])).status = status
    response = await client.patch(f"{API}/campaigns/{campaign['id']}", headers=admin, json={"subject": "Changed"})
    assert response.status_code == 409 and response.json()["code"] == "illegal_transition"


async def test_a_draft_is_edited_and_the_change_audited(client, db, draft, admin):
    campaign = await draft()
    changed = await client.patch(f"{API}/campaigns/{campaign['id']}", headers=admin,
                                 json={"subject": "Gyoza on us", "segment_id": None})
    assert changed.status_code == 200
    assert (changed.json()["subject"], changed.json()["segment_id"], changed.json()["name"]) == (
        "Gyoza on us", None, "December offer")
    emptied = await client.patch(f"{API}/campaigns/{campaign['id']}", headers=admin, json={"subject": None})
    assert emptied.status_code == 422 and emptied.json()["errors"][0]["field"] == "body.subject"
    async with db.transaction(write=False) as session:
        entry = await session.scalar(select(AuditEntry).where(AuditEntry.action == "campaigns.update"))
    assert (entry.before["subject"], entry.after["subject"]) == ("Free gyoza in December", "Gyoza on us")


async def test_sending_needs_a_segment_someone_in_it_and_a_future_time(client, db, station, draft, admin, kicked):
    no_segment = await draft(segment_id=None)
    refused = await client.post(f"{API}/campaigns/{no_segment['id']}/send", headers=admin)
    assert refused.status_code == 409 and refused.json()["code"] == "no_segment"
    nobody = (await client.post(f"{API}/segments", headers=admin, json={
        "station_id": station.id, "name": "Tagged", "rules": {"tags": ["nobody-has-it"]}})).json()
    empty = await draft(segment_id=nobody["id"])
    refused = await client.post(f"{API}/campaigns/{empty['id']}/send", headers=admin)
    assert refused.status_code == 409 and refused.json()["code"] == "empty_audience"
    campaign = await draft()
    for when in (NOW - timedelta(minutes=1), NOW + timedelta(days=400)):
        past = await client.post(f"{API}/campaigns/{campaign['id']}/send", headers=admin,
                                 json={"send_at": when.isoformat()})
        assert past.status_code == 422 and past.json()["errors"][0]["field"] == "body.send_at"
    naive = await client.post(f"{API}/campaigns/{campaign['id']}/send", headers=admin,
                              json={"send_at": "2026-12-05T10:00:00"})
    assert naive.status_code == 422
    assert kicked == []
    statuses = {c["id"]: c["status"] for c in (await client.get(f"{API}/campaigns", headers=admin)).json()["items"]}
    assert set(statuses.values()) == {"draft"}


async def test_a_cancellation_needs_a_reason(client, db, draft, admin):
    campaign = await draft()
    assert (await client.post(f"{API}/campaigns/{campaign['id']}/cancel", headers=admin)).status_code == 422
    assert (await client.post(f"{API}/campaigns/{campaign['id']}/cancel", headers=admin,
                              json={"reason": ""})).status_code == 422
    cancelled = await move(client, admin, campaign["id"], "cancel", {"reason": "Offer withdrawn"})
    assert cancelled["status"] == "cancelled" and cancelled["actions"] == []
    async with db.transaction(write=False) as session:
        entry = await session.scalar(select(AuditEntry).where(AuditEntry.action == "campaigns.cancel"))
    assert (entry.reason, entry.before["status"], entry.after["status"]) == ("Offer withdrawn", "draft", "cancelled")


async def test_a_campaign_needs_a_segment_of_its_own_station(client, db, station, make_station, admin, segment):
    other = await make_station("SAC")
    async with db.transaction() as session:
        theirs = Segment(station_id=other.id, name="SAC people", rules={})
        session.add(theirs)
    response = await client.post(f"{API}/campaigns", headers=admin, json={
        "station_id": station.id, "name": "N", "subject": "S", "body_markdown": "B", "segment_id": theirs.id})
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "body.segment_id"
    missing = await client.post(f"{API}/campaigns", headers=admin, json={
        "station_id": station.id, "name": "N", "subject": "", "body_markdown": "B"})
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "body.subject"


async def test_campaigns_are_the_stations_own(client, station, make_station, make_user, login, draft, support):
    campaign = await draft()
    other = await make_station("SAC")
    await make_user("sac@example.com", Role.admin, other)
    sac_admin = await login("sac@example.com")
    for method, path, body in (("GET", "", None), ("PATCH", "", {"name": "Mine now"}), ("POST", "/send", None),
                               ("POST", "/pause", None), ("GET", "/preview", None), ("GET", "/activity", None),
                               ("POST", "/test", {"email": "x@example.com"})):
        response = await client.request(method, f"{API}/campaigns/{campaign['id']}{path}", headers=sac_admin,
                                        json=body)
        assert response.status_code == 404, (method, path, response.text)
    assert (await client.get(f"{API}/campaigns", headers=sac_admin)).json()["items"] == []
    refused = await client.post(f"{API}/campaigns/{campaign['id']}/send", headers=support)
    assert refused.status_code == 403
    assert (await client.get(f"{API}/campaigns/{campaign['id']}", headers=support)).json()["status"] == "draft"


async def add_recipients(db, campaign_id: int, rows: list[dict[str, Any]]) -> list[int]:  # noqa: ANN001
    ids = []
    async with db.transaction() as session:
        for n, fields in enumerate(rows):
            contact = await subscriber_in(session, f"r{campaign_id}-{n}@example.com")
            recipient = CampaignRecipient(campaign_id=campaign_id, contact_id=contact, email=f"r{n}@example.com",
                                          **fields)
            session.add(recipient)
            await session.flush()
            ids.append(recipient.id)
    return ids


async def subscriber_in(session, email: str) -> int:  # noqa: ANN001
    return (await find_or_create_contact(session, Identity(email=email), name="Recipient")).id


async def test_stats_are_counted_from_the_recipients(client, db, draft, admin):
    campaign = await draft()
    at = NOW
    sent, failed, pending = RecipientState.sent.value, RecipientState.failed.value, RecipientState.pending.value
    await add_recipients(db, campaign["id"], [
        {"state": sent, "opened_at": at, "clicked_at": at}, {"state": sent, "opened_at": at},
        {"state": sent, "opened_at": at, "unsubscribed_at": at}, {"state": sent, "complained_at": at},
        {"state": failed, "bounced_at": at}, {"state": failed}, {"state": pending},
        {"state": RecipientState.skipped.value}])
    other = await draft(name="Other")
    await add_recipients(db, other["id"], [{"state": sent, "opened_at": at}])
    stats = (await client.get(f"{API}/campaigns/{campaign['id']}", headers=admin)).json()["stats"]
    assert stats == {"recipients": 8, "sent": 4, "failed": 2, "opened": 3, "clicked": 1, "unsubscribed": 1,
                     "bounced": 1, "complained": 1}
    listed = {c["id"]: c["stats"] for c in (await client.get(f"{API}/campaigns", headers=admin)).json()["items"]}
    assert listed[campaign["id"]] == stats and listed[other["id"]]["opened"] == 1


async def track(db, campaign_id: int, recipient_id: int, events: list[tuple[str, datetime]]) -> None:  # noqa: ANN001
    async with db.transaction() as session:
        session.add_all([TrackingEvent(campaign_id=campaign_id, recipient_id=recipient_id, kind=kind, url=None, at=at)
                         for kind, at in events])


async def test_activity_is_hourly_in_the_stations_time_for_two_days(client, db, draft, admin):
    campaign = await draft()
    started = datetime(2026, 12, 1, 17, 10, tzinfo=UTC)  # 09:10 in Fremont
    async with db.transaction() as session:
        row = await session.get_one(Campaign, campaign["id"])
        row.status, row.started_at, row.finished_at = CampaignStatus.sent.value, started, started
    [recipient] = await add_recipients(db, campaign["id"], [{"state": "sent"}])
    open_, click = TrackingKind.open.value, TrackingKind.click.value
    await track(db, campaign["id"], recipient, [(open_, started + timedelta(minutes=5)),
                                                (open_, started + timedelta(minutes=55)),  # 10:05
                                                (click, started + timedelta(minutes=58)),
                                                (open_, started + timedelta(hours=3, minutes=1))])
    body = (await client.get(f"{API}/campaigns/{campaign['id']}/activity", headers=admin)).json()
    assert (body["timezone"], body["granularity"]) == ("America/Los_Angeles", "hour")
    assert [(b["start"], b["opens"], b["clicks"]) for b in body["buckets"]] == [
        ("2026-12-01T09:00:00-08:00", 1, 0), ("2026-12-01T10:00:00-08:00", 1, 1),
        ("2026-12-01T11:00:00-08:00", 0, 0), ("2026-12-01T12:00:00-08:00", 1, 0)]


async def test_activity_is_daily_in_the_stations_days_after_two_days(client, db, draft, admin):
    campaign = await draft()
    started = datetime(2026, 12, 1, 7, 30, tzinfo=UTC)  # Nov 30, 23:30 in Fremont
    async with db.transaction() as session:
        row = await session.get_one(Campaign, campaign["id"])
        row.status, row.started_at = CampaignStatus.sent.value, started
    [recipient] = await add_recipients(db, campaign["id"], [{"state": "sent"}])
    open_, click = TrackingKind.open.value, TrackingKind.click.value
    await track(db, campaign["id"], recipient, [(open_, started + timedelta(minutes=10)),  # Nov 30, 23:40
                                                (open_, started + timedelta(minutes=40)),  # Dec 1, 00:10
                                                (click, started + timedelta(days=3))])  # Dec 3, 23:30
    body = (await client.get(f"{API}/campaigns/{campaign['id']}/activity", headers=admin)).json()
    assert body["granularity"] == "day"
    assert [(b["start"], b["opens"], b["clicks"]) for b in body["buckets"]] == [
        ("2026-11-30T00:00:00-08:00", 1, 0), ("2026-12-01T00:00:00-08:00", 1, 0),
        ("2026-12-02T00:00:00-08:00", 0, 0), ("2026-12-03T00:00:00-08:00", 0, 1)]
    unsent = await draft(name="Not sent")
    assert (await client.get(f"{API}/campaigns/{unsent['id']}/activity", headers=admin)).json()["buckets"] == []


async def test_the_preview_is_the_stations_branded_email(client, station, draft, admin, support):
    campaign = await draft()
    saved = (await client.get(f"{API}/campaigns/{campaign['id']}/preview", headers=support)).json()
    assert saved["subject"] == "Free gyoza in December"
    assert "Station FRE" in saved["html"] and "1 Main St, Fremont, CA 94538" in saved["html"]
    assert '<a href="https://example.com/book"' in saved["html"] and "<h2" in saved["html"]
    assert "Pick a date (https://example.com/book)" in saved["text"]
    typed = await client.post(f"{API}/campaigns/preview", headers=support, json={
        "station_id": station.id, "subject": "Typing…", "body_markdown": "**Bold** <script>alert(1)</script>"})
    assert typed.status_code == 200
    assert "<strong>Bold</strong>" in typed.json()["html"] and "<script>" not in typed.json()["html"]


class TestTheTestSend:
    @pytest.fixture
    def settings(self, settings: Settings, smtp_server) -> Settings:  # noqa: ANN001
        return settings.model_copy(update={"smtp_url": smtp_server.url})

    async def test_it_reaches_any_address_as_a_recipient_would_get_it(self, client, db, draft, admin, smtp_server):
        campaign = await draft()
        response = await client.post(f"{API}/campaigns/{campaign['id']}/test", headers=admin,
                                     json={"email": "Me@Example.com"})
        assert response.status_code == 202, response.text
        assert response.json() == {"to": "me@example.com", "subject": "[Test] Free gyoza in December"}
        assert await asyncio.to_thread(smtp_server.wait_for_messages, 1), "the test did not arrive"
        [message] = smtp_server.messages
        assert (message["To"], message["Subject"]) == ("me@example.com", "[Test] Free gyoza in December")
        assert message["List-Unsubscribe"].startswith("<http://testserver/unsubscribe/0.")
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        parts = {part.get_content_type(): part.get_content() for part in message.walk() if not part.is_multipart()}
        assert set(parts) == {"text/plain", "text/html"}
        assert "Pick a date (https://example.com/book)" in parts["text/plain"]
        assert '<a href="https://example.com/book"' in parts["text/html"]
        assert (await client.get(f"{API}/campaigns/{campaign['id']}", headers=admin)).json()["status"] == "draft"
        assert await audit_actions(db, campaign["id"]) == ["campaigns.create", "campaigns.test"]


async def test_test_sends_are_limited_per_staff_member(client, draft, admin, support):
    campaign = await draft()
    for _ in range(20):
        ok = await client.post(f"{API}/campaigns/{campaign['id']}/test", headers=admin, json={"email": "a@example.com"})
        assert ok.status_code == 202
    limited = await client.post(f"{API}/campaigns/{campaign['id']}/test", headers=admin,
                                json={"email": "a@example.com"})
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0
    refused = await client.post(f"{API}/campaigns/{campaign['id']}/test", headers=support,
                                json={"email": "a@example.com"})
    assert refused.status_code == 403  # support may not send, not even a test
