"""The admin's subscribers (issue 18 item 8): the search with each person's state and suppression (staff see their
stations' people only), the suppression list (add, lift; audited), the CSV import (consent source required; bad
lines reported by number, good ones kept; the double opt-in email through a real SMTP server) and the CSV export;
tags, consent history and suppression on the contact page."""

from __future__ import annotations

import asyncio
import csv
import io

import pytest
from sqlalchemy import select

from myhibachi.audit.models import AuditEntry
from myhibachi.auth.permissions import Role
from myhibachi.consent.commands import record_consent, suppress
from myhibachi.consent.models import ConsentAction, ConsentEvent, ConsentSource, Suppression, SuppressionReason
from myhibachi.contacts.commands import Identity, find_contact
from myhibachi.contacts.models import ContactTag
from myhibachi.newsletters.segments import SegmentRules, segment_contact_ids
from myhibachi.settings import Settings
from tests.newsletters.conftest import subscriber
from tests.smtp import SmtpServer
from tests.web.browserless import admin_csrf, read, submit


async def suppressed(db) -> dict[str, str]:  # noqa: ANN001
    async with db.transaction(write=False) as session:
        return {s.email: s.reason for s in await session.scalars(select(Suppression))}


async def test_staff_find_their_stations_subscribers_with_state_and_suppression(client, db, station, make_station,
                                                                                make_user, admin_sign_in):
    other = await make_station("SAC")
    dana = await subscriber(db, "dana@example.com", station.id)
    eli = await subscriber(db, "eli@example.com", station.id, name="Eli Moss", action=ConsentAction.granted)
    fay = await subscriber(db, "fay@example.com", other.id, name="Fay Other")
    async with db.transaction() as session:
        await record_consent(session, dana, ConsentAction.withdrawn, ConsentSource.unsubscribe)
        await suppress(session, "eli@example.com", SuppressionReason.hard_bounce, "sendgrid")
    await make_user("support@example.com", Role.support, station)
    await admin_sign_in("support@example.com")

    page = await client.get("/admin/subscribers")

    assert page.status_code == 200, page.text[:300]
    assert 'href="/admin/subscribers"' in page.text  # in the menu
    assert f'href="/admin/contacts/{dana}"' in page.text and f'href="/admin/contacts/{eli}"' in page.text
    assert f'href="/admin/contacts/{fay}"' not in page.text  # another station's person
    assert "consent-withdrawn" in page.text and "consent-granted" in page.text and "hard bounce" in page.text
    assert "Import a list" not in page.text  # support may not send newsletters
    found = await client.get("/admin/subscribers", params={"q": "moss"})
    assert f'href="/admin/contacts/{eli}"' in found.text and f'href="/admin/contacts/{dana}"' not in found.text
    refused = await client.get("/admin/subscribers.csv")
    assert refused.status_code == 403 and "Not allowed" in refused.text


async def test_an_admin_suppresses_and_lifts_by_hand_with_a_reason(client, db, station, make_station, make_user,
                                                                  admin_sign_in):
    other = await make_station("SAC")
    await subscriber(db, "dana@example.com", station.id)
    await subscriber(db, "fay@example.com", other.id, name="Fay")
    await make_user("admin@example.com", Role.admin, station)
    await admin_sign_in("admin@example.com")
    page = read(await client.get("/admin/subscribers/suppressions"))
    add = next(form for form in page.forms if ("go", "add") in form.buttons)

    elsewhere = await submit(client, page, ("go", "add"), form=add, email="fay@example.com")
    assert elsewhere.response.status_code == 404 and "No subscriber or customer of your stations" in elsewhere.text
    assert await suppressed(db) == {}
    malformed = await submit(client, page, ("go", "add"), form=add, email="not an address")
    assert malformed.response.status_code == 422 and "Type an email address" in malformed.errors["email"]
    done = await submit(client, page, ("go", "add"), form=add, email="Dana@Example.com", detail="Asked by phone")
    assert "Suppressed: no marketing goes" in done.text and "dana@example.com" in done.text
    assert await suppressed(db) == {"dana@example.com": "manual"}

    lift = next(form for form in done.forms if ("go", "lift") in form.buttons)
    no_reason = await submit(client, done, ("go", "lift"), form=lift)
    assert no_reason.response.status_code == 422 and await suppressed(db) == {"dana@example.com": "manual"}
    lifted = await submit(client, done, ("go", "lift"), form=lift, reason="Typed by mistake")
    assert "Lifted:" in lifted.text and await suppressed(db) == {}
    async with db.transaction(write=False) as session:
        actions = [(e.action, e.station_id, e.reason) for e in await session.scalars(
            select(AuditEntry).where(AuditEntry.target_type == "suppression").order_by(AuditEntry.id))]
    assert actions == [("suppression.add", station.id, None), ("suppression.lift", station.id, "Typed by mistake")]


