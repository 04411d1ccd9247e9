"""/admin/automations (issue 18 item 8): the station's four sequences with their figures, the step editor (add,
remove, move, save — audited; an unknown placeholder refused beside its field), turning a sequence off stops the
people going through it, the preview renders the typed step as its email; and the station rules the automations
and reviews read (quiet hours, review pages, the call-back threshold) are in the rules editor. The booking's
occasion is asked on the site and accepted by the API."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from myhibachi.audit.models import AuditEntry
from myhibachi.auth.permissions import Role
from myhibachi.automations.models import Automation, AutomationStep, EnrollmentStatus
from myhibachi.bookings.models import Booking
from myhibachi.pricing.queries import get_rules
from tests.automations.conftest import API, enrollments, past_event, run
from tests.bookings.conftest import EVENT_DAY, NOW, booking_body
from tests.web.browserless import read, submit


async def automation_of(db, kind: str) -> Automation:  # noqa: ANN001
    async with db.transaction(write=False) as session:
        return await session.scalar(select(Automation).where(Automation.kind == kind))


async def steps_of(db, automation_id: int) -> list[tuple[int, int, str]]:  # noqa: ANN001
    async with db.transaction(write=False) as session:
        return [(s.position, s.delay_minutes, s.subject) for s in await session.scalars(
            select(AutomationStep).where(AutomationStep.automation_id == automation_id)
            .order_by(AutomationStep.position))]


async def test_the_list_shows_the_four_sequences_made_on_first_visit(client, db, station, make_user, admin_sign_in):
    await make_user("support@example.com", Role.support, station)
    await admin_sign_in("support@example.com")
    page = read(await client.get("/admin/automations"))
    assert page.response.status_code == 200
    for title in ("Quote follow-up", "Thank you and review request", "Come back", "Birthday and anniversary"):
        assert title in page.text
    assert 'href="/admin/automations"' in page.text  # in the menu
    assert "changing them is for staff who send newsletters" in page.text  # support reads, does not change


async def test_an_admin_rearranges_and_saves_the_steps_audited(client, db, live, make_user, admin_sign_in):
    await make_user("admin@example.com", Role.admin, live)
    await admin_sign_in("admin@example.com")
    quote = await automation_of(db, "abandoned_quote")
    editor = read(await client.get(f"/admin/automations/{quote.id}"))
    assert editor.form.fields["subject_1"] == "Still planning your hibachi party?"

    added = await submit(client, editor, ("go", "add"))
    assert "Nothing is saved until you press Save" in added.text and added.form.fields["count"] == "3"
    filled = await submit(client, added, ("go", "up:3"), delay_3="12", unit_3="hours", subject_3="Quick question",
                          body_3="Hi {first_name}, can we help?")
    assert filled.form.fields["subject_2"] == "Quick question"
    trimmed = await submit(client, filled, ("go", "remove:3"))
    saved = await submit(client, trimmed, ("go", "save"))
    assert "Saved." in saved.text

    assert await steps_of(db, quote.id) == [(1, 24 * 60, "Still planning your hibachi party?"),
                                            (2, 12 * 60, "Quick question")]
    async with db.transaction(write=False) as session:
        entry = await session.scalar(select(AuditEntry).where(AuditEntry.action == "automations.update"))
    assert [s["subject"] for s in entry.before["steps"]] == ["Still planning your hibachi party?",
                                                              "Your date may still be free"]
    assert [s["subject"] for s in entry.after["steps"]] == ["Still planning your hibachi party?", "Quick question"]


async def test_a_placeholder_the_sequence_cannot_fill_is_refused_beside_it(client, db, live, make_user,
                                                                          admin_sign_in):
    await make_user("admin@example.com", Role.admin, live)
    await admin_sign_in("admin@example.com")
    quote = await automation_of(db, "abandoned_quote")
    editor = read(await client.get(f"/admin/automations/{quote.id}"))
    refused = await submit(client, editor, ("go", "save"), body_2="Rate us: {feedback_link}")
    assert refused.response.status_code == 422
    assert "cannot fill in {feedback_link}" in refused.errors["body_2"]
    assert refused.form.fields["body_2"] == "Rate us: {feedback_link}"  # what was typed stays
    late = await submit(client, refused, ("go", "save"), body_2="Hi", delay_1="soon")
    assert "whole number" in late.errors["delay_1"]
    assert [s[2] for s in await steps_of(db, quote.id)][1] == "Your date may still be free"


async def test_turning_a_sequence_off_stops_the_people_going_through_it(client, db, runtime, live, clock, make_user,
                                                                       admin_sign_in):
    await past_event(db, live, NOW + timedelta(hours=2), email="dana@example.com")
    await run(runtime, NOW + timedelta(hours=3), clock)
    await make_user("admin@example.com", Role.admin, live)
    await admin_sign_in("admin@example.com")
    thanks = await automation_of(db, "thank_you")
    editor = read(await client.get(f"/admin/automations/{thanks.id}"))
    del editor.form.fields["enabled"]  # unticked
    await submit(client, editor, ("go", "save"))

    [enrollment] = await enrollments(db)
    assert (enrollment.status, enrollment.stop_reason) == (EnrollmentStatus.stopped, "The automation was turned off.")
    assert await run(runtime, NOW + timedelta(days=2), clock) == 0


async def test_the_preview_renders_the_typed_step_in_a_locked_down_frame(client, db, live, make_user,
                                                                        admin_sign_in):
    await make_user("manager@example.com", Role.manager, live)
    await admin_sign_in("manager@example.com")
    thanks = await automation_of(db, "thank_you")
    editor = read(await client.get(f"/admin/automations/{thanks.id}"))
    data = {**editor.form.fields, "subject_1": "Thanks from {station}", "body_1": "**Hi {first_name}**"}
    preview = await client.post(f"/admin/automations/{thanks.id}/preview?position=1", data=data)
    assert preview.status_code == 200
    assert "<strong>Hi Dana</strong>" in preview.text and f"Thanks from {live.name}" in preview.text
    assert "sandbox" in preview.headers["content-security-policy"]
    assert "frame-ancestors 'self'" in preview.headers["content-security-policy"]
    forged = await client.post(f"/admin/automations/{thanks.id}/preview?position=1", data={**data, "csrf_token": "x"})
    assert forged.status_code == 403


async def test_the_rules_editor_has_the_quiet_hours_review_pages_and_call_back_threshold(client, db, station,
                                                                                        make_user, admin_sign_in):
    await make_user("admin@example.com", Role.admin, station)
    await admin_sign_in("admin@example.com")
    editor = read(await client.get(f"/admin/stations/{station.id}/rules"))
    assert (editor.form.fields["quiet_hours_start"], editor.form.fields["quiet_hours_end"]) == ("21:00", "09:00")
    refused = await submit(client, editor, ("go", "confirm"), review_links="Google g.page/r/x")
    assert "https address" in refused.errors["review_links"]
    await submit(client, editor, ("go", "confirm"), quiet_hours_start="20:30", low_rating_max="2",
                 review_links="Google: https://g.page/r/fremont\nYelp: https://www.yelp.com/biz/fremont")
    async with db.transaction(write=False) as session:
        rules = await get_rules(session, station.id)
    assert (rules.quiet_hours_start.strftime("%H:%M"), rules.low_rating_max) == ("20:30", 2)
    assert [(link.label, link.url) for link in rules.review_links] == [
        ("Google", "https://g.page/r/fremont"), ("Yelp", "https://www.yelp.com/biz/fremont")]


async def test_a_booking_says_what_it_celebrates_on_the_api_and_the_site(client, db, station):
    response = await client.post(f"{API}/bookings", json=booking_body(station.id, occasion="anniversary"))
    assert response.status_code == 201, response.text
    wrong = await client.post(f"{API}/bookings", json=booking_body(station.id, "2026-12-11", occasion="wedding"))
    assert wrong.status_code == 422

    page = await submit(client, read(await client.get("/book")),
                        zip_code="94538", adults="12", children="4", toddlers="1")
    page = await submit(client, page, ("go", f"day:{EVENT_DAY + timedelta(days=2)}"))
    page = await submit(client, page, slot_time="18:00")
    review = await submit(client, page, venue_line1="4100 Mowry Ave", venue_city="Fremont", venue_state="CA",
                          name="Sam Lee", email="sam@example.com", phone="(510) 555-0142", allergies="none",
                          occasion="birthday")
    assert "Celebrating" in review.text
    await submit(client, review, ("go", "book"))
    async with db.transaction(write=False) as session:
        made = {b.contact_email: b.occasion for b in await session.scalars(select(Booking))}
    assert made == {"dana@example.com": "anniversary", "sam@example.com": "birthday"}
