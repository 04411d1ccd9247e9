"""The admin's newsletter pages over HTTP, as a browser without JavaScript sends them (plus the htmx fragments): the
campaigns list and its empty states, segments with their rules editor and count, the campaign editor with its
sandboxed preview, scheduling in the station's time, the moves the domain offers, the test send, and the stats page
with its chart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from myhibachi.auth.permissions import Role
from myhibachi.contacts.commands import Identity, find_or_create_contact
from myhibachi.newsletters.models import (
    Campaign,
    CampaignRecipient,
    CampaignStatus,
    Segment,
    TrackingEvent,
    TrackingKind,
)
from tests.conftest import read_mails
from tests.newsletters.conftest import kicked, subscriber  # noqa: F401
from tests.web.browserless import admin_csrf, read, submit

NOW = datetime(2026, 12, 1, 16, 0, tzinfo=UTC)  # the frozen clock: 08:00 in Fremont


@pytest.fixture
async def staff(station, make_user):  # noqa: ANN001, ANN201
    await make_user("admin@example.com", Role.admin, station, name="Ada Admin")
    await make_user("support@example.com", Role.support, station, name="Sam Support")


@pytest.fixture
async def fans(db, station) -> list[int]:  # noqa: ANN001
    return [await subscriber(db, f"fan{n}@example.com", station.id) for n in range(3)]


async def add_segment(db, station, name: str = "Everyone", rules: dict | None = None) -> int:  # noqa: ANN001
    async with db.transaction() as session:
        segment = Segment(station_id=station.id, name=name, rules=rules or {})
        session.add(segment)
        await session.flush()
        return segment.id


async def add_campaign(db, station, segment_id: int | None, **values) -> int:  # noqa: ANN001, ANN003
    async with db.transaction() as session:
        campaign = Campaign(station_id=station.id, name="December offer", subject="Free gyoza",
                            body_markdown="**Gyoza** on us. [Book](https://example.com/book)", segment_id=segment_id,
                            **{"status": CampaignStatus.draft.value, **values})
        session.add(campaign)
        await session.flush()
        return campaign.id


async def campaign_row(db, campaign_id: int) -> Campaign:  # noqa: ANN001
    async with db.session() as session:
        return await session.get_one(Campaign, campaign_id)


def moves_offered(page) -> set[str]:  # noqa: ANN001
    return {f.action.rsplit("/", 1)[1] for f in page.forms
            if f.action.rsplit("/", 1)[1] in {"send", "pause", "resume", "cancel"}}


async def test_the_lists_say_what_to_do_first(client, station, staff, admin_sign_in):
    landed = await admin_sign_in("admin@example.com")
    assert '<a href="/admin/campaigns">Campaigns</a>' in landed.text
    page = read(await client.get("/admin/campaigns"))
    assert page.response.status_code == 200
    assert "No campaign at Station FRE yet." in page.text and 'href="/admin/campaigns/new?station=' in page.text
    segments = read(await client.get("/admin/segments"))
    assert "No segment at Station FRE yet." in segments.text
    await client.post("/admin/logout", data={"csrf_token": await admin_csrf(client)})
    await admin_sign_in("support@example.com")
    page = read(await client.get("/admin/campaigns"))
    assert "Only an admin writes and sends them" in page.text and "/admin/campaigns/new" not in page.text


async def test_a_segment_is_built_with_its_count_and_refused_rules_are_said(client, db, station, staff, fans,
                                                                           admin_sign_in):
    await admin_sign_in("admin@example.com")
    form = read(await client.get("/admin/segments/new"))
    assert "3 people</span> would get it" in form.text  # no rule yet: every confirmed subscriber
    refused = await submit(client, form, None, name="Odd", last_event_after="2026-07-01",
                           last_event_before="2026-06-01")
    assert refused.response.status_code == 422
    assert refused.errors["last_event_before"] == "Choose an “after” day earlier than the “before” day."
    saved = await submit(client, form, None, name="Fans", tags="vip, Corporate ")
    assert saved.response.status_code == 422 and saved.errors["tags"]  # tags are lower case
    saved = read(await client.post(form.form.action, follow_redirects=True, data={  # a box ticked
        **form.form.fields, "name": "Fans", "band_hot": "on", "zip_prefix": "945"}))
    assert "The segment is saved." in saved.text and "Nobody</span> in it" in saved.text
    async with db.session() as session:
        segment = await session.scalar(select(Segment))
    assert (segment.name, segment.rules) == ("Fans", {"lead_band": ["hot"], "zip_prefix": ["945"]})
    live = await client.post("/admin/segments/preview", data={"station_id": str(station.id), "customer_status": ""},
                             headers={"X-CSRF-Token": await admin_csrf(client)})
    assert live.status_code == 200 and "3 people" in live.text
    listed = read(await client.get("/admin/segments"))
    assert f'href="/admin/segments/{segment.id}"' in listed.text and "<td data-label=\"Reaches today\">0" in listed.text


async def test_the_editor_previews_in_a_sandbox_and_saves_a_draft(client, db, station, staff, fans, admin_sign_in):
    segment_id = await add_segment(db, station)
    await admin_sign_in("admin@example.com")
    response = await client.get("/admin/campaigns/new")
    page = read(response)
    assert '<iframe class="email-preview" sandbox srcdoc="' in page.text
    csp = response.headers["content-security-policy"]
    assert "style-src 'self' 'unsafe-inline'" in csp and "script-src 'self';" in csp
    csrf = await admin_csrf(client)
    live = await client.post("/admin/campaigns/preview", headers={"X-CSRF-Token": csrf}, data={
        "station_id": str(station.id), "subject": "Hi", "body_markdown": "**Bold** <script>alert(1)</script>"})
    assert live.status_code == 200 and live.text.startswith('<iframe class="email-preview" sandbox srcdoc="')
    assert "&lt;strong&gt;Bold&lt;/strong&gt;" in live.text and "<script>" not in live.text
    count = await client.get("/admin/segments/count", params={"segment_id": segment_id})
    assert "3 people" in count.text
    saved = await submit(client, page, None, name="December offer", subject="Free gyoza",
                         body_markdown="**Gyoza** on us", segment_id=str(segment_id))
    assert "The draft is saved." in saved.text and "<h1>December offer — Station FRE</h1>" in saved.text
    assert moves_offered(saved) == {"send", "cancel"}
    refused = await submit(client, saved, None, form=next(f for f in saved.forms if "subject" in f.fields),
                           subject="")
    assert refused.response.status_code == 422 and refused.errors["subject"]


async def test_scheduling_is_in_the_stations_time_and_the_page_offers_the_domains_moves(
        client, db, station, staff, fans, admin_sign_in, kicked):  # noqa: F811
    campaign_id = await add_campaign(db, station, await add_segment(db, station))
    await admin_sign_in("admin@example.com")
    page = read(await client.get(f"/admin/campaigns/{campaign_id}"))
    send = next(f for f in page.forms if f.action.endswith("/send"))
    scheduled = await submit(client, page, ("go", "schedule"), form=send, send_at="2026-12-05T09:30")
    assert "The campaign is scheduled." in scheduled.text and "Goes out Sat Dec 5, 9:30 AM PST" in scheduled.text
    assert (await campaign_row(db, campaign_id)).send_at == datetime(2026, 12, 5, 17, 30, tzinfo=UTC)
    assert moves_offered(scheduled) == {"send", "pause", "cancel"}
    paused = await submit(client, scheduled, None, form=next(f for f in scheduled.forms if f.action.endswith("/pause")))
    assert "Paused." in paused.text and moves_offered(paused) == {"resume", "cancel"}
    assert not any("body_markdown" in f.fields for f in paused.forms)  # a paused campaign is not edited
    resumed = await submit(client, paused, None, form=next(f for f in paused.forms if f.action.endswith("/resume")))
    assert "Resumed." in resumed.text and (await campaign_row(db, campaign_id)).status == "scheduled"
    send = next(f for f in resumed.forms if f.action.endswith("/send"))
    now = await submit(client, resumed, ("go", "now"), form=send)
    assert "Sending has started." in now.text and moves_offered(now) == {"pause", "cancel"}
    assert kicked == [campaign_id]
    past = await client.post(f"/admin/campaigns/{campaign_id}/pause", data={"csrf_token": await admin_csrf(client)})
    assert past.status_code == 303
    refused = await client.post(f"/admin/campaigns/{campaign_id}/pause", data={"csrf_token": await admin_csrf(client)})
    assert refused.status_code == 409 and "this one is paused" in refused.text


async def test_a_schedule_in_the_past_and_a_cancel_without_reason_are_said_beside_the_fields(
        client, db, station, staff, fans, admin_sign_in):
    campaign_id = await add_campaign(db, station, await add_segment(db, station))
    await admin_sign_in("admin@example.com")
    page = read(await client.get(f"/admin/campaigns/{campaign_id}"))
    send = next(f for f in page.forms if f.action.endswith("/send"))
    refused = await submit(client, page, ("go", "schedule"), form=send, send_at="2026-11-30T09:30")
    assert refused.response.status_code == 422 and refused.errors["send_at"].startswith("Choose a time in the future")
    refused = await submit(client, page, None, form=next(f for f in page.forms if f.action.endswith("/cancel")))
    assert refused.response.status_code == 422 and "reason" in refused.errors
    done = await submit(client, page, None, form=next(f for f in page.forms if f.action.endswith("/cancel")),
                        reason="Offer withdrawn")
    assert "The campaign is cancelled." in done.text and moves_offered(done) == set()
    assert (await campaign_row(db, campaign_id)).status == "cancelled"


async def test_a_test_is_sent_from_the_page(client, db, station, staff, settings, admin_sign_in):
    campaign_id = await add_campaign(db, station, None)
    await admin_sign_in("admin@example.com")
    page = read(await client.get(f"/admin/campaigns/{campaign_id}"))
    sent = await submit(client, page, None, form=next(f for f in page.forms if f.action.endswith("/test")),
                        email="me@example.com")
    assert "The test is on its way." in sent.text
    [mail] = [m for m in read_mails(settings) if m["To"] == "me@example.com"]
    assert mail["Subject"] == "[Test] Free gyoza" and mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


async def test_the_stats_page_charts_opens_and_clicks(client, db, station, staff, admin_sign_in):
    started = NOW - timedelta(hours=3)
    campaign_id = await add_campaign(db, station, None, status=CampaignStatus.sent.value, started_at=started,
                                     send_at=started, finished_at=started)
    async with db.transaction() as session:
        for n in range(4):
            contact = await find_or_create_contact(session, Identity(email=f"r{n}@example.com"), name="R")
            recipient = CampaignRecipient(campaign_id=campaign_id, contact_id=contact.id, email=contact.email,
                                          state="sent", opened_at=started if n < 2 else None,
                                          clicked_at=started if n == 0 else None)
            session.add(recipient)
            await session.flush()
            if n < 2:
                session.add(TrackingEvent(campaign_id=campaign_id, recipient_id=recipient.id,
                                          kind=TrackingKind.open.value, at=started + timedelta(minutes=5 + n * 70)))
        session.add(TrackingEvent(campaign_id=campaign_id, recipient_id=recipient.id, kind=TrackingKind.click.value,
                                  at=started + timedelta(minutes=20)))
    await admin_sign_in("support@example.com")
    page = read(await client.get(f"/admin/campaigns/{campaign_id}"))
    assert page.response.status_code == 200
    assert "<dt>Opened</dt><dd>2 (50%)</dd>" in page.text and "<dt>Clicked</dt><dd>1 (25%)</dd>" in page.text
    assert '<title id="activity-title">Opens and clicks by hour (America/Los_Angeles time)</title>' in page.text
    assert "<tr><th scope=\"row\">Dec 1, 5 AM</th><td>1</td><td>1</td></tr>" in page.text
    assert "<tr><th scope=\"row\">Dec 1, 6 AM</th><td>1</td><td>0</td></tr>" in page.text
    assert page.forms == [] or all("csrf_token" in f.fields and f.action == "/admin/logout" for f in page.forms)
    listed = read(await client.get("/admin/campaigns"))
    assert '<td data-label="Opened">50%</td>' in listed.text and '<td data-label="Clicked">25%</td>' in listed.text