class TestImport:
    @pytest.fixture
    def settings(self, settings: Settings, smtp_server: SmtpServer) -> Settings:
        return settings.model_copy(update={"smtp_url": smtp_server.url})

    async def test_an_import_keeps_the_good_lines_reports_the_bad_and_asks_to_confirm(
            self, client, db, station, make_user, admin_sign_in, smtp_server):
        gone = await subscriber(db, "gone@example.com", station.id, name="Gone")
        async with db.transaction() as session:
            await record_consent(session, gone, ConsentAction.withdrawn, ConsentSource.unsubscribe)
        await make_user("admin@example.com", Role.admin, station)
        await admin_sign_in("admin@example.com")
        csrf = await admin_csrf(client)
        rows = ("email,name,tags\n"
                "ana@example.com,Ana Ruiz,VIP; wedding planner\n"
                "not-an-address,Bob,\n"
                "gone@example.com,Gone,\n"
                "\n"
                "cy@example.com,Cy,bad!tag\n"
                "ANA@example.com,Ana again,\n"
                "di@example.com,Di,\n")

        def post(**fields: str):  # noqa: ANN202
            return client.post(f"/admin/subscribers/import?station={station.id}",
                               data={"csrf_token": csrf, **fields},
                               files={"file": ("people.csv", rows.encode(), "text/csv")})

        missing = await post()
        assert missing.status_code == 422 and "Say where these people gave their consent" in missing.text
        response = await post(origin="Sign-up sheet, county fair 2026")

        assert response.status_code == 200, response.text[:500]
        assert "Imported: 3 people" in response.text
        assert "Line 3: “not-an-address” is not an email address." in response.text
        assert "Line 6: A tag is not valid" in response.text and "Line 7: ana@example.com is on line 2" in response.text
        assert "1 unsubscribed earlier: left unsubscribed" in response.text
        async with db.transaction(write=False) as session:
            ana = await find_contact(session, Identity(email="ana@example.com"))
            events = list(await session.scalars(select(ConsentEvent).where(ConsentEvent.contact_id == ana.id)))
            tags = list(await session.scalars(select(ContactTag.tag).where(ContactTag.contact_id == ana.id)))
            tagged = set(await session.scalars(segment_contact_ids(station.id, SegmentRules(tags=["vip"]),
                                                                   station.created_at.date())))
            assert await find_contact(session, Identity(email="cy@example.com")) is None
            gone_events = [e.action for e in await session.scalars(
                select(ConsentEvent).where(ConsentEvent.contact_id == gone).order_by(ConsentEvent.id))]
        assert [(e.action, e.source, e.detail, e.station_id) for e in events] == [
            ("granted", "csv_import", "Sign-up sheet, county fair 2026", station.id)]
        assert ana.name == "Ana Ruiz" and sorted(tags) == ["vip", "wedding planner"] and tagged == {ana.id}
        assert gone_events == ["granted", "confirmed", "withdrawn"]  # an import never subscribes them again
        assert await asyncio.to_thread(smtp_server.wait_for_messages, 2), "the confirmations did not arrive"
        assert sorted(m["To"] for m in smtp_server.messages) == ["ana@example.com", "di@example.com"]

    async def test_already_confirmed_lists_are_recorded_confirmed_and_exported(self, client, db, station,
                                                                             make_station, make_user,
                                                                             admin_sign_in, smtp_server):
        other = await make_station("SAC")
        await subscriber(db, "fay@example.com", other.id, name="Fay")  # another station's: not exported
        await make_user("admin@example.com", Role.admin, station)
        await admin_sign_in("admin@example.com")
        page = read(await client.get(f"/admin/subscribers/import?station={station.id}"))
        assert page.response.status_code == 200 and "Where they gave their consent" in page.text
        csrf = await admin_csrf(client)
        response = await client.post(
            f"/admin/subscribers/import?station={station.id}",
            data={"csrf_token": csrf, "origin": "Our old newsletter tool (double opt-in)", "confirmed": "yes"},
            files={"file": ("list.csv", "\ufeffEmail,Name\n=cmd@example.com,\"=HYPERLINK()\"\n".encode(),
                            "text/csv")})
        assert "1 recorded as confirmed" in response.text
        assert smtp_server.messages == []  # no confirmation email for the already confirmed

        export = await client.get("/admin/subscribers.csv")

        assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
        rows = list(csv.reader(io.StringIO(export.text)))
        assert rows[0] == ["email", "name", "state", "since", "source", "stations"]
        assert [(r[0], r[1], r[2], r[4], r[5]) for r in rows[1:]] == [
            ("'=cmd@example.com", "'=HYPERLINK()", "confirmed", "csv_import", station.code)]


async def test_the_contact_page_tags_and_shows_consent_and_suppression(client, db, station, make_user,
                                                                       admin_sign_in):
    dana = await subscriber(db, "dana@example.com", station.id)
    async with db.transaction() as session:
        await suppress(session, "dana@example.com", SuppressionReason.complaint, "sendgrid", "spam report")
    await make_user("support@example.com", Role.support, station)
    await admin_sign_in("support@example.com")
    page = read(await client.get(f"/admin/contacts/{dana}"))
    assert "confirmation link" in page.text and "footer form" in page.text and "complaint" in page.text
    add = next(form for form in page.forms if ("go", "add") in form.buttons)

    bad = await submit(client, page, ("go", "add"), form=add, tag="no!")
    assert bad.response.status_code == 422 and "lower-case letters" in bad.errors["tag"]
    added = await submit(client, page, ("go", "add"), form=add, tag="  Wedding   Planner ")
    assert "Tag added." in added.text and '<span class="badge">wedding planner</span>' in added.text
    remove = next(form for form in added.forms if ("go", "remove") in form.buttons)
    removed = await submit(client, added, ("go", "remove"), form=remove)
    assert "Tag removed." in removed.text and "No tags." in removed.text
    async with db.transaction(write=False) as session:
        audit = [(e.action, e.station_id) for e in await session.scalars(
            select(AuditEntry).where(AuditEntry.target_type == "contact").order_by(AuditEntry.id))]
    assert audit == [("contacts.tag", station.id), ("contacts.untag", station.id)]
